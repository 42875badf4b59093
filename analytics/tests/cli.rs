//! `vane stats` request/response behaviour, and the examples in `docs/stats.md`: every
//! ```` ```json request ```` block there must produce the ```` ```json response ```` block that
//! follows it.

use serde_json::{Value, json};
use vane_analytics::StatsError;
use vane_analytics::cli::run_stats;

const DOCS: &str = include_str!("../../docs/stats.md");

fn run(request: &Value) -> Result<Value, StatsError> {
    Ok(serde_json::from_str(&run_stats(&request.to_string())?)?)
}

/// Fenced blocks of the docs whose info string is exactly `info`.
fn blocks(info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in DOCS.lines() {
        match &mut current {
            None if line.trim() == format!("```{info}") => current = Some(String::new()),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Structural equality with a relative tolerance on numbers (libm may differ in the last bit
/// across platforms).
fn same(a: &Value, b: &Value, path: &str, diffs: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            if (x - y).abs() > 1e-12 * x.abs().max(y.abs()).max(1.0) {
                diffs.push(format!("{path}: {x} vs {y}"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                same(u, v, &format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            for (k, u) in x {
                match y.get(k) {
                    Some(v) => same(u, v, &format!("{path}.{k}"), diffs),
                    None => diffs.push(format!("{path}.{k}: missing")),
                }
            }
        }
        _ if a == b => {}
        _ => diffs.push(format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn the_documented_examples_produce_the_documented_responses() -> Result<(), StatsError> {
    let requests = blocks("json request");
    let responses = blocks("json response");
    assert!(
        !requests.is_empty(),
        "docs/stats.md has no request examples"
    );
    assert_eq!(requests.len(), responses.len(), "one response per request");
    let mut diffs = Vec::new();
    for (request, response) in requests.iter().zip(&responses) {
        let got: Value = serde_json::from_str(&run_stats(request)?)?;
        let want: Value = serde_json::from_str(response)?;
        same(&got, &want, "$", &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "docs/stats.md is out of date:\n{}",
        diffs.join("\n")
    );
    Ok(())
}

fn two_means(b_sum_squares: Value) -> Value {
    json!({
        "metrics": [{
            "name": "revenue",
            "type": "mean",
            "variants": [
                { "n": 100, "sum": 1000.0, "sum_squares": 12000.0 },
                { "n": 100, "sum": 1100.0, "sum_squares": b_sum_squares }
            ]
        }]
    })
}

#[test]
fn a_missing_field_is_named_with_its_full_path() {
    let mut request = two_means(json!(14000.0));
    request["metrics"][0]["variants"][1]
        .as_object_mut()
        .map(|v| v.remove("sum_squares"));
    let err = run(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("metrics[0].variants[1].sum_squares"), "{err}");
}

#[test]
fn unknown_fields_and_bad_values_are_rejected_with_a_clear_message() {
    let mut request = two_means(json!(14000.0));
    request["metrics"][0]["variants"][0]["sums"] = json!(3);
    let err = run(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown field `sums`"), "{err}");

    let mut request = two_means(json!(14000.0));
    request["alpha"] = json!(1.5);
    let err = run(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("`alpha`"), "{err}");

    let huge = r#"{"metrics": [{"type": "mean", "variants": [
        {"n": 2, "sum": 1, "sum_squares": 1}, {"n": 2, "sum": -1e400, "sum_squares": 1}]}]}"#;
    assert!(run_stats(huge).is_err());

    let err = run(&json!({ "kind": "forecast" }))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown kind"), "{err}");
}

#[test]
fn a_proportion_above_its_units_is_rejected() {
    let request = json!({ "metrics": [{ "type": "proportion", "variants": [
        { "n": 10, "sum": 3 }, { "n": 10, "sum": 11 } ] }] });
    let err = run(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("metrics[0].variants[1].sum"), "{err}");
}

#[test]
fn degenerate_data_reports_not_enough_data_instead_of_numbers() -> Result<(), StatsError> {
    let request = json!({ "metrics": [{ "type": "proportion", "variants": [
        { "n": 100, "sum": 0 }, { "n": 100, "sum": 4 } ] }] });
    let out = run(&request)?;
    let relative = &out["metrics"][0]["variants"][1]["relative"];
    assert_eq!(
        relative,
        &json!({ "status": "not_enough_data", "reason": "zero_baseline" })
    );
    let zero_variance = run(&two_means(json!(12100.0)))?;
    assert_eq!(
        zero_variance["metrics"][0]["variants"][1]["absolute"]["reason"],
        json!("zero_variance")
    );
    Ok(())
}

#[test]
fn a_lopsided_split_is_flagged_as_sample_ratio_mismatch() -> Result<(), StatsError> {
    let request = json!({ "units": [5000, 5400], "metrics": [{ "type": "proportion", "variants": [
        { "n": 5000, "sum": 500 }, { "n": 5400, "sum": 540 } ] }] });
    let out = run(&request)?;
    assert_eq!(out["srm"]["mismatch"], json!(true));
    Ok(())
}

#[test]
fn corrections_add_adjusted_p_values_and_need_a_frequentist_method() -> Result<(), StatsError> {
    let mut request = two_means(json!(14000.0));
    request["correction"] = json!("benjamini_hochberg");
    let out = run(&request)?;
    let comparison = &out["metrics"][0]["variants"][1]["relative"];
    assert_eq!(comparison["p_value_adjusted"], comparison["p_value"]);

    request["method"] = json!("bayesian");
    let err = run(&request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("`correction`"), "{err}");
    Ok(())
}

#[test]
fn each_method_reports_its_own_quantities() -> Result<(), StatsError> {
    let mut request = two_means(json!(14000.0));
    for (method, present, absent) in [
        ("frequentist", "dof", "chance_to_win"),
        ("sequential", "p_value", "dof"),
        ("bayesian", "chance_to_win", "p_value"),
    ] {
        request["method"] = json!(method);
        let out = run(&request)?;
        let comparison = &out["metrics"][0]["variants"][1]["relative"];
        assert!(comparison.get(present).is_some(), "{method}: {comparison}");
        assert!(comparison.get(absent).is_none(), "{method}: {comparison}");
    }
    Ok(())
}

#[test]
fn the_power_calculator_needs_a_sample_size_or_an_effect() -> Result<(), StatsError> {
    let err = run(&json!({ "kind": "power", "metric_type": "proportion", "mean": 0.1 }))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("n_per_variation"), "{err}");
    let out = run(
        &json!({ "kind": "power", "metric_type": "mean", "mean": 1.0, "variance": 100.0,
        "n_per_variation": 3 }),
    )?;
    assert_eq!(
        out["mde"],
        Value::Null,
        "no effect reaches 80% power with 3 units"
    );
    Ok(())
}
