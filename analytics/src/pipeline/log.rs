//! The embedded event log: the ingest endpoint appends each accepted body as one record and
//! acknowledges it only once it is on disk (fsync); the consumer reads it through
//! [`LogSource`], the same port Kinesis is read through.
//!
//! Layout: a directory of segment files named by the global byte offset of their first byte
//! (`00000000000000000000.log`), each a sequence of frames `length u32 LE · crc32 u32 LE ·
//! payload`. A record's position is the offset just after it. One writer thread appends with
//! group commit (everything queued is written, then one fsync for all). Opening the log scans
//! the last segment and cuts off a torn tail (a frame that was never acknowledged). A lock file
//! keeps a second process out.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::AnalyticsError;
use crate::failpoint;

use super::source::{ReadBatch, ShardInfo, SourceRecord, StreamSource};

/// The stream name of the embedded log.
pub const LOG_STREAM: &str = "embedded";
/// Its one shard.
pub const LOG_SHARD: &str = "log-0";
const HEADER: u64 = 8;
/// Most bytes one read returns.
const READ_BYTES: u64 = 32 << 20;
/// Most bytes one group commit writes.
const GROUP_BYTES: usize = 16 << 20;

struct Append {
    data: Bytes,
    ack: oneshot::Sender<Result<u64, String>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    /// Everything before this offset is on disk.
    durable_end: AtomicU64,
    /// Base offsets of the segments, ascending.
    segments: Mutex<Vec<u64>>,
}

impl Shared {
    fn segments(&self) -> Vec<u64> {
        self.segments.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The writing side of the log.
#[derive(Debug)]
pub struct EventLog {
    shared: Arc<Shared>,
    tx: Mutex<Option<mpsc::Sender<Append>>>,
    _lock: File,
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn io(context: &str, path: &Path) -> impl FnOnce(std::io::Error) -> AnalyticsError {
    let context = format!("{context} {}", path.display());
    move |e| AnalyticsError::io(context, e)
}

fn sync_dir(dir: &Path) -> Result<(), AnalyticsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

/// Length of the valid frames at the start of a segment's bytes.
fn valid_prefix(bytes: &[u8]) -> u64 {
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + HEADER as usize) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = at + HEADER as usize;
        let Some(payload) = bytes.get(start..start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        at = start + len;
    }
    at as u64
}

impl EventLog {
    /// Opens (or creates) the log in `dir`, cutting off a torn tail, with segments rolled at
    /// about `segment_bytes`.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Self, AnalyticsError> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening", &lock_path))?;
        lock.try_lock().map_err(|_| {
            AnalyticsError::Source(format!(
                "the event log in {} is used by another process",
                dir.display()
            ))
        })?;
        let mut segments: Vec<u64> = std::fs::read_dir(dir)
            .map_err(io("listing", dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        segments.sort_unstable();
        let base = match segments.last() {
            Some(b) => *b,
            None => {
                File::create(segment_path(dir, 0)).map_err(io("creating segment in", dir))?;
                sync_dir(dir)?;
                segments.push(0);
                0
            }
        };
        let path = segment_path(dir, base);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("reading", &path))?;
        let valid = valid_prefix(&bytes);
        if valid < bytes.len() as u64 {
            tracing::warn!(
                segment = %path.display(),
                dropped = bytes.len() as u64 - valid,
                "cutting off a torn tail (never acknowledged)"
            );
            file.set_len(valid).map_err(io("truncating", &path))?;
            file.sync_all().map_err(io("syncing", &path))?;
        }
        file.seek(SeekFrom::End(0)).map_err(io("seeking", &path))?;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            durable_end: AtomicU64::new(base + valid),
            segments: Mutex::new(segments),
        });
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            shared: shared.clone(),
            file,
            base,
            size: valid,
            segment_bytes: segment_bytes.max(1),
            failed: false,
        };
        std::thread::Builder::new()
            .name("vane-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AnalyticsError::io("starting the log writer", e))?;
        Ok(Self {
            shared,
            tx: Mutex::new(Some(tx)),
            _lock: lock,
        })
    }

    /// Appends one record; returns once it is durable, with the offset after it.
    pub async fn append(&self, data: Bytes) -> Result<u64, AnalyticsError> {
        let (ack, done) = oneshot::channel();
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.send(Append { data, ack }).is_ok()));
        if sent != Some(true) {
            return Err(AnalyticsError::Source("the event log is closed".into()));
        }
        done.await
            .map_err(|_| AnalyticsError::Source("the event log writer stopped".into()))?
            .map_err(AnalyticsError::Source)
    }

    /// The offset after the last durable record.
    pub fn end(&self) -> u64 {
        self.shared.durable_end.load(Ordering::Acquire)
    }

    /// Deletes the segments that lie entirely before `offset` (never the last one).
    pub fn truncate_before(&self, offset: u64) -> Result<usize, AnalyticsError> {
        let mut removed = 0;
        let doomed: Vec<u64> = {
            let segments = self.shared.segments();
            segments
                .windows(2)
                .filter(|w| w[1] <= offset)
                .map(|w| w[0])
                .collect()
        };
        for base in doomed {
            let path = segment_path(&self.shared.dir, base);
            std::fs::remove_file(&path).map_err(io("removing", &path))?;
            if let Ok(mut segments) = self.shared.segments.lock() {
                segments.retain(|b| *b != base);
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// The reading side, for the consumer.
    pub fn source(&self) -> LogSource {
        LogSource {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    file: File,
    base: u64,
    size: u64,
    segment_bytes: u64,
    failed: bool,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Append>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            let mut bytes = group[0].data.len();
            while bytes < GROUP_BYTES {
                match rx.try_recv() {
                    Ok(more) => {
                        bytes += more.data.len();
                        group.push(more);
                    }
                    Err(_) => break,
                }
            }
            let outcome = if self.failed {
                Err("the event log failed earlier; restart to recover".to_owned())
            } else {
                self.write(&group).map_err(|e| {
                    self.failed = true;
                    tracing::error!(error = %e, "event log write failed");
                    e.to_string()
                })
            };
            match outcome {
                Ok(ends) => {
                    for (append, end) in group.into_iter().zip(ends) {
                        let _ = append.ack.send(Ok(end));
                    }
                }
                Err(e) => {
                    for append in group {
                        let _ = append.ack.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    fn write(&mut self, group: &[Append]) -> Result<Vec<u64>, AnalyticsError> {
        let total: u64 = group.iter().map(|a| HEADER + a.data.len() as u64).sum();
        if self.size > 0 && self.size + total > self.segment_bytes {
            self.roll()?;
        }
        let mut buf = Vec::with_capacity(total as usize);
        let mut ends = Vec::with_capacity(group.len());
        let mut end = self.base + self.size;
        for a in group {
            let len = u32::try_from(a.data.len())
                .map_err(|_| AnalyticsError::Source("record larger than 4 GiB".into()))?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(&a.data).to_le_bytes());
            buf.extend_from_slice(&a.data);
            end += HEADER + u64::from(len);
            ends.push(end);
        }
        let path = segment_path(&self.shared.dir, self.base);
        self.file
            .write_all(&buf)
            .map_err(io("appending to", &path))?;
        failpoint::point_blocking("log_before_fsync");
        self.file.sync_data().map_err(io("syncing", &path))?;
        self.size += total;
        self.shared.durable_end.store(end, Ordering::Release);
        Ok(ends)
    }

    fn roll(&mut self) -> Result<(), AnalyticsError> {
        let base = self.base + self.size;
        let path = segment_path(&self.shared.dir, base);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io("creating", &path))?;
        sync_dir(&self.shared.dir)?;
        self.file = file;
        self.base = base;
        self.size = 0;
        if let Ok(mut segments) = self.shared.segments.lock() {
            segments.push(base);
        }
        Ok(())
    }
}

/// Reads the embedded log as a one-shard stream that never ends.
#[derive(Debug, Clone)]
pub struct LogSource {
    shared: Arc<Shared>,
}

impl LogSource {
    fn read_blocking(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ReadBatch, AnalyticsError> {
        let segments = self.shared.segments();
        let durable = self.shared.durable_end.load(Ordering::Acquire);
        let first = segments.first().copied().unwrap_or(0);
        let mut pos = match after {
            None => first,
            Some(p) => p
                .parse::<u64>()
                .map_err(|_| AnalyticsError::Source(format!("bad log position `{p}`")))?,
        }
        .max(first);
        let mut batch = ReadBatch::default();
        let mut read = 0u64;
        while pos < durable && batch.records.len() < limit && read < READ_BYTES {
            let i = segments.partition_point(|b| *b <= pos).saturating_sub(1);
            let base = segments.get(i).copied().unwrap_or(0);
            let next = segments.get(i + 1).copied().unwrap_or(u64::MAX);
            let stop = durable.min(next);
            if pos >= stop {
                pos = next;
                continue;
            }
            let path = segment_path(&self.shared.dir, base);
            let file = File::open(&path).map_err(io("opening", &path))?;
            let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
            reader
                .seek(SeekFrom::Start(pos - base))
                .map_err(io("seeking", &path))?;
            while pos < stop && batch.records.len() < limit && read < READ_BYTES {
                let mut header = [0u8; HEADER as usize];
                reader
                    .read_exact(&mut header)
                    .map_err(io("reading", &path))?;
                let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
                let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
                let end = pos + HEADER + u64::from(len);
                if end > stop {
                    return Err(AnalyticsError::corrupt(
                        "event log",
                        format!("frame at offset {pos} runs past the durable end"),
                    ));
                }
                let mut payload = vec![0u8; len as usize];
                reader
                    .read_exact(&mut payload)
                    .map_err(io("reading", &path))?;
                if crc32fast::hash(&payload) != crc {
                    return Err(AnalyticsError::corrupt(
                        "event log",
                        format!("bad checksum at offset {pos}"),
                    ));
                }
                read += end - pos;
                pos = end;
                batch.records.push(SourceRecord {
                    position: pos.to_string(),
                    data: Bytes::from(payload),
                });
            }
        }
        Ok(batch)
    }
}

#[async_trait]
impl StreamSource for LogSource {
    fn stream(&self) -> &str {
        LOG_STREAM
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, AnalyticsError> {
        Ok(vec![ShardInfo {
            id: LOG_SHARD.to_owned(),
            parents: Vec::new(),
        }])
    }

    async fn read(
        &self,
        _shard: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ReadBatch, AnalyticsError> {
        let this = self.clone();
        let after = after.map(str::to_owned);
        tokio::task::spawn_blocking(move || this.read_blocking(after.as_deref(), limit))
            .await
            .map_err(|e| AnalyticsError::Source(format!("log reader failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(source: &LogSource, after: Option<&str>, limit: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut after = after.map(str::to_owned);
        loop {
            let batch = source
                .read(LOG_SHARD, after.as_deref(), limit)
                .await
                .unwrap();
            if batch.records.is_empty() {
                return out;
            }
            after = batch.records.last().map(|r| r.position.clone());
            out.extend(batch.records.into_iter().map(|r| r.data));
        }
    }

    #[tokio::test]
    async fn appended_records_are_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path(), 100).unwrap();
        let mut ends = Vec::new();
        for i in 0..20 {
            ends.push(
                log.append(Bytes::from(format!("record {i}")))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(log.end(), *ends.last().unwrap());
        let source = log.source();
        let all = read_all(&source, None, 3).await;
        assert_eq!(all.len(), 20);
        assert_eq!(all[7], Bytes::from("record 7"));
        let rest = read_all(&source, Some(&ends[9].to_string()), 100).await;
        assert_eq!(rest.first(), Some(&Bytes::from("record 10")));
        assert!(log.shared.segments().len() > 2);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_off_when_the_log_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let end = {
            let log = EventLog::open(dir.path(), 1 << 20).unwrap();
            log.append(Bytes::from("one")).await.unwrap();
            log.append(Bytes::from("two")).await.unwrap()
        };
        // A frame header that promises more bytes than were written.
        let path = segment_path(dir.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2, 3, 4, b'x']).unwrap();
        drop(f);
        let log = EventLog::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(log.end(), end);
        log.append(Bytes::from("three")).await.unwrap();
        let all = read_all(&log.source(), None, 10).await;
        assert_eq!(
            all,
            vec![Bytes::from("one"), Bytes::from("two"), Bytes::from("three")]
        );
    }

    #[tokio::test]
    async fn a_second_process_cannot_open_the_same_log() {
        let dir = tempfile::tempdir().unwrap();
        let _log = EventLog::open(dir.path(), 1 << 20).unwrap();
        assert!(EventLog::open(dir.path(), 1 << 20).is_err());
    }

    #[tokio::test]
    async fn consumed_segments_are_deleted_but_never_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path(), 10).unwrap();
        let mut ends = Vec::new();
        for i in 0..5 {
            ends.push(log.append(Bytes::from(format!("r{i}"))).await.unwrap());
        }
        assert_eq!(log.truncate_before(ends[2]).unwrap(), 3);
        let rest = read_all(&log.source(), Some(&ends[2].to_string()), 10).await;
        assert_eq!(rest, vec![Bytes::from("r3"), Bytes::from("r4")]);
        assert_eq!(log.truncate_before(u64::MAX).unwrap(), 1);
        assert_eq!(log.shared.segments().len(), 1);
    }
}
