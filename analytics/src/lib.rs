//! Vane analytics: the event pipeline that turns edge events into experiment results, and the
//! statistics engine (pure functions of summary statistics) that computes them.
//!
//! * [`pipeline`]: stream sources (embedded log, Kinesis), validation, dedup, exposure join,
//!   exact aggregates, the data lake and the database store;
//! * [`service`]: the HTTP ingest endpoint and results API; [`app`]: `vane analytics`;
//! * [`config`]: experiments and metric definitions; [`live`]: the configuration in use and
//!   its refresh; [`core_config`]: definitions read from core-api;
//! * [`stats`]: tests, corrections and power analysis whose formulas match GrowthBook's
//!   `gbstats` 0.8.0;
//! * [`cli`]: the `vane stats` calculator (JSON request in, JSON response out).
//!
//! The pipeline is documented in `docs/analytics.md`.

pub mod app;
pub mod cli;
pub mod config;
pub mod core_config;
pub mod error;
pub mod failpoint;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod service;
pub mod stats;

pub use app::{
    AnalyticsArgs, AnalyticsCli, AnalyticsCommand, Application, LakeArgs, RecomputeArgs,
    recompute_from_lake, run, run_cli,
};
pub use error::AnalyticsError;
pub use stats::StatsError;
