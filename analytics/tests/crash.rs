//! Exactly-once under SIGKILL: the real `vane-analytics-worker` process is killed at chosen
//! points (inside the commit transaction, after archiving, after committing, while ingest
//! writes before fsync) and at an arbitrary moment, restarted on the same data directory each
//! time, while a client keeps posting (and re-posting what was not acknowledged). The final
//! results must equal, byte for byte, those of a run that was never interrupted; and a
//! recomputation from the lake (which the crashes left with duplicates) must agree too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vane-analytics-worker");
const EXPERIMENTS: [&str; 2] = ["checkout", "banner"];

struct Worker {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Never leave a worker behind, even when the test fails.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port for the worker's `--listen`. The worker must be told a port (it is killed and
/// restarted on the same data, and the test talks to it), so the port is reserved by binding
/// and releasing it; another process can take it in between, so [`spawn`] retries with a new
/// port when the worker reports that it could not bind.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 20 ms until it holds or `limit` passes (waiting on another process).
async fn wait_for(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn spawn(dir: &Path, config: &Path, failpoint: Option<&str>) -> Worker {
    for _attempt in 0..5 {
        if let Some(worker) = try_spawn(dir, config, failpoint).await {
            return worker;
        }
    }
    panic!("the worker could not bind a port in 5 attempts");
}

/// Starts the worker on a fresh port and waits until it answers; `None` when it exited
/// because the port was taken (then the caller tries another).
async fn try_spawn(dir: &Path, config: &Path, failpoint: Option<&str>) -> Option<Worker> {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--max-records",
            "2",
            "--results-interval-secs",
            "3600",
            "--idle-poll-ms",
            "10",
        ])
        .env("RUST_LOG", "warn")
        .env_remove("VANE_ANALYTICS_FAILPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(fp) = failpoint {
        command.env("VANE_ANALYTICS_FAILPOINT", fp);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let url = format!("{base}/healthz");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // stderr is closed once the process is gone: the reader thread ends soon.
            let said: Vec<String> = lines.iter().collect();
            if said.iter().any(|l| l.contains("binding 127.0.0.1:")) {
                return None;
            }
            panic!("the worker exited with {status} before it answered: {said:?}");
        }
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some(Worker { child, base, lines });
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for the worker to start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Worker {
    fn wait_line(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(e) => panic!("no `{needle}` on the worker's stderr: {e}"),
            }
        }
    }

    fn kill(mut self) {
        // std's Child::kill sends SIGKILL on Unix.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn status(&self) -> serde_json::Value {
        reqwest::get(format!("{}/v1/status", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn caught_up(&self) -> bool {
        let s = self.status().await;
        let end = s["log_end"].as_u64().unwrap_or(0);
        end > 0 && s["shards"]["log-0"]["position"].as_str() == Some(end.to_string().as_str())
    }

    /// Computes results now; returns the stored body exactly as served.
    async fn results(&self, experiment: &str) -> String {
        let text = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/experiments/{experiment}/results",
                self.base
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = text.find("\"results\":").unwrap() + "\"results\":".len();
        text[start..text.len() - 1].to_owned()
    }
}

/// Posts batches in order from `acked`, advancing it on each 200; stops at the first failure or
/// after `limit` batches.
async fn post_from(base: String, batches: Arc<Vec<String>>, acked: Arc<AtomicUsize>, limit: usize) {
    let client = reqwest::Client::new();
    let stop = acked.load(Ordering::SeqCst).saturating_add(limit);
    loop {
        let i = acked.load(Ordering::SeqCst);
        if i >= stop {
            return;
        }
        let Some(body) = batches.get(i) else { return };
        match client
            .post(format!("{base}/v1/ingest"))
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                acked.fetch_add(1, Ordering::SeqCst);
            }
            _ => return,
        }
    }
}

async fn finish(
    worker: &Worker,
    batches: &Arc<Vec<String>>,
    acked: &Arc<AtomicUsize>,
) -> Vec<String> {
    post_from(
        worker.base.clone(),
        batches.clone(),
        acked.clone(),
        usize::MAX,
    )
    .await;
    assert_eq!(acked.load(Ordering::SeqCst), batches.len());
    wait_for(
        Duration::from_secs(300),
        "the consumer to catch up",
        async || worker.caught_up().await,
    )
    .await;
    let mut out = Vec::new();
    for exp in EXPERIMENTS {
        out.push(worker.results(exp).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_after_sigkills_and_restarts_equal_an_uninterrupted_run_byte_for_byte() {
    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("config.json");
    std::fs::write(&config, common::CONFIG).unwrap();
    let events = common::events(1200, 42);
    let batches = Arc::new(common::ndjson_batches(&events, 40));
    assert!(batches.len() > 100);

    // An uninterrupted run.
    let clean_dir = scratch.path().join("clean");
    let clean = spawn(&clean_dir, &config, None).await;
    let expected = finish(&clean, &batches, &Arc::new(AtomicUsize::new(0))).await;
    clean.kill();
    assert!(expected[0].contains("\"experiment\":\"checkout\""));

    // The same events, with the worker killed again and again.
    let dir = scratch.path().join("crashing");
    let acked = Arc::new(AtomicUsize::new(0));
    let points = [
        "log_before_fsync:3",
        "before_commit:4",
        "after_lake:3",
        "after_commit:5",
        "before_commit:2",
        "log_before_fsync:2",
        "after_commit:1",
    ];
    for point in points {
        let worker = spawn(&dir, &config, Some(point)).await;
        // A few batches per phase, so that every phase has events to ingest and consume.
        let posting = tokio::spawn(post_from(
            worker.base.clone(),
            batches.clone(),
            acked.clone(),
            12,
        ));
        let name = point.split(':').next().unwrap().to_owned();
        let lines = worker;
        let lines = tokio::task::spawn_blocking(move || {
            lines.wait_line(&format!("failpoint {name} reached"));
            lines
        })
        .await
        .unwrap();
        lines.kill();
        posting.abort();
        let _ = posting.await;
        eprintln!(
            "killed at {point}; {} batches acknowledged",
            acked.load(Ordering::SeqCst)
        );
    }
    // Killed at an arbitrary moment while consuming.
    let worker = spawn(&dir, &config, None).await;
    let posting = tokio::spawn(post_from(
        worker.base.clone(),
        batches.clone(),
        acked.clone(),
        25,
    ));
    let seq = worker.status().await["commit_seq"].as_i64().unwrap_or(0);
    wait_for(Duration::from_secs(120), "a few commits", async || {
        worker.status().await["commit_seq"].as_i64().unwrap_or(0) >= seq + 7
    })
    .await;
    worker.kill();
    posting.abort();
    let _ = posting.await;
    assert!(
        acked.load(Ordering::SeqCst) < batches.len(),
        "the crashes happened mid-stream"
    );

    let worker = spawn(&dir, &config, None).await;
    let actual = finish(&worker, &batches, &acked).await;
    let status = worker.status().await;
    worker.kill();
    for (i, exp) in EXPERIMENTS.iter().enumerate() {
        assert_eq!(
            actual[i], expected[i],
            "{exp}: results differ after the crashes"
        );
    }
    // Duplicates (in the data, and from re-posting after crashes) were counted, not used.
    let dups = status["shards"]["log-0"]["duplicates"].as_i64().unwrap();
    assert!(
        dups >= (events.len() - common::distinct(&events)) as i64,
        "{status}"
    );

    // The lake alone gives the same results.
    let out = Command::new(BIN)
        .arg("recompute")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recomputed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, exp) in EXPERIMENTS.iter().enumerate() {
        let live: serde_json::Value = serde_json::from_str(&actual[i]).unwrap();
        assert_eq!(recomputed[exp], live, "{exp}: recomputed from the lake");
    }
}
