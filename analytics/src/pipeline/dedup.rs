//! Stage 2, dedup: drop events whose id was already seen.
//!
//! Ids are remembered as 128-bit XXH3 hashes, grouped by the hour of the event's own timestamp.
//! Memory is bounded in time (hours older than the newest remembered hour minus the window are
//! forgotten) and in size (past `max_ids`, the oldest hours are forgotten first). Both rules
//! depend only on the set of remembered ids, never on arrival order or a wall clock, so a
//! replay after a crash forgets exactly what the first run forgot.
//!
//! The default window (31 days) exceeds the oldest event the edge accepts (30 days before its
//! receipt), so a retried copy of an event normally meets its original in memory.
//!
//! [`Dedup::filter`] does not change the set: the consumer remembers the new ids with
//! [`Dedup::remember`] only once they are committed.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use vane_engine::event::EnrichedEvent;

const HOUR_MS: i64 = 3_600_000;

/// Hashes an event id.
pub fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// The hour (since the Unix epoch) of an event's timestamp.
pub fn event_hour(event: &EnrichedEvent) -> i64 {
    event.event.timestamp.unix_millis().div_euclid(HOUR_MS)
}

/// The ids are already uniformly distributed hashes: use their low bits as the table hash.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

type IdSet = HashSet<u128, BuildHasherDefault<IdHasher>>;

/// The remembered ids.
#[derive(Debug, Clone)]
pub struct Dedup {
    /// `None` remembers everything (recomputation from the lake).
    window_hours: Option<i64>,
    max_ids: usize,
    ids: IdSet,
    hours: BTreeMap<i64, Vec<u128>>,
}

/// The outcome of filtering a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// Indexes of the events to keep, in order.
    pub kept: Vec<usize>,
    /// How many events were dropped as duplicates.
    pub duplicates: u64,
    /// The kept events' ids by hour, to remember once committed.
    pub new_ids: BTreeMap<i64, Vec<u128>>,
}

impl Dedup {
    pub fn new(window_hours: Option<i64>, max_ids: usize) -> Self {
        Self {
            window_hours,
            max_ids: max_ids.max(1),
            ids: IdSet::default(),
            hours: BTreeMap::new(),
        }
    }

    /// Remembered ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Ids of events in hours before this one are forgotten (`None`: nothing forgotten yet).
    pub fn forgotten_before(&self) -> Option<i64> {
        let newest = *self.hours.keys().next_back()?;
        let by_window = self.window_hours.map(|w| newest - w);
        let oldest_kept = self.hours.keys().next().copied();
        match (by_window, oldest_kept) {
            (Some(w), Some(o)) => Some(w.max(o)),
            (Some(w), None) => Some(w),
            (None, o) => o,
        }
    }

    /// Splits a batch into new events and duplicates (of remembered ids or of an earlier
    /// event of the same batch). The first copy wins.
    pub fn filter(&self, events: &[EnrichedEvent]) -> Filtered {
        let mut out = Filtered::default();
        let mut seen = IdSet::default();
        for (i, event) in events.iter().enumerate() {
            let h = id_hash(&event.event.id);
            if self.ids.contains(&h) || !seen.insert(h) {
                out.duplicates += 1;
                continue;
            }
            out.kept.push(i);
            out.new_ids.entry(event_hour(event)).or_default().push(h);
        }
        out
    }

    /// Remembers ids, then forgets what falls out of the window or over the size bound.
    pub fn remember(&mut self, hour: i64, ids: &[u128]) {
        let bucket = self.hours.entry(hour).or_default();
        for id in ids {
            if self.ids.insert(*id) {
                bucket.push(*id);
            }
        }
        self.evict();
    }

    fn evict(&mut self) {
        if let (Some(window), Some(newest)) = (self.window_hours, self.hours.keys().next_back()) {
            let cutoff = newest - window;
            while let Some(entry) = self.hours.first_entry() {
                if *entry.key() >= cutoff {
                    break;
                }
                for id in entry.remove() {
                    self.ids.remove(&id);
                }
            }
        }
        while self.ids.len() > self.max_ids && self.hours.len() > 1 {
            if let Some((hour, ids)) = self.hours.pop_first() {
                tracing::warn!(
                    hour,
                    forgotten = ids.len(),
                    "dedup memory bound reached: forgetting the oldest hour of event ids"
                );
                for id in ids {
                    self.ids.remove(&id);
                }
            }
        }
    }
}

/// Encodes ids as 16 little-endian bytes each.
pub fn encode_ids(ids: &[u128]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 16);
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// Decodes [`encode_ids`]; `None` if the length is not a multiple of 16.
pub fn decode_ids(bytes: &[u8]) -> Option<Vec<u128>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(16)
            .map(|c| {
                let mut b = [0u8; 16];
                b.copy_from_slice(c);
                u128::from_le_bytes(b)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::track;

    #[test]
    fn duplicates_within_a_batch_and_across_batches_are_dropped() {
        let mut dedup = Dedup::new(Some(24), 1000);
        let batch = vec![
            track("a", "u1", "buy", 0, None),
            track("b", "u1", "buy", 0, None),
            track("a", "u1", "buy", 0, None),
        ];
        let f = dedup.filter(&batch);
        assert_eq!((f.kept.clone(), f.duplicates), (vec![0, 1], 1));
        for (hour, ids) in &f.new_ids {
            dedup.remember(*hour, ids);
        }
        let f = dedup.filter(&[
            track("b", "u2", "buy", 10, None),
            track("c", "u1", "buy", 0, None),
        ]);
        assert_eq!((f.kept, f.duplicates), (vec![1], 1));
    }

    #[test]
    fn ids_older_than_the_window_are_forgotten_relative_to_the_newest_hour() {
        let mut dedup = Dedup::new(Some(2), 1000);
        dedup.remember(10, &[1, 2]);
        dedup.remember(11, &[3]);
        assert_eq!(dedup.len(), 3);
        dedup.remember(13, &[4]);
        // Hour 10 < 13 - 2 is forgotten; 11 stays.
        assert_eq!(dedup.len(), 2);
        assert_eq!(dedup.forgotten_before(), Some(11));
    }

    #[test]
    fn the_size_bound_forgets_the_oldest_hours_first() {
        let mut dedup = Dedup::new(None, 3);
        dedup.remember(1, &[1, 2]);
        dedup.remember(2, &[3, 4]);
        assert_eq!(dedup.len(), 2);
        assert_eq!(dedup.forgotten_before(), Some(2));
    }

    #[test]
    fn forgetting_does_not_depend_on_arrival_order() {
        let mut a = Dedup::new(Some(5), 100);
        let mut b = Dedup::new(Some(5), 100);
        let chunks = [
            (1, vec![1u128, 2]),
            (9, vec![3]),
            (4, vec![4]),
            (7, vec![5]),
        ];
        for (h, ids) in &chunks {
            a.remember(*h, ids);
        }
        for (h, ids) in chunks.iter().rev() {
            b.remember(*h, ids);
        }
        let mut ka: Vec<_> = a.ids.iter().copied().collect();
        let mut kb: Vec<_> = b.ids.iter().copied().collect();
        ka.sort_unstable();
        kb.sort_unstable();
        assert_eq!(ka, kb);
        assert_eq!(ka, vec![3, 4, 5]);
    }

    #[test]
    fn ids_round_trip_through_bytes() {
        let ids = vec![1u128, u128::MAX, 42 << 100];
        assert_eq!(decode_ids(&encode_ids(&ids)), Some(ids));
        assert_eq!(decode_ids(&[0u8; 15]), None);
    }
}
