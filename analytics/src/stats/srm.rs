//! Sample ratio mismatch: a χ² goodness-of-fit test of the units per variant against the
//! configured traffic weights (gbstats' `check_srm`).
//!
//! Expected counts are `Nᵢ = N·wᵢ/Σw`; the statistic `Σ (Oᵢ − Nᵢ)²/Nᵢ` skips variants whose
//! weight is zero, and is referred to χ² with `k − 1` degrees of freedom, `k` counting every
//! variant (gbstats counts zero-weight variants too). No units at all gives p = 1. GrowthBook
//! flags a mismatch when p < 0.001.

use serde::Serialize;

use super::StatsError;
use super::dist::chi_squared_sf;

/// p-values below this are reported as a sample ratio mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Outcome of the SRM check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SrmResult {
    /// p-value of the χ² test.
    pub p_value: f64,
    /// `p_value < 0.001`.
    pub mismatch: bool,
}

/// χ² test of `units` per variant against traffic `weights` (same length, at least two
/// variants, weights non-negative with a positive sum).
pub fn srm_test(units: &[u64], weights: &[f64]) -> Result<SrmResult, StatsError> {
    if units.len() < 2 {
        return Err(StatsError::invalid(
            "units",
            "the SRM check needs at least two variants",
        ));
    }
    if weights.len() != units.len() {
        return Err(StatsError::invalid(
            "traffic_weights",
            "needs one weight per variant",
        ));
    }
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(StatsError::invalid(
            "traffic_weights",
            "weights must be finite and non-negative",
        ));
    }
    let total_weight: f64 = weights.iter().sum();
    if total_weight <= 0.0 {
        return Err(StatsError::invalid(
            "traffic_weights",
            "at least one weight must be positive",
        ));
    }
    let total: f64 = units.iter().map(|&u| u as f64).sum();
    if total == 0.0 {
        return Ok(SrmResult {
            p_value: 1.0,
            mismatch: false,
        });
    }
    let statistic: f64 = units
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(&observed, w)| {
            let expected = w / total_weight * total;
            (observed as f64 - expected).powi(2) / expected
        })
        .sum();
    let p_value = chi_squared_sf(statistic, (units.len() - 1) as f64);
    Ok(SrmResult {
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balanced_split_passes() -> Result<(), StatsError> {
        let r = srm_test(&[5000, 5000], &[0.5, 0.5])?;
        assert_eq!(r.p_value, 1.0);
        assert!(!r.mismatch);
        Ok(())
    }

    #[test]
    fn a_lopsided_split_is_flagged() -> Result<(), StatsError> {
        let r = srm_test(&[5000, 5400], &[0.5, 0.5])?;
        assert!(r.p_value < SRM_THRESHOLD);
        assert!(r.mismatch);
        Ok(())
    }

    #[test]
    fn nonsense_weights_are_rejected() {
        assert!(srm_test(&[1, 2], &[0.0, 0.0]).is_err());
        assert!(srm_test(&[1, 2], &[0.5]).is_err());
        assert!(srm_test(&[1], &[1.0]).is_err());
        assert!(srm_test(&[1, 2], &[-1.0, 2.0]).is_err());
    }
}
