//! OFREP through the handler: single and bulk evaluation, reasons, experiments as flags,
//! ETag / 304, the protocol's error codes, keys and limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use vane_edge::conformance::{self, CLIENT_KEY};
use vane_edge::{Action, EdgeHandler, EdgeIdentity, EdgeResponse};
use vane_engine::Timestamp;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_521_600_000); // 2026-11-24T12:00:00Z

fn edge() -> std::sync::Arc<EdgeHandler> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/evaluations");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let files: Vec<Value> = paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    let snapshot = conformance::snapshot(&files, 1).unwrap();
    let edge = EdgeHandler::new(
        conformance::ENVIRONMENT,
        EdgeIdentity {
            edge_id: "test-1".into(),
            runtime: "test",
        },
    );
    edge.cache
        .install(&serde_json::to_vec(&snapshot).unwrap(), NOW)
        .unwrap();
    edge
}

fn post(edge: &EdgeHandler, path: &str, body: &str, headers: &[(&str, &str)]) -> EdgeResponse {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {CLIENT_KEY}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Bytes::from(body.to_owned())).unwrap();
    match edge.handle(&request, NOW) {
        Action::Respond(r) => r,
        Action::Forward(_) => panic!("OFREP never forwards"),
    }
}

fn json_of(response: &EdgeResponse) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn single(edge: &EdgeHandler, key: &str, context: Value) -> (StatusCode, Value) {
    let r = post(
        edge,
        &format!("/ofrep/v1/evaluate/flags/{key}"),
        &json!({ "context": context }).to_string(),
        &[],
    );
    (r.status(), json_of(&r))
}

#[test]
fn a_rule_match_is_targeting_match_with_the_rule_in_metadata() {
    let edge = edge();
    let (status, body) = single(
        &edge,
        "targeted",
        json!({"targetingKey": "a", "plan": "pro", "age": 30, "country": "DE"}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "targeted");
    assert_eq!(body["value"], true);
    assert_eq!(body["reason"], "TARGETING_MATCH");
    assert_eq!(body["variant"], "1");
    assert_eq!(body["metadata"]["vaneReason"], "rule_match");
    assert_eq!(body["metadata"]["ruleId"], "pro-users");
    assert_eq!(body["metadata"]["snapshotVersion"], 1);
}

#[test]
fn the_targeting_key_is_the_unit_a_rollout_hashes() {
    let edge = edge();
    // The same unit as the spec case "a numeric unit id ..." but as a targetingKey string.
    let (_, body) = single(&edge, "half-rollout", json!({"targetingKey": "roll-4"}));
    assert_eq!(body["reason"], "SPLIT");
    assert_eq!(body["value"], "on");
    assert_eq!(body["metadata"]["vaneReason"], "rollout");
    assert!(body["metadata"]["bucket"].as_u64().unwrap() >= 5000);
}

#[test]
fn a_disabled_flag_is_disabled() {
    let (_, body) = single(&edge(), "killed", json!({"targetingKey": "a"}));
    assert_eq!(body["reason"], "DISABLED");
    assert_eq!(body["value"], false);
}

#[test]
fn an_experiment_is_a_string_flag_with_reason_split_and_its_metadata() {
    let (status, body) = single(&edge(), "basic", json!({"targetingKey": "b-2"}));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "control");
    assert_eq!(body["variant"], "control");
    assert_eq!(body["reason"], "SPLIT");
    assert_eq!(body["metadata"]["experiment"], "basic");
    assert_eq!(body["metadata"]["inExperiment"], true);
    assert_eq!(body["metadata"]["bucket"], 2749);
    let payload: Value =
        serde_json::from_str(body["metadata"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, json!({"color": "blue"}));
}

#[test]
fn a_unit_outside_an_experiment_gets_the_first_variant_without_a_variant_name() {
    let (_, body) = single(&edge(), "ramp-20", json!({"targetingKey": "r-9"}));
    assert_eq!(body["value"], "control");
    assert_eq!(body["reason"], "DEFAULT");
    assert!(body.get("variant").is_none());
    assert_eq!(body["metadata"]["inExperiment"], false);
    assert_eq!(body["metadata"]["vaneReason"], "not_in_coverage");
}

#[test]
fn an_experiment_without_a_unit_is_targeting_key_missing() {
    let (status, body) = single(&edge(), "basic", json!({"country": "DE"}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["key"], "basic");
    assert_eq!(body["errorCode"], "TARGETING_KEY_MISSING");
    assert_eq!(body["errors"][0]["field"], "context.targetingKey");
}

#[test]
fn an_unknown_key_is_flag_not_found_with_404() {
    let (status, body) = single(&edge(), "no-such-flag", json!({}));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["key"], "no-such-flag");
    assert_eq!(body["errorCode"], "FLAG_NOT_FOUND");
}

#[test]
fn bad_bodies_and_contexts_are_400_with_the_protocol_codes() {
    let edge = edge();
    let r = post(&edge, "/ofrep/v1/evaluate/flags/killed", "{not json", &[]);
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&r)["errorCode"], "PARSE_ERROR");
    assert_eq!(r.headers()["content-type"], vane_edge::http::PROBLEM_JSON);
    let r = post(
        &edge,
        "/ofrep/v1/evaluate/flags/killed",
        r#"{"context": 5}"#,
        &[],
    );
    assert_eq!(json_of(&r)["errorCode"], "INVALID_CONTEXT");
    assert_eq!(json_of(&r)["key"], "killed");
    let r = post(
        &edge,
        "/ofrep/v1/evaluate/flags",
        r#"{"context": "x"}"#,
        &[],
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&r)["errorCode"], "INVALID_CONTEXT");
    let big = format!(r#"{{"context": {{"x": "{}"}}}}"#, "a".repeat(70_000));
    let r = post(&edge, "/ofrep/v1/evaluate/flags", &big, &[]);
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn a_percent_encoded_key_finds_its_flag() {
    let (status, body) = single(&edge(), "half%2Drollout", json!({"targetingKey": "roll-4"}));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "half-rollout");
}

#[test]
fn bulk_lists_every_flag_then_the_experiments_whose_keys_are_not_flags() {
    let edge = edge();
    let r = post(
        &edge,
        "/ofrep/v1/evaluate/flags",
        r#"{"context": {"targetingKey": "b-2"}}"#,
        &[],
    );
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(&r);
    let flags = body["flags"].as_array().unwrap();
    let find = |key: &str| flags.iter().filter(|f| f["key"] == key).collect::<Vec<_>>();
    assert_eq!(find("killed")[0]["reason"], "DISABLED");
    assert_eq!(find("basic")[0]["reason"], "SPLIT");
    // `held` is both a flag and an experiment: the flag answers, once.
    let held = find("held");
    assert_eq!(held.len(), 1);
    assert!(held[0]["metadata"].get("experiment").is_none());
    assert!(find("no-such-flag").is_empty());
}

#[test]
fn bulk_answers_carry_an_etag_and_an_unchanged_answer_is_304() {
    let edge = edge();
    let body = r#"{"context": {"targetingKey": "b-2"}}"#;
    let first = post(&edge, "/ofrep/v1/evaluate/flags", body, &[]);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = post(
        &edge,
        "/ofrep/v1/evaluate/flags",
        body,
        &[("if-none-match", &etag)],
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    let other = post(
        &edge,
        "/ofrep/v1/evaluate/flags",
        r#"{"context": {"targetingKey": "b-0"}}"#,
        &[("if-none-match", &etag)],
    );
    assert_eq!(other.status(), StatusCode::OK);
    assert_ne!(other.headers()["etag"].to_str().unwrap(), etag);
}

#[test]
fn evaluate_and_assign_answers_are_conditional_too() {
    let edge = edge();
    let body = r#"{"context": {"user_id": "b-2"}}"#;
    for path in ["/v1/evaluate", "/v1/assign"] {
        let first = post(&edge, path, body, &[]);
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = post(&edge, path, body, &[("if-none-match", &etag)]);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[test]
fn ofrep_needs_a_key_like_every_evaluation_route() {
    let edge = edge();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/ofrep/v1/evaluate/flags")
        .body(Bytes::from_static(b"{}"))
        .unwrap();
    let Action::Respond(r) = edge.handle(&request, NOW) else {
        panic!("no forward")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn the_configuration_advertises_polling() {
    let edge = edge();
    let request = Request::builder()
        .method(Method::GET)
        .uri("/ofrep/v1/configuration")
        .header("authorization", format!("Bearer {CLIENT_KEY}"))
        .body(Bytes::new())
        .unwrap();
    let Action::Respond(r) = edge.handle(&request, NOW) else {
        panic!("no forward")
    };
    let body = json_of(&r);
    assert_eq!(body["name"], "vane");
    assert_eq!(
        body["capabilities"]["cacheInvalidation"]["polling"]["enabled"],
        true
    );
}
