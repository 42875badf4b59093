//! Ratio metrics (numerator and denominator both summed per unit, e.g. revenue per session) and
//! their variance by the delta method.
//!
//! With per-unit means `m̄`, `d̄`, variances `σ²_m`, `σ²_d` and covariance `σ_md`, the ratio
//! `R = Σm / Σd` has per-unit variance
//!
//! ```text
//! σ²_R = σ²_m / d̄² − 2 σ_md m̄ / d̄³ + m̄² σ²_d / d̄⁴
//! ```
//!
//! which is the first-order Taylor expansion of `m̄ / d̄` around the true means.

use serde::Serialize;

use super::StatsError;
use super::summary::Moments;

/// A ratio metric for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioStatistic {
    n: u64,
    numerator: Moments,
    denominator: Moments,
    sum_of_products: f64,
}

impl RatioStatistic {
    /// `n` units with per-unit numerator and denominator statistics and `Σ m·d`.
    pub fn new(
        n: u64,
        numerator: Moments,
        denominator: Moments,
        sum_of_products: f64,
    ) -> Result<Self, StatsError> {
        if !sum_of_products.is_finite() {
            return Err(StatsError::invalid(
                "denominator.sum_of_products",
                "must be a finite number",
            ));
        }
        Ok(Self {
            n,
            numerator,
            denominator,
            sum_of_products,
        })
    }

    /// Number of units.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Per-unit numerator statistics.
    pub fn numerator(&self) -> &Moments {
        &self.numerator
    }

    /// Per-unit denominator statistics.
    pub fn denominator(&self) -> &Moments {
        &self.denominator
    }

    /// Σm / Σd, or 0 when the denominator sums to zero.
    pub fn mean(&self) -> f64 {
        let d = self.denominator.sum();
        if d == 0.0 {
            0.0
        } else {
            self.numerator.sum() / d
        }
    }

    /// Sample covariance of numerator and denominator, or 0 for fewer than two units.
    pub fn covariance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let n = self.n as f64;
        (self.sum_of_products - self.numerator.sum() * self.denominator.sum() / n) / (n - 1.0)
    }

    /// Delta-method variance of the ratio; 0 when the denominator mean is 0 or n ≤ 1.
    pub fn variance(&self) -> f64 {
        let d_mean = self.denominator.mean();
        if d_mean == 0.0 || self.n <= 1 {
            return 0.0;
        }
        let m_mean = self.numerator.mean();
        self.numerator.variance() / d_mean.powi(2)
            - 2.0 * self.covariance() * m_mean / d_mean.powi(3)
            + m_mean.powi(2) * self.denominator.variance() / d_mean.powi(4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summary::SampleMean;

    #[test]
    fn ratio_of_independent_parts_has_the_textbook_delta_variance() -> Result<(), StatsError> {
        // numerator values 1,2,3,4 ; denominator values 2,2,2,2 (no variance, no covariance)
        let m = Moments::Mean(SampleMean::new(4, 10.0, 30.0)?);
        let d = Moments::Mean(SampleMean::new(4, 8.0, 16.0)?);
        let r = RatioStatistic::new(4, m, d, 20.0)?;
        assert_eq!(r.mean(), 1.25);
        assert!(r.covariance().abs() < 1e-15);
        // σ²_m / d̄² = (5/3) / 4
        assert!((r.variance() - 5.0 / 12.0).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn zero_denominator_gives_zero_mean_and_variance() -> Result<(), StatsError> {
        let m = Moments::Mean(SampleMean::new(3, 1.0, 1.0)?);
        let d = Moments::Mean(SampleMean::new(3, 0.0, 0.0)?);
        let r = RatioStatistic::new(3, m, d, 0.0)?;
        assert_eq!(r.mean(), 0.0);
        assert_eq!(r.variance(), 0.0);
        Ok(())
    }
}
