//! The background scheduler: records scheduled experiment starts and stops when their time
//! comes. Edges do not wait for it (the snapshot carries the window); it keeps core's stored
//! status, audit log and snapshot statuses in step. [`run_once`] is the one step; tests call
//! it under a manual clock.

use std::time::Duration;

use crate::error::ApiResult;
use crate::resources::experiments::lifecycle;
use crate::state::AppState;

/// Applies every due transition at the clock's now; returns how many.
pub async fn run_once(state: &AppState) -> ApiResult<usize> {
    let applied = lifecycle::apply_due(state).await?;
    if applied > 0 {
        state.inner.metrics.scheduler_transitions(applied);
        tracing::info!(applied, "scheduler recorded experiment transitions");
    }
    Ok(applied)
}

/// Runs [`run_once`] every `interval`, forever.
pub async fn run(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = run_once(&state).await {
            tracing::error!(error = ?e, "scheduler step failed");
        }
    }
}
