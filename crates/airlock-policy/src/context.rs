//! Building Cedar requests: the principal and connection entities (once per command) and the
//! typed context of one statement (see `policies/airlock.cedarschema`).

use std::collections::{HashMap, HashSet};

use airlock_model::{Access, Connection, Identity, IdentityKind, SettingChange, Statement};
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression,
};

/// The entity type names and the action of the schema, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Types {
    pub human: EntityTypeName,
    pub agent: EntityTypeName,
    pub service: EntityTypeName,
    pub group: EntityTypeName,
    pub environment: EntityTypeName,
    pub connection: EntityTypeName,
    pub sql: EntityUid,
    /// The rule id of the deny reported when no permit matches.
    pub no_permit: airlock_model::RuleId,
}

/// The principal and resource of every request for one command.
#[derive(Debug)]
pub(crate) struct Parties {
    pub principal: EntityUid,
    pub resource: EntityUid,
    pub entities: Entities,
}

/// What every statement's context shares: the input and the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputInfo<'a> {
    pub unparseable: bool,
    pub parse_error: &'a str,
    pub top_level_count: usize,
    pub statement_count: usize,
    pub principal_kind: &'static str,
    pub protocol: &'static str,
}

impl Types {
    pub(crate) fn new() -> Result<Self, String> {
        let name = |n: &str| n.parse::<EntityTypeName>().map_err(|e| e.to_string());
        let action = r#"Action::"sql""#.parse::<EntityUid>().map_err(|e| e.to_string())?;
        Ok(Self {
            human: name("Human")?,
            agent: name("Agent")?,
            service: name("Service")?,
            group: name("Group")?,
            environment: name("Environment")?,
            connection: name("Connection")?,
            sql: action,
            no_permit: airlock_model::RuleId::new(crate::decide::NO_PERMIT)
                .map_err(|e| e.to_string())?,
        })
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }
}

/// Builds the principal (with its groups as parents) and the connection (with its environments).
pub(crate) fn parties(
    types: &Types,
    identity: &Identity,
    connection: &Connection,
) -> Result<Parties, String> {
    let principal_type = match identity.kind {
        IdentityKind::Human => &types.human,
        IdentityKind::Agent => &types.agent,
        IdentityKind::Service => &types.service,
    };
    let principal = Types::uid(principal_type, identity.id.as_str());
    let groups = identity
        .groups
        .iter()
        .map(|g| Types::uid(&types.group, g.as_str()))
        .collect();
    let mut principal_attrs = HashMap::new();
    if let (IdentityKind::Agent, Some(human)) = (identity.kind, &identity.acting_for) {
        principal_attrs.insert("acting_for".to_owned(), string(human.as_str()));
    }
    let resource = Types::uid(&types.connection, connection.name.as_str());
    let environments: HashSet<EntityUid> = connection
        .environments
        .iter()
        .map(|e| Types::uid(&types.environment, e.as_str()))
        .collect();
    let resource_attrs = HashMap::from([
        ("kind".to_owned(), string(connection.kind.as_str())),
        (
            "environments".to_owned(),
            strings(connection.environments.iter().map(|e| e.as_str())),
        ),
    ]);
    let entities = [
        Entity::new(principal.clone(), principal_attrs, groups),
        Entity::new(resource.clone(), resource_attrs, environments),
    ];
    let entities: Vec<Entity> = entities
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
    Ok(Parties {
        principal,
        resource,
        entities,
    })
}

/// The `stmt` record of a statement.
pub(crate) fn statement_record(
    stmt: &Statement,
    index: i64,
) -> Result<RestrictedExpression, String> {
    let names = |access: Access| strings(stmt.names_with(access));
    let copy = stmt.copy.as_ref();
    let estimated = stmt
        .estimated_rows
        .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let fields = [
        ("index", RestrictedExpression::new_long(index)),
        ("kind", string(stmt.kind.as_str())),
        (
            "object_type",
            string(stmt.object_type.as_deref().unwrap_or_default()),
        ),
        ("origin", string(stmt.origin.as_str())),
        (
            "deferred",
            RestrictedExpression::new_bool(stmt.origin.is_deferred()),
        ),
        ("reads", names(Access::Read)),
        ("writes", names(Access::Write)),
        ("creates", names(Access::Create)),
        ("alters", names(Access::Alter)),
        ("drops", names(Access::Drop)),
        ("where_clause", string(stmt.where_clause.as_str())),
        ("limited", RestrictedExpression::new_bool(stmt.limited)),
        ("aggregate", RestrictedExpression::new_bool(stmt.aggregate)),
        (
            "select_star",
            RestrictedExpression::new_bool(stmt.select_star),
        ),
        (
            "functions",
            strings(stmt.functions.iter().map(String::as_str)),
        ),
        (
            "function_risks",
            strings(stmt.function_risks.iter().map(|r| r.as_str())),
        ),
        (
            "setting_names",
            strings(stmt.settings.iter().map(|s| s.name.as_str())),
        ),
        (
            "setting_scopes",
            strings(stmt.settings.iter().map(|s| s.scope.as_str())),
        ),
        (
            "roles_granted",
            strings(stmt.roles_granted.iter().map(String::as_str)),
        ),
        (
            "role_options",
            strings(stmt.role_options.iter().map(String::as_str)),
        ),
        (
            "copy_direction",
            string(copy.map_or("", |c| copy_direction(c.direction))),
        ),
        (
            "copy_target",
            string(copy.map_or("", |c| copy_target(c.target))),
        ),
        ("dynamic_sql", string(stmt.dynamic_sql.as_str())),
        ("flags", strings(stmt.flags.iter().map(|f| f.as_str()))),
        ("estimated_rows", RestrictedExpression::new_long(estimated)),
    ];
    record(fields)
}

/// The context of one request: a statement record, optionally one of its settings.
pub(crate) fn context(
    stmt: RestrictedExpression,
    setting: Option<&SettingChange>,
    input: &InputInfo<'_>,
) -> Result<Context, String> {
    let count = |n: usize| RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX));
    let input_record = record([
        (
            "unparseable",
            RestrictedExpression::new_bool(input.unparseable),
        ),
        ("parse_error", string(input.parse_error)),
        ("top_level_count", count(input.top_level_count)),
        ("statement_count", count(input.statement_count)),
    ])?;
    let mut pairs = vec![
        ("stmt".to_owned(), stmt),
        ("input".to_owned(), input_record),
        ("principal_kind".to_owned(), string(input.principal_kind)),
        ("protocol".to_owned(), string(input.protocol)),
    ];
    if let Some(setting) = setting {
        let value = setting.value.as_deref();
        let setting_record = record([
            ("name", string(&setting.name)),
            ("value", string(value.unwrap_or_default())),
            ("has_value", RestrictedExpression::new_bool(value.is_some())),
            ("scope", string(setting.scope.as_str())),
        ])?;
        pairs.push(("setting".to_owned(), setting_record));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

fn record<const N: usize>(
    fields: [(&str, RestrictedExpression); N],
) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record(fields.map(|(k, v)| (k.to_owned(), v)))
        .map_err(|e| e.to_string())
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(values.map(string))
}

fn copy_direction(direction: airlock_model::CopyDirection) -> &'static str {
    match direction {
        airlock_model::CopyDirection::To => "to",
        airlock_model::CopyDirection::From => "from",
    }
}

fn copy_target(target: airlock_model::CopyTarget) -> &'static str {
    match target {
        airlock_model::CopyTarget::Program => "program",
        airlock_model::CopyTarget::ServerFile => "server_file",
        airlock_model::CopyTarget::Stdout => "stdout",
        airlock_model::CopyTarget::Stdin => "stdin",
    }
}
