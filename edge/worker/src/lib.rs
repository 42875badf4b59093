//! Vane's Cloudflare worker: the runtime-neutral edge handler (`vane-edge`) behind workers-rs.
//!
//! The shell only translates: a `worker::Request` becomes an `http::Request<Bytes>` for
//! [`vane_edge::EdgeHandler::handle`], and the handler's answer becomes a `worker::Response`.
//! Around that it does the worker's I/O:
//! - **snapshots** from the Workers KV binding `VANE_KV`, read at most every `VANE_REFRESH_MS`
//!   per isolate and kept in the isolate (`refresh.rs`);
//! - **events** forwarded, before the answer, to a collector URL or to Kinesis with SigV4
//!   (`sink.rs`, `kinesis.rs`);
//! - **configuration** from `[vars]` and secrets, parsed once per isolate (`config.rs`).
//!
//! Everything except the `shell` module is plain Rust, tested natively; the shell itself is
//! tested by `scripts/workerd-test.sh` under `wrangler dev` (workerd).

pub mod config;
pub mod kinesis;
pub mod refresh;
mod shell;
pub mod sink;

use worker::{Context, Env, Request, Response, event};

/// Once per isolate: logging to the console and a panic hook that logs the panic.
#[event(start)]
fn start() {
    shell::start();
}

/// Every request.
#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(shell::fetch(request, &env, &ctx).await)
}
