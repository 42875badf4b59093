//! The compiled form of a condition: what [`super::compile`] builds and [`super::eval`] walks.

use rustc_hash::FxHashSet as HashSet;

use regex::Regex;
use serde_json::Value;

use super::js::{self, JsType};

/// A conjunction of clauses (a condition object).
#[derive(Debug, Clone, Default)]
pub(super) struct Doc {
    pub(super) clauses: Vec<Clause>,
}

#[derive(Debug, Clone)]
pub(super) enum Clause {
    And(Vec<Doc>),
    Or(Vec<Doc>),
    Nor(Vec<Doc>),
    Not(Box<Doc>),
    Attr { path: Path, test: Test },
}

/// A pre-split dot path.
#[derive(Debug, Clone)]
pub(super) struct Path {
    pub(super) steps: Box<[Step]>,
}

/// One step of a dot path: an object key, which is also an array index when it is a canonical
/// non-negative integer (JS `"0" in array`).
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) key: Box<str>,
    pub(super) index: Option<usize>,
}

/// A condition on one value.
#[derive(Debug, Clone)]
pub(super) enum Test {
    /// `String(value) === s`.
    Str(StrEq),
    /// `String(value).toLowerCase() === s` (inside `$alli`), `s` already lower-cased.
    StrI(Box<str>),
    /// `value * 1 === n`.
    Num(f64),
    /// `value !== null && !!value === b`.
    Bool(bool),
    /// `value === null` (a missing value reads as null).
    Null,
    /// Deep equality with an array or a plain object.
    Literal(Value),
    /// Every operator must hold.
    Ops(Box<[Op]>),
}

/// A string operand with the other JS types it equals under `String(value)`, precomputed.
#[derive(Debug, Clone)]
pub(super) struct StrEq {
    pub(super) s: Box<str>,
    /// The number whose JS string is exactly `s`, if any.
    pub(super) number: Option<f64>,
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Cmp(Cmp, Operand),
    In { set: ScalarSet, negate: bool },
    All(Box<[Test]>),
    ElemMatch(Box<ElemMatch>),
    Size(Box<Test>),
    Exists(bool),
    Type(JsType),
    Regex(Regex),
    Not(Box<Test>),
    Group { index: usize, negate: bool },
    Version(Cmp, Box<str>),
}

#[derive(Debug, Clone)]
pub(super) enum ElemMatch {
    /// An operator object applied to each element.
    Value(Test),
    /// A condition document applied to each element as if it were the attributes.
    Doc(Doc),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A strict-equality operand.
#[derive(Debug, Clone)]
pub(super) enum Scalar {
    Null,
    Bool(bool),
    Num(f64),
    Str(Box<str>),
}

/// An operand of `$gt`/`$gte`/`$lt`/`$lte`.
#[derive(Debug, Clone)]
pub(super) enum Operand {
    Num(f64),
    /// A string and `Number(string)`, used when the attribute is not a string.
    Str {
        s: Box<str>,
        number: f64,
    },
}

/// The values of an `$in`-style list, compared with strict equality.
#[derive(Debug, Clone, Default)]
pub(super) struct ScalarSet {
    pub(super) strings: StrSet,
    pub(super) numbers: Vec<f64>,
    pub(super) null: bool,
    pub(super) truth: bool,
    pub(super) falsehood: bool,
    /// `$ini`/`$nini`: strings were lower-cased and attribute strings are too.
    pub(super) insensitive: bool,
}

#[derive(Debug, Clone)]
pub(super) enum StrSet {
    Few(Vec<Box<str>>),
    Many(HashSet<Box<str>>),
}

impl Default for StrSet {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl StrSet {
    pub(super) fn contains(&self, s: &str) -> bool {
        match self {
            Self::Few(items) => items.iter().any(|i| js::str_eq(i, s)),
            Self::Many(items) => items.contains(s),
        }
    }
}
