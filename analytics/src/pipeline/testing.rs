//! Test helpers: events at minute offsets from 2026-11-24T00:00:00Z and a small configuration.

use std::collections::BTreeMap;

use vane_engine::event::{EnrichedEvent, Event, EventKind};
use vane_engine::time::Timestamp;

use crate::config::Config;

/// 2026-11-24T00:00:00Z.
pub const T0: i64 = 1_795_478_400_000;

/// The configuration of `config::tests::EXAMPLE`: experiment `checkout` (control, treatment) on
/// `user_id` with metrics `purchased` (conversion, 72 h), `revenue` (sum, cap 500, CUPED 336 h)
/// and `aov` (ratio purchase / checkout).
pub fn config() -> Config {
    Config::from_json(crate::config::tests::EXAMPLE).unwrap_or_else(|e| panic!("{e}"))
}

fn event(id: &str, unit: &str, minute: i64, kind: EventKind) -> EnrichedEvent {
    let at = Timestamp::from_unix_millis(T0 + minute * 60_000);
    EnrichedEvent {
        event: Event {
            id: id.into(),
            kind,
            timestamp: at,
            units: BTreeMap::from([("user_id".to_owned(), unit.to_owned())]),
            properties: None,
        },
        received_at: at,
        environment: "production".into(),
        snapshot_version: 1,
        edge: "test".into(),
        country: None,
    }
}

pub fn exposure(
    id: &str,
    unit: &str,
    experiment: &str,
    variant: &str,
    minute: i64,
) -> EnrichedEvent {
    event(
        id,
        unit,
        minute,
        EventKind::Exposure {
            experiment: experiment.into(),
            variant: variant.into(),
        },
    )
}

pub fn track(id: &str, unit: &str, name: &str, minute: i64, value: Option<f64>) -> EnrichedEvent {
    event(
        id,
        unit,
        minute,
        EventKind::Track {
            event: name.into(),
            value,
        },
    )
}
