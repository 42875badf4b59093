//! `vane stats`: an offline calculator over the statistics engine. A JSON request on stdin, a
//! JSON response on stdout; the schema is documented in `docs/stats.md`.
//!
//! Two kinds of request: `"analysis"` (the default) compares every variant of every metric with
//! the first variant (the control) and checks the traffic split; `"power"` plans an experiment.

use serde::{Deserialize, Serialize};

use crate::stats::bayesian::PriorScale;
use crate::stats::experiment::{
    AnalysisSettings, Method, MetricData, MetricResult, analyze_metrics,
};
use crate::stats::power::{PowerInputs, TargetPower};
use crate::stats::{
    Alpha, Correction, GaussianPrior, Moments, Proportion, RatioStatistic, RegressionAdjusted,
    SRM_THRESHOLD, SampleMean, Statistic, StatsError, TuningParameter, srm_test,
};

/// Errors of `vane stats`: the crate's error type.
pub type StatsCliError = StatsError;

/// Parse a `vane stats` request, compute, and return the response as pretty-printed JSON.
pub fn run_stats(input: &str) -> Result<String, StatsCliError> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(default)]
        kind: Option<String>,
    }
    let kind: Kind = serde_json::from_str(input)?;
    match kind.kind.as_deref().unwrap_or("analysis") {
        "analysis" => Ok(serde_json::to_string_pretty(&analyze(
            serde_json::from_str(input)?,
        )?)?),
        "power" => Ok(serde_json::to_string_pretty(&plan(serde_json::from_str(
            input,
        )?)?)?),
        other => Err(StatsError::invalid(
            "kind",
            format!("unknown kind `{other}`; expected `analysis` or `power`"),
        )),
    }
}

fn default_alpha() -> f64 {
    Alpha::DEFAULT.get()
}

fn default_tuning() -> f64 {
    TuningParameter::DEFAULT.get()
}

fn default_prior_stddev() -> f64 {
    0.3
}

fn default_target_power() -> f64 {
    TargetPower::DEFAULT.get()
}

fn default_variations() -> u64 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisRequest {
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
    #[serde(default)]
    method: Method,
    #[serde(default = "default_alpha")]
    alpha: f64,
    #[serde(default = "default_tuning")]
    sequential_tuning_parameter: f64,
    #[serde(default)]
    prior: Option<PriorRequest>,
    #[serde(default)]
    correction: Correction,
    #[serde(default)]
    traffic_weights: Option<Vec<f64>>,
    #[serde(default)]
    units: Option<Vec<u64>>,
    metrics: Vec<MetricRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorRequest {
    #[serde(default)]
    proper: bool,
    #[serde(default)]
    mean: f64,
    #[serde(default = "default_prior_stddev")]
    stddev: f64,
    #[serde(default)]
    scale: PriorScale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MetricType {
    Mean,
    Proportion,
    Ratio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ComponentType {
    Mean,
    Proportion,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    metric_type: MetricType,
    #[serde(default)]
    inverse: bool,
    #[serde(default)]
    numerator_type: Option<ComponentType>,
    #[serde(default)]
    denominator_type: Option<ComponentType>,
    #[serde(default)]
    covariate_type: Option<ComponentType>,
    variants: Vec<VariantRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantRequest {
    #[serde(default)]
    name: Option<String>,
    n: u64,
    sum: f64,
    #[serde(default)]
    sum_squares: Option<f64>,
    #[serde(default)]
    denominator: Option<PartRequest>,
    #[serde(default)]
    covariate: Option<PartRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartRequest {
    sum: f64,
    #[serde(default)]
    sum_squares: Option<f64>,
    sum_of_products: f64,
}

#[derive(Debug, Serialize)]
struct AnalysisResponse {
    kind: &'static str,
    method: Method,
    alpha: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequential_tuning_parameter: Option<f64>,
    correction: Correction,
    srm: SrmResponse,
    metrics: Vec<MetricResponse>,
}

#[derive(Debug, Serialize)]
struct SrmResponse {
    units: Vec<u64>,
    traffic_weights: Vec<f64>,
    p_value: f64,
    threshold: f64,
    mismatch: bool,
}

#[derive(Debug, Serialize)]
struct MetricResponse {
    name: String,
    #[serde(rename = "type")]
    metric_type: MetricType,
    #[serde(flatten)]
    result: MetricResult,
}

fn moments(
    kind: ComponentType,
    n: u64,
    sum: f64,
    sum_squares: Option<f64>,
) -> Result<Moments, StatsError> {
    Ok(match kind {
        ComponentType::Mean => {
            let ss = sum_squares.ok_or_else(|| {
                StatsError::invalid("sum_squares", "is required for a mean component")
            })?;
            Moments::Mean(SampleMean::new(n, sum, ss)?)
        }
        ComponentType::Proportion => Moments::Proportion(Proportion::new(n, sum)?),
    })
}

fn statistic(metric: &MetricRequest, v: &VariantRequest) -> Result<Statistic, StatsError> {
    let main_kind = match metric.metric_type {
        MetricType::Mean => ComponentType::Mean,
        MetricType::Proportion => ComponentType::Proportion,
        MetricType::Ratio => metric.numerator_type.unwrap_or(ComponentType::Mean),
    };
    let main = moments(main_kind, v.n, v.sum, v.sum_squares)?;
    if metric.metric_type == MetricType::Ratio {
        if v.covariate.is_some() {
            return Err(StatsError::invalid(
                "covariate",
                "CUPED is not available for ratio metrics",
            ));
        }
        let d = v
            .denominator
            .as_ref()
            .ok_or_else(|| StatsError::invalid("denominator", "is required for a ratio metric"))?;
        let kind = metric.denominator_type.unwrap_or(ComponentType::Mean);
        let denominator =
            moments(kind, v.n, d.sum, d.sum_squares).map_err(|e| e.within("denominator"))?;
        return Ok(Statistic::Ratio(RatioStatistic::new(
            v.n,
            main,
            denominator,
            d.sum_of_products,
        )?));
    }
    if v.denominator.is_some() {
        return Err(StatsError::invalid(
            "denominator",
            "is only allowed for ratio metrics",
        ));
    }
    match &v.covariate {
        None => Ok(main.into()),
        Some(c) => {
            let kind = metric.covariate_type.unwrap_or(main_kind);
            let pre =
                moments(kind, v.n, c.sum, c.sum_squares).map_err(|e| e.within("covariate"))?;
            Ok(Statistic::RegressionAdjusted(RegressionAdjusted::new(
                v.n,
                main,
                pre,
                c.sum_of_products,
            )?))
        }
    }
}

fn check_metric(metric: &MetricRequest) -> Result<(), StatsError> {
    if metric.metric_type != MetricType::Ratio
        && (metric.numerator_type.is_some() || metric.denominator_type.is_some())
    {
        return Err(StatsError::invalid(
            "numerator_type",
            "numerator_type and denominator_type are only allowed for ratio metrics",
        ));
    }
    let with_covariate = metric
        .variants
        .iter()
        .filter(|v| v.covariate.is_some())
        .count();
    if with_covariate != 0 && with_covariate != metric.variants.len() {
        return Err(StatsError::invalid(
            "variants",
            "either every variant has a covariate (CUPED) or none has",
        ));
    }
    Ok(())
}

fn analyze(req: AnalysisRequest) -> Result<AnalysisResponse, StatsError> {
    let settings = AnalysisSettings {
        method: req.method,
        alpha: Alpha::new(req.alpha)?,
        tuning: TuningParameter::new(req.sequential_tuning_parameter)?,
        prior: match &req.prior {
            Some(p) if p.proper => GaussianPrior::proper(p.mean, p.stddev, p.scale)?,
            _ => GaussianPrior::IMPROPER,
        },
        correction: req.correction,
    };
    let Some(first) = req.metrics.first() else {
        return Err(StatsError::invalid("metrics", "needs at least one metric"));
    };
    let k = first.variants.len();
    let mut data = Vec::with_capacity(req.metrics.len());
    for (mi, metric) in req.metrics.iter().enumerate() {
        let at = format!("metrics[{mi}]");
        check_metric(metric).map_err(|e| e.within(&at))?;
        if metric.variants.len() != k {
            return Err(StatsError::invalid(
                format!("{at}.variants"),
                "every metric needs the same number of variants",
            ));
        }
        let variants = metric
            .variants
            .iter()
            .enumerate()
            .map(|(vi, v)| {
                let name = v.name.clone().unwrap_or_else(|| format!("variant {vi}"));
                statistic(metric, v)
                    .map(|s| (name, s))
                    .map_err(|e| e.within(&format!("{at}.variants[{vi}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        data.push(MetricData {
            inverse: metric.inverse,
            variants,
        });
    }
    let results = analyze_metrics(&settings, &data)?;

    let units = match req.units {
        Some(units) => units,
        None => first.variants.iter().map(|v| v.n).collect(),
    };
    if units.len() != k {
        return Err(StatsError::invalid("units", "needs one count per variant"));
    }
    let weights = req
        .traffic_weights
        .unwrap_or_else(|| vec![1.0 / k as f64; k]);
    let srm = srm_test(&units, &weights)?;
    Ok(AnalysisResponse {
        kind: "analysis",
        method: req.method,
        alpha: settings.alpha.get(),
        sequential_tuning_parameter: (req.method == Method::Sequential)
            .then_some(settings.tuning.get()),
        correction: req.correction,
        srm: SrmResponse {
            units,
            traffic_weights: weights,
            p_value: srm.p_value,
            threshold: SRM_THRESHOLD,
            mismatch: srm.mismatch,
        },
        metrics: req
            .metrics
            .iter()
            .zip(results)
            .enumerate()
            .map(|(mi, (m, result))| MetricResponse {
                name: m.name.clone().unwrap_or_else(|| format!("metric {mi}")),
                metric_type: m.metric_type,
                result,
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerRequest {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default = "default_alpha")]
    alpha: f64,
    metric_type: ComponentType,
    mean: f64,
    #[serde(default)]
    variance: Option<f64>,
    #[serde(default)]
    n_per_variation: Option<u64>,
    #[serde(default)]
    effect: Option<f64>,
    #[serde(default = "default_target_power")]
    target_power: f64,
    #[serde(default = "default_variations")]
    variations: u64,
    #[serde(default)]
    sequential: bool,
    #[serde(default = "default_tuning")]
    sequential_tuning_parameter: f64,
}

#[derive(Debug, Serialize)]
struct PowerResponse {
    kind: &'static str,
    alpha: f64,
    mean: f64,
    variance: f64,
    target_power: f64,
    variations: u64,
    sequential: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_per_variation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    effect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    power: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mde: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_size: Option<Option<SampleSize>>,
}

#[derive(Debug, Serialize)]
struct SampleSize {
    per_variation: u64,
    total: u64,
}

fn plan(req: PowerRequest) -> Result<PowerResponse, StatsError> {
    let alpha = Alpha::new(req.alpha)?;
    let target = TargetPower::new(req.target_power)?;
    let variance = match (req.metric_type, req.variance) {
        (_, Some(v)) => v,
        (ComponentType::Proportion, None) => {
            if !(req.mean > 0.0 && req.mean < 1.0) {
                return Err(StatsError::invalid(
                    "mean",
                    "a proportion's mean must lie strictly between 0 and 1",
                ));
            }
            req.mean * (1.0 - req.mean)
        }
        (ComponentType::Mean, None) => {
            return Err(StatsError::invalid(
                "variance",
                "is required for a mean metric",
            ));
        }
    };
    let sequential = if req.sequential {
        Some(TuningParameter::new(req.sequential_tuning_parameter)?)
    } else {
        None
    };
    if req.variations < 2 {
        return Err(StatsError::invalid(
            "variations",
            "needs at least 2 (control and treatment)",
        ));
    }
    if req.n_per_variation.is_none() && req.effect.is_none() {
        return Err(StatsError::invalid(
            "n_per_variation",
            "give n_per_variation (for power and MDE), effect (for sample size), or both",
        ));
    }
    if let Some(effect) = req.effect
        && !(effect.is_finite() && effect != 0.0 && effect > -1.0)
    {
        return Err(StatsError::invalid(
            "effect",
            "must be a non-zero relative lift greater than -1",
        ));
    }
    let inputs = PowerInputs::new(req.mean, variance, alpha, sequential)?;
    let power = match (req.n_per_variation, req.effect) {
        (Some(n), Some(effect)) => Some(inputs.power(n, effect)),
        _ => None,
    };
    let mde = req
        .n_per_variation
        .map(|n| inputs.minimum_detectable_effect(n, target));
    let sample_size = req.effect.map(|effect| {
        inputs.sample_size(effect, target).map(|n| SampleSize {
            per_variation: n,
            total: n.saturating_mul(req.variations),
        })
    });
    Ok(PowerResponse {
        kind: "power",
        alpha: alpha.get(),
        mean: req.mean,
        variance,
        target_power: target.get(),
        variations: req.variations,
        sequential: req.sequential,
        n_per_variation: req.n_per_variation,
        effect: req.effect,
        power,
        mde,
        sample_size,
    })
}
