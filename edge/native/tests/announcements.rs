//! The core source follows core's server-sent announcements: a new snapshot is installed as
//! soon as core announces it, long before the next poll (here an hour away).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use tokio::sync::mpsc;
use vane_edge::conformance::ENVIRONMENT;
use vane_edge::{EdgeHandler, EdgeIdentity};
use vane_edge_native::source::{CoreSource, SnapshotSource};
use vane_edge_native::{Refresher, conformance};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec")
}

/// A stand-in for core's two snapshot routes: the current snapshot, and one announcement
/// stream fed by the test.
#[derive(Clone)]
struct FakeCore {
    snapshot: Arc<Mutex<String>>,
    announcements: Arc<Mutex<Option<mpsc::UnboundedReceiver<u64>>>>,
}

async fn snapshot(State(core): State<FakeCore>) -> Response {
    let body = core.snapshot.lock().unwrap().clone();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

async fn events(State(core): State<FakeCore>) -> Response {
    let rx = core
        .announcements
        .lock()
        .unwrap()
        .take()
        .expect("one stream");
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let version = rx.recv().await?;
        let chunk = format!("event: snapshot\ndata: {{\"version\":{version}}}\n\n");
        Some((Ok::<_, std::io::Error>(chunk), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn served_version(edge: &EdgeHandler) -> Option<u64> {
    edge.cache.current().map(|l| l.compiled.version())
}

#[tokio::test]
async fn an_announcement_installs_the_new_snapshot_without_waiting_for_the_poll() {
    let (announce, rx) = mpsc::unbounded_channel();
    let core = FakeCore {
        snapshot: Arc::new(Mutex::new(
            conformance::snapshot_json(&spec_dir(), 1).unwrap(),
        )),
        announcements: Arc::new(Mutex::new(Some(rx))),
    };
    let path = format!("/api/v1/environments/{ENVIRONMENT}/snapshot");
    let app = Router::new()
        .route(&path, get(snapshot))
        .route(&format!("{path}/events"), get(events))
        .with_state(core.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let edge = EdgeHandler::new(
        ENVIRONMENT,
        EdgeIdentity {
            edge_id: "announcements-test".into(),
            runtime: "native",
        },
    );
    let source = Arc::new(CoreSource::new(&base, ENVIRONMENT, "server-key".into()));
    // An hour between polls: only an announcement can bring version 2 in time.
    let refresher = Refresher::new(edge.clone(), source.clone(), Duration::from_secs(3600));
    refresher.refresh_once().await;
    assert_eq!(served_version(&edge).await, Some(1));
    let task = tokio::spawn(refresher.run_forever());

    for _ in 0..500 {
        if source.announcing() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        source.announcing(),
        "the edge never connected to the announcements"
    );

    *core.snapshot.lock().unwrap() = conformance::snapshot_json(&spec_dir(), 2).unwrap();
    announce.send(2).unwrap();
    let mut served = None;
    for _ in 0..500 {
        served = served_version(&edge).await;
        if served == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(served, Some(2), "version 2 was announced but not installed");

    // Stopping the refresher stops following the announcements too.
    task.abort();
    let _ = task.await;
    for _ in 0..500 {
        if !source.announcing() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !source.announcing(),
        "the announcement stream outlived the refresher"
    );
}
