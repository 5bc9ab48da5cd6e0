//! The inspector: walks every statement of an input and flattens nested ones.

use airlock_model::{Origin, SqlFacts, Statement, StatementKind};
use pg_query::{NodeEnum, ParserOptions};

use super::MAX_DEPTH;
use super::names::boxed;

/// Collects facts while walking one input. Nested statements (CTEs, bodies, dynamic SQL)
/// are pushed to `statements` as they are found.
pub(crate) struct Inspector {
    parser: ParserOptions,
    pub(crate) statements: Vec<Statement>,
    unparseable: Option<String>,
    pub(crate) literal_sensitive: bool,
    /// CTEs in scope (name, whether it returns whole tables): references to them are not
    /// table reads.
    pub(crate) ctes: Vec<(String, bool)>,
    /// For each SELECT block being scanned, whether it returns whole tables.
    pub(crate) blocks: Vec<bool>,
    /// Names of statements prepared earlier in the input (their text was judged).
    pub(crate) prepared: Vec<String>,
    /// Set by constructs whose judgement can hinge on literals in ways that are hard to
    /// track (sub-queries, CTEs, CASE, COALESCE, quantifiers…): such inputs never share a
    /// decision by shape.
    pub(crate) complex: bool,
}

impl Inspector {
    pub(crate) fn new(parser: ParserOptions) -> Self {
        Self {
            parser,
            statements: Vec::new(),
            unparseable: None,
            literal_sensitive: false,
            ctes: Vec::new(),
            blocks: Vec::new(),
            prepared: Vec::new(),
            complex: false,
        }
    }

    pub(crate) fn parser(&self) -> ParserOptions {
        self.parser
    }

    pub(crate) fn finish(mut self, top_level_count: usize) -> SqlFacts {
        self.statements
            .iter_mut()
            .for_each(super::parser_settings::mark);
        // Fingerprints ignore constants everywhere and some names in utility statements: only
        // plain DML shapes (with no literal-dependent fact) may share a decision by fingerprint.
        let plain = self.statements.iter().all(|s| {
            s.origin == Origin::TopLevel
                && matches!(
                    s.kind,
                    StatementKind::Select
                        | StatementKind::Insert
                        | StatementKind::Update
                        | StatementKind::Delete
                        | StatementKind::Merge
                        | StatementKind::Transaction
                        | StatementKind::Show
                )
        });
        let unparseable = self.unparseable.is_some();
        SqlFacts {
            statements: self.statements,
            unparseable: self.unparseable,
            top_level_count,
            literal_sensitive: self.literal_sensitive || self.complex || !plain || unparseable,
        }
    }

    /// Records that something could not be understood; the first reason is kept.
    pub(crate) fn opaque(&mut self, reason: impl Into<String>) {
        if self.unparseable.is_none() {
            self.unparseable = Some(reason.into());
        }
    }

    /// Parses `text` and inspects each of its statements. Returns how many it found.
    pub(crate) fn inspect_text(&mut self, text: &str, origin: Origin, depth: u8) -> usize {
        if depth > MAX_DEPTH {
            self.opaque("statements are nested too deeply to inspect");
            return 0;
        }
        match pg_query::parse(text, self.parser) {
            Err(error) => {
                // A statement from an application log, before the driver bound `?`/`%s`/`:x`.
                let bound = (origin == Origin::TopLevel && depth == 0)
                    .then(|| super::placeholders::rewrite(text))
                    .flatten()
                    .filter(|rewritten| pg_query::parse(rewritten, self.parser).is_ok());
                if let Some(rewritten) = bound {
                    return self.inspect_text(&rewritten, origin, depth + 1);
                }
                self.opaque(parse_error_message(&error, origin));
                0
            }
            Ok(result) => {
                for raw in &result.protobuf.stmts {
                    let stmt_text = statement_text(text, raw.stmt_location, raw.stmt_len);
                    if let Some(node) = boxed(&raw.stmt) {
                        self.statement(node, origin, stmt_text, depth);
                    }
                }
                result.protobuf.stmts.len()
            }
        }
    }

    /// Inspects one parsed statement (and everything nested in it).
    pub(crate) fn statement(&mut self, node: &NodeEnum, origin: Origin, text: &str, depth: u8) {
        let mut st = Statement::new(StatementKind::Other, origin);
        match node {
            NodeEnum::SelectStmt(s) => self.select_statement(&mut st, s, depth),
            NodeEnum::InsertStmt(s) => self.insert(&mut st, s, depth),
            NodeEnum::UpdateStmt(s) => self.update(&mut st, s, depth),
            NodeEnum::DeleteStmt(s) => self.delete(&mut st, s, depth),
            NodeEnum::MergeStmt(s) => self.merge(&mut st, s, depth),
            NodeEnum::ExplainStmt(s) => self.explain(&mut st, s, text, depth),
            NodeEnum::CopyStmt(s) => self.copy(&mut st, s, text, depth),
            NodeEnum::CreateTableAsStmt(s) => self.create_table_as(&mut st, s, text, depth),
            NodeEnum::PrepareStmt(s) => {
                st.kind = StatementKind::Prepare;
                self.prepared.push(s.name.clone());
                if let Some(query) = boxed(&s.query) {
                    self.statement(query, Origin::Prepared, text, depth + 1);
                }
            }
            NodeEnum::DeclareCursorStmt(s) => {
                st.kind = StatementKind::Cursor;
                if let Some(query) = boxed(&s.query) {
                    self.statement(query, Origin::Prepared, text, depth + 1);
                }
            }
            NodeEnum::DoStmt(s) => self.do_block(&mut st, s, depth),
            NodeEnum::CreateFunctionStmt(s) => self.create_function(&mut st, s, text, depth),
            NodeEnum::RuleStmt(s) => self.rule(&mut st, s, text, depth),
            NodeEnum::CreateSchemaStmt(s) => {
                self.create_schema(&mut st, s);
                for element in &s.schema_elts {
                    if let Some(inner) = element.node.as_ref() {
                        self.statement(inner, origin, text, depth + 1);
                    }
                }
            }
            other => {
                self.utility(&mut st, other, depth);
                self.scan_ddl_expressions(&mut st, other);
            }
        }
        self.statements.push(st);
    }
}

fn statement_text(text: &str, location: i32, len: i32) -> &str {
    let start = usize::try_from(location).unwrap_or(0);
    let end = match usize::try_from(len) {
        Ok(0) | Err(_) => text.len(),
        Ok(len) => start.saturating_add(len).min(text.len()),
    };
    text.get(start..end).unwrap_or(text)
}

fn parse_error_message(error: &pg_query::Error, origin: Origin) -> String {
    let detail = match error {
        pg_query::Error::Parse(message) | pg_query::Error::Split(message) => message.clone(),
        other => other.to_string(),
    };
    match origin {
        Origin::TopLevel => detail,
        nested => format!("{detail} (in {})", nested.as_str().replace('_', " ")),
    }
}
