//! Hand-built commands and facts for the policy tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;

use airlock_model::{
    Access, Command, Connection, ConnectionKind, CopyDirection, CopyFacts, CopyTarget, Facts,
    FunctionRisk, Identity, IdentityKind, Name, Origin, Protocol, SettingChange, SettingScope,
    SqlFacts, Statement, StatementFlag, StatementKind, WhereClause,
};

pub fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

pub fn command(kind: IdentityKind, groups: &[&str], envs: &[&str]) -> Command {
    Command {
        identity: Identity {
            kind,
            id: name("alice"),
            groups: groups.iter().map(|g| name(g)).collect(),
            acting_for: (kind == IdentityKind::Agent).then(|| name("bob")),
        },
        connection: Connection {
            name: name("main-db"),
            kind: ConnectionKind::Postgres,
            environments: envs.iter().map(|e| name(e)).collect::<BTreeSet<_>>(),
        },
        protocol: Protocol::PgSimple,
        text: "-- not read by the policy".into(),
    }
}

pub fn prod() -> Command {
    command(IdentityKind::Human, &[], &["prod"])
}

pub fn facts(statements: Vec<Statement>) -> Facts {
    Facts::Sql(SqlFacts {
        top_level_count: statements
            .iter()
            .filter(|s| s.origin == Origin::TopLevel)
            .count(),
        statements,
        unparseable: None,
        literal_sensitive: false,
    })
}

/// A fluent builder over [`Statement`].
#[derive(Debug)]
pub struct S(pub Statement);

pub fn s(kind: StatementKind) -> S {
    S(Statement::new(kind, Origin::TopLevel))
}

impl S {
    pub fn origin(mut self, origin: Origin) -> Self {
        self.0.origin = origin;
        self
    }
    pub fn object(mut self, object_type: &str) -> Self {
        self.0.object_type = Some(object_type.into());
        self
    }
    pub fn touch(mut self, name: &str, access: Access) -> Self {
        self.0.touch(name, access);
        self
    }
    pub fn reads(self, name: &str) -> Self {
        self.touch(name, Access::Read)
    }
    pub fn writes(self, name: &str) -> Self {
        self.touch(name, Access::Write)
    }
    pub fn filter(mut self, where_clause: WhereClause) -> Self {
        self.0.where_clause = where_clause;
        self
    }
    pub fn limited(mut self) -> Self {
        self.0.limited = true;
        self
    }
    pub fn aggregate(mut self) -> Self {
        self.0.aggregate = true;
        self
    }
    pub fn star(mut self) -> Self {
        self.0.select_star = true;
        self
    }
    pub fn function(mut self, name: &str, risk: Option<FunctionRisk>) -> Self {
        self.0.functions.insert(name.into());
        self.0.function_risks.extend(risk);
        self
    }
    pub fn setting(mut self, name: &str, value: Option<&str>, scope: SettingScope) -> Self {
        let value = value.map(str::to_owned);
        self.0.settings.push(SettingChange {
            name: name.into(),
            value,
            scope,
        });
        self
    }
    pub fn role(mut self, role: &str) -> Self {
        self.0.roles_granted.insert(role.into());
        self
    }
    pub fn role_option(mut self, option: &str) -> Self {
        self.0.role_options.insert(option.into());
        self
    }
    pub fn copy(mut self, direction: CopyDirection, target: CopyTarget) -> Self {
        self.0.copy = Some(CopyFacts { direction, target });
        self
    }
    pub fn dynamic(mut self, dynamic: airlock_model::DynamicSql) -> Self {
        self.0.dynamic_sql = dynamic;
        self
    }
    pub fn flag(mut self, flag: StatementFlag) -> Self {
        self.0.flags.insert(flag);
        self
    }
    pub fn done(self) -> Statement {
        self.0
    }
}
