use super::*;

fn vars_of(function: &str) -> Vars {
    Vars::collect(&pg_query::parse_plpgsql(function).expect("a PL/pgSQL function"))
}

fn vars(body: &str) -> Vars {
    vars_of(&format!(
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body${body}$body$"
    ))
}

/// The values `expr` may have in `body`, sorted; `None`: opaque.
fn values(body: &str, expr: &str) -> Option<Vec<String>> {
    let mut values = vars(body).fold_all(expr)?;
    values.sort();
    Some(values)
}

fn strings(values: &[&str]) -> Option<Vec<String>> {
    Some(values.iter().map(|v| (*v).to_owned()).collect())
}

#[test]
fn assignments_are_followed() {
    let cases = [
        (
            "q := 'DROP ' || 'TABLE t';",
            vec!["DROP TABLE t", "SELECT 1"],
        ),
        ("q = 'DROP TABLE t';", vec!["DROP TABLE t", "SELECT 1"]),
        ("\"q\" := 'DROP TABLE t';", vec!["DROP TABLE t", "SELECT 1"]),
        ("Q := 'DROP TABLE t';", vec!["DROP TABLE t", "SELECT 1"]),
        (
            "q := format('DROP TABLE %I', 'T');",
            vec!["DROP TABLE \"T\"", "SELECT 1"],
        ),
    ];
    for (statement, expected) in cases {
        let body = format!("DECLARE q text := 'SELECT 1'; BEGIN {statement} EXECUTE q; END");
        assert_eq!(values(&body, "q"), strings(&expected), "{statement}");
    }
}

#[test]
fn writes_other_than_a_foldable_assignment_make_a_variable_unknown() {
    let statements = [
        "SELECT 'DROP TABLE users' INTO q;",
        "SELECT 'DROP TABLE users', 1 INTO q, n;",
        "EXECUTE 'SELECT ''DROP TABLE users''' INTO q;",
        "UPDATE t SET a = a WHERE id = 1 RETURNING 'DROP TABLE users' INTO q;",
        "INSERT INTO t VALUES (1) RETURNING 'DROP TABLE users' INTO STRICT q;",
        "FOR q IN SELECT 'DROP TABLE users' LOOP END LOOP;",
        "FOR q IN EXECUTE 'SELECT 1' LOOP END LOOP;",
        "FOREACH q IN ARRAY ARRAY['DROP TABLE users'] LOOP END LOOP;",
        "OPEN c FOR SELECT 'DROP TABLE users'; FETCH c INTO q;",
        "GET DIAGNOSTICS q = PG_CONTEXT;",
        "PERFORM 1; EXCEPTION WHEN others THEN GET STACKED DIAGNOSTICS q = MESSAGE_TEXT;",
        "CALL get_sql(q);",
        "q := upper(current_user);",
        "q := 'DROP TABLE users' FROM t WHERE false;",
        "q := sql FROM jobs;",
        "q[1] := 'DROP TABLE users';",
        "q := 1 + 1;",
    ];
    for statement in statements {
        let body =
            format!("DECLARE q text := 'SELECT 1'; n int; c refcursor; BEGIN {statement} END");
        let vars = vars(&body);
        assert!(vars.unknown.contains("q"), "{statement}: {vars:?}");
        assert_eq!(vars.fold_all("q"), None, "{statement}");
        assert_eq!(vars.fold_all("'SELECT ' || q"), None, "{statement}");
    }
    // Written through another name: an alias, a block label.
    let bodies = [
        "DECLARE q text := 'SELECT 1'; a ALIAS FOR q; BEGIN a := 'DROP TABLE users'; END",
        "<<b>> DECLARE q text := 'SELECT 1'; BEGIN b.q := 'DROP TABLE users'; END",
    ];
    for body in bodies {
        assert_eq!(values(body, "q"), None, "{body}");
    }
}

#[test]
fn only_text_variables_declared_in_the_body_are_followed() {
    let bodies = [
        // `name` truncates to 63 bytes: what runs is not what was assigned.
        "DECLARE q name := 'SELECT 1'; BEGIN END",
        "DECLARE q char(20) := 'SELECT 1'; BEGIN END",
        "DECLARE q int := '1'; BEGIN END",
        "DECLARE q t.c%TYPE := 'SELECT 1'; BEGIN END",
        // The cursor's name is its value: `OPEN` sets it.
        "DECLARE q CURSOR FOR SELECT 1; BEGIN OPEN q; END",
        "DECLARE q refcursor := 'SELECT 1'; BEGIN OPEN q FOR SELECT 1; END",
    ];
    for body in bodies {
        assert_eq!(values(body, "q"), None, "{body}");
    }
    // Set by the run time.
    let handler = "BEGIN PERFORM 1; EXCEPTION WHEN others THEN EXECUTE sqlerrm; END";
    assert_eq!(values(handler, "sqlerrm"), None);
    // Set by the caller, whatever the body assigns.
    let parameter = "CREATE FUNCTION f(q text) RETURNS void LANGUAGE plpgsql \
                     AS $$BEGIN EXECUTE q; q := 'SELECT 1'; END$$";
    assert_eq!(vars_of(parameter).fold_all("q"), None);
    assert_eq!(
        values("DECLARE q varchar := 'SELECT 1'; BEGIN END", "q"),
        strings(&["SELECT 1"])
    );
}

#[test]
fn a_value_carried_around_a_loop_is_found() {
    let body = "DECLARE a text := 'SELECT 1'; b text := 'SELECT 1'; BEGIN \
                FOR i IN 1..3 LOOP EXECUTE b; b := a; a := 'DROP TABLE users'; END LOOP; END";
    assert_eq!(
        values(body, "b"),
        strings(&["DROP TABLE users", "SELECT 1"])
    );
    let body = "DECLARE a text := 'SELECT 1'; b text := 'SELECT 1'; c text := 'SELECT 1'; \
                BEGIN WHILE true LOOP c := b; b := a; a := 'DROP TABLE users'; END LOOP; END";
    assert_eq!(
        values(body, "c"),
        strings(&["DROP TABLE users", "SELECT 1"])
    );
}

#[test]
fn a_value_still_growing_after_the_passes_is_unknown() {
    let body = "DECLARE q text := 'SELECT 1'; r text; BEGIN \
                LOOP q := q || ' + 1'; r := q; END LOOP; END";
    let vars = vars(body);
    assert!(
        vars.unknown.contains("q") && vars.unknown.contains("r"),
        "{vars:?}"
    );
    // Outside a loop, an assignment runs once, after what precedes it.
    let body = "DECLARE q text := 'DROP TABLE t'; BEGIN q := q || ' CASCADE'; END";
    assert_eq!(
        values(body, "q"),
        strings(&["DROP TABLE t", "DROP TABLE t CASCADE"])
    );
}

#[test]
fn every_branch_reaches_what_follows() {
    let body = "DECLARE a text := 'SELECT 1'; b text; BEGIN \
                IF random() > 0.5 THEN a := 'DROP TABLE users'; ELSE a := 'SELECT 2'; END IF; \
                b := a; END";
    assert_eq!(
        values(body, "b"),
        strings(&["DROP TABLE users", "SELECT 1", "SELECT 2"])
    );
    // A handler runs after any part of its block's body.
    let body = "DECLARE q text := 'SELECT 1'; b text := 'SELECT 1'; BEGIN \
                BEGIN q := 'DROP TABLE users'; PERFORM 1/0; q := 'SELECT 2'; \
                EXCEPTION WHEN others THEN b := q; END; END";
    assert_eq!(
        values(body, "b"),
        strings(&["DROP TABLE users", "SELECT 1", "SELECT 2"])
    );
}

#[test]
fn a_variable_without_a_default_may_be_null() {
    let body = "DECLARE q text; BEGIN EXECUTE coalesce(q, 'DROP TABLE users'); \
                q := 'SELECT 1'; END";
    assert_eq!(
        values(body, "coalesce(q, 'DROP TABLE users')"),
        strings(&["DROP TABLE users", "SELECT 1"])
    );
    // `EXECUTE NULL` fails; an expression that is never a string is opaque.
    assert_eq!(values(body, "q"), strings(&["SELECT 1"]));
    assert_eq!(values("DECLARE q text; BEGIN END", "q"), None);
}

#[test]
fn a_default_reading_an_assigned_variable_runs_anywhere() {
    let body = "DECLARE a text := 'SELECT 1'; BEGIN FOR i IN 1..2 LOOP \
                DECLARE b text := a; BEGIN EXECUTE b; END; \
                a := 'DROP TABLE users'; END LOOP; END";
    assert_eq!(
        values(body, "b"),
        strings(&["DROP TABLE users", "SELECT 1"])
    );
    let body = "DECLARE t text := 'users'; q text := 'DROP TABLE ' || t; BEGIN END";
    assert_eq!(values(body, "q"), strings(&["DROP TABLE users"]));
}

#[test]
fn an_expression_with_clauses_is_not_folded() {
    let body = "DECLARE q text := 'SELECT 1'; BEGIN END";
    let vars = vars(body);
    // With `#variable_conflict use_column`, `q` is the column.
    assert_eq!(vars.fold_all("q FROM jobs"), None);
    assert_eq!(vars.fold_all("'SELECT 1' WHERE false"), None);
    assert_eq!(vars.fold_all("q"), strings(&["SELECT 1"]));
}

#[test]
fn too_many_combinations_are_opaque() {
    let assignments: String = (0..9)
        .map(|i| format!("IF random() > 0.5 THEN a := '{i}'; b := '{i}'; END IF; "))
        .collect();
    let body = format!("DECLARE a text := 'x'; b text := 'y'; BEGIN {assignments} END");
    let vars = vars(&body);
    assert_eq!(vars.fold_all("a").map(|v| v.len()), Some(10));
    assert_eq!(vars.fold_all("a || b"), None);
}
