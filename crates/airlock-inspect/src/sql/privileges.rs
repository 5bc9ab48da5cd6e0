//! Privileges and roles: GRANT/REVOKE of privileges and roles, CREATE/ALTER ROLE options and
//! memberships, and which of them are as good as superuser.

use airlock_model::{Access, FunctionRisk, Statement, StatementFlag, StatementKind};
use pg_query::NodeEnum;
use pg_query::protobuf::Node;

use super::ddl::{object_name, object_type};
use super::names::{boxed, inner, option_bool, role, role_node};
use super::statement::Inspector;

/// Predefined roles that are as good as superuser (they reach the server's files or programs).
const SUPERUSER_EQUIVALENT_ROLES: &[&str] = &[
    "postgres",
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "rds_superuser",
    "azure_pg_admin",
    "cloudsqlsuperuser",
    "supabase_admin",
];
const SUPERUSER_OPTIONS: &[&str] = &["superuser", "replication", "bypassrls"];

impl Inspector {
    pub(crate) fn privileges_or_other(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        use StatementKind as K;
        match node {
            NodeEnum::GrantStmt(s) => {
                st.kind = if s.is_grant { K::Grant } else { K::Revoke };
                st.object_type = Some(object_type(s.objtype));
                st.flags.insert(StatementFlag::ChangesPrivileges);
                for object in &s.objects {
                    st.touch(object_name(object), Access::Alter);
                }
                if s.is_grant && writes_catalog_privilege(s) {
                    st.flags.insert(StatementFlag::GrantsSuperuser);
                }
            }
            NodeEnum::GrantRoleStmt(s) => {
                st.kind = if s.is_grant { K::Grant } else { K::Revoke };
                st.object_type = Some("role".into());
                st.flags.insert(StatementFlag::ChangesPrivileges);
                for granted in s.granted_roles.iter().filter_map(role_node) {
                    let lower = granted.to_lowercase();
                    if s.is_grant && SUPERUSER_EQUIVALENT_ROLES.contains(&lower.as_str()) {
                        st.flags.insert(StatementFlag::GrantsSuperuser);
                    }
                    st.roles_granted.insert(lower);
                }
                for grantee in s.grantee_roles.iter().filter_map(role_node) {
                    st.touch(grantee, Access::Alter);
                }
            }
            NodeEnum::CreateRoleStmt(s) => {
                st.kind = K::Create;
                st.object_type = Some("role".into());
                st.touch(s.role.clone(), Access::Create);
                self.role_options(st, &s.role, &s.options);
            }
            NodeEnum::AlterRoleStmt(s) => {
                st.kind = K::Alter;
                st.object_type = Some("role".into());
                let name = s.role.as_ref().map(role).unwrap_or_default();
                st.touch(name.clone(), Access::Alter);
                self.role_options(st, &name, &s.options);
            }
            NodeEnum::AlterDefaultPrivilegesStmt(_) => {
                st.kind = K::Grant;
                st.object_type = Some("default_privileges".into());
                st.flags.insert(StatementFlag::ChangesPrivileges);
            }
            other => self.other_utility(st, other, depth),
        }
    }

    /// Role attributes and memberships of CREATE/ALTER ROLE. `role` is the role the
    /// statement creates or alters.
    fn role_options(&mut self, st: &mut Statement, role: &str, options: &[Node]) {
        st.flags.insert(StatementFlag::ChangesPrivileges);
        self.literal_sensitive = true;
        for option in options {
            let Some(NodeEnum::DefElem(d)) = inner(option) else {
                continue;
            };
            let listed = || -> Vec<String> {
                match boxed(&d.arg) {
                    Some(NodeEnum::List(list)) => list.items.iter().filter_map(role_node).collect(),
                    _ => Vec::new(),
                }
            };
            let granted: Vec<String> = match d.defname.as_str() {
                // `ROLE u` / `ALTER GROUP g ADD USER u`: the members get the role itself.
                "rolemembers" | "adminmembers" => vec![role.to_owned()],
                // `IN ROLE g`: the role gets the listed roles.
                "addroleto" => listed(),
                _ => Vec::new(),
            };
            for granted in granted {
                let lower = granted.to_lowercase();
                if SUPERUSER_EQUIVALENT_ROLES.contains(&lower.as_str()) {
                    st.flags.insert(StatementFlag::GrantsSuperuser);
                }
                st.roles_granted.insert(lower);
            }
            if matches!(
                d.defname.as_str(),
                "rolemembers" | "adminmembers" | "addroleto" | "password"
            ) {
                continue;
            }
            // `NOSUPERUSER` is `superuser` with a false argument: not a grant.
            if option_bool(boxed(&d.arg)) == Some(false) {
                continue;
            }
            let option = match d.defname.as_str() {
                "isreplication" => "replication".to_owned(),
                "canlogin" => "login".to_owned(),
                other => other.to_lowercase(),
            };
            if SUPERUSER_OPTIONS.contains(&option.as_str()) {
                st.flags.insert(StatementFlag::GrantsSuperuser);
            }
            st.role_options.insert(option);
        }
    }
}

/// `GRANT … ON pg_authid`, or `GRANT EXECUTE` on a function that reaches the server's files,
/// programs or other hosts: superuser-equivalent.
fn writes_catalog_privilege(s: &pg_query::protobuf::GrantStmt) -> bool {
    s.objects.iter().any(|o| {
        let name = object_name(o).to_lowercase();
        let base = name.rsplit('.').next().unwrap_or(&name);
        let dangerous = matches!(
            super::functions::risk(base),
            Some(
                FunctionRisk::ServerFileAccess
                    | FunctionRisk::LargeObjectFile
                    | FunctionRisk::ProgramExecution
                    | FunctionRisk::RemoteConnection
                    | FunctionRisk::BackendSignal
            )
        );
        name.ends_with("pg_authid") || name.ends_with("pg_shadow") || dangerous
    })
}
