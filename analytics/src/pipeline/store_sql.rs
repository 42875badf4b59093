//! The [`Store`] adapter over SQLite or PostgreSQL: one `sqlx` Any pool, one migration set per
//! backend, queries in the SQL both share (`$N` parameters, `ON CONFLICT ... DO UPDATE`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::error::AnalyticsError;
use crate::failpoint;

use super::aggregate::{AggKey, AggStats};
use super::store::{
    Checkpoint, Chunk, Commit, CommitOutcome, Counters, LeaseRequest, REBASE_SHARD, RebaseOutcome,
    Store, Totals,
};

/// Rows per multi-row `INSERT` of aggregates.
const AGGREGATE_ROWS_PER_STATEMENT: usize = 64;
/// Sequence numbers per page when reading chunks.
const SEQ_PAGE: i64 = 256;
/// Results kept per experiment.
const RESULTS_KEPT: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
}

fn db(e: sqlx::Error) -> AnalyticsError {
    AnalyticsError::Database(e)
}

impl SqlStore {
    /// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`) and migrates.
    pub async fn connect(url: &str) -> Result<Self, AnalyticsError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(AnalyticsError::Config {
                field: "database_url".into(),
                message: "must start with sqlite: or postgres://".into(),
            });
        };
        let options: AnyConnectOptions = url.parse().map_err(db)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        // Durable commits: a checkpoint must not outlive a power cut less than
                        // the events it acknowledges.
                        conn.execute("PRAGMA synchronous = FULL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db)?;
        let store = Self { pool };
        match backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&store.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&store.pool)
                    .await?
            }
        }
        Ok(store)
    }
}

fn int(text: &str) -> Result<i128, AnalyticsError> {
    text.parse()
        .map_err(|_| AnalyticsError::corrupt("aggregate", format!("`{text}` is not an integer")))
}

fn aggregate_row(row: &AnyRow) -> Result<(AggKey, AggStats), AnalyticsError> {
    let text = |c: &str| row.try_get::<String, _>(c).map_err(db);
    Ok((
        AggKey {
            experiment: text("experiment")?,
            variant: text("variant")?,
            series: text("series")?,
            day: row.try_get("day").map_err(db)?,
        },
        AggStats {
            n: row.try_get("n").map_err(db)?,
            sx: int(&text("sx")?)?,
            sxx: int(&text("sxx")?)?,
            sy: int(&text("sy")?)?,
            syy: int(&text("syy")?)?,
            sxy: int(&text("sxy")?)?,
        },
    ))
}

async fn lock_meta(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), AnalyticsError> {
    // Takes the row lock (PostgreSQL) or the write lock (SQLite) without changing anything, so
    // lease changes serialize with commits.
    sqlx::query("UPDATE pipeline_meta SET commit_seq = commit_seq WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Inserts or replaces rows of one stream and shard.
async fn upsert_aggregates(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    stream: &str,
    shard: &str,
    aggregates: &[(AggKey, AggStats)],
) -> Result<(), AnalyticsError> {
    for rows in aggregates.chunks(AGGREGATE_ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO aggregates (stream, shard, experiment, variant, series, day, n, sx, sxx, sy, syy, sxy) VALUES ",
        );
        for i in 0..rows.len() {
            let b = i * 12;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 1..=12 {
                if j > 1 {
                    sql.push(',');
                }
                sql.push('$');
                sql.push_str(&(b + j).to_string());
            }
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (stream, shard, experiment, variant, series, day) DO UPDATE SET
                  n = excluded.n, sx = excluded.sx, sxx = excluded.sxx, sy = excluded.sy,
                  syy = excluded.syy, sxy = excluded.sxy",
        );
        // Only placeholders are generated; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (key, s) in rows {
            q = q
                .bind(stream)
                .bind(shard)
                .bind(&key.experiment)
                .bind(&key.variant)
                .bind(&key.series)
                .bind(key.day)
                .bind(s.n)
                .bind(s.sx.to_string())
                .bind(s.sxx.to_string())
                .bind(s.sy.to_string())
                .bind(s.syy.to_string())
                .bind(s.sxy.to_string());
        }
        q.execute(&mut **tx).await.map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, AnalyticsError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let bumped = sqlx::query(
            "UPDATE pipeline_meta SET commit_seq = commit_seq + 1 WHERE id = 1 AND commit_seq = $1",
        )
        .bind(c.expected_seq)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if bumped.rows_affected() == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(CommitOutcome::Conflict);
        }
        let seq = c.expected_seq + 1;
        let renewed = sqlx::query(
            "UPDATE leases SET expires_at = $1 WHERE stream = $2 AND shard = $3 AND owner = $4",
        )
        .bind(c.lease_until)
        .bind(&c.stream)
        .bind(&c.shard)
        .bind(&c.worker)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let current: Option<Option<String>> =
            sqlx::query("SELECT position FROM checkpoints WHERE stream = $1 AND shard = $2")
                .bind(&c.stream)
                .bind(&c.shard)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .map(|row| row.try_get::<Option<String>, _>("position"))
                .transpose()
                .map_err(db)?;
        if renewed.rows_affected() == 0 || current.flatten() != c.previous_position {
            tx.rollback().await.map_err(db)?;
            return Ok(CommitOutcome::LeaseLost);
        }
        let k = &c.checkpoint;
        sqlx::query(
            "INSERT INTO checkpoints (stream, shard, position, finished, records, events, duplicates, invalid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (stream, shard) DO UPDATE SET position = excluded.position,
               finished = excluded.finished, records = excluded.records, events = excluded.events,
               duplicates = excluded.duplicates, invalid = excluded.invalid",
        )
        .bind(&c.stream)
        .bind(&c.shard)
        .bind(k.position.clone())
        .bind(i64::from(k.finished))
        .bind(k.counters.records)
        .bind(k.counters.events)
        .bind(k.counters.duplicates)
        .bind(k.counters.invalid)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(facts) = &c.facts {
            sqlx::query("INSERT INTO fact_chunks (seq, data) VALUES ($1, $2)")
                .bind(seq)
                .bind(facts.clone())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for (hour, ids) in &c.dedup {
            sqlx::query("INSERT INTO dedup_chunks (seq, hour, ids) VALUES ($1, $2, $3)")
                .bind(seq)
                .bind(*hour)
                .bind(ids.clone())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        if let Some(hour) = c.prune_dedup_before_hour {
            sqlx::query("DELETE FROM dedup_chunks WHERE hour < $1")
                .bind(hour)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        upsert_aggregates(&mut tx, &c.stream, &c.shard, &c.aggregates).await?;
        failpoint::point("before_commit").await;
        tx.commit().await.map_err(db)?;
        Ok(CommitOutcome::Committed(seq))
    }

    async fn rebase(
        &self,
        expected_seq: i64,
        totals: &BTreeMap<String, Totals>,
    ) -> Result<RebaseOutcome, AnalyticsError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Holds off commits until this transaction ends: the rows read below are exactly
        // those of `expected_seq`, the state the totals were computed from.
        lock_meta(&mut tx).await?;
        let seq: i64 = sqlx::query("SELECT commit_seq FROM pipeline_meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get("commit_seq"))
            .map_err(db)?;
        if seq != expected_seq {
            tx.rollback().await.map_err(db)?;
            return Ok(RebaseOutcome::Conflict);
        }
        let mut rewritten = 0;
        for (experiment, want) in totals {
            let rows = sqlx::query("SELECT * FROM aggregates WHERE experiment = $1")
                .bind(experiment)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            let mut correction = want.clone();
            let mut current = BTreeMap::new();
            for row in &rows {
                let stream: String = row.try_get("stream").map_err(db)?;
                let shard: String = row.try_get("shard").map_err(db)?;
                let (key, stats) = aggregate_row(row)?;
                if stream == REBASE_SHARD && shard == REBASE_SHARD {
                    current.insert(key, stats);
                } else {
                    correction.entry(key).or_default().sub(&stats);
                }
            }
            correction.retain(|_, s| !s.is_zero());
            if correction == current {
                continue;
            }
            sqlx::query(
                "DELETE FROM aggregates WHERE stream = $1 AND shard = $1 AND experiment = $2",
            )
            .bind(REBASE_SHARD)
            .bind(experiment)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            let rows: Vec<(AggKey, AggStats)> = correction.into_iter().collect();
            upsert_aggregates(&mut tx, REBASE_SHARD, REBASE_SHARD, &rows).await?;
            rewritten += rows.len();
        }
        tx.commit().await.map_err(db)?;
        Ok(RebaseOutcome::Rebased { rows: rewritten })
    }

    async fn current_seq(&self) -> Result<i64, AnalyticsError> {
        sqlx::query("SELECT commit_seq FROM pipeline_meta WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("commit_seq"))
            .map_err(db)
    }

    async fn chunks(
        &self,
        after: i64,
        up_to: i64,
        dedup_from_hour: Option<i64>,
    ) -> Result<Vec<Chunk>, AnalyticsError> {
        let mut out: BTreeMap<i64, Chunk> = BTreeMap::new();
        let mut from = after;
        while from < up_to {
            let to = (from + SEQ_PAGE).min(up_to);
            let rows = sqlx::query(
                "SELECT seq, data FROM fact_chunks WHERE seq > $1 AND seq <= $2 ORDER BY seq",
            )
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for row in rows {
                let seq: i64 = row.try_get("seq").map_err(db)?;
                let chunk = out.entry(seq).or_insert_with(|| Chunk {
                    seq,
                    ..Chunk::default()
                });
                chunk.facts = Some(row.try_get("data").map_err(db)?);
            }
            let rows = sqlx::query(
                "SELECT seq, hour, ids FROM dedup_chunks WHERE seq > $1 AND seq <= $2 AND hour >= $3
                 ORDER BY seq, hour",
            )
            .bind(from)
            .bind(to)
            .bind(dedup_from_hour.unwrap_or(i64::MIN))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for row in rows {
                let seq: i64 = row.try_get("seq").map_err(db)?;
                let chunk = out.entry(seq).or_insert_with(|| Chunk {
                    seq,
                    ..Chunk::default()
                });
                chunk.dedup.push((
                    row.try_get("hour").map_err(db)?,
                    row.try_get("ids").map_err(db)?,
                ));
            }
            from = to;
        }
        Ok(out.into_values().collect())
    }

    async fn checkpoints(
        &self,
        stream: &str,
    ) -> Result<BTreeMap<String, Checkpoint>, AnalyticsError> {
        let rows = sqlx::query(
            "SELECT shard, position, finished, records, events, duplicates, invalid
             FROM checkpoints WHERE stream = $1",
        )
        .bind(stream)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("shard")?,
                    Checkpoint {
                        position: row.try_get("position")?,
                        finished: row.try_get::<i64, _>("finished")? != 0,
                        counters: Counters {
                            records: row.try_get("records")?,
                            events: row.try_get("events")?,
                            duplicates: row.try_get("duplicates")?,
                            invalid: row.try_get("invalid")?,
                        },
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db)
    }

    async fn shard_aggregates(
        &self,
        stream: &str,
        shard: &str,
    ) -> Result<Vec<(AggKey, AggStats)>, AnalyticsError> {
        let rows = sqlx::query("SELECT * FROM aggregates WHERE stream = $1 AND shard = $2")
            .bind(stream)
            .bind(shard)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(aggregate_row).collect()
    }

    async fn experiment_aggregates(
        &self,
        experiment: &str,
    ) -> Result<Vec<(AggKey, AggStats)>, AnalyticsError> {
        let rows = sqlx::query("SELECT * FROM aggregates WHERE experiment = $1")
            .bind(experiment)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(aggregate_row).collect()
    }

    async fn balance_leases(&self, r: &LeaseRequest) -> Result<Vec<String>, AnalyticsError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_meta(&mut tx).await?;
        sqlx::query(
            "INSERT INTO workers (stream, worker, heartbeat_at) VALUES ($1, $2, $3)
             ON CONFLICT (stream, worker) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(&r.stream)
        .bind(&r.worker)
        .bind(r.now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let live: i64 = sqlx::query(
            "SELECT COUNT(*) AS live FROM workers WHERE stream = $1 AND heartbeat_at > $2",
        )
        .bind(&r.stream)
        .bind(r.now - r.ttl_ms)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("live"))
        .map_err(db)?;
        let rows = sqlx::query("SELECT shard, owner, expires_at FROM leases WHERE stream = $1")
            .bind(&r.stream)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut leases: BTreeMap<String, (String, i64)> = BTreeMap::new();
        for row in &rows {
            leases.insert(
                row.try_get("shard").map_err(db)?,
                (
                    row.try_get("owner").map_err(db)?,
                    row.try_get("expires_at").map_err(db)?,
                ),
            );
        }
        let plan = super::lease::plan_leases(r, live.max(1), &leases);
        for shard in leases.keys().filter(|s| !r.eligible.contains(s)) {
            sqlx::query("DELETE FROM leases WHERE stream = $1 AND shard = $2 AND owner = $3")
                .bind(&r.stream)
                .bind(shard)
                .bind(&r.worker)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for shard in &plan {
            sqlx::query(
                "INSERT INTO leases (stream, shard, owner, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (stream, shard) DO UPDATE SET owner = excluded.owner,
                   expires_at = excluded.expires_at",
            )
            .bind(&r.stream)
            .bind(shard)
            .bind(&r.worker)
            .bind(r.now + r.ttl_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(plan)
    }

    async fn release_leases(&self, stream: &str, worker: &str) -> Result<(), AnalyticsError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_meta(&mut tx).await?;
        sqlx::query("DELETE FROM leases WHERE stream = $1 AND owner = $2")
            .bind(stream)
            .bind(worker)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM workers WHERE stream = $1 AND worker = $2")
            .bind(stream)
            .bind(worker)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn save_results(
        &self,
        experiment: &str,
        computed_at: i64,
        body: &str,
    ) -> Result<(), AnalyticsError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO results (experiment, computed_at, body) VALUES ($1, $2, $3)
             ON CONFLICT (experiment, computed_at) DO UPDATE SET body = excluded.body",
        )
        .bind(experiment)
        .bind(computed_at)
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "DELETE FROM results WHERE experiment = $1 AND computed_at < (
               SELECT computed_at FROM results WHERE experiment = $1
               ORDER BY computed_at DESC LIMIT 1 OFFSET $2)",
        )
        .bind(experiment)
        .bind(RESULTS_KEPT - 1)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn latest_results(
        &self,
        experiment: &str,
    ) -> Result<Option<(i64, String)>, AnalyticsError> {
        let row = sqlx::query(
            "SELECT computed_at, body FROM results WHERE experiment = $1
             ORDER BY computed_at DESC LIMIT 1",
        )
        .bind(experiment)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| Ok((row.try_get("computed_at")?, row.try_get("body")?)))
            .transpose()
            .map_err(db)
    }

    async fn ping(&self) -> Result<(), AnalyticsError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(worker: &str, shards: &[&str]) -> LeaseRequest {
        LeaseRequest {
            stream: "s".into(),
            worker: worker.into(),
            now: 1000,
            ttl_ms: 100,
            eligible: shards.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn a_commit_from_a_stale_sequence_or_checkpoint_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let owned = store.balance_leases(&request("w", &["s0"])).await.unwrap();
        assert_eq!(owned, vec!["s0"]);
        let key = AggKey {
            experiment: "e".into(),
            variant: "v".into(),
            series: "m".into(),
            day: 1,
        };
        let stats = AggStats {
            n: 2,
            sx: i128::MAX / 3,
            ..AggStats::default()
        };
        let commit = Commit {
            expected_seq: 0,
            stream: "s".into(),
            shard: "s0".into(),
            worker: "w".into(),
            previous_position: None,
            checkpoint: Checkpoint {
                position: Some("10".into()),
                finished: false,
                counters: Counters::default(),
            },
            facts: Some(vec![1, 2, 3]),
            dedup: vec![(5, vec![0; 16])],
            prune_dedup_before_hour: None,
            aggregates: vec![(key.clone(), stats)],
            lease_until: 2000,
        };
        assert_eq!(
            store.commit(&commit).await.unwrap(),
            CommitOutcome::Committed(1)
        );
        assert_eq!(
            store.commit(&commit).await.unwrap(),
            CommitOutcome::Conflict
        );
        let stale = Commit {
            expected_seq: 1,
            ..commit.clone()
        };
        assert_eq!(
            store.commit(&stale).await.unwrap(),
            CommitOutcome::LeaseLost
        );
        let other = Commit {
            expected_seq: 1,
            worker: "x".into(),
            previous_position: Some("10".into()),
            ..commit.clone()
        };
        assert_eq!(
            store.commit(&other).await.unwrap(),
            CommitOutcome::LeaseLost
        );
        assert_eq!(store.current_seq().await.unwrap(), 1);
        assert_eq!(
            store.shard_aggregates("s", "s0").await.unwrap(),
            vec![(key, stats)]
        );
        let chunks = store.chunks(0, 1, None).await.unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].facts.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(chunks[0].dedup, vec![(5, vec![0; 16])]);
        let cps = store.checkpoints("s").await.unwrap();
        assert_eq!(cps["s0"].position.as_deref(), Some("10"));
    }

    #[tokio::test]
    async fn a_rebase_makes_the_rows_add_up_to_the_totals_and_leaves_shard_rows_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        store.balance_leases(&request("w", &["s0"])).await.unwrap();
        let key = |series: &str, day: i64| AggKey {
            experiment: "e".into(),
            variant: "v".into(),
            series: series.into(),
            day,
        };
        let stats = |n: i64, sx: i128| AggStats {
            n,
            sx,
            ..AggStats::default()
        };
        let shard_rows = vec![(key("m", 1), stats(2, 10)), (key("m", 2), stats(1, 4))];
        let commit = Commit {
            expected_seq: 0,
            stream: "s".into(),
            shard: "s0".into(),
            worker: "w".into(),
            previous_position: None,
            checkpoint: Checkpoint::default(),
            facts: None,
            dedup: Vec::new(),
            prune_dedup_before_hour: None,
            aggregates: shard_rows.clone(),
            lease_until: 2000,
        };
        assert_eq!(
            store.commit(&commit).await.unwrap(),
            CommitOutcome::Committed(1)
        );
        let want: Totals = [(key("m", 1), stats(3, 12)), (key("m", 3), stats(1, 1))]
            .into_iter()
            .collect();
        let totals = BTreeMap::from([("e".to_owned(), want.clone())]);
        assert_eq!(
            store.rebase(0, &totals).await.unwrap(),
            RebaseOutcome::Conflict
        );
        assert_eq!(
            store.rebase(1, &totals).await.unwrap(),
            RebaseOutcome::Rebased { rows: 3 }
        );
        let mut summed: Totals = BTreeMap::new();
        for (k, s) in store.experiment_aggregates("e").await.unwrap() {
            summed.entry(k).or_default().add(&s);
        }
        summed.retain(|_, s| !s.is_zero());
        assert_eq!(summed, want);
        // Nothing to do the second time; the shard's own rows and the sequence are untouched.
        assert_eq!(
            store.rebase(1, &totals).await.unwrap(),
            RebaseOutcome::Rebased { rows: 0 }
        );
        let mut kept = store.shard_aggregates("s", "s0").await.unwrap();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(kept, shard_rows);
        assert_eq!(store.current_seq().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn only_the_latest_results_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        for t in 0..(RESULTS_KEPT + 5) {
            store
                .save_results("e", t, &format!("{{\"t\":{t}}}"))
                .await
                .unwrap();
        }
        let (at, body) = store.latest_results("e").await.unwrap().unwrap();
        assert_eq!((at, body.as_str()), (RESULTS_KEPT + 4, "{\"t\":104}"));
        let count: i64 = sqlx::query("SELECT COUNT(*) AS c FROM results")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .try_get("c")
            .unwrap();
        assert_eq!(count, RESULTS_KEPT);
    }
}
