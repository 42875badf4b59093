//! Compiling a condition document into the tree that [`super::eval`] walks.
//!
//! Everything that can be decided once is decided here: dot paths are split, regexes built,
//! version operands padded, string operands converted to the numbers they would compare as,
//! `$in` lists turned into sets and segment names resolved. Every problem is reported with its
//! path; compilation carries on so that all problems are reported at once.

use regex::RegexBuilder;
use serde_json::{Map, Value};

use super::GroupIndex;
use super::js::{self, JsType};
use super::tree::{
    Clause, Cmp, Doc, ElemMatch, Op, Operand, Path, Scalar, ScalarSet, Step, StrEq, StrSet, Test,
};
use super::version;
use crate::error::{CompileError, CompileErrorKind};

/// Documents nested deeper than this are rejected (keeps compile and evaluation recursion
/// bounded; serde_json's parser stops at 128 anyway).
pub(super) const MAX_DEPTH: usize = 100;

/// `$in` lists with more strings than this are looked up through a hash set.
const SET_THRESHOLD: usize = 8;

const LOGICAL: [&str; 4] = ["$and", "$or", "$nor", "$not"];

/// The operators that apply to a value (an attribute or an array element).
const VALUE_OPERATORS: [&str; 27] = [
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$ini",
    "$nini",
    "$all",
    "$alli",
    "$elemMatch",
    "$size",
    "$exists",
    "$type",
    "$regex",
    "$regexi",
    "$not",
    "$inGroup",
    "$notInGroup",
    "$veq",
    "$vne",
    "$vgt",
    "$vgte",
    "$vlt",
    "$vlte",
];

impl Path {
    fn parse(key: &str) -> Self {
        let steps = key
            .split('.')
            .map(|part| Step {
                key: part.into(),
                index: canonical_index(part),
            })
            .collect();
        Self { steps }
    }
}

fn canonical_index(s: &str) -> Option<usize> {
    let canonical = s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()));
    if canonical { s.parse().ok() } else { None }
}

/// Whether `v` nests deeper than `limit` (checked without recursion).
pub(super) fn exceeds_depth(v: &Value, limit: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

fn child(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A non-empty object whose keys all start with `$`.
fn is_operator_object(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| k.starts_with('$'))
}

pub(super) struct Compiler<'a> {
    pub(super) groups: &'a GroupIndex,
    pub(super) errors: &'a mut Vec<CompileError>,
}

impl Compiler<'_> {
    fn invalid(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(CompileError::new(
            path,
            CompileErrorKind::InvalidCondition(message.into()),
        ));
    }

    /// A condition document (an object of attribute paths and logical operators).
    pub(super) fn doc(&mut self, v: &Value, path: &str) -> Option<Doc> {
        let Value::Object(map) = v else {
            self.invalid(path, "a condition must be a JSON object");
            return None;
        };
        let mut clauses = Vec::with_capacity(map.len());
        let mut ok = true;
        for (key, val) in map {
            let p = child(path, key);
            let clause = match key.as_str() {
                "$and" => self.doc_list(val, &p, key).map(Clause::And),
                "$or" => self.doc_list(val, &p, key).map(Clause::Or),
                "$nor" => self.doc_list(val, &p, key).map(Clause::Nor),
                "$not" => self.doc(val, &p).map(|d| Clause::Not(Box::new(d))),
                "$savedGroup" | "$savedGroups" | "$notSavedGroups" => {
                    self.invalid(&p, format!("`{key}` is not supported; use `$inGroup`"));
                    None
                }
                k if VALUE_OPERATORS.contains(&k) => {
                    self.invalid(
                        &p,
                        format!("`{k}` applies to a value; put it under an attribute name"),
                    );
                    None
                }
                _ => self.test(val, &p, false).map(|test| Clause::Attr {
                    path: Path::parse(key),
                    test,
                }),
            };
            match clause {
                Some(c) => clauses.push(c),
                None => ok = false,
            }
        }
        ok.then_some(Doc { clauses })
    }

    fn doc_list(&mut self, v: &Value, path: &str, op: &str) -> Option<Vec<Doc>> {
        let Value::Array(items) = v else {
            self.invalid(path, format!("`{op}` expects an array of conditions"));
            return None;
        };
        let mut docs = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            match self.doc(it, &item(path, i)) {
                Some(d) => docs.push(d),
                None => ok = false,
            }
        }
        ok.then_some(docs)
    }

    /// A condition on one value: a literal to compare with or an operator object.
    fn test(&mut self, v: &Value, path: &str, insensitive: bool) -> Option<Test> {
        Some(match v {
            Value::String(s) if insensitive => Test::StrI(js::lowercase(s).into()),
            Value::String(s) => Test::Str(StrEq {
                s: s.as_str().into(),
                number: number_spelled_as(s),
            }),
            Value::Number(n) => Test::Num(js::num(n)),
            Value::Bool(b) => Test::Bool(*b),
            Value::Null => Test::Null,
            Value::Array(_) => Test::Literal(v.clone()),
            Value::Object(map) if is_operator_object(map) => return self.ops(map, path),
            Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
                self.invalid(
                    path,
                    "an object mixes `$` operators with plain keys; use only operators, or \
                     only plain keys to compare with an object",
                );
                return None;
            }
            Value::Object(_) => Test::Literal(v.clone()),
        })
    }

    fn ops(&mut self, map: &Map<String, Value>, path: &str) -> Option<Test> {
        let mut ops = Vec::with_capacity(map.len());
        let mut ok = true;
        for (name, operand) in map {
            match self.op(name, operand, &child(path, name)) {
                Some(op) => ops.push(op),
                None => ok = false,
            }
        }
        ok.then(|| Test::Ops(ops.into_boxed_slice()))
    }

    fn op(&mut self, name: &str, operand: &Value, path: &str) -> Option<Op> {
        let cmp = |suffix: &str| match suffix {
            "eq" => Some(Cmp::Eq),
            "ne" => Some(Cmp::Ne),
            "gt" => Some(Cmp::Gt),
            "gte" => Some(Cmp::Gte),
            "lt" => Some(Cmp::Lt),
            "lte" => Some(Cmp::Lte),
            _ => None,
        };
        match name {
            "$eq" | "$ne" => {
                let Some(s) = scalar(operand) else {
                    self.invalid(
                        path,
                        format!("`{name}` expects a string, number, boolean or null"),
                    );
                    return None;
                };
                Some(if name == "$eq" { Op::Eq(s) } else { Op::Ne(s) })
            }
            "$gt" | "$gte" | "$lt" | "$lte" => {
                let operand = match operand {
                    Value::Number(n) => Operand::Num(js::num(n)),
                    Value::String(s) => Operand::Str {
                        s: s.as_str().into(),
                        number: js::string_to_number(s),
                    },
                    _ => {
                        self.invalid(path, format!("`{name}` expects a number or a string"));
                        return None;
                    }
                };
                Some(Op::Cmp(cmp(&name[1..])?, operand))
            }
            "$veq" | "$vne" | "$vgt" | "$vgte" | "$vlt" | "$vlte" => {
                let Value::String(s) = operand else {
                    self.invalid(path, format!("`{name}` expects a version string"));
                    return None;
                };
                Some(Op::Version(cmp(&name[2..])?, version::padded(s).into()))
            }
            "$in" | "$nin" | "$ini" | "$nini" => {
                let insensitive = name.ends_with('i');
                let set = self.scalar_set(operand, path, name, insensitive)?;
                Some(Op::In {
                    set,
                    negate: name.starts_with("$n"),
                })
            }
            "$all" | "$alli" => {
                let Value::Array(items) = operand else {
                    self.invalid(path, format!("`{name}` expects an array"));
                    return None;
                };
                let insensitive = name == "$alli";
                let mut tests = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, it) in items.iter().enumerate() {
                    match self.test(it, &item(path, i), insensitive) {
                        Some(t) => tests.push(t),
                        None => ok = false,
                    }
                }
                ok.then(|| Op::All(tests.into_boxed_slice()))
            }
            "$elemMatch" => {
                let Value::Object(map) = operand else {
                    self.invalid(path, "`$elemMatch` expects an object");
                    return None;
                };
                let em = if is_operator_object(map) {
                    ElemMatch::Value(self.ops(map, path)?)
                } else {
                    ElemMatch::Doc(self.doc(operand, path)?)
                };
                Some(Op::ElemMatch(Box::new(em)))
            }
            "$size" => match operand {
                Value::Number(n) => Some(Op::Size(Box::new(Test::Num(js::num(n))))),
                Value::Object(map) if is_operator_object(map) => {
                    Some(Op::Size(Box::new(self.ops(map, path)?)))
                }
                _ => {
                    self.invalid(path, "`$size` expects a number or an operator object");
                    None
                }
            },
            "$exists" => match operand {
                Value::Bool(b) => Some(Op::Exists(*b)),
                _ => {
                    self.invalid(path, "`$exists` expects true or false");
                    None
                }
            },
            "$type" => match operand.as_str().and_then(JsType::parse) {
                Some(t) => Some(Op::Type(t)),
                None => {
                    self.invalid(
                        path,
                        "`$type` expects one of string, number, boolean, array, object, null, \
                         undefined",
                    );
                    None
                }
            },
            "$regex" | "$regexi" => {
                let Value::String(pattern) = operand else {
                    self.invalid(path, format!("`{name}` expects a string"));
                    return None;
                };
                match RegexBuilder::new(pattern)
                    .case_insensitive(name == "$regexi")
                    .build()
                {
                    Ok(re) => Some(Op::Regex(re)),
                    Err(e) => {
                        let reason = e.to_string();
                        let reason = reason.rsplit("error: ").next().unwrap_or(&reason);
                        self.errors.push(CompileError::new(
                            path,
                            CompileErrorKind::InvalidRegex {
                                pattern: pattern.clone(),
                                reason: reason.trim().to_owned(),
                            },
                        ));
                        None
                    }
                }
            }
            "$not" => Some(Op::Not(Box::new(self.test(operand, path, false)?))),
            "$inGroup" | "$notInGroup" => {
                let Value::String(segment) = operand else {
                    self.invalid(path, format!("`{name}` expects a segment name"));
                    return None;
                };
                let index = match self.groups.get(segment.as_str()) {
                    Some(Some(index)) => *index,
                    Some(None) => {
                        self.errors.push(CompileError::new(
                            path,
                            CompileErrorKind::NotAnIdList(segment.clone()),
                        ));
                        return None;
                    }
                    None => {
                        self.errors.push(CompileError::new(
                            path,
                            CompileErrorKind::UnknownSegment(segment.clone()),
                        ));
                        return None;
                    }
                };
                Some(Op::Group {
                    index,
                    negate: name == "$notInGroup",
                })
            }
            _ if LOGICAL.contains(&name) => {
                self.invalid(
                    path,
                    format!(
                        "`{name}` combines conditions and cannot be applied to a value; \
                         use it at the level of attribute names"
                    ),
                );
                None
            }
            _ => {
                self.invalid(path, format!("unknown operator `{name}`"));
                None
            }
        }
    }

    fn scalar_set(
        &mut self,
        operand: &Value,
        path: &str,
        name: &str,
        insensitive: bool,
    ) -> Option<ScalarSet> {
        let Value::Array(items) = operand else {
            self.invalid(path, format!("`{name}` expects an array"));
            return None;
        };
        let mut set = ScalarSet {
            insensitive,
            ..ScalarSet::default()
        };
        let mut strings: Vec<Box<str>> = Vec::new();
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            match it {
                Value::String(s) if insensitive => strings.push(js::lowercase(s).into()),
                Value::String(s) => strings.push(s.as_str().into()),
                Value::Number(n) => set.numbers.push(js::num(n)),
                Value::Bool(true) => set.truth = true,
                Value::Bool(false) => set.falsehood = true,
                Value::Null => set.null = true,
                Value::Array(_) | Value::Object(_) => {
                    self.invalid(
                        &item(path, i),
                        format!("`{name}` lists strings, numbers, booleans or null"),
                    );
                    ok = false;
                }
            }
        }
        set.strings = if strings.len() > SET_THRESHOLD {
            StrSet::Many(strings.into_iter().collect())
        } else {
            StrSet::Few(strings)
        };
        ok.then_some(set)
    }
}

fn scalar(v: &Value) -> Option<Scalar> {
    Some(match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Num(js::num(n)),
        Value::String(s) => Scalar::Str(s.as_str().into()),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// The number `n` with `String(n) === s`, if there is one.
fn number_spelled_as(s: &str) -> Option<f64> {
    let n: f64 = s.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    let mut spelled = String::new();
    js::write_number(&mut spelled, n).ok()?;
    (spelled == s).then_some(n)
}
