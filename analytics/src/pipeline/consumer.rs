//! The consumer: one code path for every [`StreamSource`]. Each [`Consumer::try_step`] balances
//! shard leases when due, then reads one batch from every held shard and commits it:
//!
//! read → validate → plan (dedup, facts, join, aggregate deltas) → archive to the lake →
//! commit (checkpoint + facts + dedup ids + aggregate rows, one transaction) → apply in memory.
//!
//! A conflict (another worker committed first) folds in what the others committed and plans
//! again; a lost lease drops the shard. Tests drive `try_step` until it reports idle.
//!
//! A consumer can [follow](Consumer::follow) a live configuration (see [`super::follow`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::config::Config;
use crate::error::AnalyticsError;
use crate::failpoint;
use crate::metrics::Metrics;

pub use super::clock::{Clock, ManualClock, SystemClock};

use super::aggregate::{AggKey, AggStats, key_of};
use super::codec;
use super::dedup::{decode_ids, encode_ids};
use super::follow::Following;
use super::lake::{self, LakeSink};
use super::source::{ReadBatch, StreamSource};
use super::state::PipelineState;
use super::store::{Checkpoint, Commit, CommitOutcome, LeaseRequest, Store};
use super::validate::{Parsed, parse_records};

/// How a consumer behaves.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// This worker's name in the lease table.
    pub worker: String,
    /// Most records per read.
    pub max_records: usize,
    /// How long a lease lasts without renewal; leases are rebalanced every third of it.
    pub lease_ttl_ms: i64,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            worker: "embedded".into(),
            max_records: 1000,
            lease_ttl_ms: 10_000,
        }
    }
}

/// One committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    pub shard: String,
    pub seq: i64,
    pub records: usize,
    pub events: usize,
    pub duplicates: u64,
    pub invalid: u64,
    /// The batch marked the shard as read to its end.
    pub finished: bool,
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub commits: Vec<CommitReport>,
    /// Shards held after the step.
    pub shards: Vec<String>,
}

impl StepReport {
    /// Nothing was committed: every held shard is caught up.
    pub fn idle(&self) -> bool {
        self.commits.is_empty()
    }
}

#[derive(Debug)]
struct ShardRun {
    checkpoint: Checkpoint,
    aggregates: HashMap<AggKey, AggStats>,
}

/// A stream consumer.
#[derive(Debug)]
pub struct Consumer {
    source: Arc<dyn StreamSource>,
    pub(super) store: Arc<dyn Store>,
    lake: Option<Arc<dyn LakeSink>>,
    pub(super) clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    settings: ConsumerSettings,
    pub(super) state: PipelineState,
    shards: BTreeMap<String, ShardRun>,
    next_balance: i64,
    pub(super) loaded: bool,
    pruned_before: Option<i64>,
    prefetch: BTreeMap<String, Prefetch>,
    pub(super) follow: Option<Following>,
}

/// The next batch of a shard, being read and parsed in the background.
#[derive(Debug)]
struct Prefetch {
    after: Option<String>,
    task: tokio::task::JoinHandle<Result<(ReadBatch, Parsed), AnalyticsError>>,
}

async fn read_and_parse(
    source: Arc<dyn StreamSource>,
    shard: String,
    after: String,
    limit: usize,
) -> Result<(ReadBatch, Parsed), AnalyticsError> {
    let batch = source.read(&shard, Some(&after), limit).await?;
    tokio::task::spawn_blocking(move || {
        let parsed = parse_records(&batch.records);
        (batch, parsed)
    })
    .await
    .map_err(|e| AnalyticsError::Source(format!("parsing failed: {e}")))
}

impl Consumer {
    pub fn new(
        config: Arc<Config>,
        source: Arc<dyn StreamSource>,
        store: Arc<dyn Store>,
        lake: Option<Arc<dyn LakeSink>>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        settings: ConsumerSettings,
    ) -> Self {
        Self {
            source,
            store,
            lake,
            clock,
            metrics,
            settings,
            state: PipelineState::new(config, false),
            shards: BTreeMap::new(),
            next_balance: i64::MIN,
            loaded: false,
            pruned_before: None,
            prefetch: BTreeMap::new(),
            follow: None,
        }
    }

    /// The shards held, with their checkpoints.
    pub fn checkpoints(&self) -> BTreeMap<String, Checkpoint> {
        self.shards
            .iter()
            .map(|(s, r)| (s.clone(), r.checkpoint.clone()))
            .collect()
    }

    /// The in-memory state (units, remembered ids, sequence).
    pub fn state(&self) -> &PipelineState {
        &self.state
    }

    pub fn stream(&self) -> &str {
        self.source.stream()
    }

    /// One round: rebalance leases when due, then one batch per held shard.
    pub async fn try_step(&mut self) -> Result<StepReport, AnalyticsError> {
        if !self.follow_config().await? {
            // No configuration yet: events wait in the log or the stream.
            return Ok(StepReport::default());
        }
        if !self.loaded {
            self.catch_up().await?;
            self.loaded = true;
        }
        let now = self.clock.now_ms();
        if now >= self.next_balance {
            self.balance(now).await?;
        }
        let mut report = StepReport::default();
        let held: Vec<String> = self.shards.keys().cloned().collect();
        for shard in held {
            let Some(run) = self.shards.get(&shard) else {
                continue;
            };
            if run.checkpoint.finished {
                continue;
            }
            let after = run.checkpoint.position.clone();
            let prefetched = match self.prefetched(&shard, &after) {
                Some(task) => Some(
                    task.await
                        .map_err(|e| AnalyticsError::Source(format!("prefetch failed: {e}")))??,
                )
                // An empty read may be stale by now: read again.
                .filter(|(b, _)| !b.records.is_empty() || b.shard_end),
                None => None,
            };
            let (batch, parsed) = match prefetched {
                Some(ready) => ready,
                None => {
                    let batch = self
                        .source
                        .read(&shard, after.as_deref(), self.settings.max_records)
                        .await?;
                    let parsed = parse_records(&batch.records);
                    (batch, parsed)
                }
            };
            if batch.records.is_empty() && !batch.shard_end {
                continue;
            }
            self.refresh_for(&parsed.0).await?;
            if let Some(last) = batch.records.last() {
                // Read and parse the next batch while this one is planned and committed.
                let prefetch = Prefetch {
                    after: Some(last.position.clone()),
                    task: tokio::spawn(read_and_parse(
                        self.source.clone(),
                        shard.clone(),
                        last.position.clone(),
                        self.settings.max_records,
                    )),
                };
                self.prefetch.insert(shard.clone(), prefetch);
            }
            if let Some(done) = self.process(&shard, after, batch, parsed).await? {
                if done.finished {
                    self.next_balance = i64::MIN;
                }
                report.commits.push(done);
            }
        }
        report.shards = self.shards.keys().cloned().collect();
        self.metrics.leased_shards.set(self.shards.len() as i64);
        self.metrics.units.set(self.state.units() as i64);
        self.metrics
            .remembered_ids
            .set(self.state.remembered_ids() as i64);
        self.metrics.commit_seq.set(self.state.seq());
        Ok(report)
    }

    /// The prefetched batch of `shard` if it was read after `after`; otherwise it is dropped.
    fn prefetched(
        &mut self,
        shard: &str,
        after: &Option<String>,
    ) -> Option<tokio::task::JoinHandle<Result<(ReadBatch, Parsed), AnalyticsError>>> {
        match self.prefetch.remove(shard) {
            Some(p) if &p.after == after => Some(p.task),
            Some(p) => {
                p.task.abort();
                None
            }
            None => None,
        }
    }

    /// Steps until a step commits nothing (at most `max_steps`); returns the commits.
    pub async fn run_until_idle(
        &mut self,
        max_steps: usize,
    ) -> Result<Vec<CommitReport>, AnalyticsError> {
        let mut all = Vec::new();
        for _ in 0..max_steps {
            let report = self.try_step().await?;
            if report.idle() {
                break;
            }
            all.extend(report.commits);
        }
        Ok(all)
    }

    /// Gives up the leases (clean shutdown), so another worker can take over at once.
    pub async fn release(&mut self) -> Result<(), AnalyticsError> {
        self.shards.clear();
        self.prefetch.clear();
        self.store
            .release_leases(self.source.stream(), &self.settings.worker)
            .await
    }

    /// Folds in every chunk committed since the state's sequence.
    pub(super) async fn catch_up(&mut self) -> Result<(), AnalyticsError> {
        let up_to = self.store.current_seq().await?;
        let config = self.state.config().clone();
        while self.state.seq() < up_to {
            let after = self.state.seq();
            let to = (after + 4096).min(up_to);
            let from_hour = self.state.dedup_forgotten_before();
            for chunk in self.store.chunks(after, to, from_hour).await? {
                let facts = match &chunk.facts {
                    Some(bytes) => codec::decode_facts(&config, bytes)?,
                    None => Vec::new(),
                };
                let ids = chunk
                    .dedup
                    .iter()
                    .map(|(hour, bytes)| decode_ids(bytes).map(|ids| (*hour, ids)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| AnalyticsError::corrupt("dedup chunk", "bad length"))?;
                self.state.fold(&facts, &ids);
            }
            self.state.set_seq(to);
        }
        Ok(())
    }

    async fn balance(&mut self, now: i64) -> Result<(), AnalyticsError> {
        let stream = self.source.stream().to_owned();
        let shards = self.source.shards().await?;
        let checkpoints = self.store.checkpoints(&stream).await?;
        let finished = |id: &str| checkpoints.get(id).is_some_and(|c| c.finished);
        let listed: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
        let mut eligible: Vec<String> = shards
            .iter()
            .filter(|s| !finished(&s.id))
            .filter(|s| {
                s.parents
                    .iter()
                    .all(|p| finished(p) || !listed.contains(p.as_str()))
            })
            .map(|s| s.id.clone())
            .collect();
        eligible.sort();
        let held = self
            .store
            .balance_leases(&LeaseRequest {
                stream: stream.clone(),
                worker: self.settings.worker.clone(),
                now,
                ttl_ms: self.settings.lease_ttl_ms,
                eligible,
            })
            .await?;
        self.shards.retain(|s, _| held.contains(s));
        self.prefetch.retain(|s, _| held.contains(s));
        let new: Vec<&String> = held
            .iter()
            .filter(|s| !self.shards.contains_key(*s))
            .collect();
        if !new.is_empty() {
            // Read after taking the leases: nothing else can commit to these shards now.
            let checkpoints = self.store.checkpoints(&stream).await?;
            for shard in new {
                let aggregates = self
                    .store
                    .shard_aggregates(&stream, shard)
                    .await?
                    .into_iter()
                    .collect();
                tracing::info!(stream = %stream, shard = %shard, worker = %self.settings.worker, "took the lease of a shard");
                self.shards.insert(
                    shard.clone(),
                    ShardRun {
                        checkpoint: checkpoints.get(shard).cloned().unwrap_or_default(),
                        aggregates,
                    },
                );
            }
        }
        self.next_balance = now + (self.settings.lease_ttl_ms / 3).max(1);
        Ok(())
    }

    async fn process(
        &mut self,
        shard: &str,
        after: Option<String>,
        batch: ReadBatch,
        (events, lines, invalid): Parsed,
    ) -> Result<Option<CommitReport>, AnalyticsError> {
        let started = std::time::Instant::now();
        let finished = batch.records.is_empty() && batch.shard_end;
        let position = batch
            .records
            .last()
            .map(|r| r.position.clone())
            .or_else(|| after.clone());
        let stream = self.source.stream().to_owned();
        let config = self.state.config().clone();
        let mut archived = self.lake.is_none();
        loop {
            let filtered = self.state.filter(&events);
            let plan = if archived {
                self.state.plan_filtered(&events, filtered)
            } else {
                // Encode the lake objects on a second thread while planning.
                let name = lake::batch_name(&stream, shard, after.as_deref());
                let kept: Vec<(i64, &[u8])> = filtered
                    .kept
                    .iter()
                    .map(|&i| (events[i].event.timestamp.unix_millis(), &lines[i][..]))
                    .collect();
                let state = &self.state;
                let events = &events;
                let planning = std::time::Instant::now();
                let (plan, encoded) = std::thread::scope(|s| {
                    let encoder = s.spawn(|| lake::encode_lines(&name, &kept));
                    let plan = state.plan_filtered(events, filtered);
                    let encoded = encoder.join().unwrap_or_else(|_| {
                        Err(AnalyticsError::Lake("the encoder panicked".into()))
                    });
                    (plan, encoded)
                });
                let writing = std::time::Instant::now();
                if let Some(lake) = &self.lake {
                    lake::write_encoded(lake.as_ref(), encoded?).await?;
                }
                tracing::debug!(
                    events = events.len(),
                    plan_ms = (writing - planning).as_millis() as u64,
                    lake_write_ms = writing.elapsed().as_millis() as u64,
                    "planned and archived"
                );
                archived = true;
                failpoint::point("after_lake").await;
                plan
            };
            let Some(run) = self.shards.get(shard) else {
                return Ok(None);
            };
            let mut counters = run.checkpoint.counters;
            counters.records += batch.records.len() as i64;
            counters.events += events.len() as i64;
            counters.duplicates += plan.duplicates as i64;
            counters.invalid += invalid as i64;
            let checkpoint = Checkpoint {
                position: position.clone(),
                finished,
                counters,
            };
            let mut rows: Vec<(AggKey, AggStats)> = plan
                .deltas
                .iter()
                .filter_map(|(slot, delta)| {
                    let key = key_of(&config, slot)?;
                    let mut value = run.aggregates.get(&key).copied().unwrap_or_default();
                    value.add(delta);
                    Some((key, value))
                })
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let forgotten = self.state.dedup_forgotten_before();
            let prune = forgotten.filter(|h| self.pruned_before.is_none_or(|p| *h > p));
            let commit = Commit {
                expected_seq: self.state.seq(),
                stream: stream.clone(),
                shard: shard.to_owned(),
                worker: self.settings.worker.clone(),
                previous_position: run.checkpoint.position.clone(),
                checkpoint: checkpoint.clone(),
                facts: (!plan.facts.is_empty()).then(|| codec::encode_facts(&config, &plan.facts)),
                dedup: plan
                    .new_ids
                    .iter()
                    .map(|(hour, ids)| (*hour, encode_ids(ids)))
                    .collect(),
                prune_dedup_before_hour: prune,
                aggregates: rows.clone(),
                lease_until: self.clock.now_ms() + self.settings.lease_ttl_ms,
            };
            let committing = std::time::Instant::now();
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed(seq) => {
                    tracing::debug!(
                        shard,
                        seq,
                        events = events.len(),
                        commit_ms = committing.elapsed().as_millis() as u64,
                        total_ms = started.elapsed().as_millis() as u64,
                        "committed a batch"
                    );
                    failpoint::point("after_commit").await;
                    let report = CommitReport {
                        shard: shard.to_owned(),
                        seq,
                        records: batch.records.len(),
                        events: events.len(),
                        duplicates: plan.duplicates,
                        invalid,
                        finished,
                    };
                    if let Some(run) = self.shards.get_mut(shard) {
                        run.aggregates.extend(rows);
                        run.checkpoint = checkpoint;
                    }
                    if prune.is_some() {
                        self.pruned_before = prune;
                    }
                    self.state.apply(plan, seq);
                    self.metrics.commits.inc();
                    self.metrics.consumed_events.inc_by(events.len() as u64);
                    self.metrics.duplicate_events.inc_by(report.duplicates);
                    self.metrics.invalid_lines.inc_by(invalid);
                    return Ok(Some(report));
                }
                CommitOutcome::Conflict => {
                    self.metrics.commit_conflicts.inc();
                    self.catch_up().await?;
                }
                CommitOutcome::LeaseLost => {
                    tracing::warn!(stream = %stream, shard, worker = %self.settings.worker, "lost the lease of a shard");
                    self.metrics.leases_lost.inc();
                    self.shards.remove(shard);
                    self.prefetch.remove(shard);
                    self.next_balance = i64::MIN;
                    return Ok(None);
                }
            }
        }
    }
}
