//! Writes the fixtures of the HTTP load benchmark (scripts/bench-edge.sh) into a directory:
//! a KV store with the 1,000-flag / 200-experiment snapshot for `vane edge`, the same flags as an
//! Unleash client-features file for Unleash Edge, and one request body per engine.
//!
//! Usage: cargo run --release -p vane-bench --example http_fixtures -- DIR CLIENT_KEY

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::json;
use vane_bench::{GenSpec, generate_snapshot, sample_context, unleash};
use vane_engine::model::{ApiKeyDigest, KeyKind, sha256_hex};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let key = args.next().expect("CLIENT_KEY");
    let mut snapshot = generate_snapshot(&GenSpec::ISSUE);
    snapshot.content_hash = None;
    snapshot.api_keys = vec![ApiKeyDigest {
        sha256: sha256_hex(key.as_bytes()),
        kind: KeyKind::Client,
    }];
    let snapshot = snapshot.seal();
    let kv = dir.join("kv/vane/bench");
    std::fs::create_dir_all(kv.join("snapshots")).unwrap();
    std::fs::write(
        kv.join("snapshots/1"),
        serde_json::to_vec(&snapshot).unwrap(),
    )
    .unwrap();
    std::fs::write(kv.join("current"), "1").unwrap();
    let features = unleash::client_features(&snapshot, true).unwrap();
    std::fs::write(
        dir.join("unleash-features.json"),
        serde_json::to_vec(&features).unwrap(),
    )
    .unwrap();
    let context = sample_context(7);
    std::fs::write(
        dir.join("assign.json"),
        serde_json::to_vec(&json!({"context": context})).unwrap(),
    )
    .unwrap();
    let unleash_context = unleash::context(&context, vane_bench::NOW);
    std::fs::write(
        dir.join("unleash-context.json"),
        serde_json::to_vec(&unleash_context).unwrap(),
    )
    .unwrap();
    println!(
        "wrote {} flags and {} experiments to {}",
        snapshot.flags.len(),
        snapshot.experiments.len(),
        dir.display()
    );
}
