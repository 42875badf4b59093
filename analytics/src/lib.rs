//! Vane analytics: the statistics engine (pure functions of summary statistics) and, later, the
//! event pipeline that feeds it.
//!
//! * [`stats`]: tests, corrections and power analysis whose formulas match GrowthBook's
//!   `gbstats` 0.8.0;
//! * [`cli`]: the `vane stats` calculator (JSON request in, JSON response out).

pub mod cli;
pub mod stats;

pub use stats::StatsError;
