//! `vane._native`: Vane's evaluation engine for Python.
//!
//! This crate only converts types: a snapshot's JSON text in, Python dicts in as contexts,
//! result objects out. Evaluation is `vane-engine`'s, run with the GIL released. HTTP, threads,
//! events and the public API live in the Python package around it (`python/vane`).

mod convert;
mod results;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;
use vane_engine::{Timestamp, compile_json, hash};

use results::{Answer, Held, Loaded, PyAssignment, PyEvaluation, PyFlagEvaluation};

create_exception!(
    _native,
    SnapshotError,
    PyValueError,
    "The snapshot is not valid; `errors` lists every problem as {path, code, message}."
);
create_exception!(
    _native,
    ContextError,
    PyTypeError,
    "A context value cannot be evaluated; the message names the attribute."
);

/// A context converted once, for evaluating many flags for the same attributes.
#[pyclass(frozen, module = "vane._native", name = "Context")]
#[derive(Debug)]
struct PyContext {
    value: Value,
}

#[pymethods]
impl PyContext {
    #[new]
    fn new(attributes: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            value: convert::context(attributes)?,
        })
    }

    /// The attributes as the engine sees them (a fresh dict).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.value)
    }

    fn __repr__(&self) -> String {
        format!("Context({})", self.value)
    }
}

/// Runs `f` with the context as a JSON value: borrowed from a `Context`, or converted from a
/// dict.
fn with_context<R>(context: &Bound<'_, PyAny>, f: impl FnOnce(&Value) -> R) -> PyResult<R> {
    if let Ok(c) = context.cast::<PyContext>() {
        return Ok(f(&c.get().value));
    }
    let value = convert::context(context)?;
    Ok(f(&value))
}

fn instant(at: Option<i64>) -> Timestamp {
    Timestamp::from_unix_millis(at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }))
}

/// A compiled snapshot. Immutable; share it between threads freely.
#[pyclass(frozen, module = "vane._native", name = "Engine")]
#[derive(Debug)]
struct Engine {
    loaded: Arc<Loaded>,
}

#[pymethods]
impl Engine {
    /// Compiles snapshot JSON text (what `/v1/config` serves). Raises `SnapshotError` listing
    /// every problem when it is invalid.
    #[new]
    fn new(py: Python<'_>, snapshot_json: &str) -> PyResult<Self> {
        let compiled = py.detach(|| compile_json(snapshot_json));
        let compiled = match compiled {
            Ok(c) => c,
            Err(errors) => {
                let list = PyList::empty(py);
                for e in &errors {
                    let d = PyDict::new(py);
                    let json = serde_json::to_value(e).unwrap_or(Value::Null);
                    d.set_item("path", &e.path)?;
                    d.set_item("code", json["code"].as_str().unwrap_or("invalid"))?;
                    d.set_item("message", e.to_string())?;
                    list.append(d)?;
                }
                let first = errors.first().map(ToString::to_string).unwrap_or_default();
                let err = SnapshotError::new_err(format!(
                    "invalid snapshot ({} error{}), first: {first}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                ));
                err.value(py).setattr("errors", list)?;
                return Err(err);
            }
        };
        let flag_index: HashMap<String, usize> = compiled
            .flag_keys()
            .enumerate()
            .map(|(i, k)| (k.to_owned(), i))
            .collect();
        let experiment_index: HashMap<String, usize> = compiled
            .experiment_keys()
            .enumerate()
            .map(|(i, k)| (k.to_owned(), i))
            .collect();
        Ok(Self {
            loaded: Arc::new(Loaded {
                compiled,
                flag_index,
                experiment_index,
            }),
        })
    }

    #[getter]
    fn environment(&self) -> &str {
        self.loaded.compiled.environment()
    }

    #[getter]
    fn version(&self) -> u64 {
        self.loaded.compiled.version()
    }

    #[getter]
    fn content_hash(&self) -> &str {
        self.loaded.compiled.content_hash()
    }

    #[getter]
    fn flag_keys(&self) -> Vec<&str> {
        self.loaded.compiled.flag_keys().collect()
    }

    #[getter]
    fn experiment_keys(&self) -> Vec<&str> {
        self.loaded.compiled.experiment_keys().collect()
    }

    /// `{flag key: type}` (`bool`, `string`, `number` or `json`).
    #[getter]
    fn flag_types(&self) -> HashMap<&str, &'static str> {
        self.loaded
            .compiled
            .source()
            .flags
            .iter()
            .map(|f| (f.key.as_str(), f.kind.as_str()))
            .collect()
    }

    /// Every attribute some experiment, layer, holdout or rollout hashes on, sorted.
    #[getter]
    fn unit_attributes(&self) -> Vec<String> {
        use vane_engine::model::Serve;
        let s = self.loaded.compiled.source();
        let mut out: Vec<String> = s
            .experiments
            .iter()
            .map(|e| e.unit_attribute.clone())
            .chain(s.layers.iter().map(|l| l.unit_attribute.clone()))
            .chain(s.holdouts.iter().map(|h| h.unit_attribute.clone()))
            .chain(s.flags.iter().flat_map(|f| {
                f.rules.iter().filter_map(|r| match &r.serve {
                    Serve::Rollout(ro) => Some(ro.unit_attribute.clone()),
                    _ => None,
                })
            }))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Evaluates flag `key` for `context` (a dict or a `Context`) at `at_ms` (Unix
    /// milliseconds; default now). `default` is the value reported when the flag cannot be
    /// evaluated.
    #[pyo3(signature = (key, context, at_ms=None, default=None))]
    fn evaluate_flag(
        &self,
        py: Python<'_>,
        key: &str,
        context: &Bound<'_, PyAny>,
        at_ms: Option<i64>,
        default: Option<Py<PyAny>>,
    ) -> PyResult<PyFlagEvaluation> {
        let Some(&index) = self.loaded.flag_index.get(key) else {
            // Still check the context, so that a bad one fails the same way for every key.
            with_context(context, |_| ())?;
            return Ok(PyFlagEvaluation::missing(key.to_owned(), default));
        };
        let now = instant(at_ms);
        let loaded = self.loaded.clone();
        let held = with_context(context, |ctx| {
            py.detach(|| {
                Held::new(loaded, |l| {
                    let key = l.compiled.source().flags[index].key.as_str();
                    Answer::Flag(l.compiled.evaluate_flag(key, ctx, now))
                })
            })
        })?;
        Ok(PyFlagEvaluation::local(Arc::new(held), None, default))
    }

    /// Assigns experiment `key` for `context` at `at_ms` (default now).
    #[pyo3(signature = (key, context, at_ms=None))]
    fn assign(
        &self,
        py: Python<'_>,
        key: &str,
        context: &Bound<'_, PyAny>,
        at_ms: Option<i64>,
    ) -> PyResult<PyAssignment> {
        let Some(&index) = self.loaded.experiment_index.get(key) else {
            with_context(context, |_| ())?;
            return Ok(PyAssignment::missing(key.to_owned()));
        };
        let now = instant(at_ms);
        let loaded = self.loaded.clone();
        let held = with_context(context, |ctx| {
            py.detach(|| {
                Held::new(loaded, |l| {
                    let key = l.compiled.source().experiments[index].key.as_str();
                    Answer::Assignment(l.compiled.assign(key, ctx, now))
                })
            })
        })?;
        Ok(PyAssignment::local(Arc::new(held), None, index))
    }

    /// Every flag and every experiment for `context` at `at_ms` (default now).
    #[pyo3(signature = (context, at_ms=None))]
    fn evaluate_all(
        &self,
        py: Python<'_>,
        context: &Bound<'_, PyAny>,
        at_ms: Option<i64>,
    ) -> PyResult<PyEvaluation> {
        let now = instant(at_ms);
        let loaded = self.loaded.clone();
        let held = with_context(context, |ctx| {
            py.detach(|| Held::new(loaded, |l| Answer::All(l.compiled.evaluate_all(ctx, now))))
        })?;
        Ok(PyEvaluation::local(Arc::new(held)))
    }

    fn __repr__(&self) -> String {
        let c = &self.loaded.compiled;
        format!(
            "Engine(environment={:?}, version={}, flags={}, experiments={})",
            c.environment(),
            c.version(),
            self.loaded.flag_index.len(),
            self.loaded.experiment_index.len()
        )
    }
}

/// XXH64 (seed 0) of `"{salt}:{unit_id}"`, the bucketing hash.
#[pyfunction]
fn hash_unit(salt: &str, unit_id: &str) -> u64 {
    hash::hash(salt, unit_id)
}

/// The bucket in [0, 10000) of `unit_id` under `salt`.
#[pyfunction]
fn bucket(salt: &str, unit_id: &str) -> u32 {
    hash::bucket(salt, unit_id)
}

/// Converts a context as evaluation would and returns it as a fresh dict (for tests and for
/// checking a context without evaluating it).
#[pyfunction]
fn normalize_context<'py>(
    py: Python<'py>,
    context: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let value = convert::context(context)?;
    convert::to_py(py, &value)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<PyContext>()?;
    m.add_class::<PyFlagEvaluation>()?;
    m.add_class::<PyAssignment>()?;
    m.add_class::<PyEvaluation>()?;
    m.add_function(wrap_pyfunction!(hash_unit, m)?)?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_context, m)?)?;
    m.add("SnapshotError", m.py().get_type::<SnapshotError>())?;
    m.add("ContextError", m.py().get_type::<ContextError>())?;
    m.add("MAX_CONTEXT_DEPTH", convert::MAX_DEPTH)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
