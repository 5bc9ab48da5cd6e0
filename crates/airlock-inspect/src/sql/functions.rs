//! The curated function lists: which calls reach outside the database, change settings,
//! signal backends, aggregate rows, or are unknown.

use std::sync::OnceLock;

use airlock_model::FunctionRisk;

/// Every function name in PostgreSQL's `pg_catalog` (generated from `pg_proc`).
static BUILTINS: &str = include_str!("builtin_functions.txt");

/// Functions from widely used, side-effect-free extensions (uuid-ossp, pgcrypto, pg_trgm,
/// fuzzystrmatch, unaccent, citext, hstore) and PostGIS's `st_*` family.
const KNOWN_EXTENSION: &[&str] = &[
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v3",
    "uuid_generate_v4",
    "uuid_generate_v5",
    "uuid_nil",
    "uuid_ns_dns",
    "uuid_ns_url",
    "uuid_ns_oid",
    "uuid_ns_x500",
    "crypt",
    "gen_salt",
    "digest",
    "hmac",
    "gen_random_bytes",
    "pgp_sym_encrypt",
    "pgp_sym_decrypt",
    "pgp_pub_encrypt",
    "pgp_pub_decrypt",
    "armor",
    "dearmor",
    "similarity",
    "word_similarity",
    "show_trgm",
    "levenshtein",
    "levenshtein_less_equal",
    "soundex",
    "difference",
    "metaphone",
    "dmetaphone",
    "unaccent",
    "citext",
    "hstore",
    "akeys",
    "avals",
    "skeys",
    "svals",
    "each",
    "exist",
    "defined",
    "delete",
    "slice",
    "hstore_to_json",
    "hstore_to_jsonb",
    // TimescaleDB, pgvector, tablefunc (read-only helpers).
    "time_bucket",
    "time_bucket_gapfill",
    "first",
    "last",
    "locf",
    "interpolate",
    "histogram",
    "cosine_distance",
    "l2_distance",
    "l1_distance",
    "inner_product",
    "vector_dims",
    "vector_norm",
    "l2_normalize",
    "normal_rand",
    "connectby",
    "crosstab",
];

/// Built-ins added after PostgreSQL 15 (the list above was generated from a 15 server), so a
/// newer server's harmless functions are not "unknown".
const NEWER_BUILTINS: &[&str] = &[
    "any_value",
    "array_sample",
    "array_shuffle",
    "random_normal",
    "date_add",
    "date_subtract",
    "pg_input_is_valid",
    "pg_input_error_info",
    "erf",
    "erfc",
    "system_user",
    "json_scalar",
    "json_serialize",
    "to_bin",
    "to_oct",
    "uuid_extract_timestamp",
    "uuid_extract_version",
    "pg_basetype",
    "pg_column_toast_chunk_id",
    "array_reverse",
    "array_sort",
    "casefold",
    "uuidv4",
    "uuidv7",
    "crc32",
    "crc32c",
    "gamma",
    "lgamma",
    "pg_get_acl",
    "pg_get_loaded_modules",
];

/// Risk class of a function by its (unqualified, lower-case) name; `None` for harmless ones.
pub(crate) fn risk(name: &str) -> Option<FunctionRisk> {
    if let Some(risk) = curated(name) {
        return Some(risk);
    }
    if is_builtin(name) || NEWER_BUILTINS.contains(&name) || is_known_extension(name) {
        None
    } else {
        Some(FunctionRisk::Unknown)
    }
}

/// Risk class of a function called with an explicit schema other than `pg_catalog`: the
/// curated classes still apply, known extension functions are harmless, and anything else
/// (including a user function that shadows a built-in's name) is unknown.
pub(crate) fn qualified_risk(name: &str) -> Option<FunctionRisk> {
    match curated(name) {
        Some(risk) => Some(risk),
        None if is_known_extension(name) => None,
        None => Some(FunctionRisk::Unknown),
    }
}

fn is_known_extension(name: &str) -> bool {
    KNOWN_EXTENSION.contains(&name) || name.starts_with("st_") || name.starts_with("h3_")
}

fn curated(name: &str) -> Option<FunctionRisk> {
    use FunctionRisk::*;
    let risk = match name {
        "pg_read_file"
        | "pg_read_binary_file"
        | "pg_read_file_old"
        | "pg_stat_file"
        | "pg_file_write"
        | "pg_file_rename"
        | "pg_file_unlink"
        | "pg_file_sync"
        | "pg_logdir_ls"
        | "pg_file_read"
        | "pg_file_length" => ServerFileAccess,
        n if n.starts_with("pg_ls_") && n.ends_with("dir") => ServerFileAccess,
        "lo_import" | "lo_export" => LargeObjectFile,
        // Creating a large object changes nothing that exists: only these modify or remove.
        "lo_unlink" | "lo_put" | "lo_truncate" | "lo_truncate64" | "lowrite" => LargeObjectWrite,
        "pg_execute_server_program" | "pg_catalog_program" => ProgramExecution,
        n if n.starts_with("dblink") => RemoteConnection,
        "postgres_fdw_disconnect"
        | "postgres_fdw_disconnect_all"
        | "postgres_fdw_get_connections" => RemoteConnection,
        "set_config" => SetConfig,
        "pg_cancel_backend" | "pg_stat_statements_reset" => QueryControl,
        n if n.starts_with("pg_stat_reset") => QueryControl,
        "pg_terminate_backend"
        | "pg_reload_conf"
        | "pg_rotate_logfile"
        | "pg_rotate_logfile_old"
        | "pg_signal_backend"
        | "pg_log_backend_memory_contexts"
        | "pg_promote" => BackendSignal,
        "pg_switch_wal"
        | "pg_create_restore_point"
        | "pg_backup_start"
        | "pg_backup_stop"
        | "pg_start_backup"
        | "pg_stop_backup"
        | "pg_wal_replay_pause"
        | "pg_wal_replay_resume"
        | "pg_drop_replication_slot"
        | "pg_create_physical_replication_slot"
        | "pg_create_logical_replication_slot"
        | "pg_copy_logical_replication_slot"
        | "pg_copy_physical_replication_slot"
        | "pg_replication_slot_advance"
        | "pg_logical_slot_get_changes"
        | "pg_logical_slot_get_binary_changes"
        | "pg_logical_emit_message"
        | "pg_import_system_collations"
        | "pg_stop_making_pinned_objects" => ServerAdmin,
        n if n.starts_with("binary_upgrade_") => ServerAdmin,
        n if n.starts_with("pg_replication_origin_") && !n.ends_with("progress") => ServerAdmin,
        _ => return None,
    };
    Some(risk)
}

fn is_builtin(name: &str) -> bool {
    // The list is sorted bytewise (LC_ALL=C) and immutable: build the index once.
    static INDEX: OnceLock<Vec<&'static str>> = OnceLock::new();
    let index = INDEX.get_or_init(|| BUILTINS.lines().collect());
    index.binary_search(&name).is_ok()
}

/// Aggregates (and window functions used as such) that summarise rows.
pub(crate) fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "bool_and"
            | "bool_or"
            | "every"
            | "stddev"
            | "stddev_pop"
            | "stddev_samp"
            | "variance"
            | "var_pop"
            | "var_samp"
            | "corr"
            | "covar_pop"
            | "covar_samp"
            | "percentile_cont"
            | "percentile_disc"
            | "mode"
            | "bit_and"
            | "bit_or"
            | "bit_xor"
            | "range_agg"
            | "range_intersect_agg"
            | "any_value"
            | "regr_avgx"
            | "regr_avgy"
            | "regr_count"
            | "regr_intercept"
            | "regr_r2"
            | "regr_slope"
            | "regr_sxx"
            | "regr_sxy"
            | "regr_syy"
    ) || packages_rows(name)
}

/// Functions that package whole rows or tables into one value (exports).
pub(crate) fn packages_rows(name: &str) -> bool {
    matches!(
        name,
        "json_agg"
            | "jsonb_agg"
            | "array_agg"
            | "string_agg"
            | "xmlagg"
            | "json_object_agg"
            | "jsonb_object_agg"
            | "json_object_agg_strict"
            | "json_object_agg_unique"
            | "json_object_agg_unique_strict"
            | "jsonb_object_agg_strict"
            | "jsonb_object_agg_unique"
            | "jsonb_object_agg_unique_strict"
            | "json_arrayagg"
            | "json_objectagg"
            | "json_agg_strict"
            | "jsonb_agg_strict"
    )
}

/// Functions that export whole tables, schemas or databases by name.
pub(crate) fn exports_tables(name: &str) -> bool {
    matches!(
        name,
        "table_to_xml"
            | "table_to_xmlschema"
            | "table_to_xml_and_xmlschema"
            | "schema_to_xml"
            | "schema_to_xmlschema"
            | "schema_to_xml_and_xmlschema"
            | "database_to_xml"
            | "database_to_xmlschema"
            | "database_to_xml_and_xmlschema"
    )
}

/// Functions whose text argument is SQL that they execute (argument index of the query).
pub(crate) fn executes_sql_argument(name: &str) -> Option<usize> {
    match name {
        "query_to_xml"
        | "query_to_xmlschema"
        | "query_to_xml_and_xmlschema"
        | "ts_stat"
        | "crosstab" => Some(0),
        "ts_rewrite" => Some(1),
        "dblink_exec" | "dblink" | "dblink_send_query" | "dblink_open" => Some(1),
        _ => None,
    }
}

/// Languages whose functions run arbitrary code on the server host.
pub(crate) fn is_untrusted_language(language: &str) -> bool {
    matches!(
        language.to_ascii_lowercase().as_str(),
        "c" | "internal"
            | "plpythonu"
            | "plpython2u"
            | "plpython3u"
            | "plperlu"
            | "pltclu"
            | "plsh"
            | "pljavau"
            | "plrustu"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(risk("pg_read_file"), Some(FunctionRisk::ServerFileAccess));
        assert_eq!(risk("pg_ls_waldir"), Some(FunctionRisk::ServerFileAccess));
        assert_eq!(risk("lo_import"), Some(FunctionRisk::LargeObjectFile));
        assert_eq!(risk("dblink_exec"), Some(FunctionRisk::RemoteConnection));
        assert_eq!(risk("set_config"), Some(FunctionRisk::SetConfig));
        assert_eq!(risk("lower"), None);
        assert_eq!(risk("now"), None);
        assert_eq!(risk("my_cleanup"), Some(FunctionRisk::Unknown));
        assert!(is_aggregate("count"));
        assert!(packages_rows("json_agg"));
    }
}
