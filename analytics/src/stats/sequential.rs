//! Sequential testing: asymptotic confidence sequences (Waudby-Smith et al., "Time-uniform
//! central limit theory and asymptotic confidence sequences", arXiv:2103.06476), as gbstats uses
//! them. The interval and p-value stay valid however often the results are looked at.
//!
//! With `N = n_a + n_b` units in total, lift `Δ` with variance `V` (as in the fixed-horizon test),
//! `s² = V·N` and the tuning parameter `η` (gbstats default 5,000, roughly the sample size at
//! which the sequence is tightest):
//!
//! ```text
//! ρ²        = (−2 ln α + ln(1 − 2 ln α)) / η
//! half-width = s · √( 2 (Nρ² + 1) · ln(√(Nρ² + 1) / α) / (Nρ)² )
//! p-value    = min(1, √(Nρ² + 1) · exp(−ρ² N Δ² / (2 V (Nρ² + 1))))
//! ```
//!
//! The p-value is the reciprocal of the mixture e-value; it is computed in log space so that huge
//! effects give 0 rather than overflowing.

use serde::Serialize;

use super::cuped::adjust;
use super::frequentist::{FrequentistResult, check_frequentist};
use super::summary::Pair;
use super::{Alpha, Difference, NotEnoughData, Outcome, StatsError, all_finite, effect};

/// The confidence sequences' tuning parameter η (> 0).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct TuningParameter(f64);

impl TuningParameter {
    /// gbstats' default, 5,000.
    pub const DEFAULT: Self = Self(5000.0);

    /// Parse a tuning parameter; it must be positive and finite.
    pub fn new(value: f64) -> Result<Self, StatsError> {
        if value > 0.0 && value.is_finite() {
            Ok(Self(value))
        } else {
            Err(StatsError::invalid(
                "sequential_tuning_parameter",
                "must be a positive number",
            ))
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for TuningParameter {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Settings of the sequential test.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SequentialConfig {
    /// Significance level.
    pub alpha: Alpha,
    /// Absolute or relative lift.
    pub difference: Difference,
    /// Tuning parameter η.
    pub tuning: TuningParameter,
}

/// ρ of the normal mixture, from α and η.
pub fn rho(alpha: Alpha, tuning: TuningParameter) -> f64 {
    let l = -2.0 * alpha.get().ln();
    ((l + (l + 1.0).ln()) / tuning.get()).sqrt()
}

/// Half-width of the confidence sequence divided by the lift's standard error, for `total_n`
/// units in total. The fixed-horizon equivalent is the normal quantile `z_{1−α/2}`.
pub fn width_multiplier(total_n: f64, alpha: Alpha, tuning: TuningParameter) -> f64 {
    let rho = rho(alpha, tuning);
    let nr2p1 = total_n * rho * rho + 1.0;
    total_n.sqrt()
        * (2.0 * nr2p1 * (nr2p1.sqrt() / alpha.get()).ln() / (total_n * rho).powi(2)).sqrt()
}

/// Always-valid two-sided test of treatment against control.
pub fn sequential_t_test(pair: &Pair, config: &SequentialConfig) -> Outcome<FrequentistResult> {
    let adjusted = adjust(pair);
    if let Some(reason) = check_frequentist(&adjusted) {
        return Outcome::not_enough(reason);
    }
    let e = effect(&adjusted.control, &adjusted.treatment, config.difference);
    let total_n = (adjusted.control.n() + adjusted.treatment.n()) as f64;
    let stddev = e.variance.sqrt();
    let half_width = stddev * width_multiplier(total_n, config.alpha, config.tuning);

    let rho = rho(config.alpha, config.tuning);
    let st2 = e.estimate.powi(2) * total_n / e.variance;
    let tr2p1 = total_n * rho * rho + 1.0;
    let log_p = 0.5 * tr2p1.ln() - rho * rho * st2 / (2.0 * tr2p1);
    let p_value = log_p.min(0.0).exp();

    let result = FrequentistResult {
        expected: e.estimate,
        ci: [e.estimate - half_width, e.estimate + half_width],
        p_value,
        stddev,
        dof: None,
        cuped_theta: adjusted.theta,
    };
    if !all_finite(&[result.expected, result.ci[0], result.ci[1], p_value, stddev]) {
        return Outcome::not_enough(NotEnoughData::NumericalOverflow);
    }
    Outcome::Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::frequentist::{FrequentistConfig, two_sided_t_test};
    use crate::stats::{SampleMean, Statistic};

    #[test]
    fn confidence_sequences_are_wider_than_fixed_intervals() -> Result<(), StatsError> {
        let pair = Pair::new(
            Statistic::Mean(SampleMean::new(3000, 30000.0, 330000.0)?),
            Statistic::Mean(SampleMean::new(3000, 30600.0, 345000.0)?),
        )?;
        let fixed = two_sided_t_test(&pair, &FrequentistConfig::default()).ok();
        let seq = sequential_t_test(&pair, &SequentialConfig::default()).ok();
        let (Some(fixed), Some(seq)) = (fixed, seq) else {
            return Err(StatsError::invalid("test", "expected results"));
        };
        assert!(seq.ci[1] - seq.ci[0] > fixed.ci[1] - fixed.ci[0]);
        assert!(seq.p_value >= fixed.p_value);
        Ok(())
    }

    #[test]
    fn tuning_parameter_must_be_positive() {
        assert!(TuningParameter::new(0.0).is_err());
        assert!(TuningParameter::new(f64::NAN).is_err());
        assert!(TuningParameter::new(5000.0).is_ok());
    }
}
