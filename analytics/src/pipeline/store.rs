//! The store port: checkpoints, leases, committed facts and dedup ids, aggregates and results.
//! The adapter is [`super::store_sql::SqlStore`] (SQLite or PostgreSQL through one `sqlx` Any
//! pool); tests use it on a temporary SQLite file.
//!
//! Exactly-once rests on [`Store::commit`]: one transaction that
//! 1. advances the global commit sequence only if it still holds the value the worker last saw
//!    (otherwise: [`CommitOutcome::Conflict`], the worker folds in what others committed and
//!    plans again);
//! 2. checks that the worker still holds the shard's lease and that the shard's checkpoint is
//!    the one it read from (otherwise: [`CommitOutcome::LeaseLost`]);
//! 3. writes the new checkpoint, the facts and dedup ids of the batch, and the shard's new
//!    aggregate rows.
//!
//! A crash before the transaction commits loses nothing that was committed and leaves nothing
//! half-applied: the batch is read again from the old checkpoint and planned again.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::AnalyticsError;

use super::aggregate::{AggKey, AggStats};

/// Running counts of a shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Stream records read.
    pub records: i64,
    /// Valid events read (kept and duplicates).
    pub events: i64,
    /// Events dropped as duplicates.
    pub duplicates: i64,
    /// Lines dropped as invalid.
    pub invalid: i64,
}

impl Counters {
    pub fn add(&mut self, o: &Self) {
        self.records += o.records;
        self.events += o.events;
        self.duplicates += o.duplicates;
        self.invalid += o.invalid;
    }
}

/// Where a shard's consumption stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Position after the last committed record (`None`: nothing read yet).
    pub position: Option<String>,
    /// The shard was read to its end.
    pub finished: bool,
    pub counters: Counters,
}

/// One batch's worth of changes, committed atomically.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The commit sequence the worker's state reflects.
    pub expected_seq: i64,
    pub stream: String,
    pub shard: String,
    pub worker: String,
    /// The checkpoint the batch was read after.
    pub previous_position: Option<String>,
    pub checkpoint: Checkpoint,
    /// Encoded facts (see `codec`), if any.
    pub facts: Option<Vec<u8>>,
    /// Encoded dedup ids by hour of event time.
    pub dedup: Vec<(i64, Vec<u8>)>,
    /// Dedup ids of hours before this are no longer needed.
    pub prune_dedup_before_hour: Option<i64>,
    /// New values of the shard's changed aggregate rows.
    pub aggregates: Vec<(AggKey, AggStats)>,
    /// The lease is renewed until this instant.
    pub lease_until: i64,
}

/// How a commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed as this sequence number.
    Committed(i64),
    /// Someone else committed since `expected_seq`; nothing was written.
    Conflict,
    /// The worker no longer holds the shard (lease or checkpoint moved); nothing was written.
    LeaseLost,
}

/// How a rebase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebaseOutcome {
    /// The stored rows now add up to the totals; `rows` correction rows were rewritten (0: they
    /// already did).
    Rebased { rows: usize },
    /// Someone committed since `expected_seq`; nothing was written.
    Conflict,
}

/// The stream and shard of the correction rows [`Store::rebase`] writes.
pub const REBASE_SHARD: &str = "$rebase";

/// An experiment's aggregates as they should be: every unit's contribution under the current
/// configuration.
pub type Totals = BTreeMap<AggKey, AggStats>;

/// What one committed sequence number added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    pub seq: i64,
    pub facts: Option<Vec<u8>>,
    pub dedup: Vec<(i64, Vec<u8>)>,
}

/// A request to (re)balance a worker's leases.
#[derive(Debug, Clone)]
pub struct LeaseRequest {
    pub stream: String,
    pub worker: String,
    pub now: i64,
    pub ttl_ms: i64,
    /// Shards that may be read now (unfinished, parents finished), sorted.
    pub eligible: Vec<String>,
}

/// The analytics database.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Commits one batch (see the module documentation).
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, AnalyticsError>;

    /// The sequence number of the last commit.
    async fn current_seq(&self) -> Result<i64, AnalyticsError>;

    /// What commits `after + 1 ..= up_to` added, by sequence; dedup ids of hours before
    /// `dedup_from_hour` are left out.
    async fn chunks(
        &self,
        after: i64,
        up_to: i64,
        dedup_from_hour: Option<i64>,
    ) -> Result<Vec<Chunk>, AnalyticsError>;

    /// Every shard's checkpoint on a stream.
    async fn checkpoints(
        &self,
        stream: &str,
    ) -> Result<BTreeMap<String, Checkpoint>, AnalyticsError>;

    /// A shard's aggregate rows.
    async fn shard_aggregates(
        &self,
        stream: &str,
        shard: &str,
    ) -> Result<Vec<(AggKey, AggStats)>, AnalyticsError>;

    /// An experiment's rows, every stream and shard.
    async fn experiment_aggregates(
        &self,
        experiment: &str,
    ) -> Result<Vec<(AggKey, AggStats)>, AnalyticsError>;

    /// Makes each listed experiment's stored rows (every stream and shard) add up to its totals,
    /// computed from the state as of commit `expected_seq`: in one transaction that holds off
    /// commits, the difference is stored as the experiment's correction rows (stream and shard
    /// [`REBASE_SHARD`]), replacing the previous ones. Used when the configuration changes
    /// (the rows were summed under the old definitions).
    async fn rebase(
        &self,
        expected_seq: i64,
        totals: &BTreeMap<String, Totals>,
    ) -> Result<RebaseOutcome, AnalyticsError>;

    /// Heartbeats, renews the worker's leases and takes free, expired or surplus ones up to a
    /// fair share of the eligible shards; returns the shards the worker now holds.
    async fn balance_leases(&self, request: &LeaseRequest) -> Result<Vec<String>, AnalyticsError>;

    /// Gives up every lease of a worker (on shutdown).
    async fn release_leases(&self, stream: &str, worker: &str) -> Result<(), AnalyticsError>;

    /// Stores results computed at `computed_at` (keeping the latest 100 per experiment).
    async fn save_results(
        &self,
        experiment: &str,
        computed_at: i64,
        body: &str,
    ) -> Result<(), AnalyticsError>;

    /// The latest results: computation time and body.
    async fn latest_results(
        &self,
        experiment: &str,
    ) -> Result<Option<(i64, String)>, AnalyticsError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), AnalyticsError>;
}
