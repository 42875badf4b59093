//! The statistics engine: pure functions of summary statistics.
//!
//! The formulas follow GrowthBook's `gbstats` 0.8.0 so that the same summary statistics give the
//! same numbers (checked to 1e-6 against the Python package in `tests/gbstats_reference.rs`):
//!
//! * [`summary`]: sufficient statistics (`n`, `Σx`, `Σx²`) and gbstats' mean/variance conventions;
//! * [`ratio`]: ratio metrics by the delta method; [`cuped`]: regression adjustment (CUPED);
//! * [`frequentist`]: two-sided Welch t-test on absolute or relative lift (delta method);
//! * [`sequential`]: always-valid confidence sequences (Waudby-Smith et al.), as gbstats;
//! * [`bayesian`]: the Gaussian-prior effect test (chance to win, credible interval, risk);
//! * [`srm`]: the sample-ratio-mismatch χ² test; [`correction`]: Holm-Bonferroni and
//!   Benjamini-Hochberg adjusted p-values; [`power`]: power, MDE and sample size;
//! * [`experiment`]: every metric × variant of an experiment against its control, corrected.
//!
//! Nothing here does I/O. Inputs are parsed into validated types ([`Alpha`], [`SampleMean`],
//! [`Pair`], ...); degenerate data gives [`Outcome::NotEnoughData`], never NaN or a panic.

pub mod bayesian;
pub mod correction;
pub mod cuped;
pub mod dist;
mod error;
pub mod experiment;
pub mod frequentist;
pub mod power;
pub mod ratio;
pub mod sequential;
pub mod srm;
pub mod summary;

use serde::{Deserialize, Serialize};

pub use bayesian::{BayesianConfig, BayesianResult, GaussianPrior, effect_bayesian_test};
pub use correction::{Correction, adjust_p_values};
pub use cuped::{Adjusted, RegressionAdjusted, adjust};
pub use error::StatsError;
pub use frequentist::{FrequentistConfig, FrequentistResult, two_sided_t_test};
pub use ratio::RatioStatistic;
pub use sequential::{SequentialConfig, TuningParameter, sequential_t_test};
pub use srm::{SRM_THRESHOLD, SrmResult, srm_test};
pub use summary::{Moments, Pair, Proportion, SampleMean, Statistic};

/// Whether lifts are reported as a difference of means or relative to the control mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// (treatment − control) / control.
    #[default]
    Relative,
    /// treatment − control.
    Absolute,
}

/// Why a comparison could not be computed. These mirror gbstats' error messages, plus two
/// cases where gbstats itself would fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotEnoughData {
    /// A variant has no units (gbstats `NO_UNITS_IN_VARIATION`).
    NoUnits,
    /// A variant's statistic has zero or negative variance, e.g. fewer than two units or all
    /// values equal (gbstats `ZERO_NEGATIVE_VARIANCE`).
    ZeroVariance,
    /// The control mean is zero (gbstats `ZERO_NEGATIVE_BASELINE_VARIATION`): no relative lift
    /// exists; gbstats' frequentist test refuses the absolute lift too.
    ZeroBaseline,
    /// A variant has fewer than two units, so the Welch degrees of freedom are undefined.
    TooFewUnits,
    /// The prior's variance becomes zero once rescaled to the absolute scale (zero control mean).
    DegeneratePrior,
    /// The inputs are so large that an intermediate result overflowed.
    NumericalOverflow,
}

/// The result of a comparison: numbers, or the reason there are none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome<T> {
    /// The comparison was computed; every number in it is finite.
    Ok(T),
    /// The data cannot support the comparison.
    NotEnoughData {
        /// Why.
        reason: NotEnoughData,
    },
}

impl<T> Outcome<T> {
    /// The computed result, if any.
    pub fn ok(self) -> Option<T> {
        match self {
            Self::Ok(value) => Some(value),
            Self::NotEnoughData { .. } => None,
        }
    }

    /// The reason there is no result, if so.
    pub fn reason(&self) -> Option<NotEnoughData> {
        match self {
            Self::Ok(_) => None,
            Self::NotEnoughData { reason } => Some(*reason),
        }
    }

    pub(crate) fn not_enough(reason: NotEnoughData) -> Self {
        Self::NotEnoughData { reason }
    }
}

/// A significance level (false-positive rate) strictly between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Alpha(f64);

impl Alpha {
    /// gbstats' default, 0.05.
    pub const DEFAULT: Self = Self(0.05);

    /// Parse a significance level; it must lie strictly between 0 and 1.
    pub fn new(alpha: f64) -> Result<Self, StatsError> {
        if alpha > 0.0 && alpha < 1.0 {
            Ok(Self(alpha))
        } else {
            Err(StatsError::invalid(
                "alpha",
                "must be strictly between 0 and 1",
            ))
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Alpha {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Point estimate and variance of the lift, shared by every test (gbstats'
/// `frequentist_diff` and `frequentist_variance`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Effect {
    pub estimate: f64,
    pub variance: f64,
}

/// The lift of `treatment` over `control` and its variance.
///
/// Absolute: `μ_b − μ_a` with variance `σ²_b/n_b + σ²_a/n_a`. Relative (delta method):
/// `(μ_b − μ_a)/m_a` with variance `σ²_b/(m_a² n_b) + σ²_a m_b²/(m_a⁴ n_a)`, where `μ` are the
/// (possibly CUPED-adjusted) means and `m` the unadjusted means.
pub(crate) fn effect(control: &Statistic, treatment: &Statistic, difference: Difference) -> Effect {
    let (ma, mb) = (control.mean(), treatment.mean());
    let (ua, ub) = (control.unadjusted_mean(), treatment.unadjusted_mean());
    let (va, vb) = (control.variance(), treatment.variance());
    let (na, nb) = (control.n() as f64, treatment.n() as f64);
    match difference {
        Difference::Absolute => Effect {
            estimate: mb - ma,
            variance: vb / nb + va / na,
        },
        Difference::Relative => {
            let base = if ua == 0.0 { ma } else { ua };
            Effect {
                estimate: (mb - ma) / base,
                variance: vb / (ua.powi(2) * nb) + va * ub.powi(2) / (ua.powi(4) * na),
            }
        }
    }
}

/// True when every number is finite; results with non-finite numbers are reported as
/// [`NotEnoughData::NumericalOverflow`] instead.
pub(crate) fn all_finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
}
