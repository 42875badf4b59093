//! Shared by the pipeline's integration tests: a configuration, a deterministic event set with
//! duplicates, out-of-order arrivals and units seen in two variants, and service helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use vane_engine::event::{EnrichedEvent, Event, EventKind};
use vane_engine::time::Timestamp;

/// 2026-11-20T00:00:00Z.
pub const T0: i64 = 1_795_132_800_000;
const MINUTE: i64 = 60_000;

/// Two experiments on two unit attributes, every metric type, CUPED, caps and windows.
pub const CONFIG: &str = r#"{
  "experiments": [
    {"key": "checkout", "variants": ["control", "treatment"], "unit": "user_id",
     "start": "2026-11-19T00:00:00Z",
     "metrics": ["purchased", "revenue", "orders", "aov", "basket"]},
    {"key": "banner", "variants": ["a", "b", "c"], "unit": "device_id",
     "start": "2026-11-19T00:00:00Z", "traffic_weights": [0.5, 0.25, 0.25],
     "analysis": {"method": "bayesian"},
     "metrics": ["clicked", "revenue"]}
  ],
  "metrics": [
    {"key": "purchased", "type": "conversion", "event": "purchase", "window_hours": 48,
     "cuped": {"window_hours": 72}},
    {"key": "revenue", "type": "sum", "event": "purchase", "cap": 400,
     "cuped": {"window_hours": 72}},
    {"key": "orders", "type": "count", "event": "purchase", "window_hours": 24},
    {"key": "aov", "type": "ratio", "numerator": "purchase", "denominator": "checkout"},
    {"key": "basket", "type": "mean", "event": "add_to_cart"},
    {"key": "clicked", "type": "conversion", "event": "banner_click", "window_hours": 2}
  ]
}"#;

/// A small deterministic generator (xorshift).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn event(id: String, at: i64, units: &[(&str, String)], kind: EventKind) -> EnrichedEvent {
    EnrichedEvent {
        event: Event {
            id,
            kind,
            timestamp: Timestamp::from_unix_millis(at),
            units: units
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            properties: None,
        },
        received_at: Timestamp::from_unix_millis(at + 1500),
        environment: "production".into(),
        snapshot_version: 7,
        edge: "test-edge".into(),
        country: Some("DE".into()),
    }
}

/// Events of `units` users over three days, shuffled, with about 5% exact retries (duplicates)
/// and about 2% of users exposed to two variants.
pub fn events(units: usize, seed: u64) -> Vec<EnrichedEvent> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for u in 0..units {
        let user = format!("user-{u}");
        let device = format!("dev-{}", u / 2);
        let ids = [("user_id", user.clone()), ("device_id", device.clone())];
        let start = T0 + (rng.below(3 * 24 * 60) as i64) * MINUTE;
        let id = |name: &str| format!("{user}-{name}");
        // Pre-exposure activity (the CUPED covariate).
        if rng.chance(40) {
            let value = (rng.below(9000) as f64) / 100.0;
            out.push(event(
                id("pre"),
                start - (rng.below(2000) as i64 + 1) * MINUTE,
                &ids,
                EventKind::Track {
                    event: "purchase".into(),
                    value: Some(value),
                },
            ));
        }
        let variant = if rng.chance(50) {
            "control"
        } else {
            "treatment"
        };
        out.push(event(
            id("x1"),
            start,
            &ids,
            EventKind::Exposure {
                experiment: "checkout".into(),
                variant: variant.into(),
            },
        ));
        // A repeated exposure, sometimes to the other variant (excluded).
        if rng.chance(30) {
            let again = if rng.chance(7) {
                if variant == "control" {
                    "treatment"
                } else {
                    "control"
                }
            } else {
                variant
            };
            out.push(event(
                id("x2"),
                start + (rng.below(600) as i64) * MINUTE,
                &ids,
                EventKind::Exposure {
                    experiment: "checkout".into(),
                    variant: again.into(),
                },
            ));
        }
        let banner = ["a", "a", "b", "c"][(u / 2 + seed as usize) % 4];
        if u % 2 == 0 {
            out.push(event(
                id("bx"),
                start + MINUTE,
                &ids,
                EventKind::Exposure {
                    experiment: "banner".into(),
                    variant: banner.into(),
                },
            ));
        }
        if rng.chance(if banner == "c" { 35 } else { 25 }) {
            out.push(event(
                id("bc"),
                start + (rng.below(180) as i64) * MINUTE,
                &ids,
                EventKind::Track {
                    event: "banner_click".into(),
                    value: None,
                },
            ));
        }
        let lift = if variant == "treatment" { 8 } else { 0 };
        let purchases = if rng.chance(30 + lift) {
            1 + rng.below(3)
        } else {
            0
        };
        for p in 0..purchases {
            let at = start + (rng.below(3 * 24 * 60) as i64) * MINUTE;
            out.push(event(
                id(&format!("co{p}")),
                at - MINUTE,
                &ids,
                EventKind::Track {
                    event: "checkout".into(),
                    value: None,
                },
            ));
            let value = 5.0 + (rng.below(30000) as f64) / 100.0;
            out.push(event(
                id(&format!("p{p}")),
                at,
                &ids,
                EventKind::Track {
                    event: "purchase".into(),
                    value: Some(value),
                },
            ));
        }
        for c in 0..rng.below(4) {
            let at = start + (rng.below(24 * 60) as i64) * MINUTE;
            out.push(event(
                id(&format!("cart{c}")),
                at,
                &ids,
                EventKind::Track {
                    event: "add_to_cart".into(),
                    value: Some(1.0 + rng.below(5) as f64),
                },
            ));
        }
        // Events no metric uses.
        if rng.chance(20) {
            out.push(event(
                id("view"),
                start,
                &ids,
                EventKind::Track {
                    event: "page_view".into(),
                    value: None,
                },
            ));
        }
    }
    // Shuffle (Fisher-Yates), then retry about 5% of the events later in the stream.
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    let n = out.len();
    for _ in 0..n / 20 {
        let i = rng.below(n as u64) as usize;
        let mut copy = out[i].clone();
        copy.received_at = Timestamp::from_unix_millis(copy.received_at.unix_millis() + 5000);
        copy.edge = "retrying-edge".into();
        out.push(copy);
    }
    out
}

/// NDJSON bodies of `per_batch` events each.
pub fn ndjson_batches(events: &[EnrichedEvent], per_batch: usize) -> Vec<String> {
    events
        .chunks(per_batch)
        .map(|chunk| {
            let mut body = String::new();
            for e in chunk {
                body.push_str(&serde_json::to_string(e).unwrap());
                body.push('\n');
            }
            body
        })
        .collect()
}

/// Distinct event ids.
pub fn distinct(events: &[EnrichedEvent]) -> usize {
    events
        .iter()
        .map(|e| e.event.id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// The service's endpoint, or a skip/fail decision: tests that need a local service skip when
/// its variable is unset, and fail when CI is set.
pub fn service_endpoint(var: &str, script: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI must run this test through {script} ({var} unset)")
        }
        _ => {
            eprintln!("skipped: {var} is not set (run through {script})");
            None
        }
    }
}
