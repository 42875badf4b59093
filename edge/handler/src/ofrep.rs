//! The OpenFeature Remote Evaluation Protocol (OFREP) over the served snapshot:
//! `POST /ofrep/v1/evaluate/flags/{key}`, the bulk `POST /ofrep/v1/evaluate/flags` (with `ETag`
//! and `304 Not Modified`) and `GET /ofrep/v1/configuration`.
//!
//! - The request body is `{"context": {...}}`; `targetingKey` is the unit id: it becomes
//!   `user_id` (the default unit attribute) unless the context already has one, and stays
//!   available to conditions as `targetingKey`.
//! - A key names a flag when the snapshot has one, otherwise an experiment. Experiments are
//!   string flags whose value is the variant key: reason `SPLIT` when the unit was placed by
//!   its bucket, `TARGETING_MATCH` for an override, and, when the unit is not in the
//!   experiment, the first variant's key with reason `DEFAULT` (or `DISABLED` when the
//!   experiment is not running or outside its window) and no variant. Metadata names the
//!   experiment, whether the unit is in it, Vane's own reason, the bucket and the payload.
//! - Flags map Vane's reasons to OpenFeature's: `disabled`/`outside_window` → `DISABLED`,
//!   `rule_match` → `TARGETING_MATCH`, `rollout` → `SPLIT`, the rest → `DEFAULT`. The variant is
//!   the served variation's index.
//! - Errors use the protocol's codes (`PARSE_ERROR`, `INVALID_CONTEXT`,
//!   `TARGETING_KEY_MISSING`, `FLAG_NOT_FOUND`) in an RFC 9457 problem body that also carries
//!   OFREP's `key`, `errorCode` and `errorDetails` members.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use serde_json::{Map, Value, json};
use vane_engine::model::Experiment;
use vane_engine::{AssignReason, Assignment, FlagEvaluation, FlagReason, Timestamp};

use crate::EdgeHandler;
use crate::cache::Loaded;
use crate::http::{EdgeResponse, FieldError, PROBLEM_JSON, body_too_large, json_response};
use crate::limits::MAX_EVAL_BODY_BYTES;

/// The path prefix of single-flag evaluation.
pub const SINGLE_PREFIX: &str = "/ofrep/v1/evaluate/flags/";
/// The bulk evaluation path.
pub const BULK_PATH: &str = "/ofrep/v1/evaluate/flags";
/// The provider configuration path.
pub const CONFIGURATION_PATH: &str = "/ofrep/v1/configuration";

/// The smallest polling interval the configuration endpoint advertises.
const MIN_POLLING_INTERVAL_MS: u64 = 1000;

/// An OFREP error: HTTP status, protocol error code, details, and the field at fault.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    code: &'static str,
    details: String,
    field: &'static str,
}

impl Failure {
    fn parse(details: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "PARSE_ERROR",
            details,
            field: "body",
        }
    }

    fn context(details: impl Into<String>, field: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_CONTEXT",
            details: details.into(),
            field,
        }
    }

    /// A problem+json body with OFREP's members; `key` for single-flag answers.
    fn respond(self, key: Option<&str>) -> EdgeResponse {
        let kind = self.code.to_ascii_lowercase().replace('_', "-");
        let mut body = json!({
            "type": format!("https://vane.dev/problems/ofrep-{kind}"),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": format!("{}: {}", self.field, self.details),
            "errors": [FieldError { field: self.field.to_owned(), message: self.details.clone() }],
            "errorCode": self.code,
            "errorDetails": self.details,
        });
        if let Some(key) = key {
            body["key"] = json!(key);
        }
        let mut response = json_response(self.status, &body);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// The evaluation context of a request body, with `targetingKey` mapped to `user_id`.
fn context(body: &Bytes) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| Failure::parse(e.to_string()))?;
    let Value::Object(mut request) = parsed else {
        return Err(Failure::parse("the body must be a JSON object".into()));
    };
    let mut context = match request.remove("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(context)) => context,
        Some(_) => {
            return Err(Failure::context(
                "must be a JSON object of attributes",
                "context",
            ));
        }
    };
    match context.get("targetingKey") {
        None | Some(Value::Null) => {}
        Some(Value::String(key)) => {
            if !context.contains_key("user_id") {
                let key = key.clone();
                context.insert("user_id".into(), Value::String(key));
            }
        }
        Some(_) => {
            return Err(Failure::context("must be a string", "context.targetingKey"));
        }
    }
    Ok(Value::Object(context))
}

/// OpenFeature's reason for a flag evaluation.
fn flag_reason(reason: &FlagReason<'_>) -> &'static str {
    match reason {
        FlagReason::Disabled | FlagReason::OutsideWindow => "DISABLED",
        FlagReason::RuleMatch { .. } => "TARGETING_MATCH",
        FlagReason::Rollout { .. } => "SPLIT",
        FlagReason::PrerequisiteFailed { .. }
        | FlagReason::InHoldout { .. }
        | FlagReason::Default => "DEFAULT",
        FlagReason::Error { .. } => "ERROR",
    }
}

/// Vane's reason as flat metadata (OFREP metadata values are strings, numbers or booleans).
fn reason_metadata(reason: &Value, metadata: &mut Map<String, Value>) {
    let Some(fields) = reason.as_object() else {
        return;
    };
    for (field, value) in fields {
        let name = match field.as_str() {
            "kind" => "vaneReason".to_owned(),
            other => camel(other),
        };
        match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                metadata.insert(name, value.clone());
            }
            _ => {}
        }
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn flag_success(evaluation: &FlagEvaluation<'_>, version: u64) -> Value {
    let mut metadata = Map::new();
    reason_metadata(&json!(evaluation.reason), &mut metadata);
    metadata.insert("snapshotVersion".into(), json!(version));
    let mut out = json!({
        "key": evaluation.key,
        "value": evaluation.value,
        "reason": flag_reason(&evaluation.reason),
        "metadata": metadata,
    });
    if let Some(variation) = evaluation.variation {
        out["variant"] = json!(variation.to_string());
    }
    out
}

/// An experiment as a flag, or `Err` when the unit has no id to be placed by.
fn experiment_success(
    assignment: &Assignment<'_>,
    experiment: &Experiment,
    version: u64,
) -> Result<Value, Failure> {
    if let AssignReason::MissingUnit { attribute } = assignment.reason {
        return Err(Failure {
            status: StatusCode::BAD_REQUEST,
            code: "TARGETING_KEY_MISSING",
            details: format!(
                "experiment `{}` places units by `{attribute}`: send a targetingKey or `{attribute}`",
                experiment.key
            ),
            field: "context.targetingKey",
        });
    }
    let mut metadata = Map::new();
    metadata.insert("experiment".into(), json!(experiment.key));
    metadata.insert("inExperiment".into(), json!(assignment.in_experiment));
    reason_metadata(&json!(assignment.reason), &mut metadata);
    if let Some(payload) = assignment.payload {
        metadata.insert("payload".into(), json!(payload.to_string()));
    }
    metadata.insert("snapshotVersion".into(), json!(version));
    let reason = match assignment.reason {
        AssignReason::Assigned { .. } => "SPLIT",
        AssignReason::Override => "TARGETING_MATCH",
        AssignReason::NotRunning { .. } | AssignReason::OutsideWindow => "DISABLED",
        _ => "DEFAULT",
    };
    let value = match assignment.variant {
        Some(variant) => variant,
        None => experiment
            .variants
            .first()
            .map(|v| v.key.as_str())
            .unwrap_or_default(),
    };
    let mut out = json!({
        "key": experiment.key,
        "value": value,
        "reason": reason,
        "metadata": metadata,
    });
    if let Some(variant) = assignment.variant {
        out["variant"] = json!(variant);
    }
    Ok(out)
}

fn failure_item(key: &str, failure: Failure) -> Value {
    json!({"key": key, "errorCode": failure.code, "errorDetails": failure.details})
}

/// The flag key of a single-flag path, percent-decoded (providers encode `:` as `%3A`).
pub(crate) fn decode_key(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn too_large(body: &Bytes) -> Option<EdgeResponse> {
    (body.len() > MAX_EVAL_BODY_BYTES)
        .then(|| body_too_large(MAX_EVAL_BODY_BYTES, Some(body.len())))
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
pub(crate) fn single(
    edge: &EdgeHandler,
    loaded: &Loaded,
    raw_key: &str,
    body: &Bytes,
    now: Timestamp,
) -> EdgeResponse {
    edge.counters.evaluate.fetch_add(1, Relaxed);
    let Some(key) = decode_key(raw_key) else {
        return Failure {
            status: StatusCode::BAD_REQUEST,
            code: "PARSE_ERROR",
            details: "the flag key in the path is not valid percent-encoded UTF-8".into(),
            field: "key",
        }
        .respond(Some(raw_key));
    };
    let key = key.as_str();
    if let Some(response) = too_large(body) {
        return response;
    }
    let context = match context(body) {
        Ok(c) => c,
        Err(failure) => return failure.respond(Some(key)),
    };
    let compiled = &loaded.compiled;
    let version = compiled.version();
    let evaluation = compiled.evaluate_flag(key, &context, now);
    if !matches!(evaluation.reason, FlagReason::Error { .. }) {
        return json_response(StatusCode::OK, &flag_success(&evaluation, version));
    }
    let Some(experiment) = compiled.source().experiments.iter().find(|e| e.key == key) else {
        return Failure {
            status: StatusCode::NOT_FOUND,
            code: "FLAG_NOT_FOUND",
            details: format!("no flag or experiment `{key}` in this environment"),
            field: "key",
        }
        .respond(Some(key));
    };
    let assignment = compiled.assign(&experiment.key, &context, now);
    match experiment_success(&assignment, experiment, version) {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(failure) => failure.respond(Some(key)),
    }
}

/// `POST /ofrep/v1/evaluate/flags`: every flag, then every experiment whose key is not also a
/// flag's. The ETag is a hash of the answer, so an unchanged answer is a `304`.
pub(crate) fn bulk(
    edge: &EdgeHandler,
    loaded: &Loaded,
    request: &Request<Bytes>,
    now: Timestamp,
) -> EdgeResponse {
    edge.counters.evaluate.fetch_add(1, Relaxed);
    let body = request.body();
    if let Some(response) = too_large(body) {
        return response;
    }
    let context = match context(body) {
        Ok(c) => c,
        Err(failure) => return failure.respond(None),
    };
    let compiled = &loaded.compiled;
    let version = compiled.version();
    let mut flags: Vec<Value> = compiled
        .evaluate_flags(&context, now)
        .iter()
        .map(|f| flag_success(f, version))
        .collect();
    let assignments = compiled.assign_all(&context, now);
    let flag_keys: HashSet<&str> = compiled.flag_keys().collect();
    for (assignment, experiment) in assignments.iter().zip(&compiled.source().experiments) {
        if flag_keys.contains(experiment.key.as_str()) {
            continue;
        }
        flags.push(
            experiment_success(assignment, experiment, version)
                .unwrap_or_else(|failure| failure_item(&experiment.key, failure)),
        );
    }
    let response = json_response(StatusCode::OK, &json!({ "flags": flags }));
    crate::etag::conditional(request, response)
}

/// `GET /ofrep/v1/configuration`: what providers may rely on.
pub(crate) fn configuration() -> EdgeResponse {
    json_response(
        StatusCode::OK,
        &json!({
            "name": "vane",
            "capabilities": {
                "cacheInvalidation": {
                    "polling": {"enabled": true, "minPollingIntervalMs": MIN_POLLING_INTERVAL_MS}
                },
                "flagEvaluation": {
                    "supportedTypes": ["boolean", "string", "int", "float", "object"]
                }
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_reason_fields_become_camel_case_metadata() {
        assert_eq!(camel("rule_index"), "ruleIndex");
        assert_eq!(camel("bucket"), "bucket");
    }

    #[test]
    fn a_targeting_key_becomes_the_user_id_unless_one_is_given() {
        let c = context(&Bytes::from(r#"{"context":{"targetingKey":"u1"}}"#)).unwrap();
        assert_eq!(c["user_id"], "u1");
        let c = context(&Bytes::from(
            r#"{"context":{"targetingKey":"u1","user_id":"u2"}}"#,
        ))
        .unwrap();
        assert_eq!(c["user_id"], "u2");
        assert_eq!(context(&Bytes::new()).unwrap(), json!({}));
    }

    #[test]
    fn percent_encoded_keys_are_decoded() {
        assert_eq!(decode_key("a%3Ab").as_deref(), Some("a:b"));
        assert_eq!(decode_key("plain-key").as_deref(), Some("plain-key"));
        assert_eq!(decode_key("bad%zz"), None);
        assert_eq!(decode_key("cut%4"), None);
    }

    #[test]
    fn bad_bodies_get_the_protocol_error_codes() {
        assert_eq!(context(&Bytes::from("{")).unwrap_err().code, "PARSE_ERROR");
        assert_eq!(
            context(&Bytes::from(r#"{"context":[1]}"#))
                .unwrap_err()
                .code,
            "INVALID_CONTEXT"
        );
        assert_eq!(
            context(&Bytes::from(r#"{"context":{"targetingKey":7}}"#))
                .unwrap_err()
                .field,
            "context.targetingKey"
        );
    }
}
