//! Evaluating a compiled condition. No allocation on the common paths (scalar attributes),
//! no panics, recursion bounded by the compiled document's depth.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::IdList;
use super::js::{self, JsType};
use super::tree::{
    Clause, Cmp, Doc, ElemMatch, Op, Operand, Path, Scalar, ScalarSet, Step, StrEq, Test,
};
use super::version;

static NULL: Value = Value::Null;

/// Attribute objects up to this size are searched linearly.
const SMALL_MAP: usize = 12;

impl Doc {
    pub(super) fn matches(&self, attributes: &Value, lists: &[IdList]) -> bool {
        self.clauses.iter().all(|c| c.matches(attributes, lists))
    }
}

impl Clause {
    fn matches(&self, attributes: &Value, lists: &[IdList]) -> bool {
        match self {
            Clause::Attr { path, test } => test.matches(path.resolve(attributes), lists),
            Clause::And(docs) => docs.iter().all(|d| d.matches(attributes, lists)),
            Clause::Or(docs) => {
                docs.is_empty() || docs.iter().any(|d| d.matches(attributes, lists))
            }
            // GrowthBook negates `$or`, so an empty `$nor` is false.
            Clause::Nor(docs) => {
                !(docs.is_empty() || docs.iter().any(|d| d.matches(attributes, lists)))
            }
            Clause::Not(doc) => !doc.matches(attributes, lists),
        }
    }
}

impl Path {
    /// The value at this path; a missing step reads as null (GrowthBook's `getPath`).
    #[inline]
    fn resolve<'v>(&self, root: &'v Value) -> &'v Value {
        if let [step] = &*self.steps {
            return step.get(root).unwrap_or(&NULL);
        }
        let mut current = root;
        for step in self.steps.iter() {
            match step.get(current) {
                Some(v) => current = v,
                None => return &NULL,
            }
        }
        current
    }
}

impl Step {
    #[inline]
    fn get<'v>(&self, current: &'v Value) -> Option<&'v Value> {
        match current {
            Value::Object(map) => get(map, &self.key),
            Value::Array(items) => self.index.and_then(|i| items.get(i)),
            _ => None,
        }
    }
}

/// `map.get(key)`. Small maps (almost all attribute objects) are scanned comparing lengths
/// first, which skips most byte comparisons; the ordered B-tree search compares bytes at every
/// step.
fn get<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= SMALL_MAP {
        map.iter().find(|(k, _)| js::str_eq(k, key)).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

impl Test {
    pub(super) fn matches(&self, v: &Value, lists: &[IdList]) -> bool {
        match self {
            Test::Str(s) => s.matches(v),
            Test::StrI(lower) => str_eq_insensitive(v, lower),
            Test::Num(n) => js::to_number(v) == *n,
            Test::Bool(b) => !v.is_null() && js::truthy(v) == *b,
            Test::Null => v.is_null(),
            Test::Literal(literal) => js::deep_eq(v, literal),
            Test::Ops(ops) => match &**ops {
                [op] => op.matches(v, lists),
                _ => ops.iter().all(|op| op.matches(v, lists)),
            },
        }
    }
}

impl StrEq {
    fn matches(&self, v: &Value) -> bool {
        match v {
            Value::String(s) => js::str_eq(s, &self.s),
            Value::Number(n) => self.number == Some(js::num(n)),
            Value::Bool(b) => *self.s == *if *b { "true" } else { "false" },
            Value::Null => &*self.s == "null",
            Value::Object(_) => &*self.s == "[object Object]",
            Value::Array(_) => array_string_equals(v, &self.s),
        }
    }
}

impl Op {
    fn matches(&self, v: &Value, lists: &[IdList]) -> bool {
        match self {
            Op::Eq(s) => s.strict_eq(v),
            Op::Ne(s) => !s.strict_eq(v),
            Op::Cmp(cmp, operand) => cmp.holds(compare(v, operand)),
            Op::In { set, negate } => set.contains_any(v) != *negate,
            Op::All(tests) => match v {
                Value::Array(items) => tests
                    .iter()
                    .all(|t| items.iter().any(|i| t.matches(i, lists))),
                _ => false,
            },
            Op::ElemMatch(em) => match v {
                // GrowthBook skips null elements; falsy ones like 0, "" and false are tested.
                Value::Array(items) => items.iter().any(|i| !i.is_null() && em.matches(i, lists)),
                _ => false,
            },
            Op::Size(test) => match v {
                Value::Array(items) => test.matches(&Value::from(items.len()), lists),
                _ => false,
            },
            Op::Exists(expected) => v.is_null() != *expected,
            Op::Type(t) => JsType::of(v) == *t,
            Op::Regex(re) => match v {
                Value::String(s) => re.is_match(s),
                other => regex_on_non_string(re, other),
            },
            Op::Not(test) => !test.matches(v, lists),
            Op::Group { index, negate } => {
                let member = lists.get(*index).is_some_and(|list| match v {
                    Value::Array(items) => items.iter().any(|i| list.contains(i)),
                    other => list.contains(other),
                });
                member != *negate
            }
            Op::Version(cmp, padded) => cmp.holds(Some(version::cmp_value(v, padded))),
        }
    }
}

#[cold]
#[inline(never)]
fn str_eq_insensitive(v: &Value, lower: &str) -> bool {
    *js::lowercase(&js::js_string(v)) == *lower
}

#[cold]
#[inline(never)]
fn array_string_equals(v: &Value, s: &str) -> bool {
    js::js_string_equals(v, s)
}

#[cold]
#[inline(never)]
fn regex_on_non_string(re: &regex::Regex, v: &Value) -> bool {
    re.is_match(&js::js_string(v))
}

impl ElemMatch {
    fn matches(&self, element: &Value, lists: &[IdList]) -> bool {
        match self {
            ElemMatch::Value(test) => test.matches(element, lists),
            ElemMatch::Doc(doc) => doc.matches(element, lists),
        }
    }
}

impl Cmp {
    /// Whether an ordering satisfies this comparison; `None` (NaN involved) satisfies only `Ne`.
    fn holds(self, ord: Option<Ordering>) -> bool {
        match (self, ord) {
            (Cmp::Ne, ord) => ord != Some(Ordering::Equal),
            (_, None) => false,
            (Cmp::Eq, Some(o)) => o == Ordering::Equal,
            (Cmp::Gt, Some(o)) => o == Ordering::Greater,
            (Cmp::Gte, Some(o)) => o != Ordering::Less,
            (Cmp::Lt, Some(o)) => o == Ordering::Less,
            (Cmp::Lte, Some(o)) => o != Ordering::Greater,
        }
    }
}

/// JS's abstract relational comparison of `v` with an operand: two strings compare by UTF-16
/// code units, anything else compares as numbers (`null` is 0, booleans 0/1, arrays and
/// objects through their string).
fn compare(v: &Value, operand: &Operand) -> Option<Ordering> {
    match (v, operand) {
        (Value::Number(x), Operand::Num(n)) => js::num(x).partial_cmp(n),
        (Value::Number(x), Operand::Str { number, .. }) => js::num(x).partial_cmp(number),
        (Value::String(s), Operand::Str { s: o, .. }) => Some(js::cmp_utf16(s, o)),
        (Value::Array(_) | Value::Object(_), Operand::Str { s: o, .. }) => {
            Some(js::js_string_cmp(v, o))
        }
        (_, Operand::Num(n)) => js::to_number(v).partial_cmp(n),
        (_, Operand::Str { number, .. }) => js::to_number(v).partial_cmp(number),
    }
}

impl Scalar {
    /// `v === self`.
    fn strict_eq(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Null, Value::Null) => true,
            (Scalar::Bool(a), Value::Bool(b)) => a == b,
            (Scalar::Num(a), Value::Number(b)) => *a == js::num(b),
            (Scalar::Str(a), Value::String(b)) => js::str_eq(a, b),
            _ => false,
        }
    }
}

impl ScalarSet {
    fn contains(&self, v: &Value) -> bool {
        match v {
            Value::String(s) if self.insensitive => self.strings.contains(&js::lowercase(s)),
            Value::String(s) => self.strings.contains(s),
            Value::Number(n) => self.numbers.contains(&js::num(n)),
            Value::Bool(true) => self.truth,
            Value::Bool(false) => self.falsehood,
            Value::Null => self.null,
            Value::Array(_) | Value::Object(_) => false,
        }
    }

    /// Membership of the value, or of any element when the value is an array.
    fn contains_any(&self, v: &Value) -> bool {
        match v {
            Value::Array(items) => items.iter().any(|i| self.contains(i)),
            other => self.contains(other),
        }
    }
}
