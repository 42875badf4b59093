//! Stage 1, validate: NDJSON lines become [`EnrichedEvent`]s that meet the edge's limits.
//!
//! The ingest endpoint rejects a body with a bad line (naming it); the stream consumer cannot
//! reject a record already in the stream, so it counts and drops bad lines instead.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use vane_engine::event::{EnrichedEvent, Event, EventKind, check_names, limits};
use vane_engine::time::Timestamp;

/// Why one line is not a usable event: the field at fault (when known) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub field: Option<String>,
    pub message: String,
}

impl LineError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: format!("{field} {}", message.into()),
        }
    }
}

/// The wire form of an [`EnrichedEvent`], flat. The derived form nests two `#[serde(flatten)]`s,
/// which make serde buffer every field first; this one parses several times faster and borrows
/// what it can. It accepts exactly what the derived form accepts. `P` is what `properties`
/// parse into: the full object ([`Map`]) for events to keep, or only its key count
/// ([`KeyCount`]) when a body is only checked.
#[derive(Deserialize)]
struct Wire<'a, P> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    experiment: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    variant: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    units: Pairs<'a>,
    #[serde(default = "Option::default")]
    properties: Option<P>,
    #[serde(borrow)]
    received_at: Cow<'a, str>,
    #[serde(borrow)]
    environment: Cow<'a, str>,
    snapshot_version: u64,
    #[serde(borrow)]
    edge: Cow<'a, str>,
    #[serde(default, borrow)]
    country: Option<Cow<'a, str>>,
}

/// A string borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

/// The entries of a JSON object of strings, in order (a later duplicate key wins, as in a map).
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Pairs<'a>, M::Error> {
                let mut out = Vec::with_capacity(2);
                while let Some((Text(k), Text(v))) = m.next_entry::<Text<'a>, Text<'a>>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Pairs<'_> {
    /// Distinct keys with their last value, sorted (what a map would hold).
    fn distinct(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::with_capacity(self.0.len());
        for (k, v) in &self.0 {
            match out.iter_mut().find(|(ok, _)| *ok == k.as_ref()) {
                Some(entry) => entry.1 = v,
                None => out.push((k, v)),
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }
}

/// The number of distinct keys of a JSON object, its values checked as JSON and skipped.
struct KeyCount(usize);

impl<'de> Deserialize<'de> for KeyCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<KeyCount, M::Error> {
                let mut keys: Vec<Cow<'de, str>> = Vec::new();
                while let Some((Text(k), de::IgnoredAny)) =
                    m.next_entry::<Text<'de>, de::IgnoredAny>()?
                {
                    keys.push(k);
                }
                keys.sort_unstable();
                keys.dedup();
                Ok(KeyCount(keys.len()))
            }
        }
        d.deserialize_map(V)
    }
}

/// How many keys `properties` has.
trait KeyLen {
    fn key_len(&self) -> usize;
}

impl KeyLen for KeyCount {
    fn key_len(&self) -> usize {
        self.0
    }
}

impl KeyLen for Map<String, Value> {
    fn key_len(&self) -> usize {
        self.len()
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The common form `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (years 1970 to 9999) without the general
/// parser; `None` for anything else, which the general parser then decides.
pub fn fast_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b.last() != Some(&b'Z')
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1970 || d < 1 || d > days_in_month || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut millis = 0;
    let rest = &b[19..b.len() - 1];
    if !rest.is_empty() {
        if rest[0] != b'.' || rest.len() < 2 || rest.len() > 10 {
            return None;
        }
        for (i, c) in rest[1..].iter().enumerate() {
            if !c.is_ascii_digit() {
                return None;
            }
            if i < 3 {
                millis += i64::from(c - b'0') * [100, 10, 1][i];
            }
        }
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000 + millis)
}

fn time(field: &str, text: &str) -> Result<Timestamp, LineError> {
    if let Some(ms) = fast_rfc3339(text) {
        return Ok(Timestamp::from_unix_millis(ms));
    }
    Timestamp::parse_rfc3339(text).map_err(|e| LineError {
        field: Some(field.to_owned()),
        message: format!("{field}: `{text}` is not an RFC 3339 time: {e}"),
    })
}

fn required<'a>(field: &str, value: Option<Cow<'a, str>>) -> Result<Cow<'a, str>, LineError> {
    value.ok_or_else(|| LineError {
        field: Some(field.to_owned()),
        message: format!("missing field `{field}`"),
    })
}

/// A parsed line: its kind resolved and its times parsed.
struct Line<'a, P> {
    wire: Wire<'a, P>,
    kind: EventKind,
    timestamp: Timestamp,
    received_at: Timestamp,
}

fn parse_wire<'a, P: Deserialize<'a>>(line: &'a [u8]) -> Result<Line<'a, P>, LineError> {
    let mut wire: Wire<'a, P> = serde_json::from_slice(line).map_err(|e| LineError {
        field: None,
        message: e.to_string(),
    })?;
    let kind = match wire.kind.as_ref() {
        "exposure" => EventKind::Exposure {
            experiment: required("experiment", wire.experiment.take())?.into_owned(),
            variant: required("variant", wire.variant.take())?.into_owned(),
        },
        "track" => EventKind::Track {
            event: required("event", wire.event.take())?.into_owned(),
            value: wire.value,
        },
        other => {
            return Err(LineError {
                field: Some("type".into()),
                message: format!("unknown variant `{other}`, expected `exposure` or `track`"),
            });
        }
    };
    let timestamp = time("timestamp", &wire.timestamp)?;
    let received_at = time("received_at", &wire.received_at)?;
    Ok(Line {
        wire,
        kind,
        timestamp,
        received_at,
    })
}

impl<P> Line<'_, P> {
    fn into_event(self) -> EnrichedEvent
    where
        P: Into<Map<String, Value>>,
    {
        let units = self
            .wire
            .units
            .0
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        EnrichedEvent {
            event: Event {
                id: self.wire.id.into_owned(),
                kind: self.kind,
                timestamp: self.timestamp,
                units,
                properties: self.wire.properties.map(Into::into),
            },
            received_at: self.received_at,
            environment: self.wire.environment.into_owned(),
            snapshot_version: self.wire.snapshot_version,
            edge: self.wire.edge.into_owned(),
            country: self.wire.country.map(Cow::into_owned),
        }
    }
}

/// Parses one line into an event, without the limits of [`check`].
pub fn parse_event(line: &[u8]) -> Result<EnrichedEvent, LineError> {
    parse_wire::<Map<String, Value>>(line).map(Line::into_event)
}

/// Parses and checks one line.
pub fn parse_line(line: &[u8]) -> Result<EnrichedEvent, LineError> {
    let parsed = parse_wire::<Map<String, Value>>(line)?;
    check(&parsed)?;
    Ok(parsed.into_event())
}

/// The edge's per-event limits, with the edge's receipt time as "now".
fn check<P: KeyLen>(parsed: &Line<'_, P>) -> Result<(), LineError> {
    let name = |field: &str, value: &str, max: usize| {
        if value.is_empty() || value.len() > max {
            Err(LineError::field(field, format!("must be 1 to {max} bytes")))
        } else {
            Ok(())
        }
    };
    check_names(&parsed.wire.id, &parsed.kind).map_err(|v| LineError::field(v.field, v.message))?;
    let units = parsed.wire.units.distinct();
    if units.is_empty() || units.len() > limits::MAX_UNITS {
        return Err(LineError::field(
            "units",
            format!("must name 1 to {} unit ids", limits::MAX_UNITS),
        ));
    }
    for (attribute, id) in units {
        name("units", attribute, limits::MAX_NAME_LEN)?;
        name("units", id, limits::MAX_UNIT_ID_LEN)?;
    }
    if parsed
        .wire
        .properties
        .as_ref()
        .is_some_and(|p| p.key_len() > limits::MAX_PROPERTIES)
    {
        return Err(LineError::field(
            "properties",
            format!("has more than {} keys", limits::MAX_PROPERTIES),
        ));
    }
    let age = parsed
        .received_at
        .unix_millis()
        .saturating_sub(parsed.timestamp.unix_millis());
    if age < -limits::MAX_FUTURE_SKEW_MS {
        return Err(LineError::field(
            "timestamp",
            "is more than an hour after received_at",
        ));
    }
    if age > limits::MAX_AGE_MS {
        return Err(LineError::field(
            "timestamp",
            "is more than 30 days before received_at",
        ));
    }
    Ok(())
}

/// [`parse_record`], also keeping each good event's line (a zero-copy slice of `data`).
pub fn parse_record_lines(
    data: &bytes::Bytes,
    out: &mut Vec<EnrichedEvent>,
    lines: &mut Vec<bytes::Bytes>,
) -> u64 {
    let mut invalid = 0;
    let mut start = 0;
    for line in data.split(|&b| b == b'\n') {
        let range = start..start + line.len();
        start = range.end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line) {
            Ok(event) => {
                out.push(event);
                lines.push(data.slice(range));
            }
            Err(_) => invalid += 1,
        }
    }
    invalid
}

/// Parses a stream record's NDJSON, appending the good events to `out`; returns how many lines
/// were dropped as invalid.
pub fn parse_record(data: &[u8], out: &mut Vec<EnrichedEvent>) -> u64 {
    let mut invalid = 0;
    for line in data.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line) {
            Ok(event) => out.push(event),
            Err(_) => invalid += 1,
        }
    }
    invalid
}

/// Valid events of a batch with their lines as received, and the number of invalid lines.
pub type Parsed = (Vec<EnrichedEvent>, Vec<bytes::Bytes>, u64);

/// Validates the records' lines, in two halves on two threads for large batches; keeps order.
pub fn parse_records(records: &[super::source::SourceRecord]) -> Parsed {
    let parse = |records: &[super::source::SourceRecord]| {
        let (mut events, mut lines, mut invalid) = (Vec::new(), Vec::new(), 0);
        for record in records {
            invalid += parse_record_lines(&record.data, &mut events, &mut lines);
        }
        (events, lines, invalid)
    };
    let bytes: usize = records.iter().map(|r| r.data.len()).sum();
    if records.len() < 2 || bytes < (1 << 20) {
        return parse(records);
    }
    let (first, second) = records.split_at(records.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| parse(second));
        let (mut events, mut lines, mut invalid) = parse(first);
        // Parsing does not panic; if it did, parse this half here.
        let (more, more_lines, bad) = other.join().unwrap_or_else(|_| parse(second));
        events.extend(more);
        lines.extend(more_lines);
        invalid += bad;
        (events, lines, invalid)
    })
}

/// Checks a whole ingest body; returns the number of events or the first bad line (1-based).
pub fn check_body(body: &[u8]) -> Result<usize, (usize, LineError)> {
    let mut events = 0;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = parse_wire::<KeyCount>(line).map_err(|e| (i + 1, e))?;
        check(&parsed).map_err(|e| (i + 1, e))?;
        events += 1;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: &str) -> String {
        format!(
            r#"{{"id":"e1","type":"track","event":"buy","value":2.5,"timestamp":"{ts}","units":{{"user_id":"u1"}},"received_at":"2026-11-24T12:00:00Z","environment":"production","snapshot_version":3,"edge":"fra-1"}}"#
        )
    }

    #[test]
    fn the_flat_parser_agrees_with_the_derived_one() {
        let lines = [
            line("2026-11-24T11:00:00Z"),
            r#"{"id":"x\"1","type":"exposure","experiment":"e","variant":"v","timestamp":"2026-11-24T11:00:00.5+01:00","units":{"a":"1","b":"\u00e9"},"properties":{"k":[1,{"z":null}]},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":1,"edge":"e","country":"FR","extra":true}"#.to_owned(),
            r#"{"id":"t","type":"track","event":"buy","value":null,"timestamp":"2026-11-24T11:00:00Z","units":{"u":"1"},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e","country":null}"#.to_owned(),
        ];
        let dup = r#"{"id":"d","type":"track","event":"b","timestamp":"2026-11-24T11:00:00Z","units":{"a":"1","a":"2"},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e"}"#;
        for l in lines.iter().map(String::as_str).chain([dup]) {
            let derived: EnrichedEvent = serde_json::from_str(l).unwrap();
            assert_eq!(parse_event(l.as_bytes()).unwrap(), derived, "{l}");
            // Checking a body (no events kept) agrees with parsing and checking each line.
            assert_eq!(
                check_body(l.as_bytes()).is_ok(),
                parse_line(l.as_bytes()).is_ok(),
                "{l}"
            );
        }
        let many = format!(
            r#"{{"id":"p","type":"track","event":"b","timestamp":"2026-11-24T11:00:00Z","units":{{"a":"1"}},"properties":{{{}}},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e"}}"#,
            (0..51)
                .map(|i| format!("\"k{i}\":[{i}]"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            parse_line(many.as_bytes()).unwrap_err().field.as_deref(),
            Some("properties")
        );
        assert_eq!(
            check_body(many.as_bytes()).unwrap_err().1.field.as_deref(),
            Some("properties")
        );
        for bad in [
            r#"{"id":"t","type":"click","timestamp":"2026-11-24T11:00:00Z","units":{},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e"}"#,
            r#"{"id":"t","type":"exposure","variant":"v","timestamp":"2026-11-24T11:00:00Z","units":{},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e"}"#,
            r#"{"id":"t","type":"track","event":"b","timestamp":"yesterday","units":{},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":0,"edge":"e"}"#,
            r#"{"id":"t","type":"track","event":"b","timestamp":"2026-11-24T11:00:00Z","units":{},"received_at":"2026-11-24T12:00:00Z","environment":"p","snapshot_version":-1,"edge":"e"}"#,
        ] {
            assert!(serde_json::from_str::<EnrichedEvent>(bad).is_err());
            assert!(parse_event(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_time_parser_agrees_with_the_general_one(
            y in 1960i64..2200, mo in 0i64..14, d in 0i64..33, h in 0i64..25, mi in 0i64..61,
            s in 0i64..61, frac in proptest::option::of("[0-9]{1,9}"),
        ) {
            let text = format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}Z",
                frac.map(|f| format!(".{f}")).unwrap_or_default()
            );
            let general = Timestamp::parse_rfc3339(&text).ok().map(Timestamp::unix_millis);
            match fast_rfc3339(&text) {
                Some(fast) => proptest::prop_assert_eq!(Some(fast), general, "{}", text),
                None => proptest::prop_assert!(general.is_none() || y < 1970 || s == 60, "{}", text),
            }
        }
    }

    #[test]
    fn a_good_line_parses_into_an_enriched_event() {
        let event = parse_line(line("2026-11-24T11:00:00Z").as_bytes()).unwrap();
        assert_eq!(event.event.id, "e1");
        assert_eq!(event.snapshot_version, 3);
    }

    #[test]
    fn a_timestamp_far_from_receipt_is_refused_with_its_field() {
        let err = parse_line(line("2026-10-01T00:00:00Z").as_bytes()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("timestamp"));
        let err = parse_line(line("2026-11-24T14:00:00Z").as_bytes()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("timestamp"));
    }

    #[test]
    fn a_body_reports_its_first_bad_line_counting_from_one() {
        let body = format!(
            "{}\n\n{}\nnot json\n",
            line("2026-11-24T11:00:00Z"),
            line("2026-11-24T11:00:00Z")
        );
        let (at, err) = check_body(body.as_bytes()).unwrap_err();
        assert_eq!(at, 4);
        assert!(err.field.is_none());
        let good = format!(
            "{}\n{}\n",
            line("2026-11-24T11:00:00Z"),
            line("2026-11-24T11:00:00Z")
        );
        assert_eq!(check_body(good.as_bytes()), Ok(2));
    }

    #[test]
    fn records_count_their_bad_lines_and_keep_the_good_ones() {
        let data = format!(
            "{}\n{{}}\n{}",
            line("2026-11-24T11:00:00Z"),
            line("2026-11-24T11:30:00Z")
        );
        let mut out = Vec::new();
        assert_eq!(parse_record(data.as_bytes(), &mut out), 1);
        assert_eq!(out.len(), 2);
        let data = bytes::Bytes::from(data);
        let (mut again, mut lines) = (Vec::new(), Vec::new());
        assert_eq!(parse_record_lines(&data, &mut again, &mut lines), 1);
        assert_eq!(again, out);
        assert_eq!(lines[1], line("2026-11-24T11:30:00Z").as_bytes());
    }
}
