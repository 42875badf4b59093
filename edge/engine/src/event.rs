//! The event model shared by the edge, analytics and the SDKs.
//!
//! Clients send batches `{"events": [...]}`. Each event has a client-generated `id` (the dedup
//! key), a `type` (`exposure` or `track`), the unit ids, and a timestamp; exposures name an
//! experiment and variant, tracks an event name and an optional numeric value. Batches are
//! validated event by event, so one bad event never rejects its valid neighbours.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::Timestamp;

/// Explicit limits, enforced by [`validate_event`] and by the edge before parsing.
pub mod limits {
    /// Largest request body accepted for a batch, in bytes.
    pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
    /// Most events in one batch.
    pub const MAX_EVENTS_PER_BATCH: usize = 500;
    /// Longest event id.
    pub const MAX_ID_LEN: usize = 128;
    /// Longest experiment key, variant key, event name, or unit attribute name.
    pub const MAX_NAME_LEN: usize = 256;
    /// Most unit ids on one event.
    pub const MAX_UNITS: usize = 8;
    /// Longest unit id.
    pub const MAX_UNIT_ID_LEN: usize = 256;
    /// Most top-level properties on one event.
    pub const MAX_PROPERTIES: usize = 50;
    /// Largest serialized `properties` object, in bytes.
    pub const MAX_PROPERTIES_BYTES: usize = 4096;
    /// How far in the future (client clock skew) a timestamp may be, in milliseconds.
    pub const MAX_FUTURE_SKEW_MS: i64 = 60 * 60 * 1000;
    /// How old an event may be when received, in milliseconds (offline mobile clients).
    pub const MAX_AGE_MS: i64 = 30 * 24 * 60 * 60 * 1000;
    /// A track event's `value` lies in `[-MAX_ABS_VALUE, MAX_ABS_VALUE]`: a billion of any
    /// unit (currency, seconds, items) is beyond one event of any real metric, and the bound
    /// keeps analytics' exact integer sums of squares far from overflow.
    pub const MAX_ABS_VALUE: f64 = 1e9;
}

/// A batch as clients send it. Events stay raw JSON until validated one by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<Value>,
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Client-generated unique id; analytics drops repeats.
    pub id: String,
    #[serde(flatten)]
    pub kind: EventKind,
    /// When it happened, by the client's clock (RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
    /// Unit attribute → unit id, e.g. `{"user_id": "u1", "device_id": "d9"}`.
    pub units: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The unit saw `variant` of `experiment`.
    Exposure { experiment: String, variant: String },
    /// The unit did `event`, optionally worth `value` (revenue, duration, count).
    Track {
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
    },
}

/// An accepted event with what the edge adds on receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedEvent {
    #[serde(flatten)]
    pub event: Event,
    /// When the edge accepted it.
    #[serde(with = "rfc3339")]
    pub received_at: Timestamp,
    pub environment: String,
    /// The snapshot version the edge served when it accepted the event.
    pub snapshot_version: u64,
    /// Which edge accepted it (id and location).
    pub edge: String,
    /// ISO country code from the platform's headers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Why one event of a batch was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    /// Position in the batch.
    pub index: usize,
    /// The offending field (`events[3].units`), or `events[3]` for the whole event.
    pub field: String,
    pub message: String,
}

/// The outcome of validating a batch: accepted events and one error per rejected event.
#[derive(Debug, Default)]
pub struct Validated {
    pub accepted: Vec<Event>,
    pub rejected: Vec<EventError>,
}

/// Validates every event of `batch` as received at `now`. The batch size limit is the caller's
/// (it rejects the whole request); everything else is per event.
pub fn validate_batch(batch: EventBatch, now: Timestamp) -> Validated {
    let mut out = Validated::default();
    for (index, raw) in batch.events.into_iter().enumerate() {
        match validate_event(index, raw, now) {
            Ok(event) => out.accepted.push(event),
            Err(error) => out.rejected.push(error),
        }
    }
    out
}

/// A field of an event outside its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: &'static str,
    pub message: String,
}

/// Checks an event's id and what it names (experiment and variant, or event name and value)
/// against [`limits`]. The edge on receipt and analytics on ingest apply exactly these rules.
pub fn check_names(id: &str, kind: &EventKind) -> Result<(), FieldViolation> {
    fn name(field: &'static str, value: &str, max: usize) -> Result<(), FieldViolation> {
        if value.is_empty() || value.len() > max {
            Err(FieldViolation {
                field,
                message: format!("must be 1 to {max} bytes"),
            })
        } else {
            Ok(())
        }
    }
    name("id", id, limits::MAX_ID_LEN)?;
    match kind {
        EventKind::Exposure {
            experiment,
            variant,
        } => {
            name("experiment", experiment, limits::MAX_NAME_LEN)?;
            name("variant", variant, limits::MAX_NAME_LEN)
        }
        EventKind::Track { event, value } => {
            name("event", event, limits::MAX_NAME_LEN)?;
            if value.is_some_and(|v| !v.is_finite() || v.abs() > limits::MAX_ABS_VALUE) {
                return Err(FieldViolation {
                    field: "value",
                    message: format!(
                        "must be a finite number between -{max:e} and {max:e}",
                        max = limits::MAX_ABS_VALUE
                    ),
                });
            }
            Ok(())
        }
    }
}

/// Parses and checks one event.
pub fn validate_event(index: usize, raw: Value, now: Timestamp) -> Result<Event, EventError> {
    let fail = |field: &str, message: String| EventError {
        index,
        field: if field.is_empty() {
            format!("events[{index}]")
        } else {
            format!("events[{index}].{field}")
        },
        message,
    };
    if !raw.is_object() {
        return Err(fail("", "an event must be a JSON object".into()));
    }
    let event: Event = serde_json::from_value(raw).map_err(|e| fail("", e.to_string()))?;
    check_names(&event.id, &event.kind).map_err(|v| fail(v.field, v.message))?;
    let name = |field: &str, value: &str, max: usize| {
        if value.is_empty() || value.len() > max {
            Err(fail(field, format!("must be 1 to {max} bytes")))
        } else {
            Ok(())
        }
    };
    if event.units.is_empty() || event.units.len() > limits::MAX_UNITS {
        return Err(fail(
            "units",
            format!("must name 1 to {} unit ids", limits::MAX_UNITS),
        ));
    }
    for (attribute, id) in &event.units {
        name(
            &format!("units.{attribute}"),
            attribute,
            limits::MAX_NAME_LEN,
        )?;
        name(&format!("units.{attribute}"), id, limits::MAX_UNIT_ID_LEN)?;
    }
    let age = now
        .unix_millis()
        .saturating_sub(event.timestamp.unix_millis());
    if age < -limits::MAX_FUTURE_SKEW_MS {
        return Err(fail(
            "timestamp",
            "is more than an hour in the future".into(),
        ));
    }
    if age > limits::MAX_AGE_MS {
        return Err(fail("timestamp", "is more than 30 days old".into()));
    }
    if let Some(properties) = &event.properties {
        if properties.len() > limits::MAX_PROPERTIES {
            return Err(fail(
                "properties",
                format!("has more than {} keys", limits::MAX_PROPERTIES),
            ));
        }
        let size = serde_json::to_vec(properties).map_or(usize::MAX, |b| b.len());
        if size > limits::MAX_PROPERTIES_BYTES {
            return Err(fail(
                "properties",
                format!(
                    "is {size} bytes serialized; the limit is {}",
                    limits::MAX_PROPERTIES_BYTES
                ),
            ));
        }
    }
    Ok(event)
}

/// Serde glue: [`Timestamp`] as an RFC 3339 string.
mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        match t.to_rfc3339() {
            Some(text) => s.serialize_str(&text),
            None => Err(serde::ser::Error::custom("timestamp out of range")),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text)
            .map_err(|e| D::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-24T12:00:00Z").unwrap()
    }

    fn exposure() -> Value {
        json!({"id": "e1", "type": "exposure", "timestamp": "2026-11-24T11:59:00Z",
               "units": {"user_id": "u1"}, "experiment": "checkout", "variant": "treatment"})
    }

    #[test]
    fn a_valid_exposure_and_track_are_accepted() {
        let track = json!({"id": "e2", "type": "track", "timestamp": "2026-11-24T11:59:30Z",
                           "units": {"user_id": "u1"}, "event": "purchase", "value": 12.5});
        let out = validate_batch(
            EventBatch {
                events: vec![exposure(), track],
            },
            now(),
        );
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        assert_eq!(out.accepted.len(), 2);
        assert_eq!(
            out.accepted[1].kind,
            EventKind::Track {
                event: "purchase".into(),
                value: Some(12.5)
            }
        );
    }

    #[test]
    fn each_bad_event_is_reported_with_its_index_and_field_while_good_ones_pass() {
        let mut no_units = exposure();
        no_units["units"] = json!({});
        let mut future = exposure();
        future["timestamp"] = json!("2026-11-24T14:00:00Z");
        let mut big = exposure();
        big["properties"] = json!({"blob": "x".repeat(5000)});
        let out = validate_batch(
            EventBatch {
                events: vec![exposure(), no_units, json!(3), future, big],
            },
            now(),
        );
        assert_eq!(out.accepted.len(), 1);
        let fields: Vec<(usize, &str)> = out
            .rejected
            .iter()
            .map(|e| (e.index, e.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (1, "events[1].units"),
                (2, "events[2]"),
                (3, "events[3].timestamp"),
                (4, "events[4].properties"),
            ]
        );
    }

    #[test]
    fn a_value_beyond_the_bound_is_rejected_and_one_at_it_accepted() {
        let track = |id: &str, value: f64| {
            json!({"id": id, "type": "track", "timestamp": "2026-11-24T11:59:30Z",
                   "units": {"user_id": "u1"}, "event": "purchase", "value": value})
        };
        let out = validate_batch(
            EventBatch {
                events: vec![
                    track("huge", 1e308),
                    track("max", limits::MAX_ABS_VALUE),
                    track("negative", -limits::MAX_ABS_VALUE * 1.5),
                ],
            },
            now(),
        );
        assert_eq!(out.accepted.len(), 1, "{:?}", out.rejected);
        assert_eq!(out.accepted[0].id, "max");
        let fields: Vec<&str> = out.rejected.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["events[0].value", "events[2].value"]);
    }

    #[test]
    fn an_unknown_type_is_rejected() {
        let mut e = exposure();
        e["type"] = json!("click");
        let err = validate_event(0, e, now()).unwrap_err();
        assert!(err.message.contains("click"), "{}", err.message);
    }

    #[test]
    fn enriched_events_round_trip_through_json() {
        let event = validate_event(0, exposure(), now()).unwrap();
        let enriched = EnrichedEvent {
            event,
            received_at: now(),
            environment: "production".into(),
            snapshot_version: 4,
            edge: "fra-1".into(),
            country: Some("DE".into()),
        };
        let text = serde_json::to_string(&enriched).unwrap();
        let back: EnrichedEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, enriched);
    }
}
