//! Targeting conditions: MongoDB-style query documents evaluated with the semantics of
//! GrowthBook's SDK condition evaluator, so conditions written for GrowthBook work unchanged.
//!
//! A condition document is compiled once (regexes built, version strings padded, segment names
//! resolved to indexes) and then evaluated many times against a context's attributes.
//! Invalid documents are compile errors with JSON paths; evaluation never panics.
//!
//! The operators, and every place where GrowthBook's JavaScript loose typing decides a result
//! (missing attributes read as null, `String(value)` and `value * 1` comparisons, relational
//! operators across types, version padding), are specified in `spec/README.md`
//! (section `conditions.json`) and pinned by the shared vectors in `spec/conditions.json`.
//!
//! Modules: `tree` is the compiled form, `compile` builds it, `eval` walks it, `js` holds the JavaScript value
//! semantics (number printing, string-to-number, UTF-16 ordering), `version` the version
//! padding.
//!
//! INTERFACE CONTRACT (the rest of the engine relies on exactly these items):
//! - [`Condition::compile`], [`Condition::matches`], [`Condition::always`], [`Condition::is_always`]
//! - [`IdList`] (`IdList::new`, `IdList::contains`) and [`GroupIndex`].

use std::collections::HashMap;

use rustc_hash::FxHashSet as HashSet;

use serde_json::Value;

use crate::error::{CompileError, CompileErrorKind};

mod compile;
mod eval;
mod js;
mod tree;
mod version;

/// Resolves segment names used by `$inGroup` / `$notInGroup` to the index of their id list in
/// the slice passed to [`Condition::matches`]. A name that maps to `None` exists but is not an
/// id-list segment; a missing name is unknown.
pub type GroupIndex = HashMap<String, Option<usize>>;

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    root: tree::Doc,
}

impl Condition {
    /// A condition that matches every context (the empty document `{}`).
    pub fn always() -> Self {
        Self {
            root: tree::Doc::default(),
        }
    }

    /// Whether this condition is the empty document (lets callers skip evaluation).
    pub fn is_always(&self) -> bool {
        self.root.clauses.is_empty()
    }

    /// Compiles `doc`. Every problem is pushed to `errors` with a path starting at `path`
    /// (for example `flags[2].rules[0].condition`), and `None` is returned if there was any.
    pub fn compile(
        doc: &Value,
        path: &str,
        groups: &GroupIndex,
        errors: &mut Vec<CompileError>,
    ) -> Option<Self> {
        if compile::exceeds_depth(doc, compile::MAX_DEPTH) {
            errors.push(CompileError::new(
                path,
                CompileErrorKind::InvalidCondition(format!(
                    "the condition is nested more than {} levels deep",
                    compile::MAX_DEPTH
                )),
            ));
            return None;
        }
        let before = errors.len();
        let root = compile::Compiler { groups, errors }.doc(doc, path);
        if errors.len() > before {
            return None;
        }
        root.map(|root| Self { root })
    }

    /// Evaluates against `attributes` (normally a JSON object). `id_lists` are the id-list
    /// segments indexed as resolved at compile time.
    pub fn matches(&self, attributes: &Value, id_lists: &[IdList]) -> bool {
        self.root.matches(attributes, id_lists)
    }
}

/// The members of an id-list segment (GrowthBook's "saved group"), compared with strict
/// equality as `Array.prototype.includes` does: strings, numbers (by value), booleans and
/// null can be members; arrays and objects never match.
#[derive(Debug, Clone, Default)]
pub struct IdList {
    strings: HashSet<String>,
    /// Bit patterns of the member numbers, with -0 stored as 0.
    numbers: HashSet<u64>,
    null: bool,
    truth: bool,
    falsehood: bool,
}

impl IdList {
    pub fn new(values: &[Value]) -> Self {
        let mut list = Self::default();
        for v in values {
            match v {
                Value::String(s) => {
                    list.strings.insert(s.clone());
                }
                Value::Number(n) => {
                    list.numbers.insert(number_key(js::num(n)));
                }
                Value::Bool(true) => list.truth = true,
                Value::Bool(false) => list.falsehood = true,
                Value::Null => list.null = true,
                Value::Array(_) | Value::Object(_) => {}
            }
        }
        list
    }

    pub fn contains(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.strings.contains(s.as_str()),
            Value::Number(n) => self.numbers.contains(&number_key(js::num(n))),
            Value::Bool(true) => self.truth,
            Value::Bool(false) => self.falsehood,
            Value::Null => self.null,
            Value::Array(_) | Value::Object(_) => false,
        }
    }
}

fn number_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}
