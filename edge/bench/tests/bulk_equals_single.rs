//! Bulk evaluation works out unit ids, layer buckets and holdout decisions once per call and
//! shares them between flags and experiments. That sharing must never change an answer: every
//! flag and assignment of `evaluate_all` equals the same key evaluated on its own, over the
//! benchmark snapshot (1,000 flags, 200 experiments in 10 layers, holdouts, prerequisites) and
//! many generated contexts, including ones with a numeric unit id or none at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use vane_bench::{GenSpec, NOW, generate_snapshot, sample_context};
use vane_engine::compile;

fn contexts() -> impl Iterator<Item = Value> {
    (0..400u64).map(|i| {
        let mut context = sample_context(i);
        let map = context.as_object_mut().unwrap();
        match i % 10 {
            // A numeric unit id hashes as JavaScript prints it.
            7 => {
                map.insert("user_id".into(), json!(i * 1_000_003));
            }
            // No unit id: rollouts fall through, experiments report the missing unit.
            9 => {
                map.remove("user_id");
            }
            _ => {}
        }
        context
    })
}

#[test]
fn evaluate_all_equals_each_key_evaluated_alone() {
    let compiled = compile(generate_snapshot(&GenSpec::ISSUE)).unwrap();
    let mut assigned = 0;
    for context in contexts() {
        let all = compiled.evaluate_all(&context, NOW);
        assert_eq!(all.flags.len(), 1000);
        assert_eq!(all.experiments.len(), 200);
        for flag in &all.flags {
            assert_eq!(
                *flag,
                compiled.evaluate_flag(flag.key, &context, NOW),
                "flag {} for {context}",
                flag.key
            );
        }
        for assignment in &all.experiments {
            assert_eq!(
                *assignment,
                compiled.assign(assignment.experiment, &context, NOW),
                "experiment {} for {context}",
                assignment.experiment
            );
            assigned += usize::from(assignment.in_experiment);
        }
        assert_eq!(all.flags, compiled.evaluate_flags(&context, NOW));
        assert_eq!(all.experiments, compiled.assign_all(&context, NOW));
    }
    // The comparison is only meaningful if units really get placed.
    assert!(
        assigned > 400,
        "only {assigned} assignments in 400 contexts"
    );
}
