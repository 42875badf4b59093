//! Experiments in mutually exclusive layers, and the segments, layers and holdout they use.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vane_engine::model::{
    Experiment, ExperimentStatus, Holdout, Layer, LayerSlot, Segment, SegmentDefinition, Variant,
    Window,
};

use crate::context::{EU, user_id};
use crate::flags::condition;
use crate::rng::Rng;
use crate::{
    HOLDOUT, ID_LIST_SEGMENT, LAYERED_EXPERIMENT, SEGMENT_KEYS, at_offset, basis_points,
    equal_shares,
};

const AREAS: &[&str] = &[
    "checkout",
    "search",
    "onboarding",
    "pricing",
    "feed",
    "email",
    "paywall",
    "signup",
];
const VARIANT_KEYS: &[&str] = &["control", "treatment", "treatment-b", "treatment-c"];

/// Five segments: one id list of internal users (every 97th sample user) and four conditions.
pub(crate) fn segments() -> Vec<Segment> {
    let ids = (0..64).map(|k| Value::from(user_id(k * 97))).collect();
    let conditions = [
        json!({"country": {"$in": EU}}),
        json!({"plan": {"$in": ["pro", "team", "enterprise"]}}),
        json!({"platform": {"$in": ["ios", "android"]}, "app_version": {"$vgte": "3.0.0"}}),
        json!({"age": {"$gte": 18}}),
    ];
    let mut segments = vec![Segment {
        key: ID_LIST_SEGMENT.to_owned(),
        definition: SegmentDefinition::IdList {
            attribute: "user_id".to_owned(),
            ids,
        },
    }];
    segments.extend(
        SEGMENT_KEYS[1..]
            .iter()
            .zip(conditions)
            .map(|(key, doc)| Segment {
                key: (*key).to_owned(),
                definition: SegmentDefinition::Condition(doc),
            }),
    );
    segments
}

pub(crate) fn layers(count: usize) -> Vec<Layer> {
    (0..count)
        .map(|l| Layer {
            key: format!("layer-{l:02}"),
            salt: format!("layer-{l:02}-2026"),
            unit_attribute: "user_id".to_owned(),
        })
        .collect()
}

/// One global holdout keeping 5% of users out of the experiments and flags that name it.
pub(crate) fn holdouts() -> Vec<Holdout> {
    vec![Holdout {
        key: HOLDOUT.to_owned(),
        salt: "global-holdout-2026".to_owned(),
        share: 0.05,
        unit_attribute: "user_id".to_owned(),
    }]
}

/// `count` experiments dealt round-robin over `layers` layers; within a layer each takes its
/// own slot of the bucket space (all of it, or the first half), so the ranges are disjoint.
/// Experiment 0 is [`LAYERED_EXPERIMENT`]: running, untargeted, full coverage, in layer 0.
pub(crate) fn generate(rng: &mut Rng, count: usize, layers: usize) -> Vec<Experiment> {
    let slots = count.div_ceil(layers.max(1));
    (0..count)
        .map(|e| {
            let layer = (layers > 0).then(|| {
                // Whole basis points, so the bounds print short and round-trip through JSON.
                let slot = (e / layers) as u32;
                let width = 10_000 / slots as u32;
                let start = slot * width;
                let end = if e == 0 || rng.chance(70) {
                    start + width
                } else {
                    start + width / 2
                };
                LayerSlot {
                    key: format!("layer-{:02}", e % layers),
                    start: basis_points(start),
                    end: basis_points(end),
                }
            });
            if e == 0 {
                layered_experiment(layer)
            } else {
                experiment(rng, e, layer)
            }
        })
        .collect()
}

fn layered_experiment(layer: Option<LayerSlot>) -> Experiment {
    Experiment {
        key: LAYERED_EXPERIMENT.to_owned(),
        status: ExperimentStatus::Running,
        variants: variants(&[0.5, 0.5], false),
        coverage: 1.0,
        condition: None,
        segments: Vec::new(),
        unit_attribute: "user_id".to_owned(),
        salt: format!("{LAYERED_EXPERIMENT}-v1"),
        layer,
        holdouts: Vec::new(),
        overrides: BTreeMap::new(),
        schedule: None,
    }
}

fn experiment(rng: &mut Rng, e: usize, layer: Option<LayerSlot>) -> Experiment {
    let key = format!("exp-{}-{e:03}", rng.pick(AREAS));
    let status = [
        ExperimentStatus::Running,
        ExperimentStatus::Scheduled,
        ExperimentStatus::Draft,
        ExperimentStatus::Stopped,
        ExperimentStatus::Concluded,
    ][rng.weighted(&[85, 4, 4, 4, 3])];
    let schedule = match status {
        // Half already started on their own, half start in two days.
        ExperimentStatus::Scheduled => Some(Window {
            start: Some(at_offset(if rng.chance(50) { -24 } else { 48 })),
            end: None,
        }),
        ExperimentStatus::Running if rng.chance(10) => Some(Window {
            start: Some(at_offset(-14 * 24)),
            end: Some(at_offset(14 * 24)),
        }),
        _ => None,
    };
    let arms = 2 + rng.weighted(&[60, 30, 10]);
    let variants = variants(&equal_shares(arms), rng.chance(40));
    let overrides = if rng.chance(20) {
        (0..1 + rng.below(3))
            .map(|_| {
                let unit = user_id(rng.below(1000) as u64);
                (unit, rng.pick(&variants).key.clone())
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    Experiment {
        salt: format!("{key}-v1"),
        key,
        status,
        variants,
        coverage: *rng.pick(&[0.1, 0.25, 0.5, 0.8, 1.0]),
        condition: rng.chance(40).then(|| {
            let clauses = 1 + rng.below(2);
            condition(rng, clauses)
        }),
        segments: if rng.chance(10) {
            vec![(*rng.pick(SEGMENT_KEYS)).to_owned()]
        } else {
            Vec::new()
        },
        unit_attribute: "user_id".to_owned(),
        layer,
        holdouts: if rng.chance(30) {
            vec![HOLDOUT.to_owned()]
        } else {
            Vec::new()
        },
        overrides,
        schedule,
    }
}

fn variants(weights: &[f64], payloads: bool) -> Vec<Variant> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| Variant {
            key: VARIANT_KEYS[i].to_owned(),
            weight,
            payload: payloads
                .then(|| json!({"headline": format!("Variant {i}"), "discount": i * 5})),
        })
        .collect()
}
