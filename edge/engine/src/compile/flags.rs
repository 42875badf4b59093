//! Flag validation and compilation, including the prerequisite graph.

use rustc_hash::FxHashMap as HashMap;

use super::{CFlag, CPrerequisite, CRule, CServe, Compiler, Hashing, WeightPaths, check_type};
use crate::error::CompileErrorKind;
use crate::model::{Flag, Serve};

pub(super) fn compile_flags(c: &mut Compiler, flags: &[Flag]) -> Vec<CFlag> {
    // Index every flag first so prerequisites may point forward.
    let mut seen = HashMap::default();
    for (i, f) in flags.iter().enumerate() {
        let path = format!("flags[{i}].key");
        c.key(&path, &f.key);
        c.unique(&mut seen, &path, &f.key, i);
    }
    c.flag_index = seen;
    let compiled: Vec<CFlag> = flags
        .iter()
        .enumerate()
        .map(|(i, f)| compile_flag(c, &format!("flags[{i}]"), f, flags))
        .collect();
    check_prerequisite_cycles(c, &compiled);
    compiled
}

fn compile_flag(c: &mut Compiler, path: &str, flag: &Flag, all: &[Flag]) -> CFlag {
    let count = flag.variations.len();
    if count == 0 {
        c.invalid(
            format!("{path}.variations"),
            "a flag needs at least one variation",
        );
    }
    for (i, v) in flag.variations.iter().enumerate() {
        check_type(c, &format!("{path}.variations[{i}]"), flag.kind, v);
    }
    variation_index(
        c,
        &format!("{path}.off_variation"),
        flag.off_variation,
        count,
    );
    variation_index(
        c,
        &format!("{path}.default_variation"),
        flag.default_variation,
        count,
    );

    let mut rule_ids = HashMap::default();
    let rules = flag
        .rules
        .iter()
        .enumerate()
        .map(|(r, rule)| {
            let rpath = format!("{path}.rules[{r}]");
            let id = rule.id.clone().unwrap_or_else(|| r.to_string());
            c.unique(&mut rule_ids, &format!("{rpath}.id"), &id, r);
            let condition = c.condition(&format!("{rpath}.condition"), rule.condition.as_ref());
            let segments = c.segment_refs(&format!("{rpath}.segments"), &rule.segments);
            let serve = match &rule.serve {
                Serve::Variation(v) => {
                    variation_index(c, &format!("{rpath}.serve.variation"), *v, count);
                    CServe::Variation(*v)
                }
                Serve::Rollout(rollout) => {
                    let spath = format!("{rpath}.serve.rollout");
                    if rollout.weights.len() != count {
                        c.error(
                            format!("{spath}.weights"),
                            CompileErrorKind::WeightCountMismatch {
                                expected: count,
                                found: rollout.weights.len(),
                            },
                        );
                    }
                    c.non_empty(&format!("{spath}.unit_attribute"), &rollout.unit_attribute);
                    let ranges = c.ranges(
                        &spath,
                        &rollout.weights,
                        rollout.coverage,
                        WeightPaths::Array,
                    );
                    CServe::Rollout(Hashing {
                        unit_attribute: rollout.unit_attribute.clone(),
                        salt: rollout.salt.clone().unwrap_or_else(|| flag.key.clone()),
                        ranges,
                    })
                }
            };
            CRule {
                id,
                condition,
                segments,
                serve,
            }
        })
        .collect();

    let prerequisites = flag
        .prerequisites
        .iter()
        .enumerate()
        .filter_map(|(p, pre)| {
            let ppath = format!("{path}.prerequisites[{p}]");
            let condition = c.condition(&format!("{ppath}.condition"), Some(&pre.condition));
            match c.flag_index.get(&pre.flag) {
                Some(&index) => Some(CPrerequisite {
                    flag: index,
                    satisfied_by: all[index]
                        .variations
                        .iter()
                        .map(|value| {
                            let doc = serde_json::json!({ "value": value });
                            condition.matches(&doc, &c.id_lists)
                        })
                        .collect(),
                }),
                None => {
                    c.error(
                        format!("{ppath}.flag"),
                        CompileErrorKind::UnknownFlag(pre.flag.clone()),
                    );
                    None
                }
            }
        })
        .collect();

    CFlag {
        key: flag.key.clone(),
        variations: flag.variations.clone(),
        enabled: flag.enabled,
        off_variation: flag.off_variation.min(count.saturating_sub(1)),
        default_variation: flag.default_variation.min(count.saturating_sub(1)),
        rules,
        prerequisites,
        holdouts: c.holdout_refs(&format!("{path}.holdouts"), &flag.holdouts),
        window: c.window(&format!("{path}.schedule"), flag.schedule.as_ref()),
    }
}

fn variation_index(c: &mut Compiler, path: &str, index: usize, count: usize) {
    if index >= count {
        c.error(path, CompileErrorKind::VariationOutOfRange { index, count });
    }
}

/// Reports every prerequisite cycle once, as the chain of keys that closes it.
fn check_prerequisite_cycles(c: &mut Compiler, flags: &[CFlag]) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks = vec![Mark::New; flags.len()];
    for root in 0..flags.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (flag, next prerequisite to visit).
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Open;
        while let Some(&mut (flag, ref mut next)) = stack.last_mut() {
            let Some(pre) = flags[flag].prerequisites.get(*next) else {
                marks[flag] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            let target = pre.flag;
            match marks[target] {
                Mark::New => {
                    marks[target] = Mark::Open;
                    stack.push((target, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|&(f, _)| f == target).unwrap_or(0);
                    let mut chain: Vec<String> = stack[from..]
                        .iter()
                        .map(|&(f, _)| flags[f].key.clone())
                        .collect();
                    chain.push(flags[target].key.clone());
                    c.error(
                        format!("flags[{flag}].prerequisites"),
                        CompileErrorKind::PrerequisiteCycle(chain),
                    );
                }
                Mark::Done => {}
            }
        }
    }
}
