//! A consumer following a live configuration (core-api, see [`crate::live`]):
//!
//! * it waits until a configuration is loaded (events wait in the log or the stream);
//! * between steps it adopts each new configuration: it rebuilds its unit state from the
//!   committed facts under the new definitions and rebases the aggregates of the experiments
//!   whose definitions changed ([`super::rebase`]);
//! * before planning a batch that exposes units to an experiment it does not know (one just
//!   started in core-api), it asks for a refresh rather than lose those exposures.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use vane_engine::event::{EnrichedEvent, EventKind};

use crate::config::Config;
use crate::error::AnalyticsError;
use crate::live::SharedConfig;

use super::consumer::Consumer;
use super::rebase;
use super::state::PipelineState;
use super::store::RebaseOutcome;

/// How long unknown experiments in exposures keep the consumer from asking for a refresh
/// again.
const ASK_EVERY_MS: i64 = 1000;
/// Unknown experiment keys remembered as already asked about.
const ASKED_MAX: usize = 10_000;

/// A live configuration the consumer follows.
#[derive(Debug)]
pub(super) struct Following {
    shared: Arc<SharedConfig>,
    /// Experiments whose aggregates still need a rebase onto the current definitions.
    pending_rebase: BTreeSet<String>,
    /// Unknown experiments a refresh was already asked for.
    asked: HashSet<String>,
    next_ask: i64,
}

impl Consumer {
    /// Follows a live configuration (core-api): waits until it is loaded, adopts each new one
    /// between steps, and asks for a refresh when exposures name an unknown experiment.
    pub fn follow(mut self, shared: Arc<SharedConfig>) -> Self {
        self.follow = Some(Following {
            shared,
            pending_rebase: BTreeSet::new(),
            asked: HashSet::new(),
            next_ask: i64::MIN,
        });
        self
    }

    /// Rebuilds the unit state under `config` (folding every committed chunk again: facts are
    /// stored by name) and marks the experiments whose definitions changed for a rebase.
    pub(super) async fn adopt(&mut self, config: Arc<Config>) -> Result<(), AnalyticsError> {
        let changed = rebase::changed_experiments(self.state.config(), &config);
        tracing::info!(
            experiments = config.experiments.len(),
            changed = changed.len(),
            "adopting a new configuration: rebuilding the unit state"
        );
        self.state = PipelineState::new(config, false);
        self.catch_up().await?;
        self.loaded = true;
        if let Some(follow) = &mut self.follow {
            follow.pending_rebase.extend(changed);
            follow.asked.clear();
        }
        Ok(())
    }

    /// Rebases the aggregates of the experiments whose definitions changed onto the unit
    /// state's totals; on a conflict, catches up and leaves them for the next step.
    pub(super) async fn rebase_pending(&mut self) -> Result<(), AnalyticsError> {
        let Some(follow) = &mut self.follow else {
            return Ok(());
        };
        let config = self.state.config();
        follow
            .pending_rebase
            .retain(|e| config.experiment(e).is_some());
        if follow.pending_rebase.is_empty() {
            return Ok(());
        }
        let pending = follow.pending_rebase.clone();
        let totals = rebase::totals(&self.state, &pending);
        match self.store.rebase(self.state.seq(), &totals).await? {
            RebaseOutcome::Rebased { rows } => {
                tracing::info!(experiments = ?pending, rows, "rebased aggregates onto the new definitions");
                if let Some(follow) = &mut self.follow {
                    follow.pending_rebase.clear();
                }
            }
            RebaseOutcome::Conflict => self.catch_up().await?,
        }
        Ok(())
    }

    /// Follows the live configuration before a step: `false` while none is loaded yet.
    pub(super) async fn follow_config(&mut self) -> Result<bool, AnalyticsError> {
        let Some(follow) = &self.follow else {
            return Ok(true);
        };
        if !follow.shared.is_loaded() {
            return Ok(false);
        }
        let current = follow.shared.get();
        if !Arc::ptr_eq(&current, self.state.config()) {
            self.adopt(current).await?;
        }
        self.rebase_pending().await?;
        Ok(true)
    }

    /// Before planning `events`: if they expose units to experiments the configuration does
    /// not know (just started in core-api, say), refresh it now rather than lose those
    /// exposures, at most once a second and once per unknown experiment.
    pub(super) async fn refresh_for(
        &mut self,
        events: &[EnrichedEvent],
    ) -> Result<(), AnalyticsError> {
        let now = self.clock.now_ms();
        let Some(follow) = &mut self.follow else {
            return Ok(());
        };
        if now < follow.next_ask || !follow.shared.is_live() || follow.shared.failing() {
            return Ok(());
        }
        let config = self.state.config();
        let unknown: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| match &e.event.kind {
                EventKind::Exposure { experiment, .. }
                    if config.experiment(experiment).is_none()
                        && !follow.asked.contains(experiment.as_str()) =>
                {
                    Some(experiment.as_str())
                }
                _ => None,
            })
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        if follow.asked.len() + unknown.len() > ASKED_MAX {
            follow.asked.clear();
        }
        follow.asked.extend(unknown.iter().map(|k| (*k).to_owned()));
        follow.next_ask = now.saturating_add(ASK_EVERY_MS);
        tracing::info!(experiments = ?unknown, "exposures to unknown experiments: refreshing the configuration");
        let shared = follow.shared.clone();
        // A failure is recorded in the status and logged; the batch goes on with what is known.
        if shared.refresh().await.is_ok() {
            let current = shared.get();
            if !Arc::ptr_eq(&current, self.state.config()) {
                self.adopt(current).await?;
            }
        }
        Ok(())
    }
}
