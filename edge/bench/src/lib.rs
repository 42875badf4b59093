//! Deterministic test data for Vane: generated snapshots and contexts, the same on every run
//! and platform, for the engine benchmarks, the edge load test and demos.
//!
//! ```
//! use vane_bench::{GenSpec, NOW, generate_snapshot, sample_context};
//! let compiled = vane_engine::compile(generate_snapshot(&GenSpec::ISSUE)).unwrap();
//! let all = compiled.evaluate_all(&sample_context(42), NOW);
//! assert_eq!((all.flags.len(), all.experiments.len()), (1000, 200));
//! ```
//!
//! [`unleash`] translates a generated snapshot into an equivalent Unleash client-features
//! document, so that Vane and Unleash's engine can be benchmarked on the same work.

mod context;
mod experiments;
mod flags;
pub mod rng;
pub mod unleash;

pub use context::{sample_context, three_clause_context, user_id};

use vane_engine::{Snapshot, Timestamp};

/// The instant every benchmark and test evaluates at: 2026-11-24T12:00:00Z. Generated
/// schedules are placed relative to it.
pub const NOW: Timestamp = Timestamp::from_unix_millis(NOW_MILLIS);
const NOW_MILLIS: i64 = 1_795_521_600_000;

/// Flag 0 of every generated snapshot: one rule whose condition has three clauses
/// (`country $in`, `age $gte`, `app_version $vgte`); [`three_clause_context`] matches it.
pub const THREE_CLAUSE_FLAG: &str = "checkout-eligible-markets";

/// Experiment 0 when there is at least one layer: running, untargeted, full coverage, holding
/// its own slot of `layer-00`.
pub const LAYERED_EXPERIMENT: &str = "exp-layered-checkout";

/// The id-list segment (every 97th sample user, see [`user_id`]).
pub const ID_LIST_SEGMENT: &str = "internal-users";

/// The one holdout.
pub const HOLDOUT: &str = "global-holdout";

/// Every segment key, the id list first.
pub const SEGMENT_KEYS: &[&str] = &[ID_LIST_SEGMENT, "eu", "paying", "modern-mobile", "adults"];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenSpec {
    pub flags: usize,
    pub experiments: usize,
    /// Experiments are dealt over this many layers; 0 means no layers.
    pub layers: usize,
    /// Same seed, same snapshot. Flags do not depend on the experiment or layer counts.
    pub seed: u64,
}

impl GenSpec {
    /// The issue's benchmark snapshot: 1,000 flags and 200 experiments in 10 layers.
    pub const ISSUE: Self = Self {
        flags: 1000,
        experiments: 200,
        layers: 10,
        seed: 0x5EED_2026,
    };

    /// `flags` flags and nothing else (e.g. 350, the size of Unleash's reference figures).
    pub const fn flags_only(flags: usize) -> Self {
        Self {
            flags,
            experiments: 0,
            layers: 0,
            seed: Self::ISSUE.seed,
        }
    }
}

impl Default for GenSpec {
    fn default() -> Self {
        Self::ISSUE
    }
}

/// Generates a sealed (content-hashed) snapshot of environment `bench`, version 1:
///
/// - flags: ~20% without rules, the rest with 1–3 rules: fixed variations behind 1–3 clause
///   conditions (`$in`, `$gte`, `$vgte`, `$regex`, implicit equality), segment rules,
///   percentage rollouts with coverage; ~10% with a prerequisite on an earlier flag (one level
///   deep, so acyclic), ~5% disabled, ~5% scheduled, ~3% in the holdout; 70% boolean, the rest
///   string, number and JSON;
/// - experiments dealt over the layers with disjoint ranges; ~85% running, the rest scheduled,
///   draft, stopped or concluded; 2–4 variants, some with payloads; ~40% with conditions, ~10%
///   with segments, ~30% in the holdout, ~20% with overrides;
/// - segments: an id list and four conditions; one 5% holdout.
pub fn generate_snapshot(spec: &GenSpec) -> Snapshot {
    let mut snapshot = Snapshot::empty("bench", 1);
    snapshot.published_at = Some(at_offset(-1));
    snapshot.segments = experiments::segments();
    snapshot.holdouts = experiments::holdouts();
    snapshot.layers = experiments::layers(spec.layers);
    snapshot.flags = flags::generate(&mut rng::Rng::new(spec.seed, 1), spec.flags);
    snapshot.experiments = experiments::generate(
        &mut rng::Rng::new(spec.seed, 2),
        spec.experiments,
        spec.layers,
    );
    snapshot.seal()
}

/// `n` equal shares in whole basis points (the last takes the remainder), so that every share
/// prints as a short decimal and survives a JSON round trip bit for bit: the content hash of a
/// sealed snapshot must still verify after `serde_json` parses it back.
pub(crate) fn equal_shares(n: usize) -> Vec<f64> {
    let each = 10_000 / n as u32;
    (0..n)
        .map(|i| {
            let bp = if i + 1 == n {
                10_000 - each * (n as u32 - 1)
            } else {
                each
            };
            basis_points(bp)
        })
        .collect()
}

/// Basis points as a share in [0, 1].
pub(crate) fn basis_points(bp: u32) -> f64 {
    f64::from(bp) / 10_000.0
}

/// [`NOW`] plus `hours`, as RFC 3339.
pub(crate) fn at_offset(hours: i64) -> String {
    Timestamp::from_unix_millis(NOW_MILLIS + hours * 3_600_000)
        .to_rfc3339()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use vane_engine::{AssignReason, FlagReason, compile};

    use super::*;

    fn flag_reason(reason: &FlagReason<'_>) -> &'static str {
        match reason {
            FlagReason::Disabled => "disabled",
            FlagReason::OutsideWindow => "outside_window",
            FlagReason::PrerequisiteFailed { .. } => "prerequisite_failed",
            FlagReason::InHoldout { .. } => "in_holdout",
            FlagReason::RuleMatch { .. } => "rule_match",
            FlagReason::Rollout { .. } => "rollout",
            FlagReason::Default => "default",
            FlagReason::Error { .. } => "error",
        }
    }

    fn assign_reason(reason: &AssignReason<'_>) -> &'static str {
        match reason {
            AssignReason::Assigned { .. } => "assigned",
            AssignReason::Override => "override",
            AssignReason::NotRunning { .. } => "not_running",
            AssignReason::OutsideWindow => "outside_window",
            AssignReason::MissingUnit { .. } => "missing_unit",
            AssignReason::ConditionNotMet => "condition_not_met",
            AssignReason::NotInSegment { .. } => "not_in_segment",
            AssignReason::InHoldout { .. } => "in_holdout",
            AssignReason::NotInLayerRange { .. } => "not_in_layer_range",
            AssignReason::NotInCoverage { .. } => "not_in_coverage",
            AssignReason::Error { .. } => "error",
        }
    }

    #[test]
    fn the_issue_snapshot_compiles_with_the_requested_counts() {
        let snapshot = generate_snapshot(&GenSpec::ISSUE);
        assert_eq!(snapshot.flags.len(), 1000);
        assert_eq!(snapshot.experiments.len(), 200);
        assert_eq!(snapshot.layers.len(), 10);
        assert!(snapshot.experiments.iter().all(|e| e.layer.is_some()));
        let compiled = match compile(snapshot) {
            Ok(compiled) => compiled,
            Err(errors) => panic!("generated snapshot has errors: {errors:#?}"),
        };
        assert_eq!(compiled.flag_keys().count(), 1000);
        assert_eq!(compiled.experiment_keys().count(), 200);
    }

    #[test]
    fn the_sealed_snapshot_survives_a_json_round_trip() {
        let snapshot = generate_snapshot(&GenSpec::ISSUE);
        let json = match serde_json::to_string(&snapshot) {
            Ok(json) => json,
            Err(e) => panic!("{e}"),
        };
        if let Err(errors) = vane_engine::compile_json(&json) {
            panic!("{errors:#?}");
        }
    }

    #[test]
    fn equal_shares_sum_to_one() {
        assert_eq!(equal_shares(3), vec![0.3333, 0.3333, 0.3334]);
        assert_eq!(equal_shares(2), vec![0.5, 0.5]);
    }

    #[test]
    fn generation_is_deterministic_and_flags_ignore_experiment_counts() {
        let a = generate_snapshot(&GenSpec::ISSUE);
        let b = generate_snapshot(&GenSpec::ISSUE);
        assert_eq!(a, b);
        let flags_only = generate_snapshot(&GenSpec::flags_only(1000));
        assert_eq!(flags_only.flags, a.flags);
        assert!(flags_only.experiments.is_empty());
        assert_eq!(sample_context(7), sample_context(7));
        assert_ne!(sample_context(7), sample_context(8));
    }

    #[test]
    fn the_mix_has_every_kind_of_rule_and_setting() {
        use vane_engine::model::Serve;
        let s = generate_snapshot(&GenSpec::ISSUE);
        let rules = || s.flags.iter().flat_map(|f| &f.rules);
        let conditions: Vec<String> = rules()
            .filter_map(|r| r.condition.as_ref())
            .map(|c| c.to_string())
            .collect();
        for operator in ["$in", "$gte", "$vgte", "$regex"] {
            assert!(
                conditions.iter().any(|c| c.contains(operator)),
                "{operator}"
            );
        }
        assert!(conditions.iter().any(|c| c.contains(r#""plan":""#)));
        assert!(rules().any(|r| r.segments.iter().any(|k| k == ID_LIST_SEGMENT)));
        assert!(rules().any(|r| matches!(&r.serve, Serve::Rollout(ro) if ro.coverage < 1.0)));
        assert!(s.flags.iter().any(|f| f.rules.is_empty()));
        assert!(s.flags.iter().any(|f| !f.prerequisites.is_empty()));
        assert!(s.flags.iter().any(|f| !f.enabled));
        assert!(s.flags.iter().any(|f| f.schedule.is_some()));
        assert!(s.flags.iter().any(|f| !f.holdouts.is_empty()));
        let e = &s.experiments;
        assert!(e.iter().any(|e| e.condition.is_some()));
        assert!(e.iter().any(|e| !e.holdouts.is_empty()));
        assert!(e.iter().any(|e| !e.overrides.is_empty()));
        assert!(e.iter().any(|e| !e.segments.is_empty()));
    }

    #[test]
    fn typical_contexts_get_a_mix_of_reasons() {
        let compiled = match compile(generate_snapshot(&GenSpec::ISSUE)) {
            Ok(compiled) => compiled,
            Err(errors) => panic!("generated snapshot has errors: {errors:#?}"),
        };
        let mut assigned = 0;
        for i in 0..10 {
            let all = compiled.evaluate_all(&sample_context(i), NOW);
            let flag_reasons: BTreeSet<&str> =
                all.flags.iter().map(|f| flag_reason(&f.reason)).collect();
            let assign_reasons: BTreeSet<&str> = all
                .experiments
                .iter()
                .map(|a| assign_reason(&a.reason))
                .collect();
            for expected in [
                "default",
                "disabled",
                "outside_window",
                "prerequisite_failed",
                "rollout",
                "rule_match",
            ] {
                assert!(
                    flag_reasons.contains(expected),
                    "{i}: {expected} in {flag_reasons:?}"
                );
            }
            assert!(!flag_reasons.contains("error"), "{i}: {flag_reasons:?}");
            for expected in ["not_in_layer_range", "not_running", "outside_window"] {
                assert!(
                    assign_reasons.contains(expected),
                    "{i}: {expected} in {assign_reasons:?}"
                );
            }
            assigned += all.experiments.iter().filter(|a| a.in_experiment).count();
        }
        // Each user falls in one slot of each of the 10 layers; some of those exclude them.
        assert!(assigned >= 10, "{assigned} assignments for 10 users");
    }

    #[test]
    fn the_three_clause_flag_serves_its_rule_to_its_context() {
        let compiled = match compile(generate_snapshot(&GenSpec::flags_only(10))) {
            Ok(compiled) => compiled,
            Err(errors) => panic!("generated snapshot has errors: {errors:#?}"),
        };
        let result = compiled.evaluate_flag(THREE_CLAUSE_FLAG, &three_clause_context(), NOW);
        assert!(
            matches!(result.reason, FlagReason::RuleMatch { .. }),
            "{:?}",
            result.reason
        );
        assert_eq!(result.value, &serde_json::json!(true));
    }
}
