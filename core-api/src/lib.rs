//! Vane's core API: configuration management on SQLite or PostgreSQL, users and roles, API
//! keys, the audit log, the experiment lifecycle, and snapshot publishing.
//!
//! Every change goes through one [`write::Writer`]: it runs in a database transaction, builds
//! the snapshot of every environment the change affects, compiles it with the engine (an
//! invalid snapshot rolls everything back and answers 422 with field paths), stores the new
//! immutable snapshot and the audit entries, commits, and announces the new versions.
//!
//! The binary calls [`run`] with [`CoreArgs`]; tests call [`build`] with a [`Config`] that binds
//! port 0 and injects a [`clock::ManualClock`].

pub mod admin_ui;
pub mod analytics;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod resources;
pub mod scheduler;
pub mod snapshot;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod write;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{BootstrapAdmin, Config, CoreArgs, PasswordCost, run};
pub use error::{ApiError, FieldError};
pub use startup::{Application, build, build_on};
