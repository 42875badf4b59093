//! Runs the shared, language-neutral vectors in `spec/` (see spec/README.md): bucketing,
//! full evaluations and invalid snapshots. The JS and Python SDKs run the same files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use vane_engine::{Snapshot, Timestamp, compile, compile_json, hash};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cases(doc: &Value) -> &Vec<Value> {
    doc["cases"].as_array().expect("a `cases` array")
}

#[test]
fn every_bucket_vector_matches() {
    let doc = read(&spec_dir().join("buckets.json"));
    let mut failures = Vec::new();
    for case in cases(&doc) {
        let salt = case["salt"].as_str().unwrap();
        let unit = case["unit_id"].as_str().unwrap();
        let want_hash: u64 = case["hash"].as_str().unwrap().parse().unwrap();
        let want_bucket = case["bucket"].as_u64().unwrap() as u32;
        let got_hash = hash::hash(salt, unit);
        if got_hash != want_hash || hash::bucket(salt, unit) != want_bucket {
            failures.push(format!("{salt:?}:{unit:?} -> {got_hash}"));
        }
    }
    assert!(cases(&doc).len() >= 100);
    assert!(failures.is_empty(), "bucket mismatches: {failures:#?}");
}

/// Compares the fields named in `expected` with the same fields of `actual`.
fn mismatches(name: &str, what: &str, key: &str, expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (field, want) in expected.as_object().expect("an expectation object") {
        let got = actual.get(field).unwrap_or(&Value::Null);
        if got != want {
            out.push(format!(
                "{name}: {what} `{key}`.{field}: expected {want}, got {got}"
            ));
        }
    }
    // A payload that is not expected must not be there.
    if what == "experiment" && expected.get("payload").is_none() && actual.get("payload").is_some()
    {
        out.push(format!(
            "{name}: experiment `{key}` has an unexpected payload"
        ));
    }
    out
}

#[test]
fn every_evaluation_vector_matches() {
    let dir = spec_dir().join("evaluations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "expected evaluation files in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let doc = read(file);
        let snapshot: Snapshot = serde_json::from_value(doc["snapshot"].clone())
            .unwrap_or_else(|e| panic!("{}: snapshot: {e}", file.display()));
        let compiled = compile(snapshot)
            .unwrap_or_else(|e| panic!("{}: snapshot does not compile: {e:#?}", file.display()));
        for case in cases(&doc) {
            count += 1;
            let name = format!(
                "{} / {}",
                file.file_name().unwrap().to_string_lossy(),
                case["name"].as_str().unwrap()
            );
            let at = Timestamp::parse_rfc3339(case["at"].as_str().unwrap()).unwrap();
            let context = &case["context"];
            if let Some(flags) = case.get("flags").and_then(Value::as_object) {
                for (key, want) in flags {
                    let got =
                        serde_json::to_value(compiled.evaluate_flag(key, context, at)).unwrap();
                    failures.extend(mismatches(&name, "flag", key, want, &got));
                    // Evaluating all flags must agree with evaluating one.
                    if let Some(all) = compiled
                        .evaluate_flags(context, at)
                        .into_iter()
                        .find(|f| f.key == key)
                    {
                        let all = serde_json::to_value(all).unwrap();
                        if all != got {
                            failures.push(format!(
                                "{name}: flag `{key}` differs between one and all: {all} vs {got}"
                            ));
                        }
                    }
                }
            }
            if let Some(experiments) = case.get("experiments").and_then(Value::as_object) {
                for (key, want) in experiments {
                    let got = serde_json::to_value(compiled.assign(key, context, at)).unwrap();
                    failures.extend(mismatches(&name, "experiment", key, want, &got));
                }
            }
        }
    }
    assert!(count >= 40, "only {count} evaluation cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_invalid_snapshot_reports_exactly_its_errors() {
    let doc = read(&spec_dir().join("invalid.json"));
    let mut failures = Vec::new();
    for case in cases(&doc) {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_string(&case["snapshot"]).unwrap();
        let errors = match compile_json(&text) {
            Ok(_) => {
                failures.push(format!("{name}: compiled, but should not"));
                continue;
            }
            Err(errors) => errors,
        };
        let mut got: Vec<(String, String)> = errors
            .iter()
            .map(|e| {
                let v = serde_json::to_value(e).unwrap();
                (e.path.clone(), v["code"].as_str().unwrap().to_owned())
            })
            .collect();
        let mut want: Vec<(String, String)> = case["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!(
                "{name}:\n  expected {want:?}\n  got      {got:?}\n  messages {:?}",
                errors.iter().map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
