//! Experiments: definition, CRUD with the running-experiment guard, and the lifecycle
//! draft → scheduled → running → stopped → concluded.

pub mod lifecycle;
pub mod model;
pub mod routes;

pub use routes::router;
