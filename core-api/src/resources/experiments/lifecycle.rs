//! The experiment lifecycle: draft → scheduled → running → stopped → concluded.
//!
//! | action       | from (status as of now) | to        |
//! |--------------|-------------------------|-----------|
//! | `schedule`   | draft                   | scheduled |
//! | `unschedule` | scheduled               | draft     |
//! | `start`      | draft, scheduled        | running   |
//! | `stop`       | running                 | stopped   |
//! | `conclude`   | stopped                 | concluded |
//! | `restart`    | running                 | running, with a new salt (re-randomized) |
//!
//! Anything else is a 409 that says why. A scheduled experiment's window is in the snapshot,
//! so edges start and stop it on time; [`apply_due`] (run by the scheduler) records it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::Timestamp;
use vane_engine::model::{ExperimentStatus, Window};

use super::model::{Decision, StoredExperiment, VariantSpec, status_str, window_millis};
use super::routes::{columns, save};
use crate::auth::{Access, Caller, random_hex};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{IfMatch, parse_json};
use crate::resources::audit_value;
use crate::state::AppState;
use crate::store::docs::{self, Filter, Table};
use crate::write::Writer;

/// Body of `schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// When it starts (RFC 3339, in the future).
    pub start: String,
    /// When it stops (RFC 3339), optional.
    #[serde(default)]
    pub end: Option<String>,
}

/// Body of `conclude`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcludeRequest {
    pub decision: Decision,
    /// The winning variant's key; required when the decision is `ship`.
    #[serde(default)]
    pub winner: Option<String>,
    /// Free-text summary of the result.
    #[serde(default)]
    pub conclusion: Option<String>,
}

/// Optional body of `restart`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartRequest {
    /// New variants and weights; default: keep them.
    #[serde(default)]
    pub variants: Option<Vec<VariantSpec>>,
}

/// A lifecycle action.
#[derive(Debug)]
pub enum Action {
    Schedule(ScheduleRequest),
    Unschedule,
    Start,
    Stop,
    Conclude(ConcludeRequest),
    Restart {
        request: RestartRequest,
        salt: String,
    },
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Self::Schedule(_) => "schedule",
            Self::Unschedule => "unschedule",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Conclude(_) => "conclude",
            Self::Restart { .. } => "restart",
        }
    }

    fn allowed_from(&self) -> &'static [ExperimentStatus] {
        use ExperimentStatus::*;
        match self {
            Self::Schedule(_) => &[Draft],
            Self::Unschedule => &[Scheduled],
            Self::Start => &[Draft, Scheduled],
            Self::Stop | Self::Restart { .. } => &[Running],
            Self::Conclude(_) => &[Stopped],
        }
    }
}

fn parse_time(field: &str, text: &str) -> ApiResult<i64> {
    Timestamp::parse_rfc3339(text)
        .map(Timestamp::unix_millis)
        .map_err(|e| {
            ApiError::field(
                field,
                "invalid_value",
                format!("`{text}` is not an RFC 3339 time: {e}"),
            )
        })
}

/// Applies `action` at `now`: the new stored state, or why not.
pub fn transition(
    current: &StoredExperiment,
    action: Action,
    now: i64,
) -> ApiResult<StoredExperiment> {
    let status = current.status_at(now);
    if !action.allowed_from().contains(&status) {
        let allowed: Vec<&str> = action
            .allowed_from()
            .iter()
            .map(|s| status_str(*s))
            .collect();
        return Err(ApiError::Conflict(format!(
            "cannot {} an experiment that is {}: allowed only when {}",
            action.name(),
            status_str(status),
            allowed.join(" or ")
        )));
    }
    let mut next = current.clone();
    let (_, end) = window_millis(current.spec.schedule.as_ref());
    let now_text = rfc3339(now);
    match action {
        Action::Schedule(request) => {
            let start = parse_time("start", &request.start)?;
            if start <= now {
                return Err(ApiError::field(
                    "start",
                    "not_in_future",
                    format!("the start must be after now ({now_text}); use `start` to start now"),
                ));
            }
            if let Some(end) = &request.end {
                parse_time("end", end)?;
            }
            next.spec.schedule = Some(Window {
                start: Some(request.start),
                end: request.end,
            });
            next.state.status = ExperimentStatus::Scheduled;
        }
        Action::Unschedule => {
            next.spec.schedule = None;
            next.state.status = ExperimentStatus::Draft;
        }
        Action::Start => {
            if end.is_some_and(|e| e <= now) {
                return Err(ApiError::Conflict(
                    "its schedule ends in the past: change the schedule's end first".to_owned(),
                ));
            }
            let end = current.spec.schedule.as_ref().and_then(|w| w.end.clone());
            next.state.started_at = Some(now_text.clone());
            next.spec.schedule = Some(Window {
                start: Some(now_text),
                end,
            });
            next.state.status = ExperimentStatus::Running;
        }
        Action::Stop => {
            next.state.started_at = current.started_at(status);
            let start = current.spec.schedule.as_ref().and_then(|w| w.start.clone());
            next.spec.schedule = Some(Window {
                start,
                end: Some(now_text),
            });
            next.state.status = ExperimentStatus::Stopped;
        }
        Action::Conclude(request) => {
            if let Some(winner) = &request.winner
                && !current.spec.variants.iter().any(|v| v.key == *winner)
            {
                return Err(ApiError::field(
                    "winner",
                    "unknown_variant",
                    format!("`{winner}` is not a variant of this experiment"),
                ));
            }
            if request.decision == Decision::Ship && request.winner.is_none() {
                return Err(ApiError::field(
                    "winner",
                    "required",
                    "shipping needs the winning variant",
                ));
            }
            next.state.status = ExperimentStatus::Concluded;
            next.state.decision = Some(request.decision);
            next.state.winner = request.winner;
            next.state.conclusion = request.conclusion;
        }
        Action::Restart { request, salt } => {
            if let Some(variants) = request.variants {
                next.spec.variants = variants;
            }
            next.state.salt = salt;
            next.state.restarts += 1;
            next.state.status = ExperimentStatus::Running;
            next.state.started_at = Some(now_text.clone());
            let end = current.spec.schedule.as_ref().and_then(|w| w.end.clone());
            next.spec.schedule = Some(Window {
                start: Some(now_text),
                end,
            });
        }
    }
    Ok(next)
}

/// The transition the clock has made for `current` at `now`, if the stored status lags.
pub fn due(current: &StoredExperiment, now: i64) -> Option<(StoredExperiment, &'static str)> {
    let status = current.status_at(now);
    if status == current.state.status {
        return None;
    }
    let mut next = current.clone();
    next.state.status = status;
    // A scheduled start happened at the schedule's start, when edges flipped.
    next.state.started_at = current.started_at(status);
    let action = match status {
        ExperimentStatus::Running => "start",
        _ => "stop",
    };
    Some((next, action))
}

/// Records every due scheduled start and stop, as `system:scheduler`; returns how many.
pub async fn apply_due(state: &AppState) -> ApiResult<usize> {
    let mut writer = Writer::begin(state, "system:scheduler".to_owned(), None).await?;
    let now = writer.now();
    let mut applied = 0;
    for status in ["scheduled", "running"] {
        let filter = Filter {
            equals: vec![("status", status.to_owned())],
            ..Filter::default()
        };
        let experiments =
            docs::list::<StoredExperiment>(writer.conn(), Table::Experiments, &filter).await?;
        for doc in experiments {
            let Some((next, action)) = due(&doc.body, now) else {
                continue;
            };
            docs::update(
                writer.conn(),
                Table::Experiments,
                &doc.key,
                &next,
                columns(&next),
                doc.version,
                now,
            )
            .await?;
            writer.audit(
                "experiment",
                &doc.key,
                action,
                audit_value(&doc.body),
                audit_value(&next),
            );
            writer.affects(&next.spec.environment.clone().unwrap_or_default());
            applied += 1;
        }
    }
    if applied > 0 {
        writer.commit().await?;
    }
    Ok(applied)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schedule_experiment))
        .routes(routes!(unschedule_experiment))
        .routes(routes!(start_experiment))
        .routes(routes!(stop_experiment))
        .routes(routes!(conclude_experiment))
        .routes(routes!(restart_experiment))
}

async fn act(
    state: &AppState,
    caller: &Caller,
    key: &str,
    if_match: &IfMatch,
    action: Action,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let name = action.name();
    let mut writer = Writer::begin(state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<StoredExperiment>(writer.conn(), Table::Experiments, key).await?;
    if_match.check(current.version)?;
    let next = transition(&current.body, action, writer.now())?;
    save(writer, key, &current, next, name).await
}

fn optional_body<T: Default + serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/schedule", tag = "experiments",
    request_body = ScheduleRequest,
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn schedule_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let request: ScheduleRequest = parse_json(&body)?;
    act(&state, &caller, &key, &if_match, Action::Schedule(request)).await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/unschedule", tag = "experiments",
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn unschedule_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    act(&state, &caller, &key, &if_match, Action::Unschedule).await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/start", tag = "experiments",
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn start_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    act(&state, &caller, &key, &if_match, Action::Start).await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/stop", tag = "experiments",
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn stop_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    act(&state, &caller, &key, &if_match, Action::Stop).await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/conclude", tag = "experiments",
    request_body = ConcludeRequest,
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn conclude_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let request: ConcludeRequest = parse_json(&body)?;
    act(&state, &caller, &key, &if_match, Action::Conclude(request)).await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/restart", tag = "experiments",
    request_body(content = Option<RestartRequest>),
    params(("key" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = super::model::Experiment), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn restart_experiment(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let request: RestartRequest = optional_body(&body)?;
    let salt = format!("{key}-{}", random_hex(4)?);
    act(
        &state,
        &caller,
        &key,
        &if_match,
        Action::Restart { request, salt },
    )
    .await
}
