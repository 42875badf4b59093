//! Vane's evaluation engine.
//!
//! Pure: no I/O, no async runtime, no clock of its own (the time is an argument). It builds for
//! native targets and for `wasm32-unknown-unknown` / `wasm32-wasip2`, so the native edge node,
//! the Cloudflare worker, the Spin component, core-api previews and the CLI all evaluate with
//! this one crate.
//!
//! ```
//! use vane_engine::{Snapshot, Timestamp, compile};
//! let snapshot: Snapshot = serde_json::from_str(r#"{
//!   "schema_version": 1, "environment": "production", "version": 7,
//!   "flags": [{"key": "new-checkout", "type": "bool", "variations": [false, true],
//!              "enabled": true, "off_variation": 0, "default_variation": 0,
//!              "rules": [{"condition": {"country": "DE"}, "serve": {"variation": 1}}]}]
//! }"#).unwrap();
//! let compiled = compile(snapshot).unwrap();
//! let context = serde_json::json!({"user_id": "u1", "country": "DE"});
//! let result = compiled.evaluate_flag("new-checkout", &context, Timestamp::from_unix_millis(0));
//! assert_eq!(result.value, &serde_json::json!(true));
//! ```

pub mod compile;
pub mod condition;
pub mod error;
pub mod eval;
pub mod event;
pub mod hash;
pub mod limits;
pub mod model;
pub mod time;

pub use compile::{CompiledSnapshot, compile, compile_json};
pub use error::{CompileError, CompileErrorKind};
pub use eval::{AssignReason, Assignment, EvalError, Evaluation, FlagEvaluation, FlagReason};
pub use model::Snapshot;
pub use time::Timestamp;
