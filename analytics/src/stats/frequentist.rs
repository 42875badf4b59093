//! Fixed-horizon frequentist test: a two-sided Welch t-test on the absolute or relative lift.
//!
//! The lift is `μ_b − μ_a` (absolute) or `(μ_b − μ_a)/m_a` (relative), with variance
//! `σ²_b/n_b + σ²_a/n_a` or, by the delta method, `σ²_b/(m_a² n_b) + σ²_a m_b²/(m_a⁴ n_a)`
//! (`μ` possibly CUPED-adjusted means, `m` unadjusted means). The test statistic is
//! `(lift − 0) / √variance`; its degrees of freedom are Welch–Satterthwaite's
//!
//! ```text
//! ν = (σ²_b/n_b + σ²_a/n_a)² / (σ⁴_b/(n_b² (n_b − 1)) + σ⁴_a/(n_a² (n_a − 1)))
//! ```
//!
//! computed from the per-unit variances of the statistics (not of the lift). The p-value is
//! `2·P(T_ν > |t|)` and the confidence interval `lift ± t_{ν, 1−α/2} √variance`.

use serde::Serialize;

use super::cuped::{Adjusted, adjust};
use super::dist::{student_t_ppf, student_t_sf};
use super::summary::{Pair, Statistic};
use super::{Alpha, Difference, NotEnoughData, Outcome, all_finite, effect};

/// Settings of the fixed-horizon test.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrequentistConfig {
    /// Significance level; the interval has coverage 1 − α.
    pub alpha: Alpha,
    /// Absolute or relative lift.
    pub difference: Difference,
}

/// A frequentist comparison of treatment with control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrequentistResult {
    /// The estimated lift.
    pub expected: f64,
    /// Lower and upper confidence bounds.
    pub ci: [f64; 2],
    /// Two-sided p-value.
    pub p_value: f64,
    /// Standard error of the lift.
    pub stddev: f64,
    /// Welch–Satterthwaite degrees of freedom (absent for the sequential test).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dof: Option<f64>,
    /// The pooled CUPED coefficient, when a regression adjustment was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped_theta: Option<f64>,
}

/// gbstats' checks before a frequentist test, in its order, plus a guard against fewer than two
/// units (where gbstats divides by zero).
pub(crate) fn check_frequentist(adjusted: &Adjusted) -> Option<NotEnoughData> {
    let (a, b) = (&adjusted.control, &adjusted.treatment);
    if a.mean() == 0.0 || a.unadjusted_mean() == 0.0 {
        return Some(NotEnoughData::ZeroBaseline);
    }
    if a.has_zero_variance() || b.has_zero_variance() {
        return Some(NotEnoughData::ZeroVariance);
    }
    if a.n() < 2 || b.n() < 2 {
        return Some(NotEnoughData::TooFewUnits);
    }
    None
}

/// Welch–Satterthwaite degrees of freedom of two statistics with `n ≥ 2` and positive variance.
pub fn welch_dof(a: &Statistic, b: &Statistic) -> f64 {
    let (va, vb) = (a.variance(), b.variance());
    let (na, nb) = (a.n() as f64, b.n() as f64);
    (vb / nb + va / na).powi(2)
        / (vb.powi(2) / (nb.powi(2) * (nb - 1.0)) + va.powi(2) / (na.powi(2) * (na - 1.0)))
}

/// Two-sided Welch t-test of treatment against control.
pub fn two_sided_t_test(pair: &Pair, config: &FrequentistConfig) -> Outcome<FrequentistResult> {
    let adjusted = adjust(pair);
    if let Some(reason) = check_frequentist(&adjusted) {
        return Outcome::not_enough(reason);
    }
    let e = effect(&adjusted.control, &adjusted.treatment, config.difference);
    let stddev = e.variance.sqrt();
    let dof = welch_dof(&adjusted.control, &adjusted.treatment);
    let t = e.estimate / stddev;
    let p_value = (2.0 * student_t_sf(t.abs(), dof)).min(1.0);
    let half_width = student_t_ppf(1.0 - config.alpha.get() / 2.0, dof) * stddev;
    let result = FrequentistResult {
        expected: e.estimate,
        ci: [e.estimate - half_width, e.estimate + half_width],
        p_value,
        stddev,
        dof: Some(dof),
        cuped_theta: adjusted.theta,
    };
    if !all_finite(&[
        result.expected,
        result.ci[0],
        result.ci[1],
        result.p_value,
        stddev,
        dof,
    ]) {
        return Outcome::not_enough(NotEnoughData::NumericalOverflow);
    }
    Outcome::Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Proportion, SampleMean, StatsError};

    fn means(a: (u64, f64, f64), b: (u64, f64, f64)) -> Result<Pair, StatsError> {
        Pair::new(
            Statistic::Mean(SampleMean::new(a.0, a.1, a.2)?),
            Statistic::Mean(SampleMean::new(b.0, b.1, b.2)?),
        )
    }

    #[test]
    fn relative_lift_matches_a_gbstats_example() -> Result<(), StatsError> {
        // gbstats 0.8.0 TwoSidedTTest(SampleMeanStatistic(n=5000, sum=50000, sum_squares=600000),
        //                             SampleMeanStatistic(n=5000, sum=51500, sum_squares=630000))
        let pair = means((5000, 50000.0, 600000.0), (5000, 51500.0, 630000.0))?;
        let r = two_sided_t_test(&pair, &FrequentistConfig::default())
            .ok()
            .ok_or_else(|| StatsError::invalid("test", "expected a result"))?;
        assert!((r.expected - 0.03).abs() < 1e-12);
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
        assert!(r.ci[0] < r.expected && r.expected < r.ci[1]);
        Ok(())
    }

    #[test]
    fn a_zero_control_mean_is_not_enough_data() -> Result<(), StatsError> {
        let pair = Pair::new(
            Statistic::Proportion(Proportion::new(100, 0.0)?),
            Statistic::Proportion(Proportion::new(100, 3.0)?),
        )?;
        let outcome = two_sided_t_test(&pair, &FrequentistConfig::default());
        assert_eq!(outcome.reason(), Some(NotEnoughData::ZeroBaseline));
        Ok(())
    }

    #[test]
    fn a_single_unit_has_no_variance() -> Result<(), StatsError> {
        let pair = means((1, 3.0, 9.0), (10, 30.0, 100.0))?;
        let outcome = two_sided_t_test(&pair, &FrequentistConfig::default());
        assert_eq!(outcome.reason(), Some(NotEnoughData::ZeroVariance));
        Ok(())
    }
}
