//! Why a policy could not be loaded: every problem, with its file and position.

use std::fmt;

/// One problem in one policy file, shown as `file:line:col: reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file as given (a path, or `default/<name>` for the embedded pack).
    pub file: String,
    /// 1-based line and column, when the problem has a position in the file.
    pub position: Option<Position>,
    pub reason: String,
}

/// A 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Why a set of policy files was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Every problem found in every file; the set is rejected as a whole.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
    /// airlock's own embedded schema does not parse: a bug in airlock.
    #[error("airlock's embedded cedar schema is invalid: {0}")]
    Schema(String),
}

struct ProblemList<'a>(&'a [Problem]);

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let before = text.get(..end).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Self { line, column }
    }
}

impl Problem {
    pub fn new(file: &str, position: Option<Position>, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            position,
            reason: reason.into(),
        }
    }

    /// A problem at byte `offset` of the file's `text`.
    pub fn at(file: &str, text: &str, offset: Option<usize>, reason: impl Into<String>) -> Self {
        Self::new(file, offset.map(|o| Position::of_offset(text, o)), reason)
    }
}

impl PolicyError {
    /// The problems, in file order; empty for [`PolicyError::Schema`].
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid(problems) => problems,
            Self::Schema(_) => &[],
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, column }) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.reason)
            }
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\ncé\nxyz";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        // byte 6 is the newline after `é` (2 bytes): column 3
        assert_eq!(
            Position::of_offset(text, 6),
            Position { line: 2, column: 3 }
        );
        assert_eq!(
            Position::of_offset(text, 999),
            Position { line: 3, column: 4 }
        );
    }

    #[test]
    fn problems_display_as_file_line_col_reason() {
        let p = Problem::at("my.cedar", "x\ny", Some(2), "unknown verdict `maybe`");
        assert_eq!(p.to_string(), "my.cedar:2:1: unknown verdict `maybe`");
        let e = PolicyError::Invalid(vec![p, Problem::new("b.cedar", None, "cannot read")]);
        assert_eq!(
            e.to_string(),
            "my.cedar:2:1: unknown verdict `maybe`\nb.cedar: cannot read"
        );
    }
}
