//! Power, minimum detectable effect and sample size of a two-sided test on the relative lift.
//!
//! Planning assumes equal sample sizes `n` per variant and equal per-unit variance `σ²`, with
//! control mean `μ` and a true relative effect `Δ` (so the treatment mean is `μ(1 + Δ)`). The
//! delta-method standard error of the relative lift is then
//!
//! ```text
//! s(Δ, n) = √( σ² (1 + (1 + Δ)²) / (μ² n) )
//! ```
//!
//! and the probability that the two-sided test at level α is significant (in either direction) is
//!
//! ```text
//! power = 1 − Φ(z_{1−α/2} − Δ/s) + Φ(−z_{1−α/2} − Δ/s)
//! ```
//!
//! (normal approximation, as in GrowthBook's documented power analysis). With sequential testing
//! the standard error is inflated by the ratio of the confidence sequence's half-width to the
//! fixed-horizon one at `N = 2n` units, which is conservative. The MDE is the smallest positive
//! `Δ` with the target power at `n`; the sample size is the smallest `n` per variant with the
//! target power for `Δ`. Both are found by bisection (power is increasing in `Δ > 0` and in `n`).

use serde::Serialize;

use super::dist::{normal_cdf, normal_ppf, normal_sf};
use super::sequential::{TuningParameter, width_multiplier};
use super::{Alpha, StatsError};

/// The largest sample size per variant the calculator searches.
pub const MAX_SAMPLE_SIZE: u64 = 1_000_000_000_000;

/// A planned experiment's metric and test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerInputs {
    mean: f64,
    variance: f64,
    alpha: Alpha,
    sequential: Option<TuningParameter>,
}

impl PowerInputs {
    /// Control mean `mean` (non-zero), per-unit `variance` (positive), level `alpha`, and the
    /// sequential tuning parameter when the experiment will use sequential testing.
    pub fn new(
        mean: f64,
        variance: f64,
        alpha: Alpha,
        sequential: Option<TuningParameter>,
    ) -> Result<Self, StatsError> {
        if !(mean.is_finite() && mean != 0.0) {
            return Err(StatsError::invalid(
                "mean",
                "must be a non-zero finite number",
            ));
        }
        if !(variance.is_finite() && variance > 0.0) {
            return Err(StatsError::invalid("variance", "must be a positive number"));
        }
        Ok(Self {
            mean,
            variance,
            alpha,
            sequential,
        })
    }

    fn z(&self) -> f64 {
        normal_ppf(1.0 - self.alpha.get() / 2.0)
    }

    /// Standard error of the relative lift for true effect `effect` and `n` units per variant,
    /// inflated for sequential testing when configured.
    pub fn lift_stddev(&self, n: f64, effect: f64) -> f64 {
        let fixed =
            (self.variance * (1.0 + (1.0 + effect).powi(2)) / (self.mean.powi(2) * n)).sqrt();
        match self.sequential {
            None => fixed,
            Some(tuning) => fixed * width_multiplier(2.0 * n, self.alpha, tuning) / self.z(),
        }
    }

    /// Probability of a significant result with `n` units per variant and true relative effect
    /// `effect`.
    pub fn power(&self, n: u64, effect: f64) -> f64 {
        if n == 0 {
            return self.alpha.get();
        }
        let z = self.z();
        let d = effect / self.lift_stddev(n as f64, effect);
        normal_sf(z - d) + normal_cdf(-z - d)
    }

    /// Smallest positive relative effect detected with probability `target` at `n` units per
    /// variant; `None` when no effect reaches it (power is bounded as Δ grows, since the standard
    /// error grows with Δ too).
    pub fn minimum_detectable_effect(&self, n: u64, target: TargetPower) -> Option<f64> {
        if n == 0 {
            return None;
        }
        let mut lo = 0.0_f64;
        let mut hi = 1.0_f64;
        while self.power(n, hi) < target.get() {
            lo = hi;
            hi *= 2.0;
            if hi > 1e12 {
                return None;
            }
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.power(n, mid) >= target.get() {
                hi = mid;
            } else {
                lo = mid;
            }
            if hi - lo <= 1e-14 * hi {
                break;
            }
        }
        Some(hi)
    }

    /// Smallest number of units per variant for which a true relative effect `effect` (≠ 0) is
    /// detected with probability `target`; `None` beyond [`MAX_SAMPLE_SIZE`].
    pub fn sample_size(&self, effect: f64, target: TargetPower) -> Option<u64> {
        if effect == 0.0 || !effect.is_finite() {
            return None;
        }
        let reached = |n: u64| self.power(n, effect) >= target.get();
        let mut lo = 1_u64;
        let mut hi = 2_u64;
        while !reached(hi) {
            lo = hi;
            hi = hi.checked_mul(2)?;
            if hi > 2 * MAX_SAMPLE_SIZE {
                return None;
            }
        }
        // Invariant: !reached(lo) (or lo == 1), reached(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if reached(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        (hi <= MAX_SAMPLE_SIZE).then_some(hi)
    }
}

/// A target power strictly between 0 and 1 (conventionally 0.8).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct TargetPower(f64);

impl TargetPower {
    /// The conventional 80%.
    pub const DEFAULT: Self = Self(0.8);

    /// Parse a target power; it must lie strictly between 0 and 1.
    pub fn new(value: f64) -> Result<Self, StatsError> {
        if value > 0.0 && value < 1.0 {
            Ok(Self(value))
        } else {
            Err(StatsError::invalid(
                "target_power",
                "must be strictly between 0 and 1",
            ))
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for TargetPower {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Result<PowerInputs, StatsError> {
        // a 10% conversion rate
        PowerInputs::new(0.1, 0.09, Alpha::DEFAULT, None)
    }

    #[test]
    fn power_grows_with_sample_size() -> Result<(), StatsError> {
        let p = inputs()?;
        assert!(p.power(1000, 0.1) < p.power(10_000, 0.1));
        assert!((p.power(0, 0.1) - 0.05).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn sample_size_and_mde_invert_each_other() -> Result<(), StatsError> {
        let p = inputs()?;
        let n = p
            .sample_size(0.1, TargetPower::DEFAULT)
            .ok_or_else(|| StatsError::invalid("n", "unreachable"))?;
        assert!(p.power(n, 0.1) >= 0.8 && p.power(n - 1, 0.1) < 0.8);
        // textbook two-proportion size for 10% -> 11% is ~14,750 per arm
        assert!((14_000..16_000).contains(&n), "{n}");
        let mde = p
            .minimum_detectable_effect(n, TargetPower::DEFAULT)
            .ok_or_else(|| StatsError::invalid("mde", "unreachable"))?;
        assert!(mde <= 0.1 && mde > 0.099, "{mde}");
        Ok(())
    }

    #[test]
    fn sequential_testing_needs_more_units() -> Result<(), StatsError> {
        let fixed = inputs()?;
        let seq = PowerInputs::new(0.1, 0.09, Alpha::DEFAULT, Some(TuningParameter::DEFAULT))?;
        let target = TargetPower::DEFAULT;
        assert!(seq.sample_size(0.1, target) > fixed.sample_size(0.1, target));
        Ok(())
    }

    #[test]
    fn tiny_samples_cannot_reach_high_power_for_any_effect() -> Result<(), StatsError> {
        let p = PowerInputs::new(1.0, 100.0, Alpha::DEFAULT, None)?;
        assert_eq!(p.minimum_detectable_effect(3, TargetPower::DEFAULT), None);
        Ok(())
    }
}
