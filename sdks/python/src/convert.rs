//! Python values ⇄ JSON values, exactly as the engine sees JSON.
//!
//! A context arrives as a `dict` and becomes the `serde_json::Value` the engine would get had
//! the same attributes been sent as JSON to an edge: `bool` stays a boolean (checked before
//! `int`, its base class), `int` stays an integer (a big one that fits neither `i64` nor `u64`
//! becomes the nearest `float`, as JSON parsing does), `float` stays a float, `None` is
//! `null`, `list` and `tuple` are arrays, nested `dict`s are objects. Anything JSON cannot say
//! is rejected with a [`ContextError`] that names the attribute: keys that are not `str`,
//! `NaN` and infinities, integers beyond the `float` range, strings with lone surrogates,
//! other types (`set`, `bytes`, `datetime`, ...), and nesting deeper than [`MAX_DEPTH`]
//! (which also stops a dict that contains itself).

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::ContextError;

/// How deeply lists and dicts may nest inside a context.
pub const MAX_DEPTH: usize = 64;

/// One step of the path to a bad value.
enum Step {
    Key(String),
    Index(usize),
}

/// Why a value could not be converted, and where (innermost step last, built while unwinding).
pub struct Problem {
    steps: Vec<Step>,
    message: String,
}

impl Problem {
    fn new(message: impl Into<String>) -> Self {
        Self {
            steps: Vec::new(),
            message: message.into(),
        }
    }

    fn at(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// `context.plan.limits[2]: ...`
    pub fn into_err(self, root: &str) -> PyErr {
        let mut path = root.to_owned();
        for step in self.steps.iter().rev() {
            match step {
                Step::Key(k) => {
                    path.push('.');
                    path.push_str(k);
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        ContextError::new_err(format!("{path}: {}", self.message))
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Converts a context `dict` (the attributes) to a JSON object.
pub fn context(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let Ok(dict) = obj.cast::<PyDict>() else {
        return Err(ContextError::new_err(format!(
            "context: must be a dict of attributes (str keys), not {}",
            type_name(obj)
        )));
    };
    object(dict, 0).map_err(|p| p.into_err("context"))
}

/// Converts any JSON-like Python value (used for answers of the edge, parsed by Python).
pub fn value(obj: &Bound<'_, PyAny>, root: &str) -> PyResult<Value> {
    to_value(obj, 0).map_err(|p| p.into_err(root))
}

fn object(dict: &Bound<'_, PyDict>, depth: usize) -> Result<Value, Problem> {
    let mut map = Map::new();
    for (k, v) in dict.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => string(s)?,
            Err(_) => {
                let shown = k.repr().map(|r| r.to_string()).unwrap_or_default();
                return Err(Problem::new(format!(
                    "key {shown} is not a str ({}): attribute names must be str",
                    type_name(&k)
                )));
            }
        };
        let converted = to_value(&v, depth + 1).map_err(|p| p.at(Step::Key(key.clone())))?;
        map.insert(key, converted);
    }
    Ok(Value::Object(map))
}

fn string(s: &Bound<'_, PyString>) -> Result<String, Problem> {
    s.to_cow()
        .map(|c| c.into_owned())
        .map_err(|_| Problem::new("str is not valid UTF-8 (it holds a lone surrogate)"))
}

fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Problem> {
    if depth > MAX_DEPTH {
        return Err(Problem::new(format!(
            "nested more than {MAX_DEPTH} levels deep (or contains itself)"
        )));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return string(s).map(Value::String);
    }
    // bool before int: `True` is an `int` too, but a boolean to the engine.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return integer(obj);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return finite(f.value());
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return object(d, depth);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, v)| to_value(&v, depth + 1).map_err(|p| p.at(Step::Index(i))))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, v)| to_value(&v, depth + 1).map_err(|p| p.at(Step::Index(i))))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    Err(Problem::new(format!(
        "a {} cannot be a context value (use str, int, float, bool, None, list, tuple or dict)",
        type_name(obj)
    )))
}

fn integer(obj: &Bound<'_, PyAny>) -> Result<Value, Problem> {
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(u) = obj.extract::<u64>() {
        return Ok(Value::Number(u.into()));
    }
    // Beyond 64 bits: the nearest float, as a JSON parser reads such a literal.
    match obj.extract::<f64>() {
        Ok(f) => finite(f),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Err(Problem::new(
            "int is too large for a JSON number (beyond the float range)",
        )),
        Err(e) => Err(Problem::new(format!("int could not be read: {e}"))),
    }
}

fn finite(f: f64) -> Result<Value, Problem> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| {
        Problem::new(format!(
            "{f} is not a JSON number (NaN and infinities are not)"
        ))
    })
}

/// A JSON value as a fresh Python object (integers stay `int`, floats `float`).
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}
