//! Row estimates for policy and approvers: on a connection with `estimate_rows = true`, a single
//! UPDATE, DELETE, INSERT or MERGE is `EXPLAIN (FORMAT JSON)`ed — never `ANALYZE`d, so nothing
//! runs — on one estimator connection per upstream, before the statement is decided.
//!
//! The statement goes through the extended protocol (Parse), which refuses text holding more
//! than one command, so nothing after the first statement can ever run here; a statement that
//! calls a function airlock does not know to be harmless is not estimated (planning evaluates
//! immutable functions, and estimating comes before the decision). The estimator's
//! connection does not share the session's state (temporary tables, `SET search_path`); where
//! EXPLAIN fails or takes too long, there is no estimate (`context.stmt.estimated_rows` is -1:
//! a policy that must fail closed says so).

use std::time::Duration;

use airlock_model::{Facts, StatementKind};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tracing::debug;

use crate::framed::ReadBuf;
use crate::state::Upstream;
use crate::stream::Stream;
use crate::upstream::{self, Connected};

/// The longest an estimate may take, connecting included.
const DEADLINE: Duration = Duration::from_secs(2);
/// Largest answer frame read (an EXPLAIN plan of one statement).
const MAX_FRAME: usize = 1 << 20;

/// One upstream's estimator connection, opened on first use and reopened after a failure.
#[derive(Debug, Default)]
pub struct Estimator {
    connection: Mutex<Option<(Stream, ReadBuf)>>,
}

impl Estimator {
    /// The planner's estimate of the rows `sql` touches, if `facts` make it one statement
    /// worth estimating and the upstream answers in time.
    pub async fn rows(&self, upstream: &Upstream, sql: &str, facts: &Facts) -> Option<u64> {
        if !worth_estimating(facts) {
            return None;
        }
        // Waiting for the connection (other sessions' estimates) counts against the deadline.
        let Ok(mut slot) = tokio::time::timeout(DEADLINE, self.connection.lock()).await else {
            debug!(connection = %upstream.config.name, "no row estimate: the estimator is busy");
            return None;
        };
        let estimate = tokio::time::timeout(DEADLINE, async {
            if slot.is_none() {
                let Connected { stream, buf, .. } = upstream::connect(upstream, &[], DEADLINE)
                    .await
                    .map_err(|e| e.to_string())?;
                *slot = Some((stream, buf));
            }
            match slot.as_mut() {
                Some((stream, buf)) => explain(stream, buf, sql).await,
                None => Err("no estimator connection".to_owned()),
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer in time".to_owned()));
        match estimate {
            Ok(rows) => rows,
            Err(error) => {
                debug!(connection = %upstream.config.name, %error, "no row estimate");
                // The connection may be mid-answer: start afresh next time.
                *slot = None;
                None
            }
        }
    }
}

/// One top-level statement that changes rows (the planner's estimate means something) and
/// calls no function airlock does not know to be harmless: planning evaluates immutable
/// functions, and a statement is estimated before it is decided.
fn worth_estimating(facts: &Facts) -> bool {
    let Facts::Sql(sql) = facts;
    sql.top_level_count == 1
        && sql.unparseable.is_none()
        && sql.statements.iter().all(|s| s.function_risks.is_empty())
        && sql.statements.first().is_some_and(|s| {
            matches!(
                s.kind,
                StatementKind::Update
                    | StatementKind::Delete
                    | StatementKind::Insert
                    | StatementKind::Merge
            )
        })
}

/// Sends Parse/Bind/Execute/Sync of `EXPLAIN (FORMAT JSON) <sql>` and reads to ReadyForQuery.
/// `Ok(None)`: the server refused (an error it reported, e.g. an unknown table).
async fn explain(stream: &mut Stream, buf: &mut ReadBuf, sql: &str) -> Result<Option<u64>, String> {
    let mut out = Vec::with_capacity(sql.len() + 64);
    airlock_pg::encode_extended_query(&mut out, &format!("EXPLAIN (FORMAT JSON) {sql}"));
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut rows = None;
    let mut refused = false;
    loop {
        let frame = match buf.next_frame(MAX_FRAME) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if buf.fill(stream).await.map_err(|e| e.to_string())? == 0 {
                    return Err("the upstream closed the estimator connection".to_owned());
                }
                continue;
            }
            Err(error) => return Err(error.to_string()),
        };
        match frame.tag {
            b'D' => rows = plan_rows(buf.bytes(frame.body)),
            b'E' => refused = true,
            b'Z' => return Ok(if refused { None } else { rows }),
            _ => {}
        }
    }
}

/// The estimate in a DataRow of `EXPLAIN (FORMAT JSON)`: the top plan node's rows, or, for a
/// ModifyTable (which reports 0 without RETURNING), its input's.
fn plan_rows(data_row: &[u8]) -> Option<u64> {
    // Int16 column count, then Int32 length and the bytes of the one column.
    let column = data_row.get(6..)?;
    let plan: serde_json::Value = serde_json::from_slice(column).ok()?;
    let top = plan.get(0)?.get("Plan")?;
    let node = if top.get("Node Type").and_then(serde_json::Value::as_str) == Some("ModifyTable") {
        top.get("Plans")?.get(0)?
    } else {
        top
    };
    let rows = node.get("Plan Rows")?.as_f64()?;
    (rows.is_finite() && rows >= 0.0).then(|| {
        // Planner estimates are whole numbers in practice; round, saturating.
        let rounded = rows.round();
        if rounded >= u64::MAX as f64 {
            u64::MAX
        } else {
            rounded as u64
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> Vec<u8> {
        let mut out = 1i16.to_be_bytes().to_vec();
        out.extend_from_slice(&i32::try_from(json.len()).unwrap().to_be_bytes());
        out.extend_from_slice(json.as_bytes());
        out
    }

    fn facts(sql: &str) -> Facts {
        airlock_inspect::inspect(
            airlock_model::ConnectionKind::Postgres,
            sql,
            &airlock_inspect::SqlOptions::default(),
        )
    }

    #[test]
    fn only_one_statement_that_changes_rows_is_estimated() {
        for sql in [
            "DELETE FROM t WHERE id > 10",
            "UPDATE t SET v = 1",
            "INSERT INTO t SELECT * FROM u",
            "DELETE FROM t WHERE id = abs(-1)",
            "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
        ] {
            assert!(worth_estimating(&facts(sql)), "{sql}");
        }
        for sql in [
            "DELETE FROM t; DELETE FROM u",
            "SELECT * FROM t",
            "DROP TABLE t",
            "DELETE FROM",
            "DELETE FROM t WHERE id = my_function()",
            "UPDATE t SET v = pg_read_file('/etc/passwd')",
        ] {
            assert!(!worth_estimating(&facts(sql)), "{sql}");
        }
    }

    #[test]
    fn a_modify_table_plan_reports_its_inputs_rows() {
        let delete = r#"[{"Plan": {"Node Type": "ModifyTable", "Operation": "Delete", "Plan Rows": 0,
            "Plans": [{"Node Type": "Seq Scan", "Plan Rows": 5000}]}}]"#;
        assert_eq!(plan_rows(&row(delete)), Some(5000));
        let select = r#"[{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 12}}]"#;
        assert_eq!(plan_rows(&row(select)), Some(12));
        assert_eq!(plan_rows(&row("not json")), None);
        assert_eq!(plan_rows(&row(r#"[{"Plan": {}}]"#)), None);
        assert_eq!(plan_rows(&[0, 1]), None);
    }
}
