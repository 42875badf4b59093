//! Helpers shared by the sync tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use vane_engine::Snapshot;

/// A sealed snapshot of `environment` at `version` whose one flag serves `value`.
pub fn snapshot(environment: &str, version: u64, value: &str) -> Vec<u8> {
    let doc = json!({
        "schema_version": 1, "environment": environment, "version": version,
        "published_at": "2026-11-24T12:00:00Z",
        "flags": [{"key": "banner", "type": "string", "variations": [value], "enabled": true,
                   "off_variation": 0, "default_variation": 0}],
        "api_keys": [{"sha256": vane_engine::model::sha256_hex(b"client-key"), "kind": "client"}]
    });
    let snapshot: Snapshot = serde_json::from_value(doc).unwrap();
    serde_json::to_vec(&snapshot.seal()).unwrap()
}
