//! The data lake: raw events, compressed, partitioned by date and hour of event time, with a
//! manifest per batch. The port is [`LakeSink`] (put, get, list of objects); the adapters are
//! [`LocalLake`] (a directory) and [`super::lake_s3::S3Lake`].
//!
//! ```text
//! events/date=2026-11-24/hour=13/<batch>.ndjson.gz   NDJSON of EnrichedEvents, gzip
//! manifests/<batch>.json                              {"version":1,"batch":..,"objects":[..]}
//! ```
//!
//! A batch is named by the stream, shard and position it was read after, so a batch replayed
//! after a crash overwrites its own objects. Objects are written first and the manifest last:
//! readers use only objects a manifest lists. The lake is written before the database commit,
//! so it may hold an event twice (a batch archived, then replayed differently after a crash);
//! recomputation drops duplicates by event id exactly as the live pipeline does.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use vane_engine::event::EnrichedEvent;

use crate::error::AnalyticsError;

use super::validate;

/// Object storage.
#[async_trait]
pub trait LakeSink: Send + Sync + std::fmt::Debug {
    /// Writes (or overwrites) an object; durable when this returns.
    async fn put(&self, key: &str, body: Bytes) -> Result<(), AnalyticsError>;
    async fn get(&self, key: &str) -> Result<Bytes, AnalyticsError>;
    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, AnalyticsError>;
    /// Where the lake is, for logs.
    fn describe(&self) -> String;
}

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestObject {
    pub key: String,
    pub events: u64,
    pub bytes: u64,
    /// Event-time range of the object's events, Unix milliseconds.
    pub min_timestamp: i64,
    pub max_timestamp: i64,
}

/// The objects one batch wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub batch: String,
    pub objects: Vec<ManifestObject>,
}

/// A batch name from where it was read: safe in object keys and file names.
pub fn batch_name(stream: &str, shard: &str, after: Option<&str>) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{}~{}~{}",
        clean(stream),
        clean(shard),
        clean(after.unwrap_or("start"))
    )
}

fn partition(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "date={:04}-{:02}-{:02}/hour={:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour()
    )
}

/// Encodes a batch's events into its objects and manifest (pure).
pub fn encode_batch(
    batch: &str,
    events: &[&EnrichedEvent],
) -> Result<(Vec<(String, Bytes)>, Manifest), AnalyticsError> {
    let mut lines = Vec::with_capacity(events.len());
    for e in events {
        let line = serde_json::to_vec(e)
            .map_err(|err| AnalyticsError::Lake(format!("encoding an event: {err}")))?;
        lines.push((e.event.timestamp.unix_millis(), line));
    }
    let items: Vec<(i64, &[u8])> = lines.iter().map(|(t, l)| (*t, l.as_slice())).collect();
    encode_lines(batch, &items)
}

/// Encodes events given as their NDJSON lines (as received) with their event times (pure).
pub fn encode_lines(
    batch: &str,
    items: &[(i64, &[u8])],
) -> Result<(Vec<(String, Bytes)>, Manifest), AnalyticsError> {
    let mut by_hour: BTreeMap<i64, Vec<(i64, &[u8])>> = BTreeMap::new();
    for &(t, line) in items {
        by_hour
            .entry(t.div_euclid(3_600_000))
            .or_default()
            .push((t, line));
    }
    let mut objects = Vec::new();
    let mut manifest = Manifest {
        version: 1,
        batch: batch.to_owned(),
        objects: Vec::new(),
    };
    for (hour, lines) in by_hour {
        let key = format!("events/{}/{batch}.ndjson.gz", partition(hour * 3_600_000));
        let mut text = Vec::with_capacity(lines.iter().map(|(_, l)| l.len() + 1).sum());
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        for (t, line) in &lines {
            text.extend_from_slice(line.trim_ascii());
            text.push(b'\n');
            min = min.min(*t);
            max = max.max(*t);
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 6), Compression::fast());
        gz.write_all(&text)
            .map_err(|err| AnalyticsError::io("compressing events", err))?;
        let body = gz
            .finish()
            .map_err(|err| AnalyticsError::io("compressing events", err))?;
        manifest.objects.push(ManifestObject {
            key: key.clone(),
            events: lines.len() as u64,
            bytes: body.len() as u64,
            min_timestamp: min,
            max_timestamp: max,
        });
        objects.push((key, Bytes::from(body)));
    }
    Ok((objects, manifest))
}

/// Archives a batch: objects first, then the manifest.
pub async fn archive(
    lake: &dyn LakeSink,
    batch: &str,
    events: &[&EnrichedEvent],
) -> Result<(), AnalyticsError> {
    if events.is_empty() {
        return Ok(());
    }
    let encoded = encode_batch(batch, events)?;
    write_encoded(lake, encoded).await
}

/// Writes what [`encode_batch`] produced: objects first, then the manifest.
pub async fn write_encoded(
    lake: &dyn LakeSink,
    (objects, manifest): (Vec<(String, Bytes)>, Manifest),
) -> Result<(), AnalyticsError> {
    if objects.is_empty() {
        return Ok(());
    }
    let batch = manifest.batch.clone();
    // Concurrently: the writes (and a directory lake's fsyncs) overlap.
    futures_util::future::try_join_all(
        objects
            .iter()
            .map(|(key, body)| lake.put(key, body.clone())),
    )
    .await?;
    let body = serde_json::to_vec(&manifest)
        .map_err(|e| AnalyticsError::Lake(format!("encoding a manifest: {e}")))?;
    lake.put(&format!("manifests/{batch}.json"), Bytes::from(body))
        .await
}

/// Decodes one object's events.
pub fn decode_object(body: &[u8]) -> Result<Vec<EnrichedEvent>, AnalyticsError> {
    let mut text = Vec::new();
    MultiGzDecoder::new(body)
        .read_to_end(&mut text)
        .map_err(|e| AnalyticsError::corrupt("lake object", e.to_string()))?;
    let mut events = Vec::new();
    let invalid = validate::parse_record(&text, &mut events);
    if invalid > 0 {
        return Err(AnalyticsError::corrupt(
            "lake object",
            format!("{invalid} lines are not valid events"),
        ));
    }
    Ok(events)
}

/// Every event the manifests list, in manifest order.
pub async fn read_all(lake: &dyn LakeSink) -> Result<Vec<EnrichedEvent>, AnalyticsError> {
    let mut events = Vec::new();
    for key in lake.list("manifests/").await? {
        let manifest: Manifest = serde_json::from_slice(&lake.get(&key).await?)
            .map_err(|e| AnalyticsError::corrupt("lake manifest", format!("{key}: {e}")))?;
        for object in &manifest.objects {
            let body = lake.get(&object.key).await?;
            let decoded = decode_object(&body)?;
            if decoded.len() as u64 != object.events {
                return Err(AnalyticsError::corrupt(
                    "lake object",
                    format!(
                        "{} holds {} events, its manifest says {}",
                        object.key,
                        decoded.len(),
                        object.events
                    ),
                ));
            }
            events.extend(decoded);
        }
    }
    Ok(events)
}

/// A lake in a local directory. Objects are written to a temporary file, synced, and renamed.
#[derive(Debug, Clone)]
pub struct LocalLake {
    root: PathBuf,
}

impl LocalLake {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, AnalyticsError> {
        if key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(AnalyticsError::Lake(format!("bad object key `{key}`")));
        }
        Ok(self.root.join(key))
    }
}

fn list_dir(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_dir(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel.to_string_lossy().replace('\\', "/");
            if !key.ends_with(".tmp") {
                out.push(key);
            }
        }
    }
    Ok(())
}

#[async_trait]
impl LakeSink for LocalLake {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), AnalyticsError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&dir)?;
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(|e| AnalyticsError::Lake(e.to_string()))?
        .map_err(|e| AnalyticsError::io(format!("writing lake object {key}"), e))
    }

    async fn get(&self, key: &str) -> Result<Bytes, AnalyticsError> {
        let path = self.path(key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| AnalyticsError::io(format!("reading lake object {key}"), e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, AnalyticsError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let start = root.join(prefix.trim_end_matches('/'));
            let dir = if start.is_dir() {
                start
            } else {
                start
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.clone())
            };
            if dir.is_dir() {
                list_dir(&root, &dir, &mut out)?;
            }
            out.retain(|k| k.starts_with(&prefix));
            out.sort();
            Ok::<_, std::io::Error>(out)
        })
        .await
        .map_err(|e| AnalyticsError::Lake(e.to_string()))?
        .map_err(|e| AnalyticsError::io("listing the lake", e))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::{exposure, track};

    #[test]
    fn events_are_partitioned_by_date_and_hour_of_event_time() {
        let a = track("a", "u1", "buy", 10, None);
        let b = track("b", "u1", "buy", 70, Some(1.0));
        let c = exposure("c", "u2", "checkout", "control", 20);
        let (objects, manifest) = encode_batch("s~0~start", &[&a, &b, &c]).unwrap();
        let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "events/date=2026-11-24/hour=00/s~0~start.ndjson.gz",
                "events/date=2026-11-24/hour=01/s~0~start.ndjson.gz"
            ]
        );
        assert_eq!(manifest.objects[0].events, 2);
        assert_eq!(decode_object(&objects[0].1).unwrap(), vec![a, c]);
    }

    #[test]
    fn batch_names_are_safe_keys() {
        assert_eq!(
            batch_name("my stream", "shardId-0001", Some("49/5")),
            "my_stream~shardId-0001~49_5"
        );
    }

    #[tokio::test]
    async fn a_local_lake_lists_what_the_manifests_name() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LocalLake::new(dir.path());
        let a = track("a", "u1", "buy", 10, None);
        let b = track("b", "u1", "buy", 70, None);
        archive(&lake, "one", &[&a]).await.unwrap();
        archive(&lake, "two", &[&b]).await.unwrap();
        // An object no manifest names (a crash between the two writes) is ignored.
        lake.put(
            "events/date=2026-11-24/hour=05/orphan.ndjson.gz",
            Bytes::from_static(b"junk"),
        )
        .await
        .unwrap();
        assert_eq!(
            lake.list("manifests/").await.unwrap(),
            vec!["manifests/one.json", "manifests/two.json"]
        );
        assert_eq!(read_all(&lake).await.unwrap(), vec![a, b]);
        assert!(lake.get("../x").await.is_err());
    }
}
