//! Stage 3, join and attribute: events become per-unit *facts*, facts accumulate into a
//! [`UnitState`], and a unit's state determines its contribution to each experiment.
//!
//! The semantics are a function of the *set* of facts, never of their order:
//!
//! * a unit's **first exposure** to an experiment is its earliest exposure in
//!   `[start, end)`; a unit exposed to two or more variants is **excluded** (and counted);
//! * a conversion (track) counts for a metric only at or after the first exposure and, when the
//!   metric has a window, less than `window` after it;
//! * the CUPED covariate is the same metric over `[first − cuped window, first)`;
//! * values are fixed-point micro-units (`round(value × 10⁶)`); a track without a value counts
//!   as 1; per-unit values are capped after summing.
//!
//! Because contributions are integers, aggregates built from them are exact and independent of
//! the order or grouping in which facts arrive: a replay, another worker split, or a
//! recomputation from the lake produces the same sums.

use std::sync::atomic::{AtomicU64, Ordering};

use vane_engine::event::{EnrichedEvent, EventKind};

use crate::config::{Config, Metric, MetricType, SCALE, to_micros};

const DAY_MS: i64 = 86_400_000;
const ONE: i64 = SCALE as i64;

/// A unit: (attribute index, unit id).
pub type UnitKey = (u16, Box<str>);

/// What one event tells about one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Exposure to a configured variant of a configured experiment.
    Exposure {
        experiment: u32,
        variant: u32,
        ts: i64,
    },
    /// A tracked event used by some metric, with its value in micro-units.
    Track { event: u32, ts: i64, value: i64 },
}

/// A fact about a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFact {
    pub unit: UnitKey,
    pub fact: Fact,
}

/// Extracts the facts the configuration cares about from one event.
pub fn facts(config: &Config, enriched: &EnrichedEvent, out: &mut Vec<UnitFact>) {
    let event = &enriched.event;
    let ts = event.timestamp.unix_millis();
    match &event.kind {
        EventKind::Exposure {
            experiment,
            variant,
        } => {
            let Some((index, exp)) = config.experiment(experiment) else {
                return;
            };
            let Some(variant) = exp.variant_index(variant) else {
                return;
            };
            if ts < exp.start || exp.end.is_some_and(|end| ts >= end) {
                return;
            }
            let attribute = &config.attributes[usize::from(exp.unit)];
            if let Some(id) = event.units.get(attribute) {
                out.push(UnitFact {
                    unit: (exp.unit, id.as_str().into()),
                    fact: Fact::Exposure {
                        experiment: u32::try_from(index).unwrap_or(u32::MAX),
                        variant,
                        ts,
                    },
                });
            }
        }
        EventKind::Track { event: name, value } => {
            let Some(event_index) = config.event(name) else {
                return;
            };
            let value = value.map_or(ONE, to_micros);
            for (a, attribute) in config.attributes.iter().enumerate() {
                if let (Some(id), Ok(a)) = (event.units.get(attribute), u16::try_from(a)) {
                    out.push(UnitFact {
                        unit: (a, id.as_str().into()),
                        fact: Fact::Track {
                            event: event_index,
                            ts,
                            value,
                        },
                    });
                }
            }
        }
    }
}

/// Everything known about one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// (experiment, variant, earliest exposure).
    exposures: Vec<(u32, u32, i64)>,
    /// (event, timestamp, value in micro-units).
    tracks: Vec<(u32, i64, i64)>,
}

/// A unit's contribution to one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contribution {
    /// Seen in several variants; `day` is that of the first exposure.
    Excluded { day: i64 },
    /// In one variant, with per-metric values `(x, y)` in the experiment's metric order: `x` is
    /// the metric (a ratio's numerator), `y` the denominator or CUPED covariate (0 if none).
    Assigned {
        variant: u32,
        day: i64,
        values: Vec<(i64, i64)>,
    },
}

impl UnitState {
    pub fn apply(&mut self, fact: &Fact) {
        match *fact {
            Fact::Exposure {
                experiment,
                variant,
                ts,
            } => {
                match self
                    .exposures
                    .iter_mut()
                    .find(|(e, v, _)| *e == experiment && *v == variant)
                {
                    Some(entry) => entry.2 = entry.2.min(ts),
                    None => self.exposures.push((experiment, variant, ts)),
                }
            }
            Fact::Track { event, ts, value } => self.tracks.push((event, ts, value)),
        }
    }

    /// Whether the unit was exposed to anything.
    pub fn is_exposed(&self) -> bool {
        !self.exposures.is_empty()
    }

    /// Experiments the unit was exposed to.
    pub fn experiments(&self) -> impl Iterator<Item = u32> + '_ {
        let mut seen: Vec<u32> = Vec::new();
        self.exposures.iter().filter_map(move |(e, _, _)| {
            if seen.contains(e) {
                None
            } else {
                seen.push(*e);
                Some(*e)
            }
        })
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.exposures.capacity() * 16 + self.tracks.capacity() * 24
    }

    /// The unit's contribution to experiment `index` of `config`.
    pub fn contribution(&self, config: &Config, index: u32) -> Option<Contribution> {
        let exp = config.experiments.get(index as usize)?;
        let mut first: Option<(i64, u32)> = None;
        let mut several = false;
        for &(e, v, ts) in &self.exposures {
            if e != index {
                continue;
            }
            match first {
                None => first = Some((ts, v)),
                Some((t, fv)) => {
                    several |= fv != v;
                    if ts < t {
                        first = Some((ts, v));
                    }
                }
            }
        }
        let (first, variant) = first?;
        let day = first.div_euclid(DAY_MS);
        if several {
            return Some(Contribution::Excluded { day });
        }
        let values = exp
            .metrics
            .iter()
            .map(|&m| metric_values(&self.tracks, &config.metrics[m], first))
            .collect();
        Some(Contribution::Assigned {
            variant,
            day,
            values,
        })
    }
}

/// A unit's value of one metric lies in `[-MAX_UNIT_MICROS, MAX_UNIT_MICROS]` (a billion
/// value units): then `x²` is at most 1e30 and the exact `Σx²` of an `i128` holds 170 million
/// units at the bound. Values outside are clamped and counted ([`CLAMPED_VALUES`]).
pub const MAX_UNIT_MICROS: i64 = 1_000_000_000 * ONE;

/// Per-unit metric values clamped to [`MAX_UNIT_MICROS`] since the process started
/// (exported as `vane_analytics_clamped_values_total`).
pub static CLAMPED_VALUES: AtomicU64 = AtomicU64::new(0);

fn clamp(v: i128) -> i64 {
    let bound = i128::from(MAX_UNIT_MICROS);
    if v.abs() > bound {
        CLAMPED_VALUES.fetch_add(1, Ordering::Relaxed);
        // Counted, not logged at warn: one bad producer could otherwise flood the log from
        // the aggregation path (the counter is exported as vane_analytics_clamped_values_total).
        tracing::debug!(
            value_micros = %v,
            bound_micros = MAX_UNIT_MICROS,
            "a unit's metric value is out of range; clamped"
        );
    }
    // Within ±1e15 after the clamp: the conversion cannot fail.
    i64::try_from(v.clamp(-bound, bound)).unwrap_or_default()
}

/// Sum and count of an event's values over `[from, to)`.
fn window_sum(tracks: &[(u32, i64, i64)], event: u32, from: i64, to: Option<i64>) -> (i128, i64) {
    let mut sum: i128 = 0;
    let mut count = 0i64;
    for &(e, ts, value) in tracks {
        if e == event && ts >= from && to.is_none_or(|to| ts < to) {
            sum += i128::from(value);
            count += 1;
        }
    }
    (sum, count)
}

fn cap(metric: &Metric, v: i128) -> i64 {
    let v = clamp(v);
    metric.cap.map_or(v, |c| v.min(c))
}

/// The per-unit `(x, y)` of one metric for a unit first exposed at `first`.
fn metric_values(tracks: &[(u32, i64, i64)], metric: &Metric, first: i64) -> (i64, i64) {
    let to = metric.window_ms.map(|w| first.saturating_add(w));
    let pre = |f: &dyn Fn(i128, i64) -> i64| {
        metric.cuped_window_ms.map_or(0, |w| {
            let (s, c) = window_sum(tracks, metric.event, first.saturating_sub(w), Some(first));
            f(s, c)
        })
    };
    let (sum, count) = window_sum(tracks, metric.event, first, to);
    match metric.metric_type {
        MetricType::Conversion => {
            let conv = |_: i128, c: i64| if c > 0 { ONE } else { 0 };
            (conv(sum, count), pre(&conv))
        }
        MetricType::Count => {
            let f = |_: i128, c: i64| cap(metric, i128::from(c) * i128::from(ONE));
            (f(sum, count), pre(&f))
        }
        MetricType::Sum => {
            let f = |s: i128, _: i64| cap(metric, s);
            (f(sum, count), pre(&f))
        }
        MetricType::Mean => (cap(metric, sum), clamp(i128::from(count) * i128::from(ONE))),
        MetricType::Ratio => {
            let den = metric.denominator.unwrap_or(metric.event);
            let (d, _) = window_sum(tracks, den, first, to);
            (cap(metric, sum), clamp(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::{config, exposure, track};

    fn state_of(events: &[EnrichedEvent]) -> UnitState {
        let config = config();
        let mut facts_out = Vec::new();
        for e in events {
            facts(&config, e, &mut facts_out);
        }
        let mut state = UnitState::default();
        for f in facts_out.iter().filter(|f| &*f.unit.1 == "u1") {
            state.apply(&f.fact);
        }
        state
    }

    fn values(state: &UnitState) -> Option<Contribution> {
        state.contribution(&config(), 0)
    }

    #[test]
    fn a_conversion_counts_only_after_the_first_exposure_and_inside_the_window() {
        // purchased: conversion, window 72 h. revenue: sum, cap 500, CUPED 336 h. aov: ratio.
        let state = state_of(&[
            track("t0", "u1", "purchase", 0, Some(7.0)),
            exposure("x1", "u1", "checkout", "treatment", 60),
            track("t1", "u1", "purchase", 120, Some(20.0)),
            track("t2", "u1", "checkout", 121, None),
            track("t3", "u1", "purchase", 60 * 80, Some(1000.0)),
        ]);
        let Some(Contribution::Assigned {
            variant, values, ..
        }) = values(&state)
        else {
            panic!("assigned")
        };
        assert_eq!(variant, 1);
        // purchased: converted within 72 h.
        assert_eq!(values[0], (1_000_000, 0));
        // revenue: 20 + 1000 capped at 500; covariate: the 7 before exposure.
        assert_eq!(values[1], (500_000_000, 7_000_000));
        // aov: numerator 20 + 1000 (no window, no cap), denominator 1 checkout.
        assert_eq!(values[2], (1_020_000_000, 1_000_000));
    }

    #[test]
    fn an_earlier_exposure_arriving_late_moves_the_window() {
        let a = state_of(&[
            exposure("x1", "u1", "checkout", "control", 100),
            track("t1", "u1", "purchase", 50, Some(3.0)),
            exposure("x0", "u1", "checkout", "control", 10),
        ]);
        let b = state_of(&[
            exposure("x0", "u1", "checkout", "control", 10),
            track("t1", "u1", "purchase", 50, Some(3.0)),
            exposure("x1", "u1", "checkout", "control", 100),
        ]);
        assert_eq!(values(&a), values(&b));
        let Some(Contribution::Assigned { values, .. }) = values(&a) else {
            panic!()
        };
        assert_eq!(values[0].0, 1_000_000);
    }

    #[test]
    fn a_unit_in_two_variants_is_excluded() {
        let state = state_of(&[
            exposure("x1", "u1", "checkout", "control", 10),
            exposure("x2", "u1", "checkout", "treatment", 20),
        ]);
        assert!(matches!(
            values(&state),
            Some(Contribution::Excluded { .. })
        ));
    }

    #[test]
    fn exposures_before_the_start_and_unknown_variants_are_ignored() {
        let state = state_of(&[
            exposure("x1", "u1", "checkout", "control", -60 * 24 * 40),
            exposure("x2", "u1", "checkout", "nope", 20),
        ]);
        assert_eq!(values(&state), None);
    }

    #[test]
    fn a_unit_value_beyond_the_bound_is_clamped_and_many_such_units_sum_exactly() {
        use crate::pipeline::aggregate::AggStats;
        // Three purchases of 9e8 each (every one valid): 2.7e9 for the unit, over the bound.
        let state = state_of(&[
            exposure("x1", "u1", "checkout", "treatment", 1),
            track("t1", "u1", "purchase", 2, Some(9e8)),
            track("t2", "u1", "purchase", 3, Some(9e8)),
            track("t3", "u1", "purchase", 4, Some(9e8)),
        ]);
        let clamped_before = CLAMPED_VALUES.load(Ordering::Relaxed);
        let Some(Contribution::Assigned { values, .. }) = values(&state) else {
            panic!("assigned")
        };
        // aov (ratio, no cap): the numerator is clamped to the bound, not to i64::MAX.
        assert_eq!(values[2].0, MAX_UNIT_MICROS);
        assert!(CLAMPED_VALUES.load(Ordering::Relaxed) > clamped_before);
        // A thousand units at the bound: Σx² is exact (it wrapped negative before).
        let mut total = AggStats::default();
        for _ in 0..1000 {
            total.add(&AggStats::unit(values[2].0, 0));
        }
        let bound = i128::from(MAX_UNIT_MICROS);
        assert_eq!(total.sx, 1000 * bound);
        assert_eq!(total.sxx, 1000 * bound * bound);
    }

    #[test]
    fn an_overflowing_sum_saturates_instead_of_wrapping() {
        use crate::pipeline::aggregate::{AggStats, SATURATED_SUMS};
        let saturated_before = SATURATED_SUMS.load(Ordering::Relaxed);
        let mut total = AggStats::unit(i64::MAX, 0);
        for _ in 0..4 {
            total.add(&AggStats::unit(i64::MAX, 0));
        }
        assert_eq!(
            total.sxx,
            i128::MAX,
            "saturated, never wrapped to a negative sum"
        );
        assert_eq!(total.n, 5);
        // Counted (other tests may count too: the counter is per process).
        assert!(SATURATED_SUMS.load(Ordering::Relaxed) > saturated_before);
    }
}
