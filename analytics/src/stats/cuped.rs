//! CUPED: regression adjustment with a pre-exposure covariate.
//!
//! Each unit's metric `y` is replaced by `y − θ·x`, where `x` is the same unit's covariate
//! (typically the metric measured before exposure). θ is pooled over control and treatment:
//! `θ = cov(y, x) / var(x)` computed on the union of both variants' units, so both variants are
//! adjusted by the same amount and the adjustment cannot bias the comparison. The adjusted
//! variance is `var(y) + θ²·var(x) − 2θ·cov(y, x)`. Lifts stay relative to the *unadjusted*
//! control mean. When the pooled metric or covariate has no variance, θ is 0 and the test falls
//! back to the unadjusted metric.

use serde::Serialize;

use super::StatsError;
use super::summary::{Moments, Pair, Statistic};

/// A metric with its pre-exposure covariate, for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegressionAdjusted {
    n: u64,
    post: Moments,
    pre: Moments,
    sum_of_products: f64,
    theta: f64,
}

impl RegressionAdjusted {
    /// `n` units with the metric (`post`), the covariate (`pre`) and `Σ y·x`. θ starts at 0 and is
    /// set when the statistic is paired (see [`adjust`]).
    pub fn new(
        n: u64,
        post: Moments,
        pre: Moments,
        sum_of_products: f64,
    ) -> Result<Self, StatsError> {
        if !sum_of_products.is_finite() {
            return Err(StatsError::invalid(
                "covariate.sum_of_products",
                "must be a finite number",
            ));
        }
        Ok(Self {
            n,
            post,
            pre,
            sum_of_products,
            theta: 0.0,
        })
    }

    /// The same statistic with adjustment coefficient `theta`.
    #[must_use]
    pub fn with_theta(mut self, theta: f64) -> Self {
        self.theta = theta;
        self
    }

    /// Number of units.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The metric's own statistics.
    pub fn post(&self) -> &Moments {
        &self.post
    }

    /// The covariate's statistics.
    pub fn pre(&self) -> &Moments {
        &self.pre
    }

    /// The adjustment coefficient in use.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// Adjusted mean ȳ − θ x̄.
    pub fn mean(&self) -> f64 {
        self.post.mean() - self.theta * self.pre.mean()
    }

    /// ȳ.
    pub fn unadjusted_mean(&self) -> f64 {
        self.post.mean()
    }

    /// Sample covariance of metric and covariate, 0 for fewer than two units.
    pub fn covariance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let n = self.n as f64;
        (self.sum_of_products - self.post.sum() * self.pre.sum() / n) / (n - 1.0)
    }

    /// Variance of the adjusted metric, 0 for fewer than two units.
    pub fn variance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        self.post.variance() + self.theta.powi(2) * self.pre.variance()
            - 2.0 * self.theta * self.covariance()
    }
}

/// θ pooled over both variants: `cov(y, x) / var(x)` of all units together, or 0 when either the
/// pooled metric or the pooled covariate has zero variance.
pub fn pooled_theta(a: &RegressionAdjusted, b: &RegressionAdjusted) -> f64 {
    let n = a.n + b.n;
    let (Some(post), Some(pre)) = (a.post.joint(&b.post, n), a.pre.joint(&b.pre, n)) else {
        return 0.0;
    };
    if pre.variance() == 0.0 || post.variance() == 0.0 {
        return 0.0;
    }
    let joint = RegressionAdjusted {
        n,
        post,
        pre,
        sum_of_products: a.sum_of_products + b.sum_of_products,
        theta: 0.0,
    };
    joint.covariance() / pre.variance()
}

/// The statistics a test actually compares, after CUPED (if any) has been applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjusted {
    /// Control statistic (θ set, or the unadjusted metric on fallback).
    pub control: Statistic,
    /// Treatment statistic.
    pub treatment: Statistic,
    /// The pooled θ when a regression adjustment is in effect.
    pub theta: Option<f64>,
}

/// Apply CUPED to a pair: set the pooled θ on both sides, or fall back to the unadjusted metric
/// when θ is 0. Pairs of other kinds pass through unchanged.
pub fn adjust(pair: &Pair) -> Adjusted {
    match (pair.control(), pair.treatment()) {
        (Statistic::RegressionAdjusted(a), Statistic::RegressionAdjusted(b)) => {
            let theta = pooled_theta(a, b);
            if theta == 0.0 {
                Adjusted {
                    control: (*a.post()).into(),
                    treatment: (*b.post()).into(),
                    theta: None,
                }
            } else {
                Adjusted {
                    control: Statistic::RegressionAdjusted(a.with_theta(theta)),
                    treatment: Statistic::RegressionAdjusted(b.with_theta(theta)),
                    theta: Some(theta),
                }
            }
        }
        (control, treatment) => Adjusted {
            control: *control,
            treatment: *treatment,
            theta: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summary::SampleMean;

    fn stat(ys: &[f64], xs: &[f64]) -> Result<RegressionAdjusted, StatsError> {
        let n = ys.len() as u64;
        let post = Moments::Mean(SampleMean::new(
            n,
            ys.iter().sum(),
            ys.iter().map(|y| y * y).sum(),
        )?);
        let pre = Moments::Mean(SampleMean::new(
            n,
            xs.iter().sum(),
            xs.iter().map(|x| x * x).sum(),
        )?);
        let sp = ys.iter().zip(xs).map(|(y, x)| y * x).sum();
        RegressionAdjusted::new(n, post, pre, sp)
    }

    #[test]
    fn theta_is_the_pooled_regression_slope() -> Result<(), StatsError> {
        // y = 2x + 1 exactly: θ = 2 and the adjusted variance is 0.
        let a = stat(&[3.0, 5.0, 7.0], &[1.0, 2.0, 3.0])?;
        let b = stat(&[9.0, 11.0], &[4.0, 5.0])?;
        let theta = pooled_theta(&a, &b);
        assert!((theta - 2.0).abs() < 1e-12);
        assert!(a.with_theta(theta).variance().abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn constant_covariate_falls_back_to_the_unadjusted_metric() -> Result<(), StatsError> {
        let a = stat(&[3.0, 5.0, 7.0], &[1.0, 1.0, 1.0])?;
        let b = stat(&[9.0, 11.0], &[1.0, 1.0])?;
        let pair = Pair::new(
            Statistic::RegressionAdjusted(a),
            Statistic::RegressionAdjusted(b),
        )?;
        let adjusted = adjust(&pair);
        assert_eq!(adjusted.theta, None);
        assert_eq!(adjusted.control, Statistic::from(*a.post()));
        Ok(())
    }
}
