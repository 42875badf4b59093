//! Snapshot publishing: monotonic versions per environment, content hashes, 304 on an
//! unchanged snapshot, server-sent events, and evaluation previews.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{Backend, experiment, flag, spawn, spawn_until};

both_backends!(
    every_change_publishes_a_new_sealed_snapshot_for_each_affected_environment,
    an_unchanged_snapshot_gets_304,
    subscribers_hear_of_each_new_version,
    a_client_key_can_preview_evaluations,
    snapshots_carry_key_digests_and_a_rollback_republishes_earlier_configuration,
    a_stop_ends_the_announcement_streams_so_the_server_stops,
);

/// A follower's announcement stream never ends by itself; a stop must end it, or a graceful
/// shutdown waits for it forever (`vane up` with a `vane edge --core-url` attached once took
/// its whole 30 s stop timeout and exited 1).
async fn a_stop_ends_the_announcement_streams_so_the_server_stops(backend: Backend) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (app, served) = spawn_until(backend, |_| {}, async move {
        let _ = stopped.await;
    })
    .await;
    app.environment("production").await;
    let server = app.api_key("production", "server").await;
    let response = app
        .client
        .get(format!(
            "{}/api/v1/environments/production/snapshot/events",
            app.address
        ))
        .bearer_auth(&server)
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    read_events(&mut stream, &mut buffer, 1).await;
    stop.send(()).unwrap();
    // The stream ends (the client sees its end) and the server stops, both well before any
    // keep-alive would; the bound only turns a hang into a failure.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the announcement stream stayed open after the stop"
    );
    let result = tokio::time::timeout(Duration::from_secs(20), served)
        .await
        .expect("the server stopped");
    result.unwrap().unwrap();
}

async fn snapshots_carry_key_digests_and_a_rollback_republishes_earlier_configuration(
    backend: Backend,
) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let client = app.api_key("production", "client").await;
    let (snapshot, _) = app.snapshot("production").await;
    let digest = vane_engine::model::sha256_hex(client.as_bytes());
    let keys = snapshot["api_keys"].as_array().cloned().unwrap_or_default();
    assert!(
        keys.iter()
            .any(|k| k["sha256"] == digest.as_str() && k["kind"] == "client"),
        "{keys:?}"
    );
    assert!(
        !snapshot.to_string().contains(&client),
        "the key itself must not be published"
    );

    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    let (with_flag, _) = app.snapshot("production").await;
    assert_eq!(with_flag["flags"].as_array().unwrap().len(), 1);
    let before = with_flag["version"].as_i64().unwrap() - 1;
    let reply = app
        .post(
            "/api/v1/environments/production/rollback",
            &app.admin,
            json!({"to_version": before}),
        )
        .await;
    reply.expect(201);
    let (rolled, _) = app.snapshot("production").await;
    assert_eq!(
        rolled["version"],
        with_flag["version"].as_i64().unwrap() + 1
    );
    assert_eq!(rolled["flags"], json!([]));
    assert_eq!(rolled["api_keys"], with_flag["api_keys"]);
    let audit = app
        .audit("entity_type=environment&entity_key=production")
        .await;
    let rollbacks: Vec<&Value> = audit.iter().filter(|e| e["action"] == "rollback").collect();
    assert_eq!(rollbacks.len(), 1, "{audit:?}");
    app.post(
        "/api/v1/environments/production/rollback",
        &app.admin,
        json!({"to_version": 999}),
    )
    .await
    .expect(404);
}

async fn every_change_publishes_a_new_sealed_snapshot_for_each_affected_environment(
    backend: Backend,
) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;
    let (prod, _) = app.snapshot("production").await;
    let (staging, _) = app.snapshot("staging").await;
    assert_eq!(prod["version"], 1);
    assert_eq!(prod["schema_version"], 1);
    assert_eq!(staging["version"], 1);

    // A flag affects every environment.
    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    assert_eq!(app.snapshot("production").await.0["version"], 2);
    assert_eq!(app.snapshot("staging").await.0["version"], 2);

    // An experiment affects its own environment only.
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    let (prod, etag) = app.snapshot("production").await;
    assert_eq!(prod["version"], 3);
    assert_eq!(app.snapshot("staging").await.0["version"], 2);

    // The content hash is the engine's sha256 of the snapshot, and the ETag.
    let parsed: vane_engine::Snapshot = serde_json::from_value(prod.clone()).unwrap();
    let hash = parsed.compute_hash();
    assert_eq!(prod["content_hash"], hash.as_str());
    assert_eq!(hash.len(), 64);
    assert_eq!(etag, format!("\"{hash}\""));
    assert!(vane_engine::compile(parsed).is_ok());

    // Older versions stay available, unchanged.
    let v1 = app
        .get("/api/v1/environments/production/snapshots/1", &app.admin)
        .await;
    v1.expect(200);
    assert_eq!(v1.body["version"], 1);
    assert_eq!(v1.body["flags"], json!([]));
    app.get("/api/v1/environments/production/snapshots/99", &app.admin)
        .await
        .expect(404);
    // The flag is on in production only.
    let flag_in = |s: &Value| s["flags"][0]["enabled"].clone();
    assert_eq!(flag_in(&prod), true);
    assert_eq!(flag_in(&app.snapshot("staging").await.0), false);
}

async fn an_unchanged_snapshot_gets_304(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let server = app.api_key("production", "server").await;
    let first = app
        .get("/api/v1/environments/production/snapshot", &server)
        .await;
    first.expect(200);
    let etag = first.etag();
    // Version 1 came with the environment, version 2 with the server key's digest.
    assert_eq!(first.headers["x-vane-snapshot-version"], "2");

    let again = app
        .request(
            reqwest::Method::GET,
            "/api/v1/environments/production/snapshot",
            Some(&server),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    again.expect(304);
    assert_eq!(again.etag(), etag);

    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    let changed = app
        .request(
            reqwest::Method::GET,
            "/api/v1/environments/production/snapshot",
            Some(&server),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    changed.expect(200);
    assert_ne!(changed.etag(), etag);
    assert_eq!(changed.body["version"], 3);
}

/// Reads server-sent events until `count` `snapshot` events have arrived.
async fn read_events(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    count: usize,
) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = Duration::from_secs(20);
    tokio::time::timeout(deadline, async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let is_snapshot = block.lines().any(|l| l == "event: snapshot");
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                    && is_snapshot
                {
                    events.push(serde_json::from_str(data).unwrap());
                }
            }
            if events.len() >= count {
                return;
            }
            let chunk = stream.next().await.expect("the stream ended").unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("events within the deadline");
    events
}

async fn subscribers_hear_of_each_new_version(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;
    let server = app.api_key("production", "server").await;
    let response = app
        .client
        .get(format!(
            "{}/api/v1/environments/production/snapshot/events",
            app.address
        ))
        .bearer_auth(&server)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let first = read_events(&mut stream, &mut buffer, 1).await;
    // Version 2 is current: the server key's digest was published after the environment.
    assert_eq!(first[0]["version"], 2, "the current version comes first");

    // A staging-only change is not announced here; a production change is.
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("only-staging", "staging"),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    let next = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(next[0]["environment"], "production");
    assert_eq!(next[0]["version"], 3);
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(next[0]["content_hash"], snapshot["content_hash"]);
}

async fn a_client_key_can_preview_evaluations(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    let client = app.api_key("production", "client").await;
    let reply = app
        .post(
            "/api/v1/environments/production/evaluate",
            &client,
            json!({"context": {"user_id": "u1", "country": "DE"}}),
        )
        .await;
    reply.expect(200);
    assert_eq!(reply.body["flags"][0]["key"], "beta");
    assert_eq!(reply.body["flags"][0]["value"], true);
    // A client key reads neither snapshots nor configuration.
    app.get("/api/v1/environments/production/snapshot", &client)
        .await
        .expect(403);
    app.get("/api/v1/flags", &client).await.expect(403);
}

both_backends!(health_metrics_and_request_ids_are_served);

async fn health_metrics_and_request_ids_are_served(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let traced = app
        .request(
            reqwest::Method::GET,
            "/api/v1/flags",
            Some(&app.admin),
            &[("x-request-id", "trace-me-1")],
            None,
        )
        .await;
    assert_eq!(traced.headers["x-request-id"], "trace-me-1");

    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            r#"vane_core_http_requests_total{method="GET",route="/api/v1/flags",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"vane_core_snapshot_version{environment="production"} 1"#));
    assert!(text.contains("vane_core_http_request_duration_seconds_bucket"));
}
