//! Feature flags: a definition (type, variations, prerequisites, tags) and a state per
//! environment (on/off, rules, rollouts, holdouts, schedule). Every environment's snapshot
//! carries every flag; an environment without state serves the flag off.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::model::{Flag as EngineFlag, FlagType, Prerequisite, Rule, Window};

use super::{Meta, audit_value};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiQuery, IfMatch, Page, body_key, tagged};
use crate::snapshot::Subject;
use crate::state::AppState;
use crate::store::docs::{self, Doc, Filter, Table};
use crate::write::Writer;

/// A flag's state in one environment. The fields mean what they mean in the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagEnvironment {
    /// Kill switch: when false every unit gets `off_variation`.
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub off_variation: usize,
    /// Served when the flag is on and no rule matches.
    #[serde(default)]
    pub default_variation: usize,
    /// Targeting rules and percentage rollouts, in order (snapshot schema v1 `Rule`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub holdouts: Vec<String>,
    /// Optional active window `{start, end}` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Window>,
}

/// A feature flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `bool`, `string`, `number` or `json`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "bool")]
    pub kind: FlagType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The values the flag can take; rules refer to them by index.
    #[schema(value_type = Vec<Object>)]
    pub variations: Vec<Value>,
    /// Flags whose values must satisfy a condition first: `[{flag, condition}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub prerequisites: Vec<Prerequisite>,
    /// State per environment key.
    #[serde(default)]
    pub environments: BTreeMap<String, FlagEnvironment>,
}

impl FlagSpec {
    /// The flag as `environment`'s snapshot carries it.
    pub fn to_engine(&self, key: &str, environment: &str) -> EngineFlag {
        let state = self
            .environments
            .get(environment)
            .cloned()
            .unwrap_or_default();
        EngineFlag {
            key: key.to_owned(),
            kind: self.kind,
            variations: self.variations.clone(),
            enabled: state.enabled,
            off_variation: state.off_variation,
            default_variation: state.default_variation,
            rules: state.rules,
            prerequisites: self.prerequisites.clone(),
            holdouts: state.holdouts,
            schedule: state.schedule,
        }
    }
}

/// A stored flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct Flag {
    pub key: String,
    #[serde(flatten)]
    pub spec: FlagSpec,
    #[serde(flatten)]
    pub meta: Meta,
}

impl Flag {
    fn from_doc(doc: Doc<FlagSpec>) -> Self {
        let meta = Meta::of(&doc);
        Self {
            key: doc.key,
            spec: doc.body,
            meta,
        }
    }
}

/// Filters of the flag list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// Only flags with this tag.
    pub tag: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flags, create_flag))
        .routes(routes!(get_flag, update_flag, delete_flag))
        .routes(routes!(put_flag_environment))
}

/// Unknown environments in a flag's state map are refused.
async fn check_environments(writer: &mut Writer<'_>, spec: &FlagSpec) -> ApiResult<()> {
    let mut errors = Vec::new();
    for env in spec.environments.keys() {
        if !docs::exists(writer.conn(), Table::Environments, env).await? {
            errors.push(FieldError::new(
                format!("environments.{env}"),
                "unknown_environment",
                format!("there is no environment `{env}`"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

#[utoipa::path(get, path = "/api/v1/flags", tag = "flags", params(FlagQuery),
    responses((status = 200, body = Page<Flag>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FlagQuery>,
) -> ApiResult<Json<Page<Flag>>> {
    caller.require(Access::Read)?;
    let limit = i64::from(query.limit.unwrap_or(100).clamp(1, 500));
    let filter = Filter {
        after: query.cursor.clone(),
        limit: Some(limit + 1),
        tag: query.tag.clone(),
        ..Filter::default()
    };
    let mut conn = state.db().pool.acquire().await?;
    let flags = docs::list::<FlagSpec>(&mut conn, Table::Flags, &filter).await?;
    let items = flags.into_iter().map(Flag::from_doc).collect();
    Ok(Json(Page::from_overfetch(items, limit, |f: &Flag| {
        f.key.clone()
    })))
}

#[utoipa::path(post, path = "/api/v1/flags", tag = "flags", request_body = FlagSpec,
    responses((status = 201, body = Flag), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_flag(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<FlagSpec>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut spec = body.parse()?;
    let key = body_key(&spec.key, None)?;
    spec.key = None;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    if docs::exists(writer.conn(), Table::Flags, &key).await? {
        return Err(ApiError::Conflict(format!("flag `{key}` already exists")));
    }
    check_environments(&mut writer, &spec).await?;
    let now = writer.now();
    let doc = docs::insert(writer.conn(), Table::Flags, &key, &spec, Vec::new(), now).await?;
    docs::set_flag_tags(writer.conn(), &key, &spec.tags).await?;
    writer.audit("flag", &key, "create", None, audit_value(&spec));
    writer.subject(Subject::new("flag", &key));
    writer.affects_all();
    writer.commit().await?;
    Ok(tagged(
        StatusCode::CREATED,
        doc.version,
        &Flag::from_doc(doc),
    ))
}

#[utoipa::path(get, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path)),
    responses((status = 200, body = Flag), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    caller.require(Access::Read)?;
    let mut conn = state.db().pool.acquire().await?;
    let doc = docs::require::<FlagSpec>(&mut conn, Table::Flags, &key).await?;
    Ok(tagged(StatusCode::OK, doc.version, &Flag::from_doc(doc)))
}

/// Stores `spec` as the new state of flag `key` and publishes every environment.
async fn replace(
    mut writer: Writer<'_>,
    key: &str,
    current: Doc<FlagSpec>,
    spec: FlagSpec,
    subject: Subject,
) -> ApiResult<Response> {
    let now = writer.now();
    let version = docs::update(
        writer.conn(),
        Table::Flags,
        key,
        &spec,
        Vec::new(),
        current.version,
        now,
    )
    .await?;
    docs::set_flag_tags(writer.conn(), key, &spec.tags).await?;
    writer.audit(
        "flag",
        key,
        "update",
        audit_value(&current.body),
        audit_value(&spec),
    );
    writer.subject(subject);
    writer.affects_all();
    writer.commit().await?;
    let flag = Flag {
        key: key.to_owned(),
        spec,
        meta: Meta::new(version, current.created_at, now),
    };
    Ok(tagged(StatusCode::OK, version, &flag))
}

#[utoipa::path(put, path = "/api/v1/flags/{key}", tag = "flags", request_body = FlagSpec,
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Flag), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn update_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: ApiJson<FlagSpec>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut spec = body.parse()?;
    body_key(&spec.key, Some(&key))?;
    spec.key = None;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<FlagSpec>(writer.conn(), Table::Flags, &key).await?;
    if_match.check(current.version)?;
    check_environments(&mut writer, &spec).await?;
    replace(writer, &key, current, spec, Subject::new("flag", &key)).await
}

#[utoipa::path(put, path = "/api/v1/flags/{key}/environments/{env}", tag = "flags",
    request_body = FlagEnvironment,
    params(("key" = String, Path), ("env" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Flag), (status = 404, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn put_flag_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    if_match: IfMatch,
    body: ApiJson<FlagEnvironment>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let environment = body.parse()?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<FlagSpec>(writer.conn(), Table::Flags, &key).await?;
    if_match.check(current.version)?;
    if !docs::exists(writer.conn(), Table::Environments, &env).await? {
        return Err(ApiError::not_found("environment", env));
    }
    let mut spec = current.body.clone();
    spec.environments.insert(env.clone(), environment);
    let subject = Subject {
        kind: "flag",
        key: key.clone(),
        body_prefix: Some(format!("environments.{env}.")),
    };
    replace(writer, &key, current, spec, subject).await
}

#[utoipa::path(delete, path = "/api/v1/flags/{key}", tag = "flags",
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn delete_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<FlagSpec>(writer.conn(), Table::Flags, &key).await?;
    if_match.check(current.version)?;
    docs::delete(writer.conn(), Table::Flags, &key, current.version).await?;
    writer.audit("flag", &key, "delete", audit_value(&current.body), None);
    writer.affects_all();
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
