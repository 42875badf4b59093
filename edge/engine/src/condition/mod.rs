//! Targeting conditions: MongoDB-style query documents evaluated with the semantics of
//! GrowthBook's SDK condition evaluator, so conditions written for GrowthBook work unchanged.
//!
//! A condition document is compiled once (regexes built, version strings padded, segment names
//! resolved to indexes) and then evaluated many times against a context's attributes.
//! Invalid documents are compile errors with JSON paths; evaluation never panics.
//!
//! INTERFACE CONTRACT (the rest of the engine relies on exactly these items):
//! - [`Condition::compile`], [`Condition::matches`], [`Condition::always`], [`Condition::is_always`]
//! - [`IdList`] (`IdList::new`, `IdList::contains`) and [`GroupIndex`].

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::error::CompileError;

/// Resolves segment names used by `$inGroup` / `$notInGroup` to the index of their id list in
/// the slice passed to [`Condition::matches`]. A name that maps to `None` exists but is not an
/// id-list segment; a missing name is unknown.
pub type GroupIndex = HashMap<String, Option<usize>>;

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    _todo: (),
}

impl Condition {
    /// A condition that matches every context (the empty document `{}`).
    pub fn always() -> Self {
        Self { _todo: () }
    }

    /// Whether this condition is the empty document (lets callers skip evaluation).
    pub fn is_always(&self) -> bool {
        true
    }

    /// Compiles `doc`. Every problem is pushed to `errors` with a path starting at `path`
    /// (for example `flags[2].rules[0].condition`), and `None` is returned if there was any.
    pub fn compile(
        doc: &Value,
        path: &str,
        groups: &GroupIndex,
        errors: &mut Vec<CompileError>,
    ) -> Option<Self> {
        let _ = (doc, path, groups, errors);
        Some(Self::always())
    }

    /// Evaluates against `attributes` (normally a JSON object). `id_lists` are the id-list
    /// segments indexed as resolved at compile time.
    pub fn matches(&self, attributes: &Value, id_lists: &[IdList]) -> bool {
        let _ = (attributes, id_lists);
        true
    }
}

/// The members of an id-list segment (GrowthBook's "saved group"), compared with strict
/// equality as `Array.prototype.includes` does.
#[derive(Debug, Clone, Default)]
pub struct IdList {
    strings: HashSet<String>,
}

impl IdList {
    pub fn new(values: &[Value]) -> Self {
        Self {
            strings: values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        }
    }

    pub fn contains(&self, value: &Value) -> bool {
        value.as_str().is_some_and(|s| self.strings.contains(s))
    }
}
