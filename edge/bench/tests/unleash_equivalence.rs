//! The Unleash translation used by the yggdrasil benchmark is real equivalent work: yggdrasil
//! loads it without warnings and, where no hashing is involved, turns on exactly the boolean
//! flags Vane serves `true`.

use std::collections::HashMap;

use unleash_yggdrasil::{ClientFeatures, Context, EngineState, UpdateMessage};
use vane_bench::{GenSpec, NOW, generate_snapshot, sample_context, unleash};
use vane_engine::compile;
use vane_engine::model::{Flag, FlagType, Serve};

fn deterministic(flag: &Flag, by_key: &HashMap<&str, &Flag>) -> bool {
    flag.kind == FlagType::Bool
        && flag.holdouts.is_empty()
        && flag
            .rules
            .iter()
            .all(|r| matches!(r.serve, Serve::Variation(_)))
        && flag.prerequisites.iter().all(|p| {
            by_key
                .get(p.flag.as_str())
                .is_some_and(|f| deterministic(f, by_key))
        })
}

#[test]
fn yggdrasil_agrees_with_vane_on_unhashed_boolean_flags() {
    let snapshot = generate_snapshot(&GenSpec::ISSUE);
    let doc = match unleash::client_features(&snapshot, true) {
        Ok(doc) => doc,
        Err(e) => panic!("{e}"),
    };
    let features: ClientFeatures = match serde_json::from_value(doc) {
        Ok(features) => features,
        Err(e) => panic!("not a client-features document: {e}"),
    };
    let engine = EngineState::default();
    let warnings = engine.take_state(UpdateMessage::FullResponse(features));
    assert!(warnings.is_none(), "{warnings:?}");

    let by_key: HashMap<&str, &Flag> = snapshot.flags.iter().map(|f| (f.key.as_str(), f)).collect();
    let checked: Vec<&Flag> = snapshot
        .flags
        .iter()
        .filter(|f| deterministic(f, &by_key))
        .collect();
    assert!(
        checked.len() > 300,
        "only {} flags to compare",
        checked.len()
    );
    let compiled = match compile(snapshot.clone()) {
        Ok(compiled) => compiled,
        Err(errors) => panic!("{errors:?}"),
    };
    for i in 0..50 {
        let attributes = sample_context(i);
        let context: Context = match serde_json::from_value(unleash::context(&attributes, NOW)) {
            Ok(context) => context,
            Err(e) => panic!("not an Unleash context: {e}"),
        };
        for flag in &checked {
            let vane = compiled.evaluate_flag(&flag.key, &attributes, NOW);
            let ygg = engine.is_enabled(&flag.key, &context, &None);
            assert_eq!(
                vane.value.as_bool(),
                Some(ygg),
                "{} for {attributes}: vane {:?}",
                flag.key,
                vane.reason
            );
        }
    }
}
