//! The KV directory watch wakes the refresher only for a new pointer, never for the edge's own
//! reads: an idle edge stays idle. (Before, every open/read/close of `current` and of the
//! snapshot woke the refresher, whose next read woke it again: one core busy forever.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use vane_edge::store;
use vane_edge_native::source::{DirSource, SnapshotSource};

const ENV: &str = "watched";

/// Moves a new pointer into place the way sync does: write a temporary file, rename it.
fn publish_pointer(dir: &Path, version: u64) {
    let pointer = dir.join(store::current_key(ENV));
    let partial = pointer.with_file_name("current.partial");
    std::fs::write(&partial, version.to_string()).unwrap();
    std::fs::rename(&partial, &pointer).unwrap();
}

/// Waits (bounded) until the watch has woken the refresher at least `n` times.
async fn wait_for_wake_ups(source: &DirSource, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while source.wake_ups() < n {
        assert!(
            Instant::now() < deadline,
            "the watch woke {} times, expected at least {n}",
            source.wake_ups()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_edges_own_reads_do_not_wake_it_but_a_new_pointer_does() {
    let kv = tempfile::tempdir().unwrap();
    let snapshots = kv.path().join(store::snapshot_key(ENV, 1));
    std::fs::create_dir_all(snapshots.parent().unwrap()).unwrap();
    // A snapshot the edge refuses: it is read again at every refresh, the worst case.
    std::fs::write(&snapshots, b"not a snapshot").unwrap();
    publish_pointer(kv.path(), 1);

    let source = Arc::new(DirSource::new(kv.path().to_owned(), ENV));
    let wake = Arc::new(Notify::new());
    let watch = source
        .watch(wake.clone())
        .expect("a directory source watches");
    // The watch is in place once its first (unconditional) wake-up arrives.
    tokio::time::timeout(Duration::from_secs(30), wake.notified())
        .await
        .expect("the watch started");
    assert_eq!(source.wake_ups(), 0, "nothing changed yet");

    // 200 refreshes' worth of reads: pointer and snapshot, each opened, read and closed.
    for _ in 0..200 {
        let read = source.fetch(None).await.unwrap();
        assert_eq!(read.as_deref(), Some(&b"not a snapshot"[..]));
    }
    // One real change. inotify delivers events in order, so once its wake-up has been counted,
    // every event of the reads before it has been seen too.
    publish_pointer(kv.path(), 2);
    wait_for_wake_ups(&source, 1).await;
    // A rename is reported as "renamed to" and "renamed from and to": at most two wake-ups.
    // The reads alone produced over a thousand events; none of them may count.
    assert!(
        source.wake_ups() <= 2,
        "the edge's own reads woke it: {} wake-ups for one new pointer",
        source.wake_ups()
    );
    watch.abort();
}

#[tokio::test]
async fn other_files_in_the_directory_do_not_wake_the_edge() {
    let kv = tempfile::tempdir().unwrap();
    let env_dir = kv.path().join(store::current_key(ENV));
    let env_dir = env_dir.parent().unwrap();
    std::fs::create_dir_all(env_dir).unwrap();
    let source = Arc::new(DirSource::new(kv.path().to_owned(), ENV));
    let wake = Arc::new(Notify::new());
    let watch = source.watch(wake.clone()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), wake.notified())
        .await
        .expect("the watch started");
    for i in 0..50 {
        std::fs::write(env_dir.join(format!("unrelated-{i}")), b"x").unwrap();
    }
    publish_pointer(kv.path(), 7);
    wait_for_wake_ups(&source, 1).await;
    assert!(source.wake_ups() <= 2, "{} wake-ups", source.wake_ups());
    watch.abort();
}
