//! Utility statements: DDL, privileges, settings, COPY, EXPLAIN, transactions and the rest.

use airlock_model::{
    Access, CopyDirection, CopyFacts, CopyTarget, FunctionRisk, Origin, SettingChange,
    SettingScope, Statement, StatementFlag, StatementKind,
};
use pg_query::NodeEnum;
use pg_query::protobuf::{
    AlterTableType, CopyStmt, CreateSchemaStmt, CreateTableAsStmt, DropBehavior, ExplainStmt, Node,
    ObjectType, VariableSetKind, VariableSetStmt,
};

use super::fold::fold;
use super::names::{boxed, dotted, inner, option_bool, relation, role, role_node, string};
use super::statement::Inspector;

impl Inspector {
    pub(crate) fn explain(&mut self, st: &mut Statement, s: &ExplainStmt, text: &str, depth: u8) {
        st.kind = StatementKind::Explain;
        let analyze = s.options.iter().any(|o| match inner(o) {
            // An option that is not a boolean counts as on: the server would reject it.
            Some(NodeEnum::DefElem(d)) if d.defname == "analyze" => {
                option_bool(boxed(&d.arg)).unwrap_or(true)
            }
            _ => false,
        });
        if let Some(query) = boxed(&s.query) {
            if analyze {
                self.statement(query, Origin::ExplainAnalyze, text, depth + 1);
            } else {
                // Plain EXPLAIN plans without executing: record what it mentions, as reads.
                for name in super::fallback::scan(query).relations {
                    st.touch(name, Access::Read);
                }
            }
        }
    }

    pub(crate) fn copy(&mut self, st: &mut Statement, s: &CopyStmt, text: &str, depth: u8) {
        st.kind = StatementKind::Copy;
        let direction = if s.is_from {
            CopyDirection::From
        } else {
            CopyDirection::To
        };
        let target = if s.is_program {
            CopyTarget::Program
        } else if !s.filename.is_empty() {
            CopyTarget::ServerFile
        } else if s.is_from {
            CopyTarget::Stdin
        } else {
            CopyTarget::Stdout
        };
        st.copy = Some(CopyFacts { direction, target });
        if let Some(rv) = &s.relation {
            let access = if s.is_from {
                Access::Write
            } else {
                Access::Read
            };
            let name = relation(rv);
            if s.is_from && super::dml::is_catalog(&name) {
                st.flags.insert(StatementFlag::WritesCatalog);
            }
            st.touch(name, access);
            if !s.is_from {
                st.where_clause = airlock_model::WhereClause::Absent;
            }
        }
        if let Some(node) = s.where_clause.as_deref() {
            self.scan(st, node, depth);
        }
        if let Some(query) = boxed(&s.query) {
            self.statement(query, Origin::CopyQuery, text, depth + 1);
            // What the COPY sends is what its query reads, with the query's row filter.
            if let Some(inner) = self.statements.last() {
                let reads: Vec<String> =
                    inner.names_with(Access::Read).map(str::to_owned).collect();
                st.where_clause = inner.where_clause;
                st.limited = inner.limited;
                st.aggregate = inner.aggregate;
                st.flags.extend(
                    inner
                        .flags
                        .iter()
                        .filter(|f| **f == StatementFlag::SystemOnly),
                );
                for name in reads {
                    st.touch(name, Access::Read);
                }
            }
        }
    }

    pub(crate) fn create_table_as(
        &mut self,
        st: &mut Statement,
        s: &CreateTableAsStmt,
        text: &str,
        depth: u8,
    ) {
        st.kind = StatementKind::Create;
        st.object_type = Some(object_type(s.objtype));
        if let Some(rv) = s.into.as_ref().and_then(|i| i.rel.as_ref()) {
            st.touch(relation(rv), Access::Create);
        }
        if let Some(query) = boxed(&s.query) {
            self.statement(query, Origin::CreateTableAs, text, depth + 1);
        }
    }

    pub(crate) fn create_schema(&mut self, st: &mut Statement, s: &CreateSchemaStmt) {
        st.kind = StatementKind::Create;
        st.object_type = Some("schema".into());
        st.touch(s.schemaname.clone(), Access::Create);
        if let Some(owner) = &s.authrole {
            st.touch(role(owner), Access::Read);
        }
    }

    /// Every other statement type.
    pub(crate) fn utility(&mut self, st: &mut Statement, node: &NodeEnum, depth: u8) {
        use StatementKind as K;
        match node {
            NodeEnum::DropStmt(s) => {
                st.kind = K::Drop;
                st.object_type = Some(object_type(s.remove_type));
                for object in &s.objects {
                    st.touch(object_name(object), Access::Drop);
                }
                cascade(st, s.behavior);
            }
            NodeEnum::DropdbStmt(s) => drop_named(st, "database", &s.dbname),
            NodeEnum::DropRoleStmt(s) => {
                drop_named(st, "role", "");
                st.objects.clear();
                s.roles
                    .iter()
                    .filter_map(role_node)
                    .for_each(|r| st.touch(r, Access::Drop));
                st.flags.insert(StatementFlag::ChangesPrivileges);
            }
            NodeEnum::DropOwnedStmt(s) => {
                st.kind = K::Drop;
                st.object_type = Some("owned".into());
                s.roles
                    .iter()
                    .filter_map(role_node)
                    .for_each(|r| st.touch(r, Access::Drop));
                cascade(st, s.behavior);
            }
            NodeEnum::DropSubscriptionStmt(s) => drop_named(st, "subscription", &s.subname),
            NodeEnum::DropTableSpaceStmt(s) => drop_named(st, "tablespace", &s.tablespacename),
            NodeEnum::DropUserMappingStmt(s) => drop_named(st, "user_mapping", &s.servername),
            NodeEnum::TruncateStmt(s) => {
                st.kind = K::Truncate;
                st.object_type = Some("table".into());
                st.where_clause = airlock_model::WhereClause::Absent;
                for rel in &s.relations {
                    if let Some(NodeEnum::RangeVar(rv)) = inner(rel) {
                        st.touch(relation(rv), Access::Write);
                    }
                }
                cascade(st, s.behavior);
            }
            NodeEnum::AlterTableStmt(s) => self.alter_table(st, s, depth),
            NodeEnum::VariableSetStmt(s) => {
                let scope = if s.is_local {
                    SettingScope::Transaction
                } else {
                    SettingScope::Session
                };
                st.kind = if s.kind == VariableSetKind::VarReset as i32
                    || s.kind == VariableSetKind::VarResetAll as i32
                {
                    K::Reset
                } else {
                    K::Set
                };
                if s.kind == VariableSetKind::VarSetMulti as i32 {
                    // SET TRANSACTION …, SET SESSION CHARACTERISTICS AS TRANSACTION …
                    st.kind = K::Transaction;
                } else if drops_identity(s) {
                    // RESET ROLE, SET ROLE NONE, SET SESSION AUTHORIZATION DEFAULT: back to
                    // the session's own identity.
                    st.kind = K::Reset;
                } else {
                    self.setting(st, s, scope);
                }
            }
            NodeEnum::AlterSystemStmt(s) => {
                st.kind = K::Alter;
                st.object_type = Some("system".into());
                if let Some(set) = &s.setstmt {
                    self.setting(st, set, SettingScope::System);
                }
            }
            NodeEnum::AlterRoleSetStmt(s) => {
                st.kind = K::Alter;
                st.object_type = Some("role".into());
                if let Some(r) = &s.role {
                    st.touch(role(r), Access::Alter);
                }
                if let Some(set) = &s.setstmt {
                    self.setting(st, set, SettingScope::Role);
                }
            }
            NodeEnum::AlterDatabaseSetStmt(s) => {
                st.kind = K::Alter;
                st.object_type = Some("database".into());
                st.touch(s.dbname.clone(), Access::Alter);
                if let Some(set) = &s.setstmt {
                    self.setting(st, set, SettingScope::Database);
                }
            }
            NodeEnum::VariableShowStmt(_) => st.kind = K::Show,
            NodeEnum::TransactionStmt(_) | NodeEnum::ConstraintsSetStmt(_) => {
                st.kind = K::Transaction;
            }
            other => self.privileges_or_other(st, other, depth),
        }
    }

    fn alter_table(
        &mut self,
        st: &mut Statement,
        s: &pg_query::protobuf::AlterTableStmt,
        depth: u8,
    ) {
        st.kind = StatementKind::Alter;
        st.object_type = Some(object_type(s.objtype));
        if let Some(rv) = &s.relation {
            st.touch(relation(rv), Access::Alter);
        }
        for cmd in &s.cmds {
            let Some(NodeEnum::AlterTableCmd(c)) = inner(cmd) else {
                continue;
            };
            use AlterTableType as T;
            match T::try_from(c.subtype).unwrap_or(T::Undefined) {
                T::AtDropColumn => {
                    st.flags.insert(StatementFlag::DropsColumn);
                    cascade(st, c.behavior);
                }
                T::AtDropConstraint
                | T::AtDropInherit
                | T::AtDetachPartition
                | T::AtDropExpression
                | T::AtDropIdentity => cascade(st, c.behavior),
                // A trigger or rule enabled only for replicas stops firing in normal sessions.
                T::AtDisableTrig
                | T::AtDisableTrigAll
                | T::AtDisableTrigUser
                | T::AtDisableRule
                | T::AtEnableReplicaTrig
                | T::AtEnableReplicaRule
                | T::AtDisableRowSecurity
                | T::AtNoForceRowSecurity => {
                    st.flags.insert(StatementFlag::DisablesSafeguard);
                }
                T::AtGenericOptions => {
                    if let Some(def) = c.def.as_deref() {
                        foreign_file_options(st, std::slice::from_ref(def));
                    }
                }
                T::AtChangeOwner => {
                    st.flags.insert(StatementFlag::ChangesOwner);
                }
                _ => {}
            }
            if let Some(def) = c.def.as_deref() {
                self.scan(st, def, depth);
            }
        }
    }

    pub(crate) fn setting(&mut self, st: &mut Statement, s: &VariableSetStmt, scope: SettingScope) {
        let value = match VariableSetKind::try_from(s.kind) {
            Ok(VariableSetKind::VarSetValue) => {
                let parts: Vec<String> = s
                    .args
                    .iter()
                    .filter_map(|a| inner(a).and_then(fold).and_then(|v| v.as_text()))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            }
            // `SET x TO DEFAULT`, `RESET x`: back to the server's configured value.
            Ok(VariableSetKind::VarSetDefault | VariableSetKind::VarReset) => {
                Some("DEFAULT".into())
            }
            _ => None,
        };
        self.literal_sensitive |= value.is_some();
        let name = if s.kind == VariableSetKind::VarResetAll as i32 {
            "all".into()
        } else {
            s.name.to_lowercase()
        };
        st.settings.push(SettingChange { name, value, scope });
    }
}

fn drops_identity(s: &VariableSetStmt) -> bool {
    let identity = matches!(
        s.name.to_lowercase().as_str(),
        "role" | "session_authorization"
    );
    let reset = s.kind == VariableSetKind::VarReset as i32
        || s.kind == VariableSetKind::VarSetDefault as i32;
    let none = s.args.iter().any(|a| {
        inner(a)
            .and_then(fold)
            .and_then(|v| v.as_text())
            .is_some_and(|v| v.eq_ignore_ascii_case("none"))
    });
    identity && (reset || none)
}

fn drop_named(st: &mut Statement, object: &str, name: &str) {
    st.kind = StatementKind::Drop;
    st.object_type = Some(object.into());
    if !name.is_empty() {
        st.touch(name.to_owned(), Access::Drop);
    }
}

fn cascade(st: &mut Statement, behavior: i32) {
    if behavior == DropBehavior::DropCascade as i32 {
        st.flags.insert(StatementFlag::Cascade);
    }
}

/// `filename` / `program` options of a foreign table (file_fdw): the server's files and
/// programs, as with COPY.
pub(crate) fn foreign_file_options(st: &mut Statement, options: &[Node]) {
    for option in options {
        match inner(option) {
            Some(NodeEnum::List(list)) => foreign_file_options(st, &list.items),
            Some(NodeEnum::DefElem(d)) if d.defname == "filename" => {
                st.function_risks.insert(FunctionRisk::ServerFileAccess);
            }
            Some(NodeEnum::DefElem(d)) if d.defname == "program" => {
                st.function_risks.insert(FunctionRisk::ProgramExecution);
            }
            _ => {}
        }
    }
}

/// `table`, `schema`, `foreign_table`… from PostgreSQL's ObjectType.
pub(crate) fn object_type(value: i32) -> String {
    ObjectType::try_from(value)
        .map(|t| t.as_str_name().trim_start_matches("OBJECT_").to_lowercase())
        .unwrap_or_else(|_| "unknown".into())
}

/// A printable name for an object node of DROP/GRANT/COMMENT.
pub(crate) fn object_name(node: &Node) -> String {
    match inner(node) {
        Some(NodeEnum::List(l)) => dotted(&l.items),
        Some(NodeEnum::String(_)) => string(node).unwrap_or_default().to_owned(),
        Some(NodeEnum::ObjectWithArgs(o)) => dotted(&o.objname),
        Some(NodeEnum::TypeName(t)) => dotted(&t.names),
        Some(NodeEnum::RangeVar(rv)) => relation(rv),
        Some(NodeEnum::RoleSpec(r)) => role(r),
        _ => String::new(),
    }
}

pub(crate) fn untrusted(st: &mut Statement) {
    st.function_risks.insert(FunctionRisk::ProgramExecution);
}
