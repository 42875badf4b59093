//! Flags: a realistic mix of targeting rules, rollouts, prerequisites, kill switches and
//! schedules.

use serde_json::{Map, Value, json};
use vane_engine::model::{Flag, FlagType, Prerequisite, Rollout, Rule, Serve, Window};

use crate::context::{COUNTRIES, PLANS, PLATFORMS};
use crate::rng::Rng;
use crate::{HOLDOUT, SEGMENT_KEYS, THREE_CLAUSE_FLAG, at_offset, equal_shares};

const AREAS: &[&str] = &[
    "checkout",
    "search",
    "onboarding",
    "billing",
    "feed",
    "profile",
    "payments",
    "growth",
    "mobile",
    "infra",
];
const NOUNS: &[&str] = &[
    "redesign", "ranking", "banner", "limit", "cache", "pricing", "flow", "widget", "copy",
    "timeout",
];

/// Rule shapes, by relative weight.
#[derive(Clone, Copy)]
enum RuleKind {
    /// A fixed variation for units matching a 1–3 clause condition.
    Targeted,
    /// A fixed variation for members of one or two segments (sometimes with one clause more).
    Segment,
    /// A percentage rollout with coverage (sometimes behind one clause).
    Rollout,
}

const RULE_KINDS: &[(RuleKind, u32)] = &[
    (RuleKind::Targeted, 50),
    (RuleKind::Segment, 15),
    (RuleKind::Rollout, 35),
];

/// Generates `count` flags. Flag 0 is always [`THREE_CLAUSE_FLAG`].
pub(crate) fn generate(rng: &mut Rng, count: usize) -> Vec<Flag> {
    let mut flags: Vec<Flag> = Vec::with_capacity(count);
    // Earlier boolean flags without prerequisites of their own: prerequisites stay one level
    // deep, as Unleash requires of its dependencies (and as most real setups are).
    let mut parents: Vec<usize> = Vec::new();
    for i in 0..count {
        let flag = if i == 0 {
            three_clause_flag()
        } else {
            flag(rng, i, &flags, &parents)
        };
        if flag.kind == FlagType::Bool && flag.prerequisites.is_empty() {
            parents.push(i);
        }
        flags.push(flag);
    }
    flags
}

/// `{"country": {"$in": [5 countries]}, "age": {"$gte": 18}, "app_version": {"$vgte": "2.0.0"}}`
/// serving `true`: the flag of the "one flag, three clauses" benchmark.
fn three_clause_flag() -> Flag {
    Flag {
        key: THREE_CLAUSE_FLAG.to_owned(),
        kind: FlagType::Bool,
        variations: vec![json!(false), json!(true)],
        enabled: true,
        off_variation: 0,
        default_variation: 0,
        rules: vec![Rule {
            id: Some("eligible-markets".to_owned()),
            condition: Some(json!({
                "country": {"$in": ["US", "DE", "GB", "FR", "CA"]},
                "age": {"$gte": 18},
                "app_version": {"$vgte": "2.0.0"},
            })),
            segments: Vec::new(),
            serve: Serve::Variation(1),
        }],
        prerequisites: Vec::new(),
        holdouts: Vec::new(),
        schedule: None,
    }
}

fn flag(rng: &mut Rng, i: usize, earlier: &[Flag], parents: &[usize]) -> Flag {
    let key = format!("{}-{}-{i:04}", rng.pick(AREAS), rng.pick(NOUNS));
    let kind = [
        FlagType::Bool,
        FlagType::String,
        FlagType::Number,
        FlagType::Json,
    ][rng.weighted(&[70, 15, 10, 5])];
    let variations = variations(rng, kind);
    let rule_count = rng.weighted(&[20, 45, 25, 10]);
    let rules: Vec<Rule> = (0..rule_count)
        .map(|r| rule(rng, r, kind, variations.len()))
        .collect();
    // A boolean flag without rules is usually a finished launch: on for everyone.
    let default_variation = if kind == FlagType::Bool && rules.is_empty() && rng.chance(60) {
        1
    } else {
        0
    };
    let prerequisites = if i >= 10 && !parents.is_empty() && rng.chance(10) {
        let parent = &earlier[*rng.pick(parents)];
        vec![Prerequisite {
            flag: parent.key.clone(),
            condition: json!({"value": true}),
        }]
    } else {
        Vec::new()
    };
    let holdouts = if rng.chance(3) {
        vec![HOLDOUT.to_owned()]
    } else {
        Vec::new()
    };
    let schedule = rng.chance(5).then(|| {
        if rng.chance(50) {
            // Running: opened a week ago, closes in a month.
            Window {
                start: Some(at_offset(-7 * 24)),
                end: Some(at_offset(30 * 24)),
            }
        } else {
            // Launches in three days.
            Window {
                start: Some(at_offset(3 * 24)),
                end: None,
            }
        }
    });
    Flag {
        key,
        kind,
        variations,
        enabled: rng.chance(95),
        off_variation: 0,
        default_variation,
        rules,
        prerequisites,
        holdouts,
        schedule,
    }
}

fn variations(rng: &mut Rng, kind: FlagType) -> Vec<Value> {
    match kind {
        FlagType::Bool => vec![json!(false), json!(true)],
        FlagType::String => {
            let mut values = vec![json!("control")];
            let options = ["blue", "green", "compact", "wide", "dark", "classic"];
            let extra = 1 + rng.below(3);
            values.extend(rng.sample(&options, extra).into_iter().map(Value::from));
            values
        }
        FlagType::Number => {
            let base = rng.range(1, 10) * 10;
            vec![json!(base), json!(base * 2), json!(base * 5)]
        }
        FlagType::Json => vec![
            json!({"limit": 10, "mode": "safe"}),
            json!({"limit": rng.range(20, 100), "mode": "fast", "retries": 3}),
        ],
    }
}

fn rule(rng: &mut Rng, index: usize, kind: FlagType, variation_count: usize) -> Rule {
    // Booleans serve `true`; multivariate flags serve one of their non-control values.
    let fixed = |rng: &mut Rng| {
        if kind == FlagType::Bool {
            1
        } else {
            1 + rng.below(variation_count - 1)
        }
    };
    let id = rng.chance(50).then(|| format!("rule-{index}"));
    let weights: Vec<u32> = RULE_KINDS.iter().map(|&(_, w)| w).collect();
    match RULE_KINDS[rng.weighted(&weights)].0 {
        RuleKind::Targeted => {
            let clauses = 1 + rng.weighted(&[40, 35, 25]);
            Rule {
                id,
                condition: Some(condition(rng, clauses)),
                segments: Vec::new(),
                serve: Serve::Variation(fixed(rng)),
            }
        }
        RuleKind::Segment => {
            let count = if rng.chance(25) { 2 } else { 1 };
            Rule {
                id,
                condition: rng.chance(40).then(|| condition(rng, 1)),
                segments: rng
                    .sample(SEGMENT_KEYS, count)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                serve: Serve::Variation(fixed(rng)),
            }
        }
        RuleKind::Rollout => {
            let coverage = *rng.pick(&[0.05, 0.1, 0.25, 0.5, 1.0]);
            let weights = if kind == FlagType::Bool {
                // A gradual rollout of `true` to `coverage` of the units.
                vec![0.0, 1.0]
            } else {
                equal_shares(variation_count)
            };
            Rule {
                id,
                condition: rng.chance(30).then(|| condition(rng, 1)),
                segments: Vec::new(),
                serve: Serve::Rollout(Rollout {
                    weights,
                    coverage,
                    unit_attribute: "user_id".to_owned(),
                    salt: None,
                }),
            }
        }
    }
}

/// A GrowthBook-style condition of `clauses` clauses on distinct attributes, using implicit
/// equality, `$in`, `$gte`, `$vgte` and `$regex`.
pub(crate) fn condition(rng: &mut Rng, clauses: usize) -> Value {
    let mut doc = Map::new();
    for attribute in rng.sample(&[0, 1, 2, 3, 4, 5], clauses) {
        let (name, test) = match attribute {
            0 => {
                let countries: Vec<&str> = COUNTRIES.iter().map(|&(c, _)| c).collect();
                let count = 2 + rng.below(4);
                ("country", json!({"$in": rng.sample(&countries, count)}))
            }
            1 => ("plan", json!(rng.pick(PLANS).0)),
            2 => ("age", json!({"$gte": rng.pick(&[18, 21, 25, 30, 40])})),
            3 => {
                let version = format!("{}.{}.0", rng.range(1, 4), rng.range(0, 10));
                ("app_version", json!({"$vgte": version}))
            }
            4 => {
                let pattern = rng.pick(&[
                    "@(example|acme)[.](com|io)$",
                    "^user[0-9]+@gmail[.]com$",
                    "[.]dev$",
                    "@corp[.]example[.]com$",
                ]);
                ("email", json!({"$regex": pattern}))
            }
            _ => {
                let platforms: Vec<&str> = PLATFORMS.iter().map(|&(p, _)| p).collect();
                let count = 1 + rng.below(2);
                ("platform", json!({"$in": rng.sample(&platforms, count)}))
            }
        };
        doc.insert(name.to_owned(), test);
    }
    Value::Object(doc)
}
