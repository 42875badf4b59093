//! Integration tests: each starts the real application on port 0 with a fresh database, on
//! SQLite and on PostgreSQL (`VANE_TEST_POSTGRES_URL`; see `scripts/with-postgres.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code may panic

#[macro_use]
mod helpers;

mod audit;
mod auth;
mod browser;
mod edges;
mod lifecycle;
mod openapi;
mod resources;
mod results;
mod snapshots;
mod validation;
