//! Set operations (`UNION`, `INTERSECT`, `EXCEPT`): both arms are read into one statement;
//! only their row facts are kept apart and then combined.

use airlock_model::{Statement, StatementFlag, WhereClause};

/// The row facts of one arm of a set operation (`UNION`, `INTERSECT`, `EXCEPT`).
pub(super) struct Rows {
    where_clause: WhereClause,
    /// The filter counts as every row only because it ignores the row.
    independent: bool,
    limited: bool,
    aggregate: bool,
    select_star: bool,
}

impl Rows {
    /// Takes the row facts out of `st`, leaving them as for a new statement.
    pub(super) fn take(st: &mut Statement) -> Self {
        Self {
            where_clause: std::mem::take(&mut st.where_clause),
            independent: st.flags.remove(&StatementFlag::RowIndependentFilter),
            limited: std::mem::take(&mut st.limited),
            aggregate: std::mem::take(&mut st.aggregate),
            select_star: std::mem::take(&mut st.select_star),
        }
    }

    /// The whole operation returns every row when either arm does.
    pub(super) fn combine(self, other: Self) -> Self {
        use WhereClause::*;
        // An arm proven true for every row makes the whole result every row.
        let proven = |r: &Self| r.where_clause == AlwaysTrue && !r.independent;
        let independent =
            !proven(&self) && !proven(&other) && (self.independent || other.independent);
        let where_clause = match (self.where_clause, other.where_clause) {
            (Absent, _) | (_, Absent) => Absent,
            (AlwaysTrue, _) | (_, AlwaysTrue) => AlwaysTrue,
            (Present, _) | (_, Present) => Present,
            (NotApplicable, NotApplicable) => NotApplicable,
        };
        Self {
            where_clause,
            independent: where_clause == AlwaysTrue && independent,
            limited: self.limited && other.limited,
            aggregate: self.aggregate && other.aggregate,
            select_star: self.select_star || other.select_star,
        }
    }

    pub(super) fn put(self, st: &mut Statement) {
        st.where_clause = self.where_clause;
        if self.independent {
            st.flags.insert(StatementFlag::RowIndependentFilter);
        }
        st.limited = self.limited;
        st.aggregate = self.aggregate;
        st.select_star = self.select_star;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WhereClause::{Absent, AlwaysTrue, NotApplicable, Present};

    fn rows(where_clause: WhereClause, independent: bool) -> Rows {
        Rows {
            where_clause,
            independent,
            limited: false,
            aggregate: false,
            select_star: false,
        }
    }

    #[test]
    fn the_arm_that_reaches_most_rows_decides() {
        // (left, right) → (where, flagged as ignoring the row)
        let cases = [
            ((Present, false), (Absent, false), (Absent, false)),
            ((AlwaysTrue, true), (Absent, false), (Absent, false)),
            ((AlwaysTrue, true), (Present, false), (AlwaysTrue, true)),
            ((AlwaysTrue, true), (AlwaysTrue, false), (AlwaysTrue, false)),
            ((AlwaysTrue, false), (AlwaysTrue, true), (AlwaysTrue, false)),
            ((AlwaysTrue, true), (AlwaysTrue, true), (AlwaysTrue, true)),
            ((NotApplicable, false), (Present, false), (Present, false)),
            (
                (NotApplicable, false),
                (NotApplicable, false),
                (NotApplicable, false),
            ),
        ];
        for ((lw, li), (rw, ri), expected) in cases {
            let both = rows(lw, li).combine(rows(rw, ri));
            assert_eq!(
                (both.where_clause, both.independent),
                expected,
                "{lw:?}/{li} with {rw:?}/{ri}"
            );
            let mut st = Statement::default();
            both.put(&mut st);
            let back = Rows::take(&mut st);
            assert_eq!((back.where_clause, back.independent), expected);
            assert!(!st.has_flag(StatementFlag::RowIndependentFilter));
        }
    }
}
