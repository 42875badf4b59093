//! The one way to change configuration. A [`Writer`] holds the write lock and a database
//! transaction; handlers make their changes through [`Writer::conn`], record audit entries and
//! the environments they affect, and [`Writer::commit`] then builds and validates the snapshot
//! of every affected environment with the engine, stores the new immutable snapshots and the
//! audit entries, commits, and announces the new versions. An invalid snapshot rolls the whole
//! change back and answers 422 with every error's field path.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::MutexGuard;

use crate::db::Backend;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::snapshot::{self, Subject};
use crate::state::{Announcement, AppState};
use crate::store::audit::{self, NewEntry};
use crate::store::docs::{self, Filter, Table};
use crate::store::snapshots::{self, SnapshotRow};

/// Which environments' snapshots a change affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    /// Every environment (flags, segments, layers, holdouts).
    All,
    /// These environments (experiments, a new environment).
    Some(BTreeSet<String>),
}

/// A change in progress. Dropping it without [`Writer::commit`] rolls it back.
#[derive(Debug)]
pub struct Writer<'a> {
    state: &'a AppState,
    _guard: MutexGuard<'a, ()>,
    tx: Transaction<'static, Any>,
    actor: String,
    request_id: Option<String>,
    now: i64,
    audits: Vec<NewEntry>,
    affected: Affected,
    subject: Option<Subject>,
    /// Environments whose next snapshot republishes an earlier version's configuration.
    rollbacks: Vec<(String, i64)>,
}

impl<'a> Writer<'a> {
    /// Takes the write lock and begins a transaction.
    pub async fn begin(
        state: &'a AppState,
        actor: String,
        request_id: Option<String>,
    ) -> ApiResult<Self> {
        let guard = state.inner.write_lock.lock().await;
        // Writes outside the Writer (a login's session, an edge report) may commit meanwhile.
        let mut tx = state.db().begin_write().await?;
        if state.db().backend == Backend::Postgres {
            // Several core instances may share one PostgreSQL: serialize their writers too.
            // Plain reads are not blocked by this lock mode.
            sqlx::query("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self {
            now: state.now_millis(),
            state,
            _guard: guard,
            tx,
            actor,
            request_id,
            audits: Vec::new(),
            affected: Affected::Some(BTreeSet::new()),
            subject: None,
            rollbacks: Vec::new(),
        })
    }

    /// The transaction's connection.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The time of this change, in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Records an audit entry, written with the change.
    pub fn audit(
        &mut self,
        entity_type: &str,
        entity_key: &str,
        action: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) {
        self.audits.push(NewEntry {
            at: self.now,
            actor: self.actor.clone(),
            entity_type: entity_type.to_owned(),
            entity_key: entity_key.to_owned(),
            action: action.to_owned(),
            before,
            after,
            request_id: self.request_id.clone(),
        });
    }

    /// The change affects every environment's snapshot.
    pub fn affects_all(&mut self) {
        self.affected = Affected::All;
    }

    /// The change affects `environment`'s snapshot.
    pub fn affects(&mut self, environment: &str) {
        if let Affected::Some(set) = &mut self.affected {
            set.insert(environment.to_owned());
        }
    }

    /// The entity in the request body, so that snapshot errors about it are reported with
    /// paths relative to the body.
    /// Publishes `environment`'s next snapshot with the configuration of its snapshot
    /// `version` (flags, experiments, segments, layers, holdouts) and the current API keys, so a
    /// rollback never revives a revoked key. The stored entities are unchanged: the next other
    /// change publishes from them again.
    pub fn roll_back(&mut self, environment: &str, version: i64) {
        self.affects(environment);
        self.rollbacks.push((environment.to_owned(), version));
    }

    pub fn subject(&mut self, subject: Subject) {
        self.subject = Some(subject);
    }

    /// Validates and publishes the affected snapshots, appends the audit entries, commits,
    /// and announces the new snapshot versions.
    pub async fn commit(mut self) -> ApiResult<Vec<Announcement>> {
        let environments: Vec<String> = match &self.affected {
            Affected::All => {
                docs::list::<Value>(&mut self.tx, Table::Environments, &Filter::default())
                    .await?
                    .into_iter()
                    .map(|d| d.key)
                    .collect()
            }
            Affected::Some(set) => set.iter().cloned().collect(),
        };
        let published_at = crate::clock::rfc3339(self.now);
        let mut errors: Vec<FieldError> = Vec::new();
        let mut published = Vec::new();
        for environment in environments {
            if !docs::exists(&mut self.tx, Table::Environments, &environment).await? {
                continue;
            }
            let version = snapshots::latest_version(&mut self.tx, &environment).await? + 1;
            let mut snapshot =
                snapshot::build(&mut self.tx, &environment, version, &published_at).await?;
            if let Some((_, from)) = self.rollbacks.iter().find(|(e, _)| *e == environment) {
                let earlier = snapshots::at_version(&mut self.tx, &environment, *from)
                    .await?
                    .ok_or_else(|| ApiError::not_found("snapshot version", from.to_string()))?;
                let earlier: vane_engine::Snapshot =
                    crate::store::decode("snapshots", &earlier.body)?;
                snapshot.flags = earlier.flags;
                snapshot.experiments = earlier.experiments;
                snapshot.segments = earlier.segments;
                snapshot.layers = earlier.layers;
                snapshot.holdouts = earlier.holdouts;
            }
            let snapshot = snapshot.seal();
            match vane_engine::compile(snapshot.clone()) {
                Ok(compiled) => {
                    let body = crate::store::encode(&snapshot)?;
                    let row = SnapshotRow {
                        environment: environment.clone(),
                        version,
                        content_hash: compiled.content_hash().to_owned(),
                        body,
                        published_at: self.now,
                    };
                    snapshots::insert(&mut self.tx, &row).await?;
                    published.push((
                        Announcement {
                            environment,
                            version,
                            content_hash: row.content_hash,
                            published_at: published_at.clone(),
                        },
                        Arc::new(compiled),
                    ));
                }
                Err(found) => {
                    for error in snapshot::map_errors(&snapshot, found, self.subject.as_ref()) {
                        if !errors.contains(&error) {
                            errors.push(error);
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        for entry in &self.audits {
            audit::append(&mut self.tx, entry).await?;
        }
        self.tx.commit().await?;
        let inner = &self.state.inner;
        let mut announcements = Vec::with_capacity(published.len());
        for (announcement, compiled) in published {
            if let Ok(mut cache) = inner.compiled.lock() {
                cache.insert(announcement.environment.clone(), compiled);
            }
            inner
                .metrics
                .snapshot_published(&announcement.environment, announcement.version);
            // No subscribers is fine.
            let _ = inner.announcements.send(announcement.clone());
            tracing::info!(
                environment = %announcement.environment,
                version = announcement.version,
                "published snapshot"
            );
            announcements.push(announcement);
        }
        Ok(announcements)
    }
}
