//! What compiles also parses: a snapshot core may publish (it compiles every snapshot first)
//! is never one an edge refuses to read. Before the limits, a flag variation nested 125 levels
//! deep compiled, and every edge refused the snapshot ("recursion limit exceeded").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use vane_engine::limits::{MAX_ID_LIST_IDS, MAX_VALUE_DEPTH};
use vane_engine::{CompileErrorKind, Snapshot, compile, compile_json};

fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |inner, i| {
        if i % 2 == 0 {
            json!([inner])
        } else {
            json!({ "k": inner })
        }
    })
}

fn condition_nested(levels: usize) -> Value {
    // {"$and": [{"$and": [...{"country": "DE"}]}]}: two JSON levels per condition level, plus one.
    (0..levels).fold(
        json!({"country": "DE"}),
        |inner, _| json!({"$and": [inner]}),
    )
}

fn snapshot(variation: Value, condition: Option<Value>) -> Snapshot {
    let mut rule = json!({"serve": {"variation": 1}});
    if let Some(condition) = condition {
        rule["condition"] = condition;
    }
    serde_json::from_value(json!({
        "schema_version": 1, "environment": "production", "version": 1,
        "flags": [{"key": "deep", "type": "json", "variations": [{}, variation],
                   "enabled": true, "off_variation": 0, "default_variation": 0,
                   "rules": [rule]}]
    }))
    .unwrap()
}

/// Compiles `snapshot`; when it compiles, checks that its published form parses again.
fn compiles_and_parses(snapshot: Snapshot) -> Result<(), Vec<vane_engine::CompileError>> {
    let compiled = compile(snapshot.clone())?;
    let published = serde_json::to_string(&snapshot.seal()).unwrap();
    let again = compile_json(&published).expect("a compiled snapshot parses at the edge");
    assert_eq!(again.content_hash(), compiled.content_hash());
    Ok(())
}

#[test]
fn a_variation_at_the_depth_limit_compiles_and_parses() {
    compiles_and_parses(snapshot(nested(MAX_VALUE_DEPTH), None)).unwrap();
}

#[test]
fn a_variation_nested_past_the_limit_is_refused_with_its_path() {
    for levels in [MAX_VALUE_DEPTH + 1, 125, 126] {
        let errors = compiles_and_parses(snapshot(nested(levels), None)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "flags[0].variations[1]");
        assert_eq!(
            errors[0].kind,
            CompileErrorKind::TooDeep {
                max: MAX_VALUE_DEPTH
            }
        );
    }
}

#[test]
fn a_condition_nested_past_the_limit_is_refused_and_one_within_it_parses() {
    compiles_and_parses(snapshot(
        json!(1),
        Some(condition_nested(MAX_VALUE_DEPTH / 2 - 1)),
    ))
    .unwrap();
    let errors = compiles_and_parses(snapshot(json!(1), Some(condition_nested(MAX_VALUE_DEPTH))))
        .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.path == "flags[0].rules[0].condition"
                && matches!(e.kind, CompileErrorKind::TooDeep { .. })),
        "{errors:?}"
    );
}

#[test]
fn an_id_list_over_the_cap_is_refused() {
    let ids: Vec<Value> = (0..=MAX_ID_LIST_IDS)
        .map(|i| json!(format!("u{i}")))
        .collect();
    let snapshot: Snapshot = serde_json::from_value(json!({
        "schema_version": 1, "environment": "production", "version": 1,
        "segments": [{"key": "beta", "id_list": {"attribute": "user_id", "ids": ids}}]
    }))
    .unwrap();
    let errors = compile(snapshot).unwrap_err();
    assert!(
        errors.iter().any(|e| e.path == "segments[0].id_list.ids"),
        "{errors:?}"
    );
}
