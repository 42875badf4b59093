//! Property tests: invariants of the tests, corrections and parsers over generated summary
//! statistics, including degenerate ones (no units, one unit, zero variance, zero means).
//! Strategies build valid values by construction, so `expect` there marks an impossible case.

#![allow(clippy::expect_used)]

use proptest::prelude::*;
use vane_analytics::cli::run_stats;
use vane_analytics::stats::{
    Alpha, BayesianConfig, Correction, Difference, FrequentistConfig, Moments, Outcome, Pair,
    Proportion, RatioStatistic, RegressionAdjusted, SampleMean, SequentialConfig, Statistic,
    adjust_p_values, effect_bayesian_test, sequential_t_test, srm_test, two_sided_t_test,
};

/// Sufficient statistics of `n` values with the given mean and standard deviation.
fn moments(n: u64, mean: f64, sd: f64) -> Moments {
    let (sum, sum_squares) = if n == 0 {
        (0.0, 0.0)
    } else {
        let sum = n as f64 * mean;
        (sum, (n - 1) as f64 * sd * sd + sum * sum / n as f64)
    };
    Moments::Mean(SampleMean::new(n, sum, sum_squares).expect("valid sample mean"))
}

/// One variant's statistic of the given kind: 0 mean, 1 proportion, 2 ratio, 3 CUPED.
fn arm(kind: u8) -> impl Strategy<Value = Statistic> {
    (
        prop_oneof![1 => Just(0_u64), 1 => Just(1_u64), 1 => Just(2_u64), 12 => 2_u64..50_000],
        prop_oneof![1 => Just(0.0), 12 => -100.0..100.0_f64],
        prop_oneof![1 => Just(0.0), 12 => 0.01..50.0_f64],
        0.0..1.0_f64,
        1.0..20.0_f64,
        -0.95..0.95_f64,
    )
        .prop_map(move |(n, mean, sd, rate, denominator, rho)| match kind {
            0 => Statistic::from(moments(n, mean, sd)),
            1 => {
                let conversions = (rate * n as f64).round();
                Statistic::Proportion(Proportion::new(n, conversions).expect("valid proportion"))
            }
            2 => {
                let m = moments(n, mean, sd);
                let d = moments(n, denominator, denominator / 3.0);
                let cov = rho * sd * denominator / 3.0;
                let sp = n.saturating_sub(1) as f64 * cov
                    + if n == 0 {
                        0.0
                    } else {
                        m.sum() * d.sum() / n as f64
                    };
                Statistic::Ratio(RatioStatistic::new(n, m, d, sp).expect("valid ratio"))
            }
            _ => {
                let post = moments(n, mean, sd);
                let pre = moments(n, mean * 0.9, sd * 1.1);
                let cov = rho * sd * sd * 1.1;
                let sp = n.saturating_sub(1) as f64 * cov
                    + if n == 0 {
                        0.0
                    } else {
                        post.sum() * pre.sum() / n as f64
                    };
                Statistic::RegressionAdjusted(
                    RegressionAdjusted::new(n, post, pre, sp).expect("valid CUPED statistic"),
                )
            }
        })
}

fn pair() -> impl Strategy<Value = Pair> {
    (0_u8..4)
        .prop_flat_map(|kind| (arm(kind), arm(kind)))
        .prop_map(|(a, b)| Pair::new(a, b).expect("same kinds"))
}

fn alpha() -> impl Strategy<Value = Alpha> {
    (0.001..0.5_f64).prop_map(|a| Alpha::new(a).expect("valid alpha"))
}

fn difference() -> impl Strategy<Value = Difference> {
    prop_oneof![Just(Difference::Relative), Just(Difference::Absolute)]
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn swapping_control_and_treatment_flips_the_absolute_lift(pair in pair(), alpha in alpha()) {
        let config = FrequentistConfig { alpha, difference: Difference::Absolute };
        let forward = two_sided_t_test(&pair, &config);
        let backward = two_sided_t_test(&pair.swapped(), &config);
        if let (Outcome::Ok(f), Outcome::Ok(b)) = (forward, backward) {
            prop_assert_eq!(f.expected, -b.expected);
            prop_assert!(close(f.p_value, b.p_value));
            prop_assert!(close(f.ci[0], -b.ci[1]) && close(f.ci[1], -b.ci[0]));
        }
        let bayes = BayesianConfig {
            alpha,
            difference: Difference::Absolute,
            ..BayesianConfig::default()
        };
        let forward = effect_bayesian_test(&pair, &bayes);
        let backward = effect_bayesian_test(&pair.swapped(), &bayes);
        if let (Outcome::Ok(f), Outcome::Ok(b)) = (forward, backward) {
            prop_assert_eq!(f.expected, -b.expected);
            prop_assert!(close(f.chance_to_win, 1.0 - b.chance_to_win));
        }
    }

    #[test]
    fn frequentist_results_are_finite_with_p_values_in_range_and_intervals_around_the_estimate(
        pair in pair(), alpha in alpha(), difference in difference(), sequential in any::<bool>()
    ) {
        let outcome = if sequential {
            let config = SequentialConfig { alpha, difference, ..SequentialConfig::default() };
            sequential_t_test(&pair, &config)
        } else {
            two_sided_t_test(&pair, &FrequentistConfig { alpha, difference })
        };
        if let Outcome::Ok(r) = outcome {
            prop_assert!((0.0..=1.0).contains(&r.p_value), "p = {}", r.p_value);
            prop_assert!(r.ci[0] <= r.expected && r.expected <= r.ci[1], "{:?}", r);
            prop_assert!(r.stddev > 0.0 && r.stddev.is_finite());
        }
    }

    #[test]
    fn bayesian_results_are_probabilities_and_non_negative_risks(
        pair in pair(), alpha in alpha(), difference in difference(), inverse in any::<bool>()
    ) {
        let config = BayesianConfig { alpha, difference, inverse, ..BayesianConfig::default() };
        if let Outcome::Ok(r) = effect_bayesian_test(&pair, &config) {
            prop_assert!((0.0..=1.0).contains(&r.chance_to_win));
            prop_assert!(r.risk.iter().all(|x| *x >= -1e-12 * r.stddev));
            prop_assert!(r.ci[0] <= r.expected && r.expected <= r.ci[1]);
        }
    }

    #[test]
    fn corrections_never_lower_p_values_and_stay_at_most_one(
        p in proptest::collection::vec(0.0..=1.0_f64, 0..40)
    ) {
        let holm = adjust_p_values(&p, Correction::HolmBonferroni).map_err(fail)?;
        let bh = adjust_p_values(&p, Correction::BenjaminiHochberg).map_err(fail)?;
        for i in 0..p.len() {
            prop_assert!(holm[i] >= p[i] && holm[i] <= 1.0);
            prop_assert!(bh[i] >= p[i] && bh[i] <= 1.0);
            prop_assert!(bh[i] <= holm[i] + 1e-15);
            for j in 0..p.len() {
                if p[i] <= p[j] {
                    prop_assert!(holm[i] <= holm[j] && bh[i] <= bh[j]);
                }
            }
        }
    }

    #[test]
    fn srm_p_values_are_probabilities(
        units in proptest::collection::vec(0_u64..1_000_000, 2..6),
        raw_weights in proptest::collection::vec(0.01..1.0_f64, 6)
    ) {
        let weights = &raw_weights[..units.len()];
        let r = srm_test(&units, weights).map_err(fail)?;
        prop_assert!((0.0..=1.0).contains(&r.p_value));
        prop_assert_eq!(r.mismatch, r.p_value < 0.001);
    }

    #[test]
    fn parsers_accept_exactly_the_valid_domain(
        n in 0_u64..1000, sum in -1e6..1e6_f64, alpha in -1.0..2.0_f64
    ) {
        prop_assert_eq!(Proportion::new(n, sum).is_ok(), sum >= 0.0 && sum <= n as f64);
        prop_assert_eq!(Alpha::new(alpha).is_ok(), alpha > 0.0 && alpha < 1.0);
        prop_assert!(SampleMean::new(n.max(1), sum, -1.0).is_err());
        prop_assert!(SampleMean::new(n, f64::NAN, 1.0).is_err());
    }

    #[test]
    fn the_calculator_never_emits_nan_or_panics(
        rows in proptest::collection::vec((0_u64..5, -3.0..3.0_f64, 0.0..10.0_f64), 2..4),
        method in prop_oneof![Just("frequentist"), Just("sequential"), Just("bayesian")],
    ) {
        // ss is the within-variant sum of squared deviations.
        let variants: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, mean, ss)| {
                let (sum, sum_squares) = if *n == 0 {
                    (0.0, 0.0)
                } else {
                    (*n as f64 * mean, *ss + *n as f64 * mean * mean)
                };
                serde_json::json!({ "n": n, "sum": sum, "sum_squares": sum_squares })
            })
            .collect();
        let request = serde_json::json!({
            "method": method,
            "metrics": [{ "name": "m", "type": "mean", "variants": variants }]
        });
        let out = run_stats(&request.to_string()).map_err(fail)?;
        prop_assert!(!out.contains("null") && !out.contains("NaN"), "{}", out);
    }
}
