//! The binary form of a commit's facts, as stored in the analytics database.
//!
//! Facts name experiments, variants, events and unit attributes by string (a per-chunk string
//! table), so chunks survive configuration changes: facts about names no longer configured are
//! skipped when read back. The encoding is deflated.
//!
//! ```text
//! "VF1\n" · count · string* · count · fact*
//! string   = varint length · UTF-8 bytes
//! exposure = 0 · attribute · unit · experiment · variant · zigzag ts
//! track    = 1 · attribute · unit · event · zigzag ts · zigzag value
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use crate::config::Config;
use crate::error::AnalyticsError;

use super::join::{Fact, UnitFact};

const MAGIC: &[u8] = b"VF1\n";

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Strings<'a> {
    index: HashMap<&'a str, u64>,
    list: Vec<&'a str>,
}

impl<'a> Strings<'a> {
    fn id(&mut self, s: &'a str) -> u64 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = self.list.len() as u64;
        self.list.push(s);
        self.index.insert(s, i);
        i
    }
}

/// Encodes facts by name.
pub fn encode_facts(config: &Config, facts: &[UnitFact]) -> Vec<u8> {
    let mut strings = Strings {
        index: HashMap::new(),
        list: Vec::new(),
    };
    let mut body = Vec::with_capacity(facts.len() * 12);
    let mut count = 0u64;
    for f in facts {
        let Some(attribute) = config.attributes.get(usize::from(f.unit.0)) else {
            continue;
        };
        match f.fact {
            Fact::Exposure {
                experiment,
                variant,
                ts,
            } => {
                let Some(exp) = config.experiments.get(experiment as usize) else {
                    continue;
                };
                let Some(variant) = exp.variants.get(variant as usize) else {
                    continue;
                };
                body.push(0);
                put_varint(&mut body, strings.id(attribute));
                put_varint(&mut body, strings.id(&f.unit.1));
                put_varint(&mut body, strings.id(&exp.key));
                put_varint(&mut body, strings.id(variant));
                put_varint(&mut body, zigzag(ts));
            }
            Fact::Track { event, ts, value } => {
                let Some(name) = config.event_name(event) else {
                    continue;
                };
                body.push(1);
                put_varint(&mut body, strings.id(attribute));
                put_varint(&mut body, strings.id(&f.unit.1));
                put_varint(&mut body, strings.id(name));
                put_varint(&mut body, zigzag(ts));
                put_varint(&mut body, zigzag(value));
            }
        }
        count += 1;
    }
    let mut raw = Vec::with_capacity(body.len() + 64);
    raw.extend_from_slice(MAGIC);
    put_varint(&mut raw, strings.list.len() as u64);
    for s in &strings.list {
        put_varint(&mut raw, s.len() as u64);
        raw.extend_from_slice(s.as_bytes());
    }
    put_varint(&mut raw, count);
    raw.extend_from_slice(&body);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(&raw);
    encoder.finish().unwrap_or_default()
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, AnalyticsError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| AnalyticsError::corrupt("fact chunk", "truncated"))?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(AnalyticsError::corrupt("fact chunk", "varint too long"))
    }

    fn byte(&mut self) -> Result<u8, AnalyticsError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| AnalyticsError::corrupt("fact chunk", "truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], AnalyticsError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| AnalyticsError::corrupt("fact chunk", "truncated"))?;
        let bytes: &'a [u8] = self.bytes;
        let out = &bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
}

/// Decodes facts, resolving names against `config`; facts about unknown names are skipped.
pub fn decode_facts(config: &Config, data: &[u8]) -> Result<Vec<UnitFact>, AnalyticsError> {
    let mut raw = Vec::new();
    DeflateDecoder::new(data)
        .read_to_end(&mut raw)
        .map_err(|e| AnalyticsError::corrupt("fact chunk", e.to_string()))?;
    if !raw.starts_with(MAGIC) {
        return Err(AnalyticsError::corrupt("fact chunk", "bad magic"));
    }
    let mut r = Reader {
        bytes: &raw,
        at: MAGIC.len(),
    };
    let n = r.varint()?;
    let mut strings: Vec<&str> = Vec::new();
    for _ in 0..n {
        let len = usize::try_from(r.varint()?).unwrap_or(usize::MAX);
        let bytes = r.take(len)?;
        let s = std::str::from_utf8(bytes)
            .map_err(|e| AnalyticsError::corrupt("fact chunk", e.to_string()))?;
        strings.push(s);
    }
    // Resolve lazily: per string, its meaning as attribute / experiment / event.
    let get = |i: u64| -> Result<&str, AnalyticsError> {
        strings
            .get(usize::try_from(i).unwrap_or(usize::MAX))
            .copied()
            .ok_or_else(|| AnalyticsError::corrupt("fact chunk", "string index out of range"))
    };
    let count = r.varint()?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    let mut attribute_cache: HashMap<u64, Option<u16>> = HashMap::new();
    for _ in 0..count {
        let tag = r.byte()?;
        let attribute = r.varint()?;
        let unit = get(r.varint()?)?;
        let attribute = *attribute_cache
            .entry(attribute)
            .or_insert_with(|| get(attribute).ok().and_then(|a| config.attribute(a)));
        match tag {
            0 => {
                let experiment = get(r.varint()?)?;
                let variant = get(r.varint()?)?;
                let ts = unzigzag(r.varint()?);
                // The same rules as extraction (`join::facts`), under the current configuration:
                // an experiment restarted since keeps only the exposures of its new run.
                let resolved = config
                    .experiment(experiment)
                    .filter(|(_, e)| ts >= e.start && e.end.is_none_or(|end| ts < end))
                    .and_then(|(i, e)| {
                        Some((u32::try_from(i).ok()?, e.variant_index(variant)?, e.unit))
                    });
                if let (Some(a), Some((experiment, variant, on))) = (attribute, resolved)
                    && on == a
                {
                    out.push(UnitFact {
                        unit: (a, unit.into()),
                        fact: Fact::Exposure {
                            experiment,
                            variant,
                            ts,
                        },
                    });
                }
            }
            1 => {
                let event = get(r.varint()?)?;
                let ts = unzigzag(r.varint()?);
                let value = unzigzag(r.varint()?);
                if let (Some(a), Some(event)) = (attribute, config.event(event)) {
                    out.push(UnitFact {
                        unit: (a, unit.into()),
                        fact: Fact::Track { event, ts, value },
                    });
                }
            }
            _ => return Err(AnalyticsError::corrupt("fact chunk", "unknown fact tag")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::join::facts;
    use crate::pipeline::testing::{T0, config, exposure, track};

    #[test]
    fn facts_round_trip_by_name() {
        let config = config();
        let mut out = Vec::new();
        for e in [
            exposure("x", "u1", "checkout", "treatment", -5),
            track("t", "u1", "purchase", 7, Some(-2.5)),
            track("c", "u2", "checkout", 9, None),
        ] {
            facts(&config, &e, &mut out);
        }
        assert_eq!(out.len(), 3);
        let bytes = encode_facts(&config, &out);
        assert_eq!(decode_facts(&config, &bytes).unwrap(), out);
    }

    #[test]
    fn facts_about_names_no_longer_configured_are_skipped() {
        let config = config();
        let mut out = Vec::new();
        facts(&config, &track("t", "u1", "checkout", 7, None), &mut out);
        facts(&config, &track("p", "u1", "purchase", 7, None), &mut out);
        let bytes = encode_facts(&config, &out);
        let fewer = Config::from_json(
            r#"{"experiments": [{"key": "checkout", "variants": ["control", "treatment"],
                "start": "2026-11-01T00:00:00Z", "metrics": ["p"]}],
                "metrics": [{"key": "p", "type": "count", "event": "purchase"}]}"#,
        )
        .unwrap();
        let back = decode_facts(&fewer, &bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(
            back[0].fact,
            Fact::Track {
                event: 0,
                ts: T0 + 7 * 60_000,
                value: 1_000_000
            }
        );
    }

    #[test]
    fn exposures_outside_the_current_window_are_skipped() {
        let config = config();
        let mut out = Vec::new();
        for e in [
            exposure("a", "u1", "checkout", "control", 5),
            exposure("b", "u2", "checkout", "treatment", 60),
        ] {
            facts(&config, &e, &mut out);
        }
        let bytes = encode_facts(&config, &out);
        // Restarted at T0 + 30 minutes: the first exposure belongs to the previous run.
        let restarted = Config::from_json(&crate::config::tests::EXAMPLE.replace(
            "\"start\": \"2026-11-01T00:00:00Z\"",
            "\"start\": \"2026-11-24T00:30:00Z\"",
        ))
        .unwrap();
        let back = decode_facts(&restarted, &bytes).unwrap();
        assert_eq!(back, out[1..].to_vec());
        assert_eq!(back[0].unit.1.as_ref(), "u2");
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        assert!(decode_facts(&config(), b"nonsense").is_err());
    }
}
