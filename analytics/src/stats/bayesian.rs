//! Bayesian effect test with a Gaussian prior on the lift (gbstats' `EffectBayesianABTest`).
//!
//! The data give a normal likelihood for the lift: mean `Δ̂` and variance `V` as in the
//! frequentist test (delta method for relative lifts). With a proper prior `N(μ₀, σ₀²)` the
//! posterior is normal with precision `1/V + 1/σ₀²` and mean
//! `(Δ̂/V + μ₀/σ₀²) / (1/V + 1/σ₀²)`. The improper (flat) prior, the default, leaves the posterior
//! at `N(Δ̂, V)`. From the posterior `N(μ, σ²)`:
//!
//! * chance to win `P(lift > 0) = Φ(μ/σ)` (`P(lift < 0)` for inverse metrics);
//! * the credible interval is the central `1 − α` posterior interval;
//! * risk (expected loss) of shipping control is `E[max(lift, 0)] = Φ(μ/σ)μ + σφ(μ/σ)`, of
//!   shipping the treatment `E[max(−lift, 0)] = σφ(μ/σ) − Φ(−μ/σ)μ` (swapped for inverse
//!   metrics).
//!
//! A prior stated on one scale is rescaled to the other with the control mean `m_a`: relative to
//! absolute multiplies the mean by `|m_a|` and the variance by `m_a²`.

use serde::{Deserialize, Serialize};

use super::cuped::adjust;
use super::dist::{normal_cdf, normal_pdf, normal_ppf};
use super::summary::Pair;
use super::{Alpha, Difference, NotEnoughData, Outcome, StatsError, all_finite, effect};

/// The scale a prior is stated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorScale {
    /// A prior on the relative lift (GrowthBook's default).
    #[default]
    Relative,
    /// A prior on the absolute difference of means.
    Absolute,
}

/// A normal prior on the lift, or the improper flat prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GaussianPrior {
    mean: f64,
    variance: f64,
    proper: bool,
    scale: PriorScale,
}

impl GaussianPrior {
    /// The improper flat prior (gbstats' default): the posterior is the likelihood.
    pub const IMPROPER: Self = Self {
        mean: 0.0,
        variance: 1.0,
        proper: false,
        scale: PriorScale::Relative,
    };

    /// A proper prior `N(mean, stddev²)` on `scale`; `stddev` must be positive and finite.
    pub fn proper(mean: f64, stddev: f64, scale: PriorScale) -> Result<Self, StatsError> {
        if !mean.is_finite() {
            return Err(StatsError::invalid("prior.mean", "must be a finite number"));
        }
        if !(stddev > 0.0 && stddev.is_finite()) {
            return Err(StatsError::invalid(
                "prior.stddev",
                "must be a positive number",
            ));
        }
        Ok(Self {
            mean,
            variance: stddev * stddev,
            proper: true,
            scale,
        })
    }

    /// Whether the prior is proper (informative).
    pub fn is_proper(&self) -> bool {
        self.proper
    }

    /// The prior's mean and variance on the scale of `difference`, given the control mean.
    fn rescaled(&self, difference: Difference, control_mean: f64) -> (f64, f64) {
        match (difference, self.scale) {
            (Difference::Relative, PriorScale::Absolute) => (
                self.mean / control_mean.abs(),
                self.variance / control_mean.powi(2),
            ),
            (Difference::Absolute, PriorScale::Relative) => (
                self.mean * control_mean.abs(),
                self.variance * control_mean.powi(2),
            ),
            _ => (self.mean, self.variance),
        }
    }
}

impl Default for GaussianPrior {
    fn default() -> Self {
        Self::IMPROPER
    }
}

/// Settings of the Bayesian test.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BayesianConfig {
    /// 1 − α is the credible interval's mass.
    pub alpha: Alpha,
    /// Absolute or relative lift.
    pub difference: Difference,
    /// True when smaller is better (e.g. page load time).
    pub inverse: bool,
    /// Prior on the lift.
    pub prior: GaussianPrior,
}

/// A Bayesian comparison of treatment with control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BayesianResult {
    /// Posterior mean of the lift.
    pub expected: f64,
    /// Central credible interval.
    pub ci: [f64; 2],
    /// Posterior standard deviation of the lift.
    pub stddev: f64,
    /// Posterior probability that the treatment is better than control.
    pub chance_to_win: f64,
    /// Expected loss of choosing control, then of choosing the treatment.
    pub risk: [f64; 2],
    /// The pooled CUPED coefficient, when a regression adjustment was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped_theta: Option<f64>,
}

/// Expected loss `[of shipping control, of shipping treatment]` under a `N(mu, sigma²)`
/// posterior for the lift.
pub fn risk(mu: f64, sigma: f64) -> [f64; 2] {
    let z = mu / sigma;
    let density = sigma * normal_pdf(z);
    [normal_cdf(z) * mu + density, density - normal_cdf(-z) * mu]
}

/// The Gaussian-prior effect test of treatment against control.
pub fn effect_bayesian_test(pair: &Pair, config: &BayesianConfig) -> Outcome<BayesianResult> {
    let adjusted = adjust(pair);
    let (a, b) = (&adjusted.control, &adjusted.treatment);
    let relative = config.difference == Difference::Relative;
    if relative && (a.mean() == 0.0 || a.unadjusted_mean() == 0.0) {
        return Outcome::not_enough(NotEnoughData::ZeroBaseline);
    }
    if a.n() == 0 || b.n() == 0 {
        return Outcome::not_enough(NotEnoughData::NoUnits);
    }
    if a.has_zero_variance() || b.has_zero_variance() {
        return Outcome::not_enough(NotEnoughData::ZeroVariance);
    }
    let e = effect(a, b, config.difference);
    let (prior_mean, prior_variance) = config
        .prior
        .rescaled(config.difference, a.unadjusted_mean());
    let (mu, precision) = if config.prior.proper {
        if !(prior_variance > 0.0 && prior_variance.is_finite()) {
            return Outcome::not_enough(NotEnoughData::DegeneratePrior);
        }
        let precision = 1.0 / e.variance + 1.0 / prior_variance;
        (
            (e.estimate / e.variance + prior_mean / prior_variance) / precision,
            precision,
        )
    } else {
        (e.estimate, 1.0 / e.variance)
    };
    let sigma = (1.0 / precision).sqrt();
    let win = normal_cdf(mu / sigma);
    let alpha = config.alpha.get();
    let mut risk = risk(mu, sigma);
    if config.inverse {
        risk.swap(0, 1);
    }
    let result = BayesianResult {
        expected: mu,
        ci: [
            mu + sigma * normal_ppf(alpha / 2.0),
            mu + sigma * normal_ppf(1.0 - alpha / 2.0),
        ],
        stddev: sigma,
        chance_to_win: if config.inverse { 1.0 - win } else { win },
        risk,
        cuped_theta: adjusted.theta,
    };
    if !all_finite(&[
        mu,
        sigma,
        result.ci[0],
        result.ci[1],
        result.chance_to_win,
        risk[0],
        risk[1],
    ]) {
        return Outcome::not_enough(NotEnoughData::NumericalOverflow);
    }
    Outcome::Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Proportion, Statistic};

    fn pair() -> Result<Pair, StatsError> {
        Pair::new(
            Statistic::Proportion(Proportion::new(2000, 200.0)?),
            Statistic::Proportion(Proportion::new(2000, 240.0)?),
        )
    }

    #[test]
    fn a_better_treatment_is_likely_to_win() -> Result<(), StatsError> {
        let r = effect_bayesian_test(&pair()?, &BayesianConfig::default())
            .ok()
            .ok_or_else(|| StatsError::invalid("test", "expected a result"))?;
        assert!(r.chance_to_win > 0.9);
        assert!((r.expected - 0.2).abs() < 1e-12);
        assert!(r.risk[0] > r.risk[1]);
        Ok(())
    }

    #[test]
    fn a_proper_prior_shrinks_the_lift_towards_its_mean() -> Result<(), StatsError> {
        let config = BayesianConfig {
            prior: GaussianPrior::proper(0.0, 0.05, PriorScale::Relative)?,
            ..BayesianConfig::default()
        };
        let r = effect_bayesian_test(&pair()?, &config)
            .ok()
            .ok_or_else(|| StatsError::invalid("test", "expected a result"))?;
        assert!(r.expected > 0.0 && r.expected < 0.2);
        Ok(())
    }

    #[test]
    fn inverse_metrics_flip_chance_to_win_and_risk() -> Result<(), StatsError> {
        let plain = effect_bayesian_test(&pair()?, &BayesianConfig::default()).ok();
        let config = BayesianConfig {
            inverse: true,
            ..BayesianConfig::default()
        };
        let inverse = effect_bayesian_test(&pair()?, &config).ok();
        let (Some(plain), Some(inverse)) = (plain, inverse) else {
            return Err(StatsError::invalid("test", "expected results"));
        };
        assert!((plain.chance_to_win + inverse.chance_to_win - 1.0).abs() < 1e-12);
        assert_eq!(plain.risk, [inverse.risk[1], inverse.risk[0]]);
        Ok(())
    }
}
