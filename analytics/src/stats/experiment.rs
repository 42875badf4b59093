//! A whole experiment at once: every variant of every metric compared with the control (the
//! first variant), on both the relative and the absolute scale, with an optional
//! multiple-comparison correction across all of the experiment's p-values.
//!
//! Corrections run over every comparison that has a p-value (metric × non-control variant),
//! separately for relative and absolute lifts; comparisons without enough data take no part.

use serde::{Deserialize, Serialize};

use super::{
    Alpha, BayesianConfig, BayesianResult, Correction, Difference, FrequentistConfig,
    FrequentistResult, GaussianPrior, Outcome, Pair, SequentialConfig, Statistic, StatsError,
    TuningParameter, adjust_p_values, effect_bayesian_test, sequential_t_test, two_sided_t_test,
};

/// Which test compares the variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Fixed-horizon two-sided Welch t-test.
    #[default]
    Frequentist,
    /// Always-valid confidence sequences.
    Sequential,
    /// Gaussian-prior effect test.
    Bayesian,
}

/// How an experiment is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalysisSettings {
    /// The test.
    pub method: Method,
    /// Significance level / credible mass 1 − α.
    pub alpha: Alpha,
    /// Tuning parameter of the sequential test.
    pub tuning: TuningParameter,
    /// Prior of the Bayesian test.
    pub prior: GaussianPrior,
    /// Correction of the frequentist and sequential p-values.
    pub correction: Correction,
}

/// One metric of the experiment: a statistic per variant, the control first.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// True when smaller values are better.
    pub inverse: bool,
    /// `(name, statistic)` per variant, control first.
    pub variants: Vec<(String, Statistic)>,
}

/// The results of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// Whether the metric carries a CUPED covariate.
    pub cuped: bool,
    /// One entry per variant, control first.
    pub variants: Vec<VariantResult>,
}

/// One variant of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantResult {
    /// The variant's name.
    pub name: String,
    /// Units.
    pub n: u64,
    /// Unadjusted mean.
    pub mean: f64,
    /// Unadjusted per-unit standard deviation.
    pub stddev: f64,
    /// Relative lift over the control (absent for the control).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<Comparison>,
    /// Absolute lift over the control (absent for the control).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute: Option<Comparison>,
}

/// One comparison with the control, with its corrected p-value when a correction was applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The test's result.
    #[serde(flatten)]
    pub outcome: ComparisonOutcome,
    /// The p-value after the multiple-comparison correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value_adjusted: Option<f64>,
}

/// The result of whichever test was run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ComparisonOutcome {
    /// Frequentist or sequential.
    Frequentist(Outcome<FrequentistResult>),
    /// Bayesian.
    Bayesian(Outcome<BayesianResult>),
}

impl Comparison {
    /// The raw p-value, when the test computed one.
    pub fn p_value(&self) -> Option<f64> {
        match &self.outcome {
            ComparisonOutcome::Frequentist(Outcome::Ok(r)) => Some(r.p_value),
            _ => None,
        }
    }
}

/// Compare one pair with the configured test.
pub fn compare(
    pair: &Pair,
    difference: Difference,
    inverse: bool,
    settings: &AnalysisSettings,
) -> Comparison {
    let alpha = settings.alpha;
    let outcome = match settings.method {
        Method::Frequentist => ComparisonOutcome::Frequentist(two_sided_t_test(
            pair,
            &FrequentistConfig { alpha, difference },
        )),
        Method::Sequential => ComparisonOutcome::Frequentist(sequential_t_test(
            pair,
            &SequentialConfig {
                alpha,
                difference,
                tuning: settings.tuning,
            },
        )),
        Method::Bayesian => ComparisonOutcome::Bayesian(effect_bayesian_test(
            pair,
            &BayesianConfig {
                alpha,
                difference,
                inverse,
                prior: settings.prior,
            },
        )),
    };
    Comparison {
        outcome,
        p_value_adjusted: None,
    }
}

fn variant_result(at: &str, name: &str, stat: &Statistic) -> Result<VariantResult, StatsError> {
    // Describe the variant by its raw metric, before any CUPED adjustment.
    let raw = match stat {
        Statistic::RegressionAdjusted(s) => Statistic::from(*s.post()),
        other => *other,
    };
    let (mean, stddev) = (raw.unadjusted_mean(), raw.stddev());
    if !(mean.is_finite() && stddev.is_finite()) {
        return Err(StatsError::invalid(at, "values too large to analyse"));
    }
    Ok(VariantResult {
        name: name.to_owned(),
        n: stat.n(),
        mean,
        stddev,
        relative: None,
        absolute: None,
    })
}

/// Analyse every metric: each variant against the control, then the correction.
///
/// Every metric needs at least two variants, all of the same kind. Corrections require the
/// frequentist or sequential method.
pub fn analyze_metrics(
    settings: &AnalysisSettings,
    metrics: &[MetricData],
) -> Result<Vec<MetricResult>, StatsError> {
    if settings.method == Method::Bayesian && settings.correction != Correction::None {
        return Err(StatsError::invalid(
            "correction",
            "corrections apply to p-values: use the frequentist or sequential method",
        ));
    }
    let mut results = Vec::with_capacity(metrics.len());
    // (metric, variant, p-value) per lift type, for the correction.
    let mut p_relative = Vec::new();
    let mut p_absolute = Vec::new();
    for (mi, metric) in metrics.iter().enumerate() {
        let at = format!("metrics[{mi}].variants");
        let Some((_, control)) = metric
            .variants
            .first()
            .filter(|_| metric.variants.len() >= 2)
        else {
            return Err(StatsError::invalid(
                at,
                "needs a control and at least one treatment",
            ));
        };
        let mut variants = Vec::with_capacity(metric.variants.len());
        for (vi, (name, stat)) in metric.variants.iter().enumerate() {
            let mut out = variant_result(&format!("{at}[{vi}]"), name, stat)?;
            if vi > 0 {
                let pair = Pair::new(*control, *stat).map_err(|e| e.within(&at))?;
                let rel = compare(&pair, Difference::Relative, metric.inverse, settings);
                let abs = compare(&pair, Difference::Absolute, metric.inverse, settings);
                p_relative.extend(rel.p_value().map(|p| (mi, vi, p)));
                p_absolute.extend(abs.p_value().map(|p| (mi, vi, p)));
                out.relative = Some(rel);
                out.absolute = Some(abs);
            }
            variants.push(out);
        }
        results.push(MetricResult {
            cuped: matches!(control, Statistic::RegressionAdjusted(_)),
            variants,
        });
    }
    if settings.correction != Correction::None {
        for (family, relative) in [(&p_relative, true), (&p_absolute, false)] {
            let raw: Vec<f64> = family.iter().map(|(_, _, p)| *p).collect();
            let adjusted = adjust_p_values(&raw, settings.correction)?;
            for (&(mi, vi, _), p) in family.iter().zip(adjusted) {
                let variant = &mut results[mi].variants[vi];
                let slot = if relative {
                    &mut variant.relative
                } else {
                    &mut variant.absolute
                };
                if let Some(comparison) = slot {
                    comparison.p_value_adjusted = Some(p);
                }
            }
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Proportion;

    fn metric(conversions: &[f64]) -> Result<MetricData, StatsError> {
        Ok(MetricData {
            inverse: false,
            variants: conversions
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Proportion::new(1000, *c).map(|p| (format!("v{i}"), Statistic::Proportion(p)))
                })
                .collect::<Result<_, _>>()?,
        })
    }

    #[test]
    fn every_treatment_is_compared_with_the_control() -> Result<(), StatsError> {
        let results = analyze_metrics(
            &AnalysisSettings::default(),
            &[metric(&[100.0, 120.0, 90.0])?],
        )?;
        let variants = &results[0].variants;
        assert!(variants[0].relative.is_none());
        assert!(variants[1].relative.is_some() && variants[2].absolute.is_some());
        Ok(())
    }

    #[test]
    fn corrections_adjust_across_metrics_and_variants() -> Result<(), StatsError> {
        let settings = AnalysisSettings {
            correction: Correction::HolmBonferroni,
            ..AnalysisSettings::default()
        };
        let results = analyze_metrics(
            &settings,
            &[metric(&[100.0, 130.0])?, metric(&[100.0, 101.0])?],
        )?;
        for m in &results {
            let c = m.variants[1].relative.as_ref();
            let (raw, adjusted) = (
                c.and_then(Comparison::p_value),
                c.and_then(|c| c.p_value_adjusted),
            );
            assert!(adjusted >= raw && adjusted.is_some());
        }
        Ok(())
    }

    #[test]
    fn a_metric_needs_a_treatment() -> Result<(), StatsError> {
        assert!(analyze_metrics(&AnalysisSettings::default(), &[metric(&[100.0])?]).is_err());
        Ok(())
    }
}
