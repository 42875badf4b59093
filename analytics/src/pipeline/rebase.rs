//! When the configuration changes: which experiments' aggregates no longer match their
//! definitions, and what they should be.
//!
//! Stored aggregate rows are sums of the contributions units made under the definitions in use
//! when each batch was committed. After a change (a restarted experiment's new start, another
//! variant list, a metric's window or cap, a metric added to an experiment), the consumer
//! rebuilds its unit state under the new definitions and has the store rebase the changed
//! experiments' rows onto the fresh totals ([`super::store::Store::rebase`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Experiment, MetricType};

use super::state::PipelineState;
use super::store::Totals;

/// What an experiment's aggregates depend on, by name (indexes differ between configurations).
#[derive(Debug, PartialEq)]
struct Definition<'a> {
    variants: &'a [String],
    unit: Option<&'a str>,
    start: i64,
    end: Option<i64>,
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Debug, PartialEq)]
struct MetricDefinition<'a> {
    key: &'a str,
    metric_type: MetricType,
    event: Option<&'a str>,
    denominator: Option<&'a str>,
    window_ms: Option<i64>,
    cap: Option<i64>,
    cuped_window_ms: Option<i64>,
}

fn definition<'a>(config: &'a Config, exp: &'a Experiment) -> Definition<'a> {
    Definition {
        variants: &exp.variants,
        unit: config
            .attributes
            .get(usize::from(exp.unit))
            .map(String::as_str),
        start: exp.start,
        end: exp.end,
        metrics: exp
            .metrics
            .iter()
            .filter_map(|&m| config.metrics.get(m))
            .map(|m| MetricDefinition {
                key: &m.key,
                metric_type: m.metric_type,
                event: config.event_name(m.event),
                denominator: m.denominator.and_then(|d| config.event_name(d)),
                window_ms: m.window_ms,
                cap: m.cap,
                cuped_window_ms: m.cuped_window_ms,
            })
            .collect(),
    }
}

/// The experiments of `new` whose aggregates `old` computed differently, or not at all.
pub fn changed_experiments(old: &Config, new: &Config) -> BTreeSet<String> {
    new.experiments
        .iter()
        .filter(|e| {
            old.experiment(&e.key)
                .is_none_or(|(_, o)| definition(old, o) != definition(new, e))
        })
        .map(|e| e.key.clone())
        .collect()
}

/// Every unit's contribution to each of `experiments`, as stored rows (an experiment without
/// units gets no rows).
pub fn totals(state: &PipelineState, experiments: &BTreeSet<String>) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = experiments
        .iter()
        .map(|e| (e.clone(), Totals::new()))
        .collect();
    for (key, stats) in state.totals() {
        if let Some(rows) = out.get_mut(&key.experiment) {
            rows.insert(key, stats);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::EXAMPLE;

    fn changed(old: &str, new: &str) -> Vec<String> {
        changed_experiments(
            &Config::from_json(old).unwrap(),
            &Config::from_json(new).unwrap(),
        )
        .into_iter()
        .collect()
    }

    #[test]
    fn only_definitions_that_change_aggregates_count_as_changes() {
        assert!(changed(EXAMPLE, EXAMPLE).is_empty());
        assert_eq!(changed(r#"{}"#, EXAMPLE), ["checkout"]);
        // Another start, another window, another cap.
        for (from, to) in [
            ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ("\"window_hours\": 72", "\"window_hours\": 24"),
            ("\"cap\": 500", "\"cap\": 50"),
            ("[\"control\", \"treatment\"]", "[\"control\", \"b\"]"),
        ] {
            assert_eq!(
                changed(EXAMPLE, &EXAMPLE.replace(from, to)),
                ["checkout"],
                "{to}"
            );
        }
        // The analysis method and traffic weights do not change the sums; neither does an
        // unused metric appearing (its event indexes shift the others').
        let analysis = EXAMPLE.replace(
            "\"metrics\": [\"purchased\"",
            "\"analysis\": {\"method\": \"bayesian\"}, \"traffic_weights\": [0.3, 0.7], \"metrics\": [\"purchased\"",
        );
        assert!(changed(EXAMPLE, &analysis).is_empty());
        let extra = EXAMPLE.replace(
            "\"metrics\": [\n        {",
            "\"metrics\": [\n        {\"key\": \"first\", \"type\": \"count\", \"event\": \"visit\"}, {",
        );
        assert_ne!(extra, EXAMPLE);
        assert!(changed(EXAMPLE, &extra).is_empty());
    }
}
