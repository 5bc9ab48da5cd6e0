//! The remaining utility statements: object creation, ownership, maintenance, sessions.

use airlock_model::{Access, FunctionRisk, SettingScope, Statement, StatementFlag, StatementKind};
use pg_query::NodeEnum;

use super::ddl::{object_name, object_type, untrusted};
use super::fallback;
use super::functions::is_untrusted_language;
use super::names::{boxed, dotted, inner, relation};
use super::statement::Inspector;

impl Inspector {
    pub(crate) fn other_utility(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        use StatementKind as K;
        match node {
            NodeEnum::LoadStmt(s) => {
                st.kind = K::Load;
                st.touch(s.filename.clone(), Access::Read);
                untrusted(st);
            }
            NodeEnum::CallStmt(s) => {
                st.kind = K::Call;
                if let Some(call) = &s.funccall {
                    let node = NodeEnum::FuncCall(call.clone());
                    self.scan_enum(st, &node, depth);
                    let name = dotted(&call.funcname).to_lowercase();
                    if !name.is_empty() && super::functions::risk(&name).is_none() {
                        // Procedures are never side-effect free as far as we know.
                        st.function_risks.insert(FunctionRisk::Unknown);
                    }
                }
            }
            NodeEnum::ExecuteStmt(s) => {
                st.kind = K::Execute;
                st.touch(s.name.clone(), Access::Read);
                if self.prepared.contains(&s.name) {
                    st.flags.insert(StatementFlag::TextSeen);
                }
                self.scan_all(st, &s.params, depth);
            }
            NodeEnum::DeallocateStmt(_) => st.kind = K::Deallocate,
            NodeEnum::CreateStmt(s) => {
                create(st, "table");
                if let Some(rv) = &s.relation {
                    st.touch(relation(rv), Access::Create);
                }
                self.scan_all(st, &s.table_elts, depth);
            }
            NodeEnum::IndexStmt(s) => {
                create(st, "index");
                if let Some(rv) = &s.relation {
                    st.touch(relation(rv), Access::Alter);
                }
            }
            NodeEnum::ViewStmt(s) => {
                create(st, "view");
                if s.replace {
                    st.flags.insert(StatementFlag::Replaces);
                }
                if let Some(rv) = &s.view {
                    st.touch(relation(rv), Access::Create);
                }
                if let Some(q) = s.query.as_deref() {
                    self.scan(st, q, depth);
                }
            }
            NodeEnum::CreateTrigStmt(s) => {
                create(st, "trigger");
                if s.replace {
                    st.flags.insert(StatementFlag::Replaces);
                }
                if let Some(rv) = &s.relation {
                    st.touch(relation(rv), Access::Alter);
                }
                let function = dotted(&s.funcname).to_lowercase();
                self.record_function(st, &function, None);
            }
            NodeEnum::CreateEventTrigStmt(s) => {
                create(st, "event_trigger");
                st.functions.insert(dotted(&s.funcname).to_lowercase());
            }
            NodeEnum::AlterEventTrigStmt(s) => {
                alter(st, "event_trigger");
                st.touch(s.trigname.clone(), Access::Alter);
                // Disabled, or enabled for replicas only: it stops firing in normal sessions.
                if s.tgenabled == "D" || s.tgenabled == "R" {
                    st.flags.insert(StatementFlag::DisablesSafeguard);
                }
            }
            other => self.remote_or_owner(st, other),
        }
    }

    fn remote_or_owner(&mut self, st: &mut Statement, node: &NodeEnum) {
        use StatementKind as K;
        match node {
            NodeEnum::CreateExtensionStmt(s) => {
                create(st, "extension");
                st.touch(s.extname.clone(), Access::Create);
                let name = s.extname.to_lowercase();
                if is_untrusted_language(&name) || name == "adminpack" {
                    untrusted(st);
                }
                // Installing dblink or an fdw connects nowhere yet (CREATE SERVER does): a schema
                // change like any other.
            }
            NodeEnum::CreatePlangStmt(s) => {
                create(st, "language");
                if !s.pltrusted || is_untrusted_language(&s.plname) {
                    untrusted(st);
                }
            }
            NodeEnum::CreateForeignServerStmt(s) => {
                create(st, "foreign_server");
                st.touch(s.servername.clone(), Access::Create);
                st.flags.insert(StatementFlag::ForeignServer);
                st.function_risks.insert(FunctionRisk::RemoteConnection);
            }
            NodeEnum::AlterForeignServerStmt(s) => {
                alter(st, "foreign_server");
                st.touch(s.servername.clone(), Access::Alter);
                // Only pointing the server somewhere else connects to a new host.
                let retargets = s.options.iter().any(|o| match inner(o) {
                    Some(NodeEnum::DefElem(d)) => {
                        matches!(
                            d.defname.as_str(),
                            "host" | "hostaddr" | "port" | "dbname" | "service"
                        )
                    }
                    _ => false,
                });
                if retargets {
                    st.flags.insert(StatementFlag::ForeignServer);
                    st.function_risks.insert(FunctionRisk::RemoteConnection);
                }
            }
            NodeEnum::CreateUserMappingStmt(_) | NodeEnum::AlterUserMappingStmt(_) => {
                create(st, "user_mapping");
                st.flags.insert(StatementFlag::ForeignServer);
            }
            NodeEnum::ImportForeignSchemaStmt(s) => {
                create(st, "foreign_table");
                st.touch(s.local_schema.clone(), Access::Create);
                st.flags.insert(StatementFlag::ForeignServer);
            }
            NodeEnum::CreateForeignTableStmt(s) => {
                create(st, "foreign_table");
                if let Some(rv) = s.base_stmt.as_ref().and_then(|b| b.relation.as_ref()) {
                    st.touch(relation(rv), Access::Create);
                }
                super::ddl::foreign_file_options(st, &s.options);
            }
            NodeEnum::AlterSubscriptionStmt(s) => {
                alter(st, "subscription");
                st.touch(s.subname.clone(), Access::Alter);
                if !s.conninfo.is_empty() {
                    st.function_risks.insert(FunctionRisk::RemoteConnection);
                }
            }
            NodeEnum::AlterDomainStmt(s) => {
                alter(st, "domain");
                st.touch(dotted(&s.type_name), Access::Alter);
                if s.behavior == pg_query::protobuf::DropBehavior::DropCascade as i32 {
                    st.flags.insert(StatementFlag::Cascade);
                }
            }
            NodeEnum::CreateSubscriptionStmt(s) => {
                create(st, "subscription");
                st.touch(s.subname.clone(), Access::Create);
                st.function_risks.insert(FunctionRisk::RemoteConnection);
            }
            NodeEnum::AlterOwnerStmt(s) => {
                alter(st, &object_type(s.object_type));
                st.flags.insert(StatementFlag::ChangesOwner);
                if let Some(rv) = &s.relation {
                    st.touch(relation(rv), Access::Alter);
                }
            }
            NodeEnum::ReassignOwnedStmt(_) => {
                alter(st, "owned");
                st.flags.insert(StatementFlag::ChangesOwner);
            }
            NodeEnum::RenameStmt(s) => {
                alter(st, &object_type(s.rename_type));
                if let Some(rv) = &s.relation {
                    st.touch(relation(rv), Access::Alter);
                }
            }
            NodeEnum::CommentStmt(s) => {
                st.kind = K::Comment;
                st.object_type = Some(object_type(s.objtype));
                if let Some(object) = s.object.as_deref() {
                    st.touch(object_name(object), Access::Alter);
                }
            }
            NodeEnum::AlterFunctionStmt(s) => {
                alter(st, &object_type(s.objtype));
                for action in &s.actions {
                    let Some(NodeEnum::DefElem(d)) = inner(action) else {
                        continue;
                    };
                    if let Some(NodeEnum::VariableSetStmt(set)) = boxed(&d.arg) {
                        self.setting(st, set, SettingScope::Function);
                    }
                    if d.defname == "security" {
                        st.flags.insert(StatementFlag::ChangesPrivileges);
                    }
                }
            }
            NodeEnum::CreatePolicyStmt(s) => {
                create(st, "policy");
                if let Some(rv) = &s.table {
                    st.touch(relation(rv), Access::Alter);
                }
                st.flags.insert(StatementFlag::ChangesPrivileges);
            }
            NodeEnum::AlterPolicyStmt(s) => {
                alter(st, "policy");
                if let Some(rv) = &s.table {
                    st.touch(relation(rv), Access::Alter);
                }
                st.flags.insert(StatementFlag::ChangesPrivileges);
            }
            other => self.simple_utility(st, other),
        }
    }

    fn simple_utility(&mut self, st: &mut Statement, node: &NodeEnum) {
        use StatementKind as K;
        st.kind = match node {
            NodeEnum::VacuumStmt(_)
            | NodeEnum::ClusterStmt(_)
            | NodeEnum::ReindexStmt(_)
            | NodeEnum::CheckPointStmt(_)
            | NodeEnum::RefreshMatViewStmt(_) => K::Maintenance,
            NodeEnum::LockStmt(_) => K::Lock,
            NodeEnum::ListenStmt(_) | NodeEnum::UnlistenStmt(_) => K::Listen,
            NodeEnum::NotifyStmt(_) => K::Notify,
            NodeEnum::DiscardStmt(_) => K::Discard,
            NodeEnum::ClosePortalStmt(_) | NodeEnum::FetchStmt(_) => K::Cursor,
            other => {
                self.classify_by_name(st, other);
                return;
            }
        };
    }

    /// Statement types without a dedicated handler: classify by the parser's node name
    /// (`CreateFooStmt`, `AlterFooStmt`, `DropFooStmt`) and scan everything inside.
    fn classify_by_name(&mut self, st: &mut Statement, node: &NodeEnum) {
        let name = serde_json::to_value(node)
            .ok()
            .and_then(|v| v.as_object().and_then(|m| m.keys().next().cloned()))
            .unwrap_or_default();
        let object = name.trim_end_matches("Stmt");
        let (kind, rest) = if let Some(rest) = object.strip_prefix("Create") {
            (StatementKind::Create, rest)
        } else if let Some(rest) = object.strip_prefix("Alter") {
            (StatementKind::Alter, rest)
        } else if let Some(rest) = object.strip_prefix("Drop") {
            (StatementKind::Drop, rest)
        } else {
            (StatementKind::Other, object)
        };
        st.kind = kind;
        st.object_type = (!rest.is_empty()).then(|| snake(rest));
        let found = fallback::scan(node);
        for function in found.functions {
            self.record_function(st, &function, None);
        }
        for relation in found.relations {
            st.touch(relation, Access::Alter);
        }
    }
}

fn create(st: &mut Statement, object: &str) {
    st.kind = StatementKind::Create;
    st.object_type = Some(object.into());
}

fn alter(st: &mut Statement, object: &str) {
    st.kind = StatementKind::Alter;
    st.object_type = Some(object.into());
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
