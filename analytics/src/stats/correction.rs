//! Multiple-comparison corrections of p-values.
//!
//! With `m` p-values sorted ascending `p₍₁₎ ≤ … ≤ p₍ₘ₎`:
//!
//! * **Holm-Bonferroni** (controls the family-wise error rate): the adjusted value of the `i`-th
//!   smallest is the running maximum over `j ≤ i` of `min(1, (m − j + 1)·p₍ⱼ₎)`;
//! * **Benjamini-Hochberg** (controls the false discovery rate): the adjusted value of the `i`-th
//!   smallest is the minimum over `j ≥ i` of `min(1, m·p₍ⱼ₎/j)`.
//!
//! Comparing an adjusted p-value with α is equivalent to running the step-down (Holm) or step-up
//! (BH) procedure at level α. Adjusted values never fall below the raw ones and never exceed 1;
//! BH's are never above Holm's.

use serde::{Deserialize, Serialize};

use super::StatsError;

/// Which correction to apply across the p-values of one analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Report raw p-values.
    #[default]
    None,
    /// Holm's step-down Bonferroni correction (family-wise error rate).
    HolmBonferroni,
    /// Benjamini-Hochberg step-up correction (false discovery rate).
    BenjaminiHochberg,
}

/// Adjust `p_values` (each in [0, 1]) for multiple comparisons; the result is in input order.
pub fn adjust_p_values(p_values: &[f64], method: Correction) -> Result<Vec<f64>, StatsError> {
    if let Some(i) = p_values.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(StatsError::invalid(
            format!("p_values[{i}]"),
            "p-values must lie between 0 and 1",
        ));
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = p_values.to_vec();
    match method {
        Correction::None => {}
        Correction::HolmBonferroni => {
            let mut running = 0.0_f64;
            for (rank, &i) in order.iter().enumerate() {
                let scaled = ((m - rank) as f64 * p_values[i]).min(1.0);
                running = running.max(scaled);
                adjusted[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running = 1.0_f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                // m / rank ≥ 1, so the product never rounds below the raw p-value.
                let scaled = (p_values[i] * (m as f64 / (rank + 1) as f64)).min(1.0);
                running = running.min(scaled);
                adjusted[i] = running;
            }
        }
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn holm_matches_a_worked_example() -> Result<(), StatsError> {
        let p = [0.01, 0.04, 0.03, 0.005];
        let adj = adjust_p_values(&p, Correction::HolmBonferroni)?;
        // sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max-accumulate 0.06
        assert!(close(&adj, &[0.03, 0.06, 0.06, 0.02]));
        Ok(())
    }

    #[test]
    fn benjamini_hochberg_matches_a_worked_example() -> Result<(), StatsError> {
        let p = [0.01, 0.04, 0.03, 0.005];
        let adj = adjust_p_values(&p, Correction::BenjaminiHochberg)?;
        // sorted: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04
        assert!(close(&adj, &[0.02, 0.04, 0.04, 0.02]));
        Ok(())
    }

    #[test]
    fn out_of_range_p_values_are_rejected() {
        assert!(adjust_p_values(&[0.5, 1.5], Correction::HolmBonferroni).is_err());
        assert!(adjust_p_values(&[f64::NAN], Correction::BenjaminiHochberg).is_err());
    }

    #[test]
    fn no_p_values_give_no_adjusted_values() -> Result<(), StatsError> {
        assert!(adjust_p_values(&[], Correction::HolmBonferroni)?.is_empty());
        Ok(())
    }
}
