//! The conformance run every edge runtime passes: the shared evaluation vectors in
//! `spec/evaluations/` merged into one sealed snapshot, and one HTTP probe per case. Callers
//! bring the transport (in-process, native server, workerd, wasmtime) and compare answers.

use serde_json::{Map, Value, json};
use vane_engine::Snapshot;
use vane_engine::model::{ApiKeyDigest, KeyKind, sha256_hex};

/// The environment the conformance snapshot is published for.
pub const ENVIRONMENT: &str = "spec";
/// A server key the conformance snapshot accepts (server keys may pass `at`).
pub const SERVER_KEY: &str = "vane_server_conformance";
/// A client key the conformance snapshot accepts.
pub const CLIENT_KEY: &str = "vane_client_conformance";

/// Merges the snapshots of the given evaluation files (their keys do not collide), adds the
/// conformance keys, and seals the result at `version`.
pub fn snapshot(files: &[Value], version: u64) -> Result<Snapshot, String> {
    let mut merged = Map::new();
    for file in files {
        let Some(snapshot) = file["snapshot"].as_object() else {
            return Err("an evaluation file without a snapshot".into());
        };
        for (field, value) in snapshot {
            match (merged.get_mut(field), value) {
                (Some(Value::Array(into)), Value::Array(items)) => {
                    into.extend(items.iter().cloned())
                }
                (None, _) => {
                    merged.insert(field.clone(), value.clone());
                }
                _ => {}
            }
        }
    }
    merged.insert("environment".into(), json!(ENVIRONMENT));
    merged.insert("version".into(), json!(version));
    let mut snapshot: Snapshot =
        serde_json::from_value(Value::Object(merged)).map_err(|e| e.to_string())?;
    snapshot.api_keys = vec![
        ApiKeyDigest {
            sha256: sha256_hex(SERVER_KEY.as_bytes()),
            kind: KeyKind::Server,
        },
        ApiKeyDigest {
            sha256: sha256_hex(CLIENT_KEY.as_bytes()),
            kind: KeyKind::Client,
        },
    ];
    Ok(snapshot.seal())
}

/// One request to an edge and what its answer must contain.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    /// `/v1/evaluate` or `/v1/assign`.
    pub path: &'static str,
    pub body: Value,
    /// Expected fields per flag or experiment key.
    pub expected: Vec<(String, Value)>,
}

/// One probe per case and kind (flags, experiments) of every file.
pub fn probes(files: &[Value]) -> Vec<Probe> {
    let mut out = Vec::new();
    for file in files {
        for case in file["cases"].as_array().into_iter().flatten() {
            let name = case["name"].as_str().unwrap_or("?").to_owned();
            for (field, path, list) in [
                ("flags", "/v1/evaluate", "flags"),
                ("experiments", "/v1/assign", "experiments"),
            ] {
                let Some(expected) = case.get(field).and_then(Value::as_object) else {
                    continue;
                };
                let keys: Vec<&String> = expected.keys().collect();
                out.push(Probe {
                    name: name.clone(),
                    path,
                    body: json!({"context": case["context"], "at": case["at"], list: keys}),
                    expected: expected
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                });
            }
        }
    }
    out
}

/// The mismatches between a probe's expectations and an edge's JSON answer.
pub fn check(probe: &Probe, answer: &Value) -> Vec<String> {
    let (list, key_field) = if probe.path == "/v1/evaluate" {
        ("flags", "key")
    } else {
        ("assignments", "experiment")
    };
    let items = answer[list].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (key, expected) in &probe.expected {
        let Some(item) = items.iter().find(|i| i[key_field].as_str() == Some(key)) else {
            out.push(format!(
                "{}: `{key}` missing from the answer {answer}",
                probe.name
            ));
            continue;
        };
        for (field, want) in expected.as_object().into_iter().flatten() {
            let got = item.get(field).unwrap_or(&Value::Null);
            if got != want {
                out.push(format!(
                    "{}: `{key}`.{field}: expected {want}, got {got}",
                    probe.name
                ));
            }
        }
    }
    out
}
