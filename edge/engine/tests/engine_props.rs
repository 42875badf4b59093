//! Statistical and property tests of bucketing and assignment through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use vane_engine::{Snapshot, Timestamp, compile, compile_json, hash};

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

/// Pearson's χ² statistic of observed counts against equal expected counts.
fn chi_square_uniform(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn buckets_are_uniform_over_100k_ids() {
    // 100 bins of 100 buckets; χ² with 99 degrees of freedom exceeds 148.23 with p = 0.001.
    for salt in ["checkout-cta", "layer-7", "holdout-2026", ""] {
        let mut bins = [0u64; 100];
        for i in 0..100_000 {
            bins[(hash::bucket(salt, &format!("user-{i}")) / 100) as usize] += 1;
        }
        let chi2 = chi_square_uniform(&bins);
        assert!(chi2 < 148.23, "salt {salt:?}: χ² = {chi2}");
    }
}

fn experiment(key: &str, salt: &str, coverage: f64, weights: &[f64]) -> Value {
    let variants: Vec<Value> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| json!({"key": format!("v{i}"), "weight": w}))
        .collect();
    json!({"key": key, "status": "running", "salt": salt, "coverage": coverage, "variants": variants})
}

fn snapshot(experiments: Vec<Value>, layers: Vec<Value>) -> vane_engine::CompiledSnapshot {
    let doc = json!({"schema_version": 1, "environment": "t", "version": 1,
                     "experiments": experiments, "layers": layers});
    compile(serde_json::from_value(doc).unwrap()).unwrap()
}

#[test]
fn variant_shares_follow_weights_over_100k_units() {
    let compiled = snapshot(
        vec![experiment("e", "split", 1.0, &[0.2, 0.3, 0.5])],
        vec![],
    );
    let mut counts = [0u64; 3];
    for i in 0..100_000 {
        let a = compiled.assign("e", &json!({"user_id": format!("u{i}")}), NOW);
        counts[a.variation.unwrap()] += 1;
    }
    let expected = [20_000.0, 30_000.0, 50_000.0];
    let chi2: f64 = counts
        .iter()
        .zip(expected)
        .map(|(&c, e)| (c as f64 - e).powi(2) / e)
        .sum();
    // 2 degrees of freedom: 13.82 at p = 0.001.
    assert!(chi2 < 13.82, "counts {counts:?}, χ² = {chi2}");
}

#[test]
fn two_experiments_assign_independently() {
    let compiled = snapshot(
        vec![
            experiment("a", "salt-a", 1.0, &[0.5, 0.5]),
            experiment("b", "salt-b", 1.0, &[0.5, 0.5]),
        ],
        vec![],
    );
    let mut table = [[0f64; 2]; 2];
    let n = 100_000;
    for i in 0..n {
        let ctx = json!({"user_id": format!("u{i}")});
        let a = compiled.assign("a", &ctx, NOW).variation.unwrap();
        let b = compiled.assign("b", &ctx, NOW).variation.unwrap();
        table[a][b] += 1.0;
    }
    let rows = [table[0][0] + table[0][1], table[1][0] + table[1][1]];
    let cols = [table[0][0] + table[1][0], table[0][1] + table[1][1]];
    let mut chi2 = 0.0;
    for (r, row) in table.iter().enumerate() {
        for (c, &observed) in row.iter().enumerate() {
            let expected = rows[r] * cols[c] / f64::from(n);
            chi2 += (observed - expected).powi(2) / expected;
        }
    }
    // 1 degree of freedom: 10.83 at p = 0.001.
    assert!(chi2 < 10.83, "table {table:?}, χ² = {chi2}");
}

fn weights_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(1u32..100, 2..6).prop_map(|raw| {
        let total: u32 = raw.iter().sum();
        raw.iter()
            .map(|&r| f64::from(r) / f64::from(total))
            .collect()
    })
}

proptest! {
    #[test]
    fn a_unit_keeps_its_variant_when_coverage_grows(
        weights in weights_strategy(),
        low in 0.0f64..1.0,
        extra in 0.0f64..1.0,
        units in prop::collection::vec("[a-z0-9-]{1,20}", 1..50),
    ) {
        let high = (low + extra).min(1.0);
        let compiled = snapshot(vec![
            experiment("low", "ramp", low, &weights),
            experiment("high", "ramp", high, &weights),
        ], vec![]);
        for unit in &units {
            let ctx = json!({"user_id": unit});
            let before = compiled.assign("low", &ctx, NOW);
            let after = compiled.assign("high", &ctx, NOW);
            if before.in_experiment {
                prop_assert_eq!(before.variant, after.variant, "unit {} moved", unit);
            }
        }
    }

    #[test]
    fn experiments_in_one_layer_never_share_a_unit(
        cuts in prop::collection::btree_set(1u32..100, 1..6),
        units in prop::collection::vec("[a-z0-9]{1,16}", 1..100),
    ) {
        let mut edges: Vec<f64> = vec![0.0];
        edges.extend(cuts.iter().map(|&c| f64::from(c) / 100.0));
        edges.push(1.0);
        let experiments: Vec<Value> = edges.windows(2).enumerate().map(|(i, w)| {
            let mut e = experiment(&format!("e{i}"), &format!("s{i}"), 1.0, &[0.5, 0.5]);
            e["layer"] = json!({"key": "l", "start": w[0], "end": w[1]});
            e
        }).collect();
        let compiled = snapshot(experiments, vec![json!({"key": "l", "salt": "layer-salt"})]);
        for unit in &units {
            let ctx = json!({"user_id": unit});
            let entered = compiled.assign_all(&ctx, NOW).iter().filter(|a| a.in_experiment).count();
            // The ranges tile [0, 1): every unit is in exactly one experiment.
            prop_assert_eq!(entered, 1, "unit {} entered {} experiments", unit, entered);
        }
    }

    #[test]
    fn compiling_arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = compile_json(&text);
    }

    #[test]
    fn evaluation_never_panics_on_arbitrary_snapshots_and_contexts(
        doc in snapshot_doc(),
        context in json_value(),
        now in any::<i64>(),
    ) {
        let Ok(snapshot) = serde_json::from_value::<Snapshot>(doc) else { return Ok(()) };
        if let Ok(compiled) = compile(snapshot) {
            let now = Timestamp::from_unix_millis(now);
            let all = compiled.evaluate_all(&context, now);
            prop_assert_eq!(all.flags.len(), compiled.flag_keys().count());
            for key in compiled.flag_keys() {
                let _ = compiled.evaluate_flag(key, &context, now);
            }
            let _ = serde_json::to_string(&all);
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-z0-9.$-]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_$]{1,6}|user_id|country|age", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Snapshot documents built from plausible pieces with arbitrary values, so that a good share
/// compile and are evaluated.
fn snapshot_doc() -> impl Strategy<Value = Value> {
    let key = "[a-c]{1,2}";
    let condition = prop_oneof![
        Just(json!({})),
        json_value().prop_map(|v| json!({"country": v})),
        (key, -100i64..100).prop_map(|(k, n)| json!({k: {"$gt": n}})),
        Just(json!({"$or": [{"age": {"$gte": 18}}, {"plan": {"$in": ["pro", 3, null]}}]})),
        Just(json!({"version": {"$vgte": "1.2.3-beta"}, "email": {"$regex": "@x\\.com$"}})),
    ];
    let rule = (condition.clone(), 0usize..3, prop::option::of((0.0f64..1.2, 0.0f64..1.0)))
        .prop_map(|(c, v, rollout)| match rollout {
            None => json!({"condition": c, "serve": {"variation": v}}),
            Some((cov, w)) => json!({"condition": c, "serve": {"rollout": {"weights": [w, 1.0 - w], "coverage": cov}}}),
        });
    let flag = (key, prop::collection::vec(rule, 0..3), any::<bool>(), prop::option::of(key))
        .prop_map(|(k, rules, enabled, pre)| {
            let mut f = json!({"key": k, "type": "json", "variations": [false, {"a": 1}], "enabled": enabled,
                               "off_variation": 0, "default_variation": 1, "rules": rules});
            if let Some(p) = pre {
                f["prerequisites"] = json!([{"flag": p, "condition": {"value": {"$exists": true}}}]);
            }
            f
        });
    let exp = (key, 0.0f64..1.0, prop::option::of(condition), prop::option::of((0.0f64..0.5, 0.5f64..1.0)), prop::bool::ANY)
        .prop_map(|(k, cov, c, slot, held)| {
            let mut e = json!({"key": k, "status": "running", "salt": k, "coverage": cov,
                               "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
                               "overrides": {"u1": "b"}});
            if let Some(c) = c { e["condition"] = c; }
            if let Some((s, end)) = slot { e["layer"] = json!({"key": "l", "start": s, "end": end}); }
            if held { e["holdouts"] = json!(["h"]); }
            e
        });
    (prop::collection::vec(flag, 0..5), prop::collection::vec(exp, 0..5)).prop_map(|(flags, experiments)| {
        json!({"schema_version": 1, "environment": "p", "version": 1, "flags": flags, "experiments": experiments,
               "layers": [{"key": "l", "salt": "ls"}], "holdouts": [{"key": "h", "salt": "hs", "share": 0.3}],
               "segments": [{"key": "ids", "id_list": {"attribute": "user_id", "ids": ["u1", "u2"]}}]})
    })
}

proptest! {
    #[test]
    fn a_sealed_snapshot_survives_a_json_round_trip_whatever_its_floats(
        split in 0.0f64..1.0,
        coverage in 0.0f64..=1.0,
    ) {
        let mut e = experiment("e", "s", coverage, &[split, 1.0 - split]);
        e["variants"][0]["payload"] = json!({"ratio": split / 3.0});
        let doc = json!({"schema_version": 1, "environment": "t", "version": 1, "experiments": [e]});
        let snapshot: Snapshot = serde_json::from_value(doc).unwrap();
        let text = serde_json::to_string(&snapshot.seal()).unwrap();
        // The edge parses the published text and checks the hash against its own serialization.
        prop_assert!(compile_json(&text).is_ok(), "{}", text);
    }
}
