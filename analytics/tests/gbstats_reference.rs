//! Compares the statistics engine with the reference outputs in `tests/gbstats/reference.json`,
//! written by `tests/gbstats/generate.py` (gbstats 0.8.0 for tests and SRM; SciPy for the
//! distribution functions gbstats calls; independent Python implementations for the corrections
//! and the power calculator, which gbstats 0.8.0 lacks). Regenerate with
//! `scripts/gbstats-reference.sh`.
//!
//! Tolerance: a number `x` matches the reference `r` when `|x − r| ≤ 1e-6 · max(1, |r|)`, i.e. an
//! absolute tolerance of 1e-6 for references of magnitude at most 1 and a relative tolerance of
//! 1e-6 above. Every mismatch is listed before the test fails.

use serde_json::Value;
use vane_analytics::stats::dist;
use vane_analytics::stats::power::{PowerInputs, TargetPower};
use vane_analytics::stats::{
    Alpha, BayesianConfig, Correction, Difference, FrequentistConfig, GaussianPrior, Moments,
    NotEnoughData, Outcome, Pair, Proportion, RatioStatistic, RegressionAdjusted, SampleMean,
    SequentialConfig, Statistic, StatsError, TuningParameter, adjust, adjust_p_values,
    bayesian::PriorScale, effect_bayesian_test, sequential_t_test, srm_test, two_sided_t_test,
};

const TOLERANCE: f64 = 1e-6;
const REFERENCE: &str = include_str!("gbstats/reference.json");

#[derive(Default)]
struct Report {
    kind: String,
    max_by_kind: std::collections::BTreeMap<String, f64>,
    compared: usize,
    max_deviation: f64,
    max_at: String,
    mismatches: Vec<String>,
}

impl Report {
    fn number(&mut self, case: &str, field: &str, got: f64, want: &Value) {
        let Some(want) = want.as_f64() else {
            self.mismatches.push(format!(
                "{case}: {field}: reference is not a finite number: {want}"
            ));
            return;
        };
        self.compared += 1;
        let deviation = (got - want).abs() / want.abs().max(1.0);
        if deviation.is_nan() || deviation > TOLERANCE {
            self.mismatches
                .push(format!("{case}: {field}: vane {got:e} vs gbstats {want:e}"));
        }
        let kind_max = self.max_by_kind.entry(self.kind.clone()).or_default();
        *kind_max = kind_max.max(deviation);
        if deviation > self.max_deviation || deviation.is_nan() {
            self.max_deviation = deviation;
            self.max_at = format!("{case}: {field}");
        }
    }

    fn fail(&mut self, case: &str, message: String) {
        self.mismatches.push(format!("{case}: {message}"));
    }
}

fn f(v: &Value, key: &str) -> Result<f64, StatsError> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| StatsError::invalid(key, "missing number in reference case"))
}

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, StatsError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| StatsError::invalid(key, "missing string in reference case"))
}

fn n(v: &Value) -> Result<u64, StatsError> {
    v.get("n")
        .and_then(Value::as_u64)
        .ok_or_else(|| StatsError::invalid("n", "missing count in reference case"))
}

fn component(kind: &str, n: u64, part: &Value) -> Result<Moments, StatsError> {
    Ok(match kind {
        "proportion" => Moments::Proportion(Proportion::new(n, f(part, "sum")?)?),
        _ => Moments::Mean(SampleMean::new(
            n,
            f(part, "sum")?,
            f(part, "sum_squares")?,
        )?),
    })
}

fn statistic(metric: &Value, v: &Value) -> Result<Statistic, StatsError> {
    let units = n(v)?;
    let kind = s(metric, "type")?;
    if kind == "ratio" {
        let d = &v["denominator"];
        return Ok(Statistic::Ratio(RatioStatistic::new(
            units,
            component(s(metric, "numerator_type")?, units, v)?,
            component(s(metric, "denominator_type")?, units, d)?,
            f(d, "sum_of_products")?,
        )?));
    }
    let main = component(kind, units, v)?;
    match v.get("covariate") {
        None => Ok(main.into()),
        Some(c) => Ok(Statistic::RegressionAdjusted(RegressionAdjusted::new(
            units,
            main,
            component(s(metric, "covariate_type")?, units, c)?,
            f(c, "sum_of_products")?,
        )?)),
    }
}

fn reason_name(reason: NotEnoughData) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Runs one gbstats test case; returns the outcome as JSON-like pieces for comparison.
fn run_test_case(case: &Value, id: &str, report: &mut Report) -> Result<(), StatsError> {
    let metric = &case["metric"];
    let pair = Pair::new(
        statistic(metric, &case["control"])?,
        statistic(metric, &case["treatment"])?,
    )?;
    let alpha = Alpha::new(f(case, "alpha")?)?;
    let difference = match s(case, "difference")? {
        "absolute" => Difference::Absolute,
        _ => Difference::Relative,
    };
    let method = s(case, "method")?;
    let (outcome, extra): (Outcome<Value>, Vec<(&str, f64)>) = match method {
        "frequentist" => {
            let o = two_sided_t_test(&pair, &FrequentistConfig { alpha, difference });
            let extra = o
                .ok()
                .map(|r| r.dof.into_iter().map(|d| ("dof", d)).collect());
            (to_value(o)?, extra.unwrap_or_default())
        }
        "sequential" => {
            let tuning = TuningParameter::new(f(case, "tuning")?)?;
            let config = SequentialConfig {
                alpha,
                difference,
                tuning,
            };
            (to_value(sequential_t_test(&pair, &config))?, Vec::new())
        }
        _ => {
            let p = &case["prior"];
            let scale = match s(p, "scale")? {
                "absolute" => PriorScale::Absolute,
                _ => PriorScale::Relative,
            };
            let prior = if p["proper"].as_bool() == Some(true) {
                GaussianPrior::proper(f(p, "mean")?, f(p, "stddev")?, scale)?
            } else {
                GaussianPrior::IMPROPER
            };
            let config = BayesianConfig {
                alpha,
                difference,
                inverse: case["inverse"].as_bool() == Some(true),
                prior,
            };
            (to_value(effect_bayesian_test(&pair, &config))?, Vec::new())
        }
    };
    let expected = &case["expected"];
    if expected.get("gbstats_error").is_some() {
        // gbstats raises here (a division by zero); vane must answer without NaN or panic.
        if let Outcome::Ok(v) = &outcome
            && v.to_string().contains("null")
        {
            report.fail(id, format!("non-finite result where gbstats fails: {v}"));
        }
        return Ok(());
    }
    if let Some(want) = expected.get("not_enough_data").and_then(Value::as_str) {
        match outcome.reason() {
            Some(reason) if reason_name(reason) == want => {}
            other => report.fail(
                id,
                format!("expected not_enough_data {want}, got {other:?}"),
            ),
        }
        return Ok(());
    }
    let Outcome::Ok(got) = outcome else {
        report.fail(
            id,
            format!("gbstats computed a result, vane: {:?}", outcome.reason()),
        );
        return Ok(());
    };
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    report.number(id, "expected", num(&got["expected"]), &expected["expected"]);
    report.number(id, "ci[0]", num(&got["ci"][0]), &expected["ci"][0]);
    report.number(id, "ci[1]", num(&got["ci"][1]), &expected["ci"][1]);
    report.number(id, "stddev", num(&got["stddev"]), &expected["stddev"]);
    if method == "bayesian" {
        let ctw = num(&got["chance_to_win"]);
        report.number(id, "chance_to_win", ctw, &expected["chance_to_win"]);
        report.number(id, "risk[0]", num(&got["risk"][0]), &expected["risk"][0]);
        report.number(id, "risk[1]", num(&got["risk"][1]), &expected["risk"][1]);
    } else {
        report.number(id, "p_value", num(&got["p_value"]), &expected["p_value"]);
    }
    for (field, value) in extra {
        report.number(id, field, value, &expected[field]);
    }
    let adjusted = adjust(&pair);
    match (adjusted.theta, expected.get("theta")) {
        (Some(theta), Some(want)) => report.number(id, "theta", theta, want),
        (None, None) => {}
        (got, want) => report.fail(id, format!("theta: vane {got:?} vs gbstats {want:?}")),
    }
    let sides = [
        ("control", &adjusted.control),
        ("treatment", &adjusted.treatment),
    ];
    for (side, stat) in sides {
        let mean_key = format!("{side}_mean");
        let variance_key = format!("{side}_variance");
        report.number(id, &mean_key, stat.mean(), &expected[&mean_key]);
        report.number(id, &variance_key, stat.variance(), &expected[&variance_key]);
    }
    Ok(())
}

fn to_value<T: serde::Serialize>(outcome: Outcome<T>) -> Result<Outcome<Value>, StatsError> {
    Ok(match outcome {
        Outcome::Ok(r) => Outcome::Ok(serde_json::to_value(r)?),
        Outcome::NotEnoughData { reason } => Outcome::NotEnoughData { reason },
    })
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn run_case(case: &Value, report: &mut Report) -> Result<(), StatsError> {
    let id = s(case, "id")?.to_owned();
    let expected = &case["expected"];
    match s(case, "kind")? {
        "test" => run_test_case(case, &id, report)?,
        "srm" => {
            let users: Vec<u64> = case["users"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let srm = srm_test(&users, &floats(&case["weights"]))?;
            report.number(&id, "p_value", srm.p_value, &expected["p_value"]);
        }
        "correction" => {
            let method = match s(case, "method")? {
                "holm_bonferroni" => Correction::HolmBonferroni,
                _ => Correction::BenjaminiHochberg,
            };
            let got = adjust_p_values(&floats(&case["p_values"]), method)?;
            let want = expected["adjusted"].as_array().cloned().unwrap_or_default();
            if got.len() != want.len() {
                report.fail(
                    &id,
                    format!("{} adjusted values, expected {}", got.len(), want.len()),
                );
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                report.number(&id, &format!("adjusted[{i}]"), *g, w);
            }
        }
        "power" => {
            let tuning = case["tuning"]
                .as_f64()
                .map(TuningParameter::new)
                .transpose()?;
            let inputs = PowerInputs::new(
                f(case, "mean")?,
                f(case, "variance")?,
                Alpha::new(f(case, "alpha")?)?,
                tuning,
            )?;
            let units = case["n_per_variation"].as_u64().unwrap_or(0);
            let effect = f(case, "effect")?;
            let target = TargetPower::new(f(case, "target_power")?)?;
            report.number(
                &id,
                "power",
                inputs.power(units, effect),
                &expected["power"],
            );
            match (
                inputs.minimum_detectable_effect(units, target),
                &expected["mde"],
            ) {
                (Some(mde), want @ Value::Number(_)) => report.number(&id, "mde", mde, want),
                (None, Value::Null) => {}
                (got, want) => report.fail(&id, format!("mde: vane {got:?} vs reference {want}")),
            }
            let got = inputs.sample_size(effect, target);
            let want = expected["sample_size"].as_u64();
            if got != want {
                report.fail(
                    &id,
                    format!("sample size: vane {got:?} vs reference {want:?}"),
                );
            }
        }
        "distribution" => {
            let x = f(case, "x")?;
            let dof = case["dof"].as_f64().unwrap_or(f64::NAN);
            let got = match s(case, "function")? {
                "t_ppf" => dist::student_t_ppf(x, dof),
                "t_sf" => dist::student_t_sf(x, dof),
                "norm_ppf" => dist::normal_ppf(x),
                _ => dist::chi_squared_sf(x, dof),
            };
            report.number(&id, "value", got, &expected["value"]);
        }
        other => report.fail(&id, format!("unknown case kind {other}")),
    }
    Ok(())
}

#[test]
fn every_number_matches_the_gbstats_reference_to_one_in_a_million() -> Result<(), StatsError> {
    let reference: Value = serde_json::from_str(REFERENCE)?;
    let cases = reference["cases"].as_array().cloned().unwrap_or_default();
    assert!(cases.len() >= 1000, "reference file looks truncated");
    let mut report = Report::default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for case in &cases {
        report.kind = s(case, "kind")?.to_owned();
        *counts.entry(report.kind.clone()).or_default() += 1;
        if let Err(e) = run_case(case, &mut report) {
            report.fail(s(case, "id")?, format!("could not run: {e}"));
        }
    }
    println!(
        "{} cases {:?}; {} numbers compared; max deviation {:e} at {}; by kind {:?}",
        cases.len(),
        counts,
        report.compared,
        report.max_deviation,
        report.max_at,
        report.max_by_kind
    );
    assert!(
        report.mismatches.is_empty(),
        "{} mismatches:\n{}",
        report.mismatches.len(),
        report.mismatches.join("\n")
    );
    Ok(())
}
