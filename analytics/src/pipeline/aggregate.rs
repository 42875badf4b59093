//! Stage 4, aggregate: per experiment × variant × series × day of first exposure, the
//! sufficient statistics the statistics engine needs, as exact integers.
//!
//! A series is the exposed-unit count (`$units`), the excluded-unit count (`$excluded`, variant
//! empty) or a metric. For a metric, `x` is the per-unit value (a ratio's numerator) and `y` the
//! denominator or CUPED covariate; the row holds `n, Σx, Σx², Σy, Σy², Σxy` in micro-units
//! (squares and products in micro-units²). Integer sums make rows additive across workers,
//! shards and batches with no rounding: any split of the same facts gives the same numbers.
//! Per-unit values are bounded (`join::MAX_UNIT_MICROS`), so the sums fit in 128 bits up to
//! 170 million units at the bound; an addition that would overflow anyway saturates instead of
//! wrapping (a wrapped Σx² once turned a revenue metric into a negative variance) and is
//! counted in [`SATURATED_SUMS`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;

use super::FastMap;
use super::join::Contribution;

/// The series name of the exposed-unit counts.
pub const UNITS: &str = "$units";
/// The series name of the excluded-unit counts (multiple variants).
pub const EXCLUDED: &str = "$excluded";

/// Sufficient statistics of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggStats {
    pub n: i64,
    pub sx: i128,
    pub sxx: i128,
    pub sy: i128,
    pub syy: i128,
    pub sxy: i128,
}

impl AggStats {
    /// One unit.
    pub fn count() -> Self {
        Self {
            n: 1,
            ..Self::default()
        }
    }

    /// One unit with values `x` and `y`.
    pub fn unit(x: i64, y: i64) -> Self {
        let (x, y) = (i128::from(x), i128::from(y));
        Self {
            n: 1,
            sx: x,
            sxx: x * x,
            sy: y,
            syy: y * y,
            sxy: x * y,
        }
    }

    pub fn add(&mut self, o: &Self) {
        self.n = saturate(self.n.checked_add(o.n), self.n.saturating_add(o.n));
        for (sum, term) in self.sums().into_iter().zip(o.terms()) {
            *sum = saturate(sum.checked_add(term), sum.saturating_add(term));
        }
    }

    pub fn sub(&mut self, o: &Self) {
        self.n = saturate(self.n.checked_sub(o.n), self.n.saturating_sub(o.n));
        for (sum, term) in self.sums().into_iter().zip(o.terms()) {
            *sum = saturate(sum.checked_sub(term), sum.saturating_sub(term));
        }
    }

    fn sums(&mut self) -> [&mut i128; 5] {
        [
            &mut self.sx,
            &mut self.sxx,
            &mut self.sy,
            &mut self.syy,
            &mut self.sxy,
        ]
    }

    fn terms(&self) -> [i128; 5] {
        [self.sx, self.sxx, self.sy, self.syy, self.sxy]
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// Sums that would have overflowed and were saturated since the process started (exported as
/// `vane_analytics_saturated_sums_total`); anything but 0 means results are wrong and the
/// per-unit bound must come down.
pub static SATURATED_SUMS: AtomicU64 = AtomicU64::new(0);

/// `checked`, or else `saturated`, counting the overflow.
fn saturate<T>(checked: Option<T>, saturated: T) -> T {
    checked.unwrap_or_else(|| {
        SATURATED_SUMS.fetch_add(1, Ordering::Relaxed);
        tracing::error!("an aggregate sum overflowed 128 bits and was saturated");
        saturated
    })
}

/// Which series of an experiment, by configuration index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    Units,
    Excluded,
    /// Index into `Config::metrics`.
    Metric(u32),
}

/// A row by configuration indexes (in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    pub experiment: u32,
    /// `u32::MAX` for the excluded series.
    pub variant: u32,
    pub series: Series,
    /// Day (since the Unix epoch, UTC) of the units' first exposure.
    pub day: i64,
}

/// A row by name (stored; independent of configuration order).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggKey {
    pub experiment: String,
    pub variant: String,
    pub series: String,
    pub day: i64,
}

/// Aggregate changes by slot.
pub type Deltas = FastMap<Slot, AggStats>;

/// Adds (`negate = false`) or removes a unit's contribution to experiment `experiment`.
pub fn add_contribution(
    deltas: &mut Deltas,
    config: &Config,
    experiment: u32,
    contribution: &Contribution,
    negate: bool,
) {
    let mut put = |slot: Slot, stats: AggStats| {
        let entry = deltas.entry(slot).or_default();
        if negate {
            entry.sub(&stats);
        } else {
            entry.add(&stats);
        }
    };
    match contribution {
        Contribution::Excluded { day } => put(
            Slot {
                experiment,
                variant: u32::MAX,
                series: Series::Excluded,
                day: *day,
            },
            AggStats::count(),
        ),
        Contribution::Assigned {
            variant,
            day,
            values,
        } => {
            put(
                Slot {
                    experiment,
                    variant: *variant,
                    series: Series::Units,
                    day: *day,
                },
                AggStats::count(),
            );
            let Some(exp) = config.experiments.get(experiment as usize) else {
                return;
            };
            for (&metric, &(x, y)) in exp.metrics.iter().zip(values) {
                put(
                    Slot {
                        experiment,
                        variant: *variant,
                        series: Series::Metric(u32::try_from(metric).unwrap_or(u32::MAX)),
                        day: *day,
                    },
                    AggStats::unit(x, y),
                );
            }
        }
    }
}

/// The stored name of a slot; `None` if it is not in the configuration.
pub fn key_of(config: &Config, slot: &Slot) -> Option<AggKey> {
    let exp = config.experiments.get(slot.experiment as usize)?;
    let variant = match slot.series {
        Series::Excluded => String::new(),
        _ => exp.variants.get(slot.variant as usize)?.clone(),
    };
    let series = match slot.series {
        Series::Units => UNITS.to_owned(),
        Series::Excluded => EXCLUDED.to_owned(),
        Series::Metric(m) => config.metrics.get(m as usize)?.key.clone(),
    };
    Some(AggKey {
        experiment: exp.key.clone(),
        variant,
        series,
        day: slot.day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::config;

    #[test]
    fn adding_then_removing_a_contribution_leaves_nothing() {
        let config = config();
        let c = Contribution::Assigned {
            variant: 1,
            day: 20_000,
            values: vec![(1_000_000, 0), (5_000_000, 2_000_000), (3, 4)],
        };
        let mut deltas = Deltas::default();
        add_contribution(&mut deltas, &config, 0, &c, false);
        assert_eq!(deltas.len(), 4);
        let revenue = Slot {
            experiment: 0,
            variant: 1,
            series: Series::Metric(1),
            day: 20_000,
        };
        assert_eq!(deltas[&revenue], AggStats::unit(5_000_000, 2_000_000));
        assert_eq!(deltas[&revenue].sxy, 10_000_000_000_000);
        add_contribution(&mut deltas, &config, 0, &c, true);
        assert!(deltas.values().all(AggStats::is_zero));
    }

    #[test]
    fn sums_are_exact_whatever_the_grouping() {
        let values: Vec<i64> = (0..1000)
            .map(|i| (i * 7_919) % 1_000_003 - 500_000)
            .collect();
        let mut one = AggStats::default();
        for v in &values {
            one.add(&AggStats::unit(*v, 1));
        }
        let mut halves = [AggStats::default(), AggStats::default()];
        for (i, v) in values.iter().rev().enumerate() {
            halves[i % 2].add(&AggStats::unit(*v, 1));
        }
        let mut two = halves[0];
        two.add(&halves[1]);
        assert_eq!(one, two);
    }

    #[test]
    fn keys_name_the_experiment_variant_and_series() {
        let config = config();
        let key = key_of(
            &config,
            &Slot {
                experiment: 0,
                variant: u32::MAX,
                series: Series::Excluded,
                day: 3,
            },
        )
        .unwrap();
        assert_eq!(
            (
                key.experiment.as_str(),
                key.variant.as_str(),
                key.series.as_str()
            ),
            ("checkout", "", EXCLUDED)
        );
    }
}
