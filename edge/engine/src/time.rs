//! Instants as Unix milliseconds. The engine has no clock: callers pass `now`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 date-time such as `2026-11-24T10:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        let at = OffsetDateTime::parse(text, &Rfc3339)?;
        Ok(Self::from(at))
    }

    /// Formats as RFC 3339 in UTC; `None` when out of the representable range.
    pub fn to_rfc3339(self) -> Option<String> {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()?
            .format(&Rfc3339)
            .ok()
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        let millis = at.unix_timestamp_nanos() / 1_000_000;
        Self(i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_millis() {
        let t = Timestamp::parse_rfc3339("2026-11-24T10:00:00.250+01:00").unwrap();
        assert_eq!(t.unix_millis(), 1_795_510_800_250);
        assert_eq!(t.to_rfc3339().unwrap(), "2026-11-24T09:00:00.25Z");
    }
}
