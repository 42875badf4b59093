//! Experiment CRUD. Changing the variants, weights, salt or unit attribute of a running
//! experiment is refused (409); `POST /experiments/{key}/restart` does it explicitly.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::model::ExperimentStatus;

use super::lifecycle;
use super::model::{Experiment, ExperimentSpec, ExperimentState, StoredExperiment, status_str};
use crate::auth::{Access, Caller, random_hex};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiQuery, IfMatch, Page, body_key, tagged};
use crate::resources::audit_value;
use crate::snapshot::Subject;
use crate::state::AppState;
use crate::store::docs::{self, Columns, Doc, Filter, Table};
use crate::write::Writer;

/// Filters of the experiment list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExperimentQuery {
    /// Only experiments with this status (as of now).
    pub status: Option<String>,
    /// Only experiments of this environment.
    pub environment: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_experiments, create_experiment))
        .routes(routes!(
            get_experiment,
            update_experiment,
            delete_experiment
        ))
        .merge(lifecycle::router())
        .merge(super::results::router())
}

/// The indexed columns of an experiment row.
pub(super) fn columns(body: &StoredExperiment) -> Columns {
    vec![
        (
            "environment",
            body.spec.environment.clone().unwrap_or_default(),
        ),
        ("status", status_str(body.state.status).to_owned()),
    ]
}

/// Checks what the engine does not see: the environment and the metric references.
async fn check_references(writer: &mut Writer<'_>, spec: &ExperimentSpec) -> ApiResult<()> {
    let mut errors = Vec::new();
    if let Some(env) = &spec.environment
        && !docs::exists(writer.conn(), Table::Environments, env).await?
    {
        errors.push(FieldError::new(
            "environment",
            "unknown_environment",
            format!("there is no environment `{env}`"),
        ));
    }
    for (group, keys) in [
        ("primary", &spec.metrics.primary),
        ("secondary", &spec.metrics.secondary),
        ("guardrail", &spec.metrics.guardrail),
    ] {
        for (i, key) in keys.iter().enumerate() {
            if !docs::exists(writer.conn(), Table::Metrics, key).await? {
                errors.push(FieldError::new(
                    format!("metrics.{group}[{i}]"),
                    "unknown_metric",
                    format!("there is no metric `{key}`"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", params(ExperimentQuery),
    responses((status = 200, body = Page<Experiment>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_experiments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ExperimentQuery>,
) -> ApiResult<Json<Page<Experiment>>> {
    caller.require(Access::Read)?;
    let wanted = match query.status.as_deref() {
        None => None,
        Some(text) => Some(
            serde_json::from_value::<ExperimentStatus>(serde_json::Value::String(text.to_owned()))
                .map_err(|_| {
                    ApiError::field(
                        "status",
                        "invalid_value",
                        format!(
                            "`{text}` is not one of draft, scheduled, running, stopped, concluded"
                        ),
                    )
                })?,
        ),
    };
    let limit = i64::from(query.limit.unwrap_or(100).clamp(1, 500));
    let mut filter = Filter {
        after: query.cursor.clone(),
        ..Filter::default()
    };
    if let Some(env) = &query.environment {
        filter.equals.push(("environment", env.clone()));
    }
    if wanted.is_none() {
        filter.limit = Some(limit + 1);
    }
    let now = state.now_millis();
    let mut conn = state.db().pool.acquire().await?;
    let docs = docs::list::<StoredExperiment>(&mut conn, Table::Experiments, &filter).await?;
    // The status follows the clock, so it is filtered here rather than in SQL.
    let items: Vec<Experiment> = docs
        .into_iter()
        .map(|d| Experiment::from_doc(d, now))
        .filter(|e| wanted.is_none_or(|w| e.status == w))
        .take(usize::try_from(limit + 1).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(Page::from_overfetch(
        items,
        limit,
        |e: &Experiment| e.key.clone(),
    )))
}

#[utoipa::path(post, path = "/api/v1/experiments", tag = "experiments", request_body = ExperimentSpec,
    responses((status = 201, body = Experiment), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_experiment(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<ExperimentSpec>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut spec = body.parse()?;
    let key = body_key(&spec.key, None)?;
    spec.key = None;
    let Some(environment) = spec.environment.clone() else {
        return Err(ApiError::field(
            "environment",
            "required",
            "missing field `environment`",
        ));
    };
    let salt = match spec.salt.take() {
        Some(salt) => salt,
        None => format!("{key}-{}", random_hex(4)?),
    };
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    if docs::exists(writer.conn(), Table::Experiments, &key).await? {
        return Err(ApiError::Conflict(format!(
            "experiment `{key}` already exists"
        )));
    }
    check_references(&mut writer, &spec).await?;
    let body = StoredExperiment {
        spec,
        state: ExperimentState {
            status: ExperimentStatus::Draft,
            salt,
            decision: None,
            winner: None,
            conclusion: None,
            restarts: 0,
            started_at: None,
        },
    };
    let now = writer.now();
    let doc = docs::insert(
        writer.conn(),
        Table::Experiments,
        &key,
        &body,
        columns(&body),
        now,
    )
    .await?;
    writer.audit("experiment", &key, "create", None, audit_value(&body));
    writer.subject(Subject::new("experiment", &key));
    writer.affects(&environment);
    writer.commit().await?;
    Ok(tagged(
        StatusCode::CREATED,
        doc.version,
        &Experiment::from_doc(doc, now),
    ))
}

#[utoipa::path(get, path = "/api/v1/experiments/{key}", tag = "experiments", params(("key" = String, Path)),
    responses((status = 200, body = Experiment), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    caller.require(Access::Read)?;
    let mut conn = state.db().pool.acquire().await?;
    let doc = docs::require::<StoredExperiment>(&mut conn, Table::Experiments, &key).await?;
    Ok(tagged(
        StatusCode::OK,
        doc.version,
        &Experiment::from_doc(doc, state.now_millis()),
    ))
}

/// Refuses changes that would re-randomize a running experiment.
fn guard_running(current: &StoredExperiment, new: &ExperimentSpec, now: i64) -> ApiResult<()> {
    let status = current.status_at(now);
    if status == ExperimentStatus::Concluded {
        return Err(ApiError::Conflict(
            "a concluded experiment cannot change".to_owned(),
        ));
    }
    if status != ExperimentStatus::Running {
        return Ok(());
    }
    let old = &current.spec;
    let shape = |s: &ExperimentSpec| -> Vec<(String, u64)> {
        s.variants
            .iter()
            .map(|v| (v.key.clone(), v.weight.to_bits()))
            .collect()
    };
    let mut changed = Vec::new();
    if shape(old) != shape(new) {
        changed.push("variants or weights");
    }
    if new.salt.as_ref().is_some_and(|s| *s != current.state.salt) {
        changed.push("salt");
    }
    if old.unit_attribute != new.unit_attribute {
        changed.push("unit_attribute");
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "the experiment is running: its {} cannot change without re-randomizing; \
             use POST /api/v1/experiments/{{key}}/restart",
            changed.join(", ")
        )))
    }
}

#[utoipa::path(put, path = "/api/v1/experiments/{key}", tag = "experiments", request_body = ExperimentSpec,
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Experiment), (status = 409, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn update_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: ApiJson<ExperimentSpec>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut spec = body.parse()?;
    body_key(&spec.key, Some(&key))?;
    spec.key = None;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current =
        docs::require::<StoredExperiment>(writer.conn(), Table::Experiments, &key).await?;
    if_match.check(current.version)?;
    let environment = current.body.spec.environment.clone().unwrap_or_default();
    match &spec.environment {
        Some(env) if *env != environment => {
            return Err(ApiError::field(
                "environment",
                "immutable",
                format!("the environment cannot change (it is `{environment}`)"),
            ));
        }
        _ => spec.environment = Some(environment.clone()),
    }
    guard_running(&current.body, &spec, writer.now())?;
    if spec
        .salt
        .as_ref()
        .is_some_and(|s| *s != current.body.state.salt)
    {
        return Err(ApiError::Conflict(
            "the salt changes only through POST /api/v1/experiments/{key}/restart".to_owned(),
        ));
    }
    spec.salt = None;
    check_references(&mut writer, &spec).await?;
    let body = StoredExperiment {
        spec,
        state: current.body.state.clone(),
    };
    save(writer, &key, &current, body, "update").await
}

/// Stores `body` over `current`, audits `action`, publishes the experiment's environment.
pub(super) async fn save(
    mut writer: Writer<'_>,
    key: &str,
    current: &Doc<StoredExperiment>,
    body: StoredExperiment,
    action: &str,
) -> ApiResult<Response> {
    let now = writer.now();
    let environment = body.spec.environment.clone().unwrap_or_default();
    let version = docs::update(
        writer.conn(),
        Table::Experiments,
        key,
        &body,
        columns(&body),
        current.version,
        now,
    )
    .await?;
    writer.audit(
        "experiment",
        key,
        action,
        audit_value(&current.body),
        audit_value(&body),
    );
    writer.subject(Subject::new("experiment", key));
    writer.affects(&environment);
    writer.commit().await?;
    let doc = Doc {
        key: key.to_owned(),
        body,
        version,
        created_at: current.created_at,
        updated_at: now,
    };
    Ok(tagged(
        StatusCode::OK,
        version,
        &Experiment::from_doc(doc, now),
    ))
}

#[utoipa::path(delete, path = "/api/v1/experiments/{key}", tag = "experiments",
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn delete_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current =
        docs::require::<StoredExperiment>(writer.conn(), Table::Experiments, &key).await?;
    if_match.check(current.version)?;
    let status = current.body.status_at(writer.now());
    if matches!(
        status,
        ExperimentStatus::Running | ExperimentStatus::Scheduled
    ) {
        return Err(ApiError::Conflict(format!(
            "the experiment is {}: stop it before deleting it",
            status_str(status)
        )));
    }
    docs::delete(writer.conn(), Table::Experiments, &key, current.version).await?;
    writer.audit(
        "experiment",
        &key,
        "delete",
        audit_value(&current.body),
        None,
    );
    writer.affects(&current.body.spec.environment.clone().unwrap_or_default());
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
