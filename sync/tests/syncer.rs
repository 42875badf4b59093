//! The syncer against a stand-in core (snapshot endpoint with ETags), delivering to a local
//! directory read by real native edge nodes, and the monitor finding a stuck edge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vane_edge::{EdgeHandler, EdgeIdentity};
use vane_edge_native::sink::MemorySink;
use vane_edge_native::source::DirSource;
use vane_edge_native::{Application, Refresher};
use vane_engine::Timestamp;
use vane_sync::Syncer;
use vane_sync::core::CoreClient;
use vane_sync::deliver::Delivery;
use vane_sync::monitor::{EdgeEndpoint, Monitor};
use vane_sync::target::{DirTarget, Target};

/// Serves `/api/v1/environments/production/snapshot` from a swappable body, honouring ETags.
#[derive(Clone, Default)]
struct Core {
    body: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<u16>>>,
}

async fn snapshot(State(core): State<Core>, headers: HeaderMap) -> Response {
    let body = core.body.lock().unwrap().clone();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let etag = format!("\"{}\"", parsed["content_hash"].as_str().unwrap());
    let status =
        if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::OK
        };
    core.requests.lock().unwrap().push(status.as_u16());
    if status == StatusCode::NOT_MODIFIED {
        return (status, [("etag", etag)]).into_response();
    }
    (status, [("etag", etag)], body).into_response()
}

async fn start_core(first: Vec<u8>) -> (String, Core) {
    let core = Core::default();
    *core.body.lock().unwrap() = first;
    let app = Router::new()
        .route(
            "/api/v1/environments/production/snapshot",
            axum::routing::get(snapshot),
        )
        .with_state(core.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, core)
}

async fn start_edge(name: &str, dir: &std::path::Path) -> (String, Refresher) {
    let edge = EdgeHandler::new(
        "production",
        EdgeIdentity {
            edge_id: name.into(),
            runtime: "native",
        },
    );
    let refresher = Refresher::new(
        edge.clone(),
        Arc::new(DirSource::new(dir.to_owned(), "production")),
        Duration::from_secs(3600),
    );
    let app = Application::build(
        "127.0.0.1:0".parse().unwrap(),
        edge,
        Arc::new(MemorySink::default()),
        None,
    )
    .await
    .unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    (url, refresher)
}

#[tokio::test]
async fn a_new_version_reaches_every_target_once_and_the_monitor_reports_a_stuck_edge() {
    let (core_url, core) = start_core(common::snapshot("production", 1, "one")).await;
    let fresh_dir = tempfile::tempdir().unwrap();
    let stuck_dir = tempfile::tempdir().unwrap();
    let (fresh_url, fresh_refresher) = start_edge("fresh", fresh_dir.path()).await;
    let (stuck_url, stuck_refresher) = start_edge("stuck", stuck_dir.path()).await;

    let fresh_target: Arc<dyn Target> = Arc::new(DirTarget::new(fresh_dir.path()));
    let stuck_target: Arc<dyn Target> = Arc::new(DirTarget::new(stuck_dir.path()));
    let monitor = Monitor::new(
        vec![
            EdgeEndpoint {
                name: "fresh".into(),
                url: fresh_url,
            },
            EdgeEndpoint {
                name: "stuck".into(),
                url: stuck_url,
            },
        ],
        30.0,
    );
    // Both stores get version 1.
    let syncer = Syncer::new(
        CoreClient::new(&core_url, "key"),
        vec!["production".into()],
        vec![fresh_target, stuck_target],
        5,
        monitor,
    );
    let outcomes = syncer.run_once().await;
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| o.result
            == Ok(Delivery::Written {
                version: 1,
                pruned: 0
            })),
        "{outcomes:?}"
    );
    fresh_refresher.refresh_once().await;
    stuck_refresher.refresh_once().await;

    // Nothing new: a 304 and no deliveries.
    assert!(syncer.run_once().await.is_empty());
    assert_eq!(core.requests.lock().unwrap().last(), Some(&304));

    // Version 2 published; only the fresh edge refreshes its store afterwards.
    *core.body.lock().unwrap() = common::snapshot("production", 2, "two");
    let outcomes = syncer.run_once().await;
    assert!(
        outcomes.iter().all(|o| o.result
            == Ok(Delivery::Written {
                version: 2,
                pruned: 0
            })),
        "{outcomes:?}"
    );
    fresh_refresher.refresh_once().await;

    // published_at of the fixture is 2026-11-24T12:00:00Z: look two minutes later.
    let later = Timestamp::parse_rfc3339("2026-11-24T12:02:00Z").unwrap();
    let mut publications = vane_sync::monitor::Publications::default();
    publications.record(
        "production",
        1,
        Timestamp::parse_rfc3339("2026-11-24T11:00:00Z").unwrap(),
    );
    publications.record(
        "production",
        2,
        Timestamp::parse_rfc3339("2026-11-24T12:00:00Z").unwrap(),
    );
    let statuses = syncer.monitor.poll_once(&publications, later).await;
    let fresh = statuses.iter().find(|s| s.edge == "fresh").unwrap();
    let stuck = statuses.iter().find(|s| s.edge == "stuck").unwrap();
    assert_eq!(
        (fresh.served_version, fresh.lag_seconds, fresh.stuck),
        (Some(2), 0.0, false)
    );
    assert_eq!(
        (stuck.served_version, stuck.latest_version),
        (Some(1), Some(2))
    );
    assert_eq!(stuck.lag_seconds, 120.0);
    assert!(stuck.stuck);
    let metrics = syncer.monitor.render_metrics();
    assert!(
        metrics.contains("vane_edge_snapshot_lag_seconds{edge=\"stuck\"} 120.000"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vane_edge_stuck{edge=\"stuck\"} 1"),
        "{metrics}"
    );

    // Rollback is a new version with old content: delivered like any other.
    let mut rolled: vane_engine::Snapshot =
        serde_json::from_slice(&common::snapshot("production", 3, "one")).unwrap();
    rolled.content_hash = None;
    *core.body.lock().unwrap() = serde_json::to_vec(&rolled.seal()).unwrap();
    syncer.run_once().await;
    fresh_refresher.refresh_once().await;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/evaluate", statuses[0].url))
        .header("x-vane-key", "client-key")
        .json(&serde_json::json!({"context": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["snapshot_version"], 3);
    assert_eq!(answer["flags"][0]["value"], "one");
}

#[tokio::test]
async fn an_unreachable_edge_is_reported_stuck_with_its_error() {
    let monitor = Monitor::new(
        vec![EdgeEndpoint {
            name: "gone".into(),
            url: "http://127.0.0.1:9".into(),
        }],
        30.0,
    );
    let statuses = monitor
        .poll_once(
            &vane_sync::monitor::Publications::default(),
            Timestamp::from_unix_millis(0),
        )
        .await;
    assert!(statuses[0].stuck);
    assert!(statuses[0].last_error.is_some());
}
