//! Experiments: definition, CRUD with the running-experiment guard, the lifecycle
//! draft → scheduled → running → stopped → concluded, and results (served from analytics).

pub mod lifecycle;
pub mod model;
pub mod results;
pub mod routes;

pub use routes::router;
