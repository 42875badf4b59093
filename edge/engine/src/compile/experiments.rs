//! Experiment validation and compilation, including layer range exclusivity.

use rustc_hash::FxHashMap as HashMap;

use super::{CExperiment, CLayer, CLayerSlot, CVariant, Compiler, Hashing, WeightPaths};
use crate::error::CompileErrorKind;
use crate::hash::basis_points;
use crate::model::Experiment;

pub(super) fn compile_experiments(
    c: &mut Compiler,
    experiments: &[Experiment],
    layers: &[CLayer],
) -> Vec<CExperiment> {
    let mut seen = HashMap::default();
    let compiled: Vec<CExperiment> = experiments
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let path = format!("experiments[{i}]");
            c.key(&format!("{path}.key"), &e.key);
            c.unique(&mut seen, &format!("{path}.key"), &e.key, i);
            compile_experiment(c, &path, e, layers)
        })
        .collect();
    check_layer_overlaps(c, &compiled, experiments);
    compiled
}

fn compile_experiment(
    c: &mut Compiler,
    path: &str,
    e: &Experiment,
    layers: &[CLayer],
) -> CExperiment {
    if e.variants.len() < 2 {
        c.invalid(
            format!("{path}.variants"),
            "an experiment needs at least two variants",
        );
    }
    let mut variant_keys = HashMap::default();
    for (v, variant) in e.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{v}].key");
        c.key(&vpath, &variant.key);
        c.unique(&mut variant_keys, &vpath, &variant.key, v);
    }
    c.non_empty(&format!("{path}.salt"), &e.salt);
    c.non_empty(&format!("{path}.unit_attribute"), &e.unit_attribute);
    let weights: Vec<f64> = e.variants.iter().map(|v| v.weight).collect();
    let ranges = c.ranges(path, &weights, e.coverage, WeightPaths::Variants);

    let layer = e.layer.as_ref().and_then(|slot| {
        let lpath = format!("{path}.layer");
        let Some(&index) = c.layer_index.get(&slot.key) else {
            c.error(
                format!("{lpath}.key"),
                CompileErrorKind::UnknownLayer(slot.key.clone()),
            );
            return None;
        };
        if !(0.0 <= slot.start && slot.start < slot.end && slot.end <= 1.0) {
            c.invalid(
                lpath.clone(),
                format!(
                    "[{}, {}) is not a range with 0 <= start < end <= 1",
                    slot.start, slot.end
                ),
            );
        }
        let layer = &layers[index];
        if layer.unit_attribute != e.unit_attribute {
            c.error(
                format!("{path}.unit_attribute"),
                CompileErrorKind::LayerUnitMismatch {
                    experiment: e.unit_attribute.clone(),
                    layer: layer.unit_attribute.clone(),
                },
            );
        }
        Some(CLayerSlot {
            layer: index,
            start: basis_points(slot.start),
            end: basis_points(slot.end),
        })
    });

    let mut overrides = HashMap::with_capacity_and_hasher(e.overrides.len(), Default::default());
    for (unit, variant) in &e.overrides {
        match variant_keys.get(variant) {
            Some(&index) => {
                overrides.insert(unit.clone(), index);
            }
            None => c.invalid(
                format!("{path}.overrides.{unit}"),
                format!("`{variant}` is not a variant of this experiment"),
            ),
        }
    }

    CExperiment {
        key: e.key.clone(),
        status: e.status,
        variants: e
            .variants
            .iter()
            .map(|v| CVariant {
                key: v.key.clone(),
                payload: v.payload.clone(),
            })
            .collect(),
        hashing: Hashing {
            unit_attribute: e.unit_attribute.clone(),
            salt: e.salt.clone(),
            ranges,
        },
        condition: c.condition(&format!("{path}.condition"), e.condition.as_ref()),
        segments: c.segment_refs(&format!("{path}.segments"), &e.segments),
        layer,
        holdouts: c.holdout_refs(&format!("{path}.holdouts"), &e.holdouts),
        overrides,
        window: c.window(&format!("{path}.schedule"), e.schedule.as_ref()),
    }
}

/// Experiments that can assign (scheduled or running) must hold disjoint ranges of their layer.
fn check_layer_overlaps(c: &mut Compiler, compiled: &[CExperiment], source: &[Experiment]) {
    let mut by_layer: HashMap<usize, Vec<usize>> = HashMap::default();
    for (i, e) in compiled.iter().enumerate() {
        if let Some(slot) = e.layer
            && e.status.may_assign()
        {
            by_layer.entry(slot.layer).or_default().push(i);
        }
    }
    for members in by_layer.values() {
        for (a_pos, &a) in members.iter().enumerate() {
            for &b in &members[..a_pos] {
                let (Some(sa), Some(sb)) = (compiled[a].layer, compiled[b].layer) else {
                    continue;
                };
                if sa.start < sb.end && sb.start < sa.end {
                    let slot = source[a].layer.as_ref();
                    c.error(
                        format!("experiments[{a}].layer"),
                        CompileErrorKind::OverlappingLayerRange {
                            start: slot.map(|s| s.start.to_string()).unwrap_or_default(),
                            end: slot.map(|s| s.end.to_string()).unwrap_or_default(),
                            other: compiled[b].key.clone(),
                        },
                    );
                }
            }
        }
    }
}
