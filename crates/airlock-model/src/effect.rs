//! [`Effect`]: what running a command can do to durable state, which decides when its audit
//! record must be durable (a write's before it runs; a read's within a bounded window).

use crate::{Access, Facts, SqlFacts, Statement, StatementKind};

/// The durable effect of a command: whether it may change stored data and whether it
/// controls a transaction (BEGIN, COMMIT, ROLLBACK, SAVEPOINT…). Conservative: what is not
/// proven a read is a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Effect {
    /// May change stored data: DML, DDL, procedures, DO blocks, unknown functions, anything
    /// unparseable.
    pub writes: bool,
    /// Starts, ends or rolls back (part of) a transaction.
    pub transaction_control: bool,
}

impl Effect {
    pub const READ: Self = Self {
        writes: false,
        transaction_control: false,
    };

    /// The effect of a command from its facts.
    pub fn of(facts: &Facts) -> Self {
        match facts {
            Facts::Sql(sql) => sql_effect(sql),
        }
    }
}

fn sql_effect(sql: &SqlFacts) -> Effect {
    let mut effect = Effect {
        writes: sql.unparseable.is_some(),
        transaction_control: false,
    };
    for statement in &sql.statements {
        effect.transaction_control |= statement.kind == StatementKind::Transaction;
        effect.writes |= writes(statement);
    }
    effect
}

fn writes(statement: &Statement) -> bool {
    use StatementKind as K;
    let reads = match statement.kind {
        K::Select
        | K::Show
        | K::Explain
        | K::Set
        | K::Reset
        | K::Listen
        | K::Discard
        | K::Transaction => true,
        K::Insert
        | K::Update
        | K::Delete
        | K::Merge
        | K::Truncate
        | K::Create
        | K::Alter
        | K::Drop
        | K::Grant
        | K::Revoke
        | K::Copy
        | K::Prepare
        | K::Deallocate
        | K::Lock
        | K::Maintenance
        | K::Notify
        | K::Cursor
        | K::Comment
        | K::Load
        | K::Call
        | K::Do
        | K::Execute
        | K::Other => false,
    };
    let writes_objects = statement
        .objects
        .iter()
        .any(|o| !matches!(o.access, Access::Read));
    !reads || writes_objects || !statement.function_risks.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FunctionRisk, ObjectRef, Origin};

    fn facts(statements: Vec<Statement>) -> Facts {
        Facts::Sql(SqlFacts {
            top_level_count: statements.len(),
            statements,
            ..SqlFacts::default()
        })
    }

    fn statement(kind: StatementKind, access: Access) -> Statement {
        let mut s = Statement::new(kind, Origin::TopLevel);
        s.objects.push(ObjectRef {
            name: "t".into(),
            access,
        });
        s
    }

    #[test]
    fn only_proven_reads_are_reads() {
        let read = statement(StatementKind::Select, Access::Read);
        assert_eq!(Effect::of(&facts(vec![read.clone()])), Effect::READ);
        let mut calls_unknown = read.clone();
        calls_unknown.function_risks.insert(FunctionRisk::Unknown);
        assert!(Effect::of(&facts(vec![calls_unknown])).writes);
        let nested_write = statement(StatementKind::Delete, Access::Write);
        let with_cte = Effect::of(&facts(vec![read.clone(), nested_write.clone()]));
        assert!(with_cte.writes && !with_cte.transaction_control);
        let commit = Statement::new(StatementKind::Transaction, Origin::TopLevel);
        let only_commit = Effect::of(&facts(vec![read, commit.clone()]));
        assert!(!only_commit.writes && only_commit.transaction_control);
        let write_and_commit = Effect::of(&facts(vec![nested_write, commit]));
        assert!(write_and_commit.writes && write_and_commit.transaction_control);
        let call = Statement::new(StatementKind::Call, Origin::TopLevel);
        assert!(Effect::of(&facts(vec![call])).writes);
        let unparseable = Facts::Sql(SqlFacts {
            unparseable: Some("syntax error".into()),
            ..SqlFacts::default()
        });
        assert!(Effect::of(&unparseable).writes);
    }
}
