//! Runs every case of `spec/conditions.json` (the shared, language-neutral targeting-condition
//! vectors; format in spec/README.md). All failing case names are reported at once.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;
use vane_engine::condition::{Condition, GroupIndex, IdList};

fn load() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/conditions.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The segments of the file: id lists get an index, `other_segments` exist but are not id lists.
fn segments(doc: &Value) -> (GroupIndex, Vec<IdList>) {
    let mut groups = GroupIndex::new();
    let mut lists = Vec::new();
    if let Some(map) = doc["id_lists"].as_object() {
        for (name, members) in map {
            let Some(members) = members.as_array() else {
                panic!("id list `{name}` is not an array");
            };
            groups.insert(name.clone(), Some(lists.len()));
            lists.push(IdList::new(members));
        }
    }
    for name in doc["other_segments"].as_array().into_iter().flatten() {
        let Some(name) = name.as_str() else {
            panic!("other_segments holds a non-string: {name}");
        };
        groups.insert(name.to_owned(), None);
    }
    (groups, lists)
}

/// (path, code) pairs, counted, so that comparisons ignore order but not multiplicity.
fn error_bag(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<(String, String), usize> {
    let mut bag = BTreeMap::new();
    for pair in pairs {
        *bag.entry(pair).or_insert(0) += 1;
    }
    bag
}

fn run_case(case: &Value, groups: &GroupIndex, lists: &[IdList]) -> Result<(), String> {
    let mut errors = Vec::new();
    let compiled = Condition::compile(&case["condition"], "condition", groups, &mut errors);
    let got = error_bag(errors.iter().map(|e| {
        let code = serde_json::to_value(e)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        (e.path.clone(), code)
    }));

    if let Some(expected_errors) = case.get("errors") {
        let Some(expected_errors) = expected_errors.as_array() else {
            return Err("`errors` is not an array".into());
        };
        let want = error_bag(expected_errors.iter().map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        }));
        if want.is_empty() {
            return Err("`errors` is empty; use `expected` for valid conditions".into());
        }
        if compiled.is_some() {
            return Err("compiled, but errors were expected".into());
        }
        return if got == want {
            Ok(())
        } else {
            Err(format!("expected errors {want:?}, got {errors:?}"))
        };
    }

    let Some(expected) = case["expected"].as_bool() else {
        return Err("a case needs `expected` (a boolean) or `errors`".into());
    };
    let Some(condition) = compiled else {
        return Err(format!("did not compile: {errors:?}"));
    };
    let matched = condition.matches(&case["attributes"], lists);
    if matched == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {matched}"))
    }
}

#[test]
fn every_condition_vector_matches() {
    let doc = load();
    assert_eq!(doc["version"], 1, "unknown conditions.json version");
    let (groups, lists) = segments(&doc);
    let Some(cases) = doc["cases"].as_array() else {
        panic!("conditions.json has no `cases` array");
    };

    let mut names = HashSet::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap_or("").to_owned();
        if name.is_empty() {
            failures.push(format!("case {i}: has no name"));
            continue;
        }
        if !names.insert(name.clone()) {
            failures.push(format!("{name}: the name is used twice"));
        }
        if let Err(why) = run_case(case, &groups, &lists) {
            failures.push(format!("{name}: {why}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} condition vectors failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        cases.len() >= 150,
        "expected at least 150 condition vectors, found {}",
        cases.len()
    );
}
