//! Experiment results: core-api forwards `/api/v1/experiments/{key}/results` to the analytics
//! service and passes its answers through byte for byte; without analytics it answers 503,
//! with an analytics that does not answer 502. Also: the read-only `started_at` analytics
//! takes an experiment's start from.
//!
//! The analytics service here is a stand-in that records what it is asked; the real one runs
//! against core-api in `analytics/tests/core.rs`.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::Duration;

use crate::helpers::{Backend, T0, TestApp, experiment, spawn, spawn_with};

both_backends!(
    results_are_forwarded_to_analytics_and_passed_through_unchanged,
    without_analytics_results_are_503_and_an_unreachable_analytics_is_502_naming_it,
    started_at_is_set_by_start_restart_and_a_scheduled_start,
);

/// Exact bytes, spacing included: core must not re-encode them.
const JSON_BODY: &str =
    r#"{"computed_at":"2026-06-01T12:00:00Z",  "results": {"experiment": "cta", "units": [3, 4]}}"#;
const COMPUTED_BODY: &str =
    r#"{"computed_at":"2026-06-01T12:05:00Z","results":{"experiment":"cta","units":[5,6]}}"#;
const CSV_BODY: &str = "metric,variant,units\npurchased,control,3\npurchased,treatment,4\n";
const MISSING_BODY: &str = r#"{"type":"https://vane.dev/problems/unknown-experiment","title":"Not Found","status":404,"detail":"experiment `draft-only` is not configured"}"#;

/// What the stand-in was asked: method, experiment, query, request id.
type Calls = Arc<Mutex<Vec<(String, String, Option<String>, Option<String>)>>>;

async fn stand_in(
    State(calls): State<Calls>,
    method: axum::http::Method,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    calls
        .lock()
        .unwrap()
        .push((method.to_string(), key.clone(), query.clone(), request_id));
    if key == "draft-only" {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/problem+json")],
            MISSING_BODY,
        )
            .into_response();
    }
    match (method.as_str(), query.as_deref()) {
        ("POST", _) => {
            ([(header::CONTENT_TYPE, "application/json")], COMPUTED_BODY).into_response()
        }
        (_, Some("format=csv")) => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            CSV_BODY,
        )
            .into_response(),
        _ => ([(header::CONTENT_TYPE, "application/json")], JSON_BODY).into_response(),
    }
}

/// Serves the stand-in analytics on a free port; returns its URL and the calls it records.
async fn analytics_stand_in() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let router = axum::Router::new()
        .route(
            "/api/v1/experiments/{key}/results",
            axum::routing::get(stand_in).post(stand_in),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

/// Status, content type and raw body of a request.
async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    request_id: Option<&str>,
) -> (u16, String, String) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token);
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

async fn results_are_forwarded_to_analytics_and_passed_through_unchanged(backend: Backend) {
    let (url, calls) = analytics_stand_in().await;
    let app = spawn_with(backend, |config| config.analytics_url = Some(url.clone())).await;
    app.environment("production").await;
    for key in ["cta", "draft-only"] {
        app.post(
            "/api/v1/experiments",
            &app.admin,
            experiment(key, "production"),
        )
        .await
        .expect(201);
    }
    let viewer = app.user("viewer").await;
    let editor = app.user("editor").await;
    use reqwest::Method;

    let json = raw(
        &app,
        Method::GET,
        "/api/v1/experiments/cta/results",
        &viewer,
        Some("req-results-1"),
    )
    .await;
    assert_eq!(json, (200, "application/json".into(), JSON_BODY.into()));
    let csv = raw(
        &app,
        Method::GET,
        "/api/v1/experiments/cta/results?format=csv",
        &viewer,
        None,
    )
    .await;
    assert_eq!(
        csv,
        (200, "text/csv; charset=utf-8".into(), CSV_BODY.into())
    );
    let explicit = raw(
        &app,
        Method::GET,
        "/api/v1/experiments/cta/results?format=json",
        &viewer,
        None,
    )
    .await;
    assert_eq!(explicit.2, JSON_BODY);

    // Analytics' own problems pass through as they are.
    let missing = raw(
        &app,
        Method::GET,
        "/api/v1/experiments/draft-only/results",
        &viewer,
        None,
    )
    .await;
    assert_eq!(
        missing,
        (404, "application/problem+json".into(), MISSING_BODY.into())
    );

    // Computing now needs the editor role.
    let refused = app
        .post("/api/v1/experiments/cta/results", &viewer, json!({}))
        .await;
    refused.expect(403);
    let computed = raw(
        &app,
        Method::POST,
        "/api/v1/experiments/cta/results",
        &editor,
        None,
    )
    .await;
    assert_eq!(
        computed,
        (200, "application/json".into(), COMPUTED_BODY.into())
    );

    // Core answers these itself, without asking analytics.
    let bad_format = app
        .get("/api/v1/experiments/cta/results?format=xml", &viewer)
        .await;
    bad_format.expect(422);
    assert_eq!(bad_format.error_paths(), ["format"]);
    let unknown = app.get("/api/v1/experiments/nope/results", &viewer).await;
    unknown.expect(404);
    assert_eq!(unknown.headers["content-type"], "application/problem+json");
    assert_eq!(unknown.body["detail"], "experiment `nope` not found");
    app.get("/api/v1/experiments/cta/results", "vane_session_forged")
        .await
        .expect(401);

    let calls = calls.lock().unwrap().clone();
    let seen: Vec<(&str, &str, Option<&str>)> = calls
        .iter()
        .map(|(m, k, q, _)| (m.as_str(), k.as_str(), q.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "cta", None),
            ("GET", "cta", Some("format=csv")),
            ("GET", "cta", None),
            ("GET", "draft-only", None),
            ("POST", "cta", None),
        ]
    );
    // The caller's request id follows the request to analytics.
    assert_eq!(calls[0].3.as_deref(), Some("req-results-1"));
}

async fn without_analytics_results_are_503_and_an_unreachable_analytics_is_502_naming_it(
    backend: Backend,
) {
    let app = spawn(backend.clone()).await;
    app.environment("production").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    let unconfigured = app.get("/api/v1/experiments/cta/results", &app.admin).await;
    unconfigured.expect(503);
    assert_eq!(
        unconfigured.headers["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        unconfigured.body["type"],
        "https://vane.dev/problems/analytics-not-configured"
    );
    assert!(
        unconfigured.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("analytics is not configured"),
        "{}",
        unconfigured.body
    );
    // An unknown experiment is still a 404: core checks it first.
    app.get("/api/v1/experiments/nope/results", &app.admin)
        .await
        .expect(404);

    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let app = spawn_with(backend, |config| config.analytics_url = Some(url.clone())).await;
    app.environment("production").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/experiments/cta/results"),
        (reqwest::Method::POST, "/api/v1/experiments/cta/results"),
    ] {
        let reply = app.request(method, path, Some(&app.admin), &[], None).await;
        reply.expect(502);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        assert_eq!(
            reply.body["detail"],
            format!("analytics is unreachable at {url}")
        );
    }
}

async fn started_at_is_set_by_start_restart_and_a_scheduled_start(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let act = |key: &'static str, action: &'static str| {
        let app = &app;
        async move {
            let current = app
                .get(&format!("/api/v1/experiments/{key}"), &app.admin)
                .await;
            let reply = app
                .act(
                    &format!("/api/v1/experiments/{key}/{action}"),
                    &app.admin,
                    &current.etag(),
                    None,
                )
                .await;
            reply.expect(200);
            reply.body
        }
    };
    let draft = app
        .post(
            "/api/v1/experiments",
            &app.admin,
            experiment("cta", "production"),
        )
        .await;
    assert!(draft.body.get("started_at").is_none(), "{}", draft.body);

    let running = act("cta", "start").await;
    assert_eq!(running["started_at"], "2026-06-01T12:00:00Z");
    app.set_clock(T0 + Duration::hours(2));
    let restarted = act("cta", "restart").await;
    assert_eq!(restarted["started_at"], "2026-06-01T14:00:00Z");
    app.set_clock(T0 + Duration::hours(3));
    let stopped = act("cta", "stop").await;
    assert_eq!(stopped["started_at"], "2026-06-01T14:00:00Z");
    assert_eq!(stopped["schedule"]["end"], "2026-06-01T15:00:00Z");
    // Read-only: a client cannot send it.
    let mut with_start = experiment("other", "production");
    with_start["started_at"] = json!("2026-01-01T00:00:00Z");
    let refused = app
        .post("/api/v1/experiments", &app.admin, with_start)
        .await;
    refused.expect(422);
    assert_eq!(refused.error_paths(), ["started_at"]);

    // A scheduled start: the experiment started at its scheduled time, whenever the scheduler
    // records it.
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("later", "production"),
    )
    .await
    .expect(201);
    let current = app.get("/api/v1/experiments/later", &app.admin).await;
    let scheduled = app
        .act(
            "/api/v1/experiments/later/schedule",
            &app.admin,
            &current.etag(),
            Some(json!({"start": "2026-06-01T16:00:00Z"})),
        )
        .await;
    scheduled.expect(200);
    assert!(scheduled.body.get("started_at").is_none());
    app.set_clock(T0 + Duration::hours(5));
    let read = app.get("/api/v1/experiments/later", &app.admin).await;
    assert_eq!(read.body["status"], "running");
    assert_eq!(read.body["started_at"], "2026-06-01T16:00:00Z");
    assert_eq!(vane_core::scheduler::run_once(&app.state).await.unwrap(), 1);
    let read = app.get("/api/v1/experiments/later", &app.admin).await;
    assert_eq!(read.body["started_at"], "2026-06-01T16:00:00Z");
}
