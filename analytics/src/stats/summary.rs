//! Sufficient statistics of one variant and the means and variances derived from them, with
//! gbstats' conventions:
//!
//! * the mean of an empty sample is 0;
//! * the variance of a sample of at most one unit is 0;
//! * a count (mean) metric uses the unbiased sample variance
//!   `(Σx² − (Σx)²/n) / (n − 1)`;
//! * a proportion (binomial) metric uses `p (1 − p)` without the `n/(n − 1)` correction.

use serde::Serialize;

use super::StatsError;
use super::cuped::RegressionAdjusted;
use super::ratio::RatioStatistic;

fn finite(field: &str, value: f64) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::invalid(field, "must be a finite number"))
    }
}

/// Per-unit values of a numeric ("count" in gbstats) metric, summarized by `n`, `Σx`, `Σx²`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampleMean {
    n: u64,
    sum: f64,
    sum_squares: f64,
}

impl SampleMean {
    /// Sufficient statistics of a numeric metric. `sum` and `sum_squares` must be finite and
    /// `sum_squares` non-negative.
    pub fn new(n: u64, sum: f64, sum_squares: f64) -> Result<Self, StatsError> {
        let sum = finite("sum", sum)?;
        let sum_squares = finite("sum_squares", sum_squares)?;
        if sum_squares < 0.0 {
            return Err(StatsError::invalid("sum_squares", "must not be negative"));
        }
        if n == 0 && (sum != 0.0 || sum_squares != 0.0) {
            return Err(StatsError::invalid("sum", "must be 0 when n is 0"));
        }
        Ok(Self {
            n,
            sum,
            sum_squares,
        })
    }

    /// Number of units.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Σx.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Σx².
    pub fn sum_squares(&self) -> f64 {
        self.sum_squares
    }

    /// Σx / n, or 0 for an empty sample.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Unbiased sample variance, or 0 for fewer than two units. Can be slightly negative through
    /// rounding when all values are equal; callers treat `<= 0` as "no variance".
    pub fn variance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let n = self.n as f64;
        (self.sum_squares - self.sum.powi(2) / n) / (n - 1.0)
    }
}

/// A binomial metric: `n` units of which `sum` converted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    n: u64,
    sum: f64,
}

impl Proportion {
    /// Sufficient statistics of a binomial metric; requires `0 <= sum <= n`.
    pub fn new(n: u64, sum: f64) -> Result<Self, StatsError> {
        let sum = finite("sum", sum)?;
        if sum < 0.0 || sum > n as f64 {
            return Err(StatsError::invalid(
                "sum",
                "a proportion's sum must lie between 0 and n",
            ));
        }
        Ok(Self { n, sum })
    }

    /// Number of units.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Number of converted units.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// For 0/1 data Σx² = Σx.
    pub fn sum_squares(&self) -> f64 {
        self.sum
    }

    /// Conversion rate, or 0 for an empty sample.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// p (1 − p).
    pub fn variance(&self) -> f64 {
        let p = self.mean();
        p * (1.0 - p)
    }
}

/// The per-unit statistics of one metric component (a metric, a ratio's numerator or
/// denominator, a CUPED covariate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Moments {
    /// A numeric metric.
    Mean(SampleMean),
    /// A binomial metric.
    Proportion(Proportion),
}

impl Moments {
    /// Number of units.
    pub fn n(&self) -> u64 {
        match self {
            Self::Mean(s) => s.n(),
            Self::Proportion(s) => s.n(),
        }
    }

    /// Σx.
    pub fn sum(&self) -> f64 {
        match self {
            Self::Mean(s) => s.sum(),
            Self::Proportion(s) => s.sum(),
        }
    }

    /// Σx² (equal to Σx for a proportion).
    pub fn sum_squares(&self) -> f64 {
        match self {
            Self::Mean(s) => s.sum_squares(),
            Self::Proportion(s) => s.sum_squares(),
        }
    }

    /// Mean per unit.
    pub fn mean(&self) -> f64 {
        match self {
            Self::Mean(s) => s.mean(),
            Self::Proportion(s) => s.mean(),
        }
    }

    /// Variance per unit.
    pub fn variance(&self) -> f64 {
        match self {
            Self::Mean(s) => s.variance(),
            Self::Proportion(s) => s.variance(),
        }
    }

    /// The statistics of two samples pooled into one of `n` units (gbstats'
    /// `create_joint_statistic`); `None` when the kinds differ.
    pub(crate) fn joint(&self, other: &Self, n: u64) -> Option<Self> {
        match (self, other) {
            (Self::Mean(a), Self::Mean(b)) => Some(Self::Mean(SampleMean {
                n,
                sum: a.sum + b.sum,
                sum_squares: a.sum_squares + b.sum_squares,
            })),
            (Self::Proportion(a), Self::Proportion(b)) => Some(Self::Proportion(Proportion {
                n,
                sum: a.sum + b.sum,
            })),
            _ => None,
        }
    }

    fn same_kind(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (Self::Mean(_), Self::Mean(_)) | (Self::Proportion(_), Self::Proportion(_))
        )
    }
}

/// The summary statistic of one variant on one metric, as the tests consume it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// Mean of a numeric metric.
    Mean(SampleMean),
    /// Conversion rate of a binomial metric.
    Proportion(Proportion),
    /// Ratio of two per-unit sums (e.g. revenue per session), delta method.
    Ratio(RatioStatistic),
    /// A metric adjusted with a pre-exposure covariate (CUPED).
    RegressionAdjusted(RegressionAdjusted),
}

impl From<Moments> for Statistic {
    fn from(m: Moments) -> Self {
        match m {
            Moments::Mean(s) => Self::Mean(s),
            Moments::Proportion(s) => Self::Proportion(s),
        }
    }
}

impl Statistic {
    /// Number of units.
    pub fn n(&self) -> u64 {
        match self {
            Self::Mean(s) => s.n(),
            Self::Proportion(s) => s.n(),
            Self::Ratio(s) => s.n(),
            Self::RegressionAdjusted(s) => s.n(),
        }
    }

    /// The point estimate (for CUPED: the adjusted mean).
    pub fn mean(&self) -> f64 {
        match self {
            Self::Mean(s) => s.mean(),
            Self::Proportion(s) => s.mean(),
            Self::Ratio(s) => s.mean(),
            Self::RegressionAdjusted(s) => s.mean(),
        }
    }

    /// The mean without regression adjustment; lifts are relative to this.
    pub fn unadjusted_mean(&self) -> f64 {
        match self {
            Self::RegressionAdjusted(s) => s.unadjusted_mean(),
            other => other.mean(),
        }
    }

    /// Per-unit variance of the statistic (for CUPED: of the adjusted metric).
    pub fn variance(&self) -> f64 {
        match self {
            Self::Mean(s) => s.variance(),
            Self::Proportion(s) => s.variance(),
            Self::Ratio(s) => s.variance(),
            Self::RegressionAdjusted(s) => s.variance(),
        }
    }

    /// √variance, or 0 when the variance is not positive.
    pub fn stddev(&self) -> f64 {
        let v = self.variance();
        if v > 0.0 { v.sqrt() } else { 0.0 }
    }

    /// gbstats treats a variance `<= 0` as "cannot be analysed".
    pub(crate) fn has_zero_variance(&self) -> bool {
        self.variance() <= 0.0
    }

    fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Mean(_), Self::Mean(_)) | (Self::Proportion(_), Self::Proportion(_)) => true,
            (Self::Ratio(a), Self::Ratio(b)) => {
                a.numerator().same_kind(b.numerator()) && a.denominator().same_kind(b.denominator())
            }
            (Self::RegressionAdjusted(a), Self::RegressionAdjusted(b)) => {
                a.post().same_kind(b.post()) && a.pre().same_kind(b.pre())
            }
            _ => false,
        }
    }
}

/// A control and a treatment statistic of the same shape: the input of every test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    control: Statistic,
    treatment: Statistic,
}

impl Pair {
    /// Pair two statistics; they must be of the same kind (and, for ratio and CUPED statistics,
    /// have components of the same kinds).
    pub fn new(control: Statistic, treatment: Statistic) -> Result<Self, StatsError> {
        if !control.same_shape(&treatment) {
            return Err(StatsError::invalid(
                "treatment",
                "control and treatment statistics must be of the same kind",
            ));
        }
        Ok(Self { control, treatment })
    }

    /// The baseline.
    pub fn control(&self) -> &Statistic {
        &self.control
    }

    /// The variant compared with the baseline.
    pub fn treatment(&self) -> &Statistic {
        &self.treatment
    }

    /// The same comparison with the roles of control and treatment exchanged.
    #[must_use]
    pub fn swapped(&self) -> Self {
        Self {
            control: self.treatment,
            treatment: self.control,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_mean_follows_gbstats_conventions() -> Result<(), StatsError> {
        let s = SampleMean::new(4, 10.0, 30.0)?;
        assert_eq!(s.mean(), 2.5);
        assert!((s.variance() - (30.0 - 25.0) / 3.0).abs() < 1e-15);
        assert_eq!(SampleMean::new(1, 3.0, 9.0)?.variance(), 0.0);
        assert_eq!(SampleMean::new(0, 0.0, 0.0)?.mean(), 0.0);
        Ok(())
    }

    #[test]
    fn proportion_variance_has_no_small_sample_correction() -> Result<(), StatsError> {
        let p = Proportion::new(10, 3.0)?;
        assert!((p.variance() - 0.21).abs() < 1e-15);
        assert!(Proportion::new(10, 11.0).is_err());
        assert!(Proportion::new(10, -1.0).is_err());
        Ok(())
    }

    #[test]
    fn non_finite_sums_are_rejected() {
        assert!(SampleMean::new(3, f64::NAN, 1.0).is_err());
        assert!(SampleMean::new(3, 1.0, f64::INFINITY).is_err());
        assert!(SampleMean::new(3, 1.0, -1.0).is_err());
    }

    #[test]
    fn pairs_of_different_kinds_are_rejected() -> Result<(), StatsError> {
        let a = Statistic::Mean(SampleMean::new(3, 1.0, 1.0)?);
        let b = Statistic::Proportion(Proportion::new(3, 1.0)?);
        assert!(Pair::new(a, b).is_err());
        assert!(Pair::new(a, a).is_ok());
        Ok(())
    }
}
