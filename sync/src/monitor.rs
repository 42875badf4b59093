//! The propagation monitor: which snapshot version each edge serves, how far behind it is, and
//! whether it is stuck.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use vane_engine::Timestamp;

/// An edge to watch: its name and its base URL (`{url}/v1/health` is polled).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EdgeEndpoint {
    pub name: String,
    pub url: String,
}

impl std::str::FromStr for EdgeEndpoint {
    type Err = String;
    /// `name=url`, e.g. `fra-1=http://10.0.0.5:8787`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=URL"))?;
        Ok(Self {
            name: name.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
        })
    }
}

/// What the monitor knows of one edge.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EdgeStatus {
    pub edge: String,
    pub url: String,
    pub environment: Option<String>,
    pub served_version: Option<u64>,
    pub latest_version: Option<u64>,
    /// Seconds since the first version the edge does not serve yet was published; 0 when current.
    pub lag_seconds: f64,
    /// Behind for longer than the stuck threshold, or unreachable.
    pub stuck: bool,
    pub last_error: Option<String>,
    pub checked_at: Option<String>,
}

/// Publication times of every version seen, per environment.
#[derive(Debug, Default)]
pub struct Publications {
    versions: HashMap<String, BTreeMap<u64, Timestamp>>,
}

impl Publications {
    pub fn record(&mut self, environment: &str, version: u64, published_at: Timestamp) {
        self.versions
            .entry(environment.to_owned())
            .or_default()
            .entry(version)
            .or_insert(published_at);
    }

    pub(crate) fn versions_of(&self, environment: &str) -> Option<&BTreeMap<u64, Timestamp>> {
        self.versions.get(environment)
    }

    pub fn latest(&self, environment: &str) -> Option<u64> {
        self.versions.get(environment)?.keys().next_back().copied()
    }

    /// When the oldest version newer than `served` was published.
    fn behind_since(&self, environment: &str, served: u64) -> Option<Timestamp> {
        self.versions
            .get(environment)?
            .range(served + 1..)
            .next()
            .map(|(_, t)| *t)
    }
}

/// Polls edges' health endpoints.
#[derive(Debug)]
pub struct Monitor {
    edges: Vec<EdgeEndpoint>,
    stuck_after_seconds: f64,
    client: reqwest::Client,
    statuses: Mutex<BTreeMap<String, EdgeStatus>>,
}

#[derive(Deserialize)]
struct Health {
    environment: Option<String>,
    snapshot: Option<HealthSnapshot>,
}

#[derive(Deserialize)]
struct HealthSnapshot {
    version: u64,
}

impl Monitor {
    pub fn new(edges: Vec<EdgeEndpoint>, stuck_after_seconds: f64) -> Self {
        Self {
            edges,
            stuck_after_seconds,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    /// The lag beyond which an edge is stuck, in seconds.
    pub fn stuck_after_seconds(&self) -> f64 {
        self.stuck_after_seconds
    }

    /// Polls every edge once and updates their statuses.
    pub async fn poll_once(&self, publications: &Publications, now: Timestamp) -> Vec<EdgeStatus> {
        let mut out = Vec::with_capacity(self.edges.len());
        for edge in &self.edges {
            let url = format!("{}/v1/health", edge.url);
            let health = match self.client.get(&url).send().await {
                Ok(r) => r.json::<Health>().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let status = match health {
                Ok(h) => {
                    let environment = h.environment;
                    let served = h.snapshot.map(|s| s.version);
                    let env = environment.as_deref().unwrap_or_default();
                    let latest = publications.latest(env);
                    let lag = match served {
                        Some(v) => publications.behind_since(env, v).map_or(0.0, |t| {
                            (now.unix_millis() - t.unix_millis()).max(0) as f64 / 1000.0
                        }),
                        // Serving nothing: behind since the latest version was published.
                        None => latest
                            .and_then(|l| publications.behind_since(env, l.saturating_sub(1)))
                            .map_or(0.0, |t| {
                                (now.unix_millis() - t.unix_millis()).max(0) as f64 / 1000.0
                            }),
                    };
                    EdgeStatus {
                        edge: edge.name.clone(),
                        url: edge.url.clone(),
                        environment,
                        served_version: served,
                        latest_version: latest,
                        lag_seconds: lag,
                        stuck: lag > self.stuck_after_seconds,
                        last_error: None,
                        checked_at: now.to_rfc3339(),
                    }
                }
                Err(error) => {
                    let previous = self
                        .statuses
                        .lock()
                        .ok()
                        .and_then(|s| s.get(&edge.name).cloned());
                    EdgeStatus {
                        edge: edge.name.clone(),
                        url: edge.url.clone(),
                        environment: previous.as_ref().and_then(|p| p.environment.clone()),
                        served_version: previous.as_ref().and_then(|p| p.served_version),
                        latest_version: previous.as_ref().and_then(|p| p.latest_version),
                        lag_seconds: previous.as_ref().map_or(0.0, |p| p.lag_seconds),
                        stuck: true,
                        last_error: Some(error),
                        checked_at: now.to_rfc3339(),
                    }
                }
            };
            out.push(status);
        }
        if let Ok(mut statuses) = self.statuses.lock() {
            for s in &out {
                statuses.insert(s.edge.clone(), s.clone());
            }
        }
        out
    }

    pub fn statuses(&self) -> Vec<EdgeStatus> {
        self.statuses
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Prometheus text for every edge.
    pub fn render_metrics(&self) -> String {
        let mut out = String::new();
        let statuses = self.statuses();
        let _ = writeln!(out, "# TYPE vane_edge_snapshot_lag_seconds gauge");
        for s in &statuses {
            let _ = writeln!(
                out,
                "vane_edge_snapshot_lag_seconds{{edge=\"{}\"}} {:.3}",
                s.edge, s.lag_seconds
            );
        }
        let _ = writeln!(out, "# TYPE vane_edge_served_version gauge");
        for s in &statuses {
            if let Some(v) = s.served_version {
                let _ = writeln!(out, "vane_edge_served_version{{edge=\"{}\"}} {v}", s.edge);
            }
        }
        let _ = writeln!(out, "# TYPE vane_edge_stuck gauge");
        for s in &statuses {
            let _ = writeln!(
                out,
                "vane_edge_stuck{{edge=\"{}\"}} {}",
                s.edge,
                u8::from(s.stuck)
            );
        }
        out
    }
}
