//! The edge handler in process: routes, keys, limits, events, snapshot refresh, conformance.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use vane_edge::conformance::{self, CLIENT_KEY, SERVER_KEY};
use vane_edge::{Action, EdgeHandler, EdgeIdentity, EdgeResponse};
use vane_engine::Timestamp;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_521_600_000); // 2026-11-24T12:00:00Z

fn spec_files() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/evaluations");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn snapshot_bytes(version: u64) -> Vec<u8> {
    serde_json::to_vec(&conformance::snapshot(&spec_files(), version).unwrap()).unwrap()
}

fn edge() -> std::sync::Arc<EdgeHandler> {
    let edge = EdgeHandler::new(
        conformance::ENVIRONMENT,
        EdgeIdentity {
            edge_id: "test-1".into(),
            runtime: "test",
        },
    );
    edge.cache.install(&snapshot_bytes(1), NOW).unwrap();
    edge
}

fn request(method: Method, path: &str, key: Option<&str>, body: &str) -> Request<Bytes> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Bytes::from(body.to_owned())).unwrap()
}

fn respond(edge: &EdgeHandler, req: Request<Bytes>) -> EdgeResponse {
    match edge.handle(&req, NOW) {
        Action::Respond(r) => r,
        Action::Forward(pending) => edge.finish_events(pending, Ok(())),
    }
}

fn body(response: &EdgeResponse) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn content_type(response: &EdgeResponse) -> &str {
    response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
}

#[test]
fn every_spec_case_gets_the_expected_answer_through_the_handler() {
    let edge = edge();
    let probes = conformance::probes(&spec_files());
    assert!(probes.len() >= 40);
    let mut failures = Vec::new();
    for probe in &probes {
        let r = respond(
            &edge,
            request(
                Method::POST,
                probe.path,
                Some(SERVER_KEY),
                &probe.body.to_string(),
            ),
        );
        assert_eq!(r.status(), StatusCode::OK, "{}: {:?}", probe.name, body(&r));
        failures.extend(conformance::check(probe, &body(&r)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn assign_without_a_list_returns_only_the_experiments_the_unit_is_in() {
    let edge = edge();
    let r = respond(
        &edge,
        request(
            Method::POST,
            "/v1/assign",
            Some(CLIENT_KEY),
            r#"{"context":{"user_id":"u-1"}}"#,
        ),
    );
    assert_eq!(r.status(), StatusCode::OK);
    let answer = body(&r);
    let assignments = answer["assignments"].as_array().unwrap();
    assert!(!assignments.is_empty());
    assert!(
        assignments
            .iter()
            .all(|a| a["in_experiment"] == json!(true))
    );
    assert_eq!(r.headers()["x-vane-snapshot-version"], "1");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[test]
fn a_missing_or_unknown_key_is_401_and_a_client_key_on_config_is_403() {
    let edge = edge();
    let missing = respond(
        &edge,
        request(Method::POST, "/v1/evaluate", None, r#"{"context":{}}"#),
    );
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(content_type(&missing), "application/problem+json");
    let unknown = respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some("vane_client_nope"),
            r#"{"context":{}}"#,
        ),
    );
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let forbidden = respond(
        &edge,
        request(Method::GET, "/v1/config", Some(CLIENT_KEY), ""),
    );
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let at = respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some(CLIENT_KEY),
            r#"{"context":{},"at":"2026-12-01T00:00:00Z"}"#,
        ),
    );
    assert_eq!(at.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(&at)["errors"][0]["field"], "at");
    let mut x_key = request(Method::POST, "/v1/evaluate", None, r#"{"context":{}}"#);
    x_key
        .headers_mut()
        .insert("x-vane-key", CLIENT_KEY.parse().unwrap());
    assert_eq!(respond(&edge, x_key).status(), StatusCode::OK);
}

#[test]
fn bad_bodies_get_problem_json_naming_the_field() {
    let edge = edge();
    let syntax = respond(
        &edge,
        request(Method::POST, "/v1/evaluate", Some(CLIENT_KEY), "{not json"),
    );
    assert_eq!(syntax.status(), StatusCode::BAD_REQUEST);
    let not_object = respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some(CLIENT_KEY),
            r#"{"context":[1]}"#,
        ),
    );
    assert_eq!(not_object.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body(&not_object)["errors"][0]["field"], "context");
    let unknown_field = respond(
        &edge,
        request(
            Method::POST,
            "/v1/assign",
            Some(CLIENT_KEY),
            r#"{"context":{},"extra":1}"#,
        ),
    );
    assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body(&unknown_field)["detail"]
            .as_str()
            .unwrap()
            .contains("extra")
    );
    // serde reads a struct from an array as well; the edge must not.
    for (path, array) in [
        ("/v1/assign", r#"[{"user_id":"u1"}]"#),
        ("/v1/evaluate", r#" [{"user_id":"u1"}, null]"#),
        ("/v1/events", r#"[[]]"#),
    ] {
        let answer = respond(&edge, request(Method::POST, path, Some(CLIENT_KEY), array));
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(body(&answer)["errors"][0]["field"], "body", "{path}");
    }
    let big = format!(r#"{{"context":{{"blob":"{}"}}}}"#, "x".repeat(70_000));
    let too_large = respond(
        &edge,
        request(Method::POST, "/v1/evaluate", Some(CLIENT_KEY), &big),
    );
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(content_type(&too_large), "application/problem+json");
    let wrong_method = respond(
        &edge,
        request(Method::GET, "/v1/assign", Some(CLIENT_KEY), ""),
    );
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        respond(&edge, request(Method::GET, "/nope", None, "")).status(),
        StatusCode::NOT_FOUND
    );
}

fn event(id: &str) -> Value {
    json!({"id": id, "type": "exposure", "timestamp": "2026-11-24T11:59:00Z",
           "units": {"user_id": "u1"}, "experiment": "basic", "variant": "control"})
}

#[test]
fn events_are_enriched_and_bad_ones_reported_one_by_one() {
    let edge = edge();
    let batch = json!({"events": [event("a"), {"id": "b", "type": "track"}, event("c")]});
    let mut req = request(
        Method::POST,
        "/v1/events",
        Some(CLIENT_KEY),
        &batch.to_string(),
    );
    req.headers_mut()
        .insert("cf-ipcountry", "de".parse().unwrap());
    let Action::Forward(pending) = edge.handle(&req, NOW) else {
        panic!("expected a batch to forward")
    };
    assert_eq!(pending.events.len(), 2);
    let first = &pending.events[0];
    assert_eq!(first.country.as_deref(), Some("DE"));
    assert_eq!(first.edge, "test-1");
    assert_eq!(first.snapshot_version, 1);
    assert_eq!(first.received_at, NOW);
    let r = edge.finish_events(pending, Ok(()));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer = body(&r);
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected"][0]["index"], 1);
    assert_eq!(answer["rejected"][0]["field"], "events[1]");
}

#[test]
fn a_sink_failure_is_503_and_counted_and_an_all_bad_batch_is_422() {
    let edge = edge();
    let req = request(
        Method::POST,
        "/v1/events",
        Some(CLIENT_KEY),
        &json!({"events": [event("a")]}).to_string(),
    );
    let Action::Forward(pending) = edge.handle(&req, NOW) else {
        panic!()
    };
    let r = edge.finish_events(pending, Err("stream down".into()));
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!String::from_utf8_lossy(r.body()).contains("stream down"));
    let bad = respond(
        &edge,
        request(
            Method::POST,
            "/v1/events",
            Some(CLIENT_KEY),
            r#"{"events":[{"id":"x"}]}"#,
        ),
    );
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body(&bad)["errors"][0]["field"], "events[0]");
    let many: Vec<Value> = (0..501).map(|i| event(&format!("e{i}"))).collect();
    let too_many = respond(
        &edge,
        request(
            Method::POST,
            "/v1/events",
            Some(CLIENT_KEY),
            &json!({"events": many}).to_string(),
        ),
    );
    assert_eq!(too_many.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let health = body(&respond(
        &edge,
        request(Method::GET, "/v1/health", None, ""),
    ));
    assert_eq!(health["counters"]["events_forward_failed"], 1);
}

#[test]
fn a_failed_refresh_keeps_serving_the_last_good_snapshot_and_health_says_so() {
    let edge = edge();
    edge.cache
        .record_error("store unreachable: connection refused".into(), NOW);
    let r = respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some(CLIENT_KEY),
            r#"{"context":{"user_id":"a"}}"#,
        ),
    );
    assert_eq!(r.status(), StatusCode::OK);
    let later = Timestamp::from_unix_millis(NOW.unix_millis() + 90_000);
    let Action::Respond(h) = edge.handle(&request(Method::GET, "/v1/health", None, ""), later)
    else {
        panic!()
    };
    let health = body(&h);
    assert_eq!(health["status"], "stale");
    assert_eq!(health["snapshot"]["version"], 1);
    assert_eq!(health["snapshot"]["age_seconds"], 90.0);
    assert!(
        health["last_refresh_error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
}

#[test]
fn a_corrupted_snapshot_is_refused_and_the_old_one_kept() {
    let edge = edge();
    let mut tampered: Value = serde_json::from_slice(&snapshot_bytes(2)).unwrap();
    tampered["flags"][0]["enabled"] = json!(true); // content changed, hash not updated
    let err = edge
        .cache
        .install(&serde_json::to_vec(&tampered).unwrap(), NOW)
        .unwrap_err();
    assert!(err.to_string().contains("content hash"), "{err}");
    assert_eq!(edge.cache.current().unwrap().compiled.version(), 1);
    let older = edge.cache.install(&snapshot_bytes(0), NOW).unwrap_err();
    assert!(older.to_string().contains("older"), "{older}");
    edge.cache.install(&snapshot_bytes(2), NOW).unwrap();
    assert_eq!(edge.cache.current().unwrap().compiled.version(), 2);
    let health = body(&respond(
        &edge,
        request(Method::GET, "/v1/health", None, ""),
    ));
    assert_eq!(health["status"], "ok");
}

#[test]
fn config_is_served_without_key_digests_and_honours_if_none_match() {
    let edge = edge();
    let r = respond(
        &edge,
        request(Method::GET, "/v1/config", Some(SERVER_KEY), ""),
    );
    assert_eq!(r.status(), StatusCode::OK);
    let config = body(&r);
    assert!(config.get("api_keys").is_none());
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", config["content_hash"].as_str().unwrap())
    );
    // The served document verifies by itself.
    let reparsed: vane_engine::Snapshot = serde_json::from_value(config).unwrap();
    assert!(vane_engine::compile(reparsed).is_ok());
    let mut again = request(Method::GET, "/v1/config", Some(SERVER_KEY), "");
    again
        .headers_mut()
        .insert("if-none-match", etag.parse().unwrap());
    let r = respond(&edge, again);
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.body().is_empty());
}

#[test]
fn an_edge_without_a_snapshot_answers_503_and_preflights_pass() {
    let edge = EdgeHandler::new(
        "spec",
        EdgeIdentity {
            edge_id: "e".into(),
            runtime: "test",
        },
    );
    let r = respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some(CLIENT_KEY),
            r#"{"context":{}}"#,
        ),
    );
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body(&respond(
            &edge,
            request(Method::GET, "/v1/health", None, "")
        ))["status"],
        "no_snapshot"
    );
    let pre = respond(&edge, request(Method::OPTIONS, "/v1/events", None, ""));
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert!(
        pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
}

#[test]
fn metrics_are_prometheus_text_with_the_snapshot_version() {
    let edge = edge();
    respond(
        &edge,
        request(
            Method::POST,
            "/v1/evaluate",
            Some(CLIENT_KEY),
            r#"{"context":{}}"#,
        ),
    );
    let text = String::from_utf8(
        respond(&edge, request(Method::GET, "/metrics", None, ""))
            .body()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("vane_edge_requests_total{edge=\"test-1\",route=\"evaluate\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("vane_edge_snapshot_version{edge=\"test-1\"} 1"),
        "{text}"
    );
}

#[test]
fn records_pack_events_by_unit_and_unpack_to_the_same_events() {
    let edge = edge();
    let events: Vec<Value> = (0..40)
        .map(|i| {
            let mut e = event(&format!("e{i}"));
            e["units"] = json!({"user_id": format!("u{}", i % 4)});
            e
        })
        .collect();
    let req = request(
        Method::POST,
        "/v1/events",
        Some(CLIENT_KEY),
        &json!({"events": events}).to_string(),
    );
    let Action::Forward(pending) = edge.handle(&req, NOW) else {
        panic!()
    };
    let records = vane_edge::events::pack_records(&pending.events, 4096);
    assert!(
        records.len() >= 4 && records.len() < 40,
        "{} records",
        records.len()
    );
    assert!(records.iter().all(|r| r.data.len() <= 4096));
    let mut back: Vec<_> = records
        .iter()
        .flat_map(|r| vane_edge::events::unpack_record(&r.data))
        .map(|e| e.unwrap())
        .collect();
    back.sort_by(|a, b| a.event.id.cmp(&b.event.id));
    let mut sent = pending.events.clone();
    sent.sort_by(|a, b| a.event.id.cmp(&b.event.id));
    assert_eq!(back, sent);
    for r in &records {
        for e in vane_edge::events::unpack_record(&r.data) {
            assert_eq!(
                vane_edge::events::partition_key(&e.unwrap()),
                r.partition_key
            );
        }
    }
}
