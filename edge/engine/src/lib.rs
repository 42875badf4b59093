//! Vane's evaluation engine.
//!
//! Pure: no I/O, no async runtime, no clock of its own (the time is an argument). It builds for
//! native targets and for `wasm32-unknown-unknown` / `wasm32-wasip2`, so the native edge node,
//! the Cloudflare worker, the Spin component, core-api previews and the CLI all evaluate with
//! this one crate.

pub mod condition;
pub mod error;

pub use error::{CompileError, CompileErrorKind};
