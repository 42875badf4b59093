//! The native edge node over real HTTP on port 0: conformance, refresh from a KV directory,
//! stale-if-error, refusal of corrupted snapshots, and events through the sink.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vane_edge::conformance::{CLIENT_KEY, ENVIRONMENT};
use vane_edge::{EdgeHandler, EdgeIdentity, store};
use vane_edge_native::sink::MemorySink;
use vane_edge_native::source::DirSource;
use vane_edge_native::{Application, Refresher, conformance};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec")
}

/// Writes snapshot `version` into a KV directory the way sync does: data first, then pointer.
fn publish(dir: &Path, json: &str, version: u64) {
    let data = dir.join(store::snapshot_key(ENVIRONMENT, version));
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    std::fs::write(&data, json).unwrap();
    std::fs::write(
        dir.join(store::current_key(ENVIRONMENT)),
        version.to_string(),
    )
    .unwrap();
}

struct Node {
    base: String,
    edge: Arc<EdgeHandler>,
    refresher: Refresher,
    sink: Arc<MemorySink>,
    store: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Node {
    let store = tempfile::tempdir().unwrap();
    publish(
        store.path(),
        &conformance::snapshot_json(&spec_dir(), 1).unwrap(),
        1,
    );
    let edge = EdgeHandler::new(
        ENVIRONMENT,
        EdgeIdentity {
            edge_id: "node-test".into(),
            runtime: "native",
        },
    );
    let source = Arc::new(DirSource::new(store.path().to_owned(), ENVIRONMENT));
    let refresher = Refresher::new(edge.clone(), source, Duration::from_secs(3600));
    refresher.refresh_once().await;
    let sink = Arc::new(MemorySink::default());
    let app = Application::build(
        "127.0.0.1:0".parse().unwrap(),
        edge.clone(),
        sink.clone(),
        None,
    )
    .await
    .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Node {
        base,
        edge,
        refresher,
        sink,
        store,
        _stop: stop,
    }
}

async fn evaluate(node: &Node) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/evaluate", node.base))
        .bearer_auth(CLIENT_KEY)
        .json(&json!({"context": {"user_id": "a"}, "flags": ["plain-default"]}))
        .send()
        .await
        .unwrap()
}

async fn health(node: &Node) -> Value {
    reqwest::get(format!("{}/v1/health", node.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_native_node_passes_the_http_conformance_run() {
    let node = start().await;
    let report = conformance::run(&node.base, &spec_dir()).await.unwrap();
    assert!(report.checks > 40, "{} checks", report.checks);
    assert!(report.failures.is_empty(), "{}", report.failures.join("\n"));
}

#[tokio::test]
async fn a_new_version_in_the_store_is_served_after_a_refresh() {
    let node = start().await;
    let mut doc: Value =
        serde_json::from_str(&conformance::snapshot_json(&spec_dir(), 2).unwrap()).unwrap();
    // Flip plain-default's default variation and reseal.
    let flags = doc["flags"].as_array_mut().unwrap();
    let flag = flags
        .iter_mut()
        .find(|f| f["key"] == "plain-default")
        .unwrap();
    flag["default_variation"] = json!(0);
    doc["content_hash"] = Value::Null;
    let snapshot: vane_engine::Snapshot = serde_json::from_value(doc).unwrap();
    publish(
        node.store.path(),
        &serde_json::to_string(&snapshot.seal()).unwrap(),
        2,
    );
    node.refresher.refresh_once().await;
    let answer: Value = evaluate(&node).await.json().await.unwrap();
    assert_eq!(answer["snapshot_version"], 2);
    assert_eq!(answer["flags"][0]["value"], "blue");
}

#[tokio::test]
async fn an_unreachable_store_keeps_the_last_good_snapshot_and_health_reports_it() {
    let node = start().await;
    std::fs::remove_dir_all(node.store.path().join("vane")).unwrap();
    node.refresher.refresh_once().await;
    let response = evaluate(&node).await;
    assert_eq!(response.status(), 200);
    let h = health(&node).await;
    assert_eq!(h["status"], "stale");
    assert_eq!(h["snapshot"]["version"], 1);
    assert!(h["snapshot"]["age_seconds"].as_f64().unwrap() >= 0.0);
    assert!(
        h["last_refresh_error"]["message"]
            .as_str()
            .unwrap()
            .contains("No such file"),
        "{h}"
    );
}

#[tokio::test]
async fn a_corrupted_snapshot_in_the_store_is_refused_and_the_old_one_kept() {
    let node = start().await;
    let good = conformance::snapshot_json(&spec_dir(), 3).unwrap();
    let corrupted = good.replacen("\"enabled\":false", "\"enabled\":true", 1);
    assert_ne!(good, corrupted);
    publish(node.store.path(), &corrupted, 3);
    node.refresher.refresh_once().await;
    assert_eq!(node.edge.cache.current().unwrap().compiled.version(), 1);
    let h = health(&node).await;
    assert!(
        h["last_refresh_error"]["message"]
            .as_str()
            .unwrap()
            .contains("content hash"),
        "{h}"
    );
    assert_eq!(evaluate(&node).await.status(), 200);
}

#[tokio::test]
async fn events_reach_the_sink_and_a_failing_sink_answers_503() {
    let node = start().await;
    let client = reqwest::Client::new();
    let batch = json!({"events": [
        {"id": "ev-1", "type": "exposure", "timestamp": vane_engine::Timestamp::from(time::OffsetDateTime::now_utc()).to_rfc3339().unwrap(),
         "units": {"user_id": "u1"}, "experiment": "basic", "variant": "control"},
        {"id": "ev-2", "type": "track"}
    ]});
    let response = client
        .post(format!("{}/v1/events", node.base))
        .bearer_auth(CLIENT_KEY)
        .header("cf-ipcountry", "FR")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["rejected"][0]["index"], 1);
    let stored = node.sink.events.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.id, "ev-1");
    assert_eq!(stored[0].country.as_deref(), Some("FR"));
    node.sink
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let failed = client
        .post(format!("{}/v1/events", node.base))
        .bearer_auth(CLIENT_KEY)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.headers()["content-type"], "application/problem+json");
    let huge = "x".repeat(vane_edge::limits::MAX_EVENTS_BODY_BYTES + 10);
    let too_big = client
        .post(format!("{}/v1/events", node.base))
        .bearer_auth(CLIENT_KEY)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
}

#[tokio::test]
async fn a_pointer_written_into_the_kv_directory_is_picked_up_without_waiting_for_the_poll() {
    let node = start().await;
    assert_eq!(health(&node).await["snapshot"]["version"], 1);
    // The refresher polls once an hour: only the directory watch can bring version 2 in time.
    let task = tokio::spawn(node.refresher.clone().run_forever());
    // Give the watch a moment to be in place, then publish as sync does.
    let mut served = None;
    for attempt in 0..500 {
        if attempt == 25 {
            publish(
                node.store.path(),
                &conformance::snapshot_json(&spec_dir(), 2).unwrap(),
                2,
            );
        }
        served = node.edge.cache.current().map(|l| l.compiled.version());
        if served == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert_eq!(served, Some(2), "version 2 was written but not picked up");
}
