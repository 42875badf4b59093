//! Realistic evaluation contexts, and the attribute values that conditions draw from.

use serde_json::{Value, json};

use crate::rng::Rng;

/// Countries with a rough share of traffic each (relative weights).
pub(crate) const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("DE", 9),
    ("GB", 8),
    ("IN", 8),
    ("FR", 6),
    ("BR", 6),
    ("JP", 5),
    ("CA", 5),
    ("NL", 4),
    ("ES", 4),
    ("MX", 3),
    ("SE", 3),
    ("PL", 3),
    ("IT", 3),
    ("AU", 3),
];

/// EU members among [`COUNTRIES`].
pub(crate) const EU: &[&str] = &["DE", "FR", "NL", "ES", "SE", "PL", "IT"];

pub(crate) const PLANS: &[(&str, u32)] =
    &[("free", 55), ("pro", 25), ("team", 12), ("enterprise", 8)];

pub(crate) const PLATFORMS: &[(&str, u32)] = &[("web", 45), ("ios", 30), ("android", 25)];

const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 40),
    ("outlook.com", 15),
    ("example.com", 15),
    ("acme.io", 10),
    ("vane.dev", 5),
    ("corp.example.com", 15),
];

const LANGUAGES: &[&str] = &[
    "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR",
];

const CONTEXT_SEED: u64 = 0xC0_7E_47;

/// The user id of sample context `i`: `user-000042`. Override lists and the id-list segment
/// name ids in this form, so some sample contexts hit them.
pub fn user_id(i: u64) -> String {
    format!("user-{i:06}")
}

/// A realistic context for unit `i`, the same on every run and platform:
///
/// ```json
/// {"user_id": "user-000042", "device_id": "dev-…", "country": "DE", "plan": "pro", "age": 34,
///  "app_version": "3.4.1", "platform": "ios", "email": "user42@acme.io",
///  "language": "de-DE", "beta": false}
/// ```
pub fn sample_context(i: u64) -> Value {
    let mut rng = Rng::new(CONTEXT_SEED, i);
    let country = pick_weighted(&mut rng, COUNTRIES);
    let plan = pick_weighted(&mut rng, PLANS);
    let platform = pick_weighted(&mut rng, PLATFORMS);
    let domain = pick_weighted(&mut rng, EMAIL_DOMAINS);
    let age = rng.range(16, 75);
    let version = format!(
        "{}.{}.{}",
        rng.range(1, 4),
        rng.range(0, 12),
        rng.range(0, 9)
    );
    json!({
        "user_id": user_id(i),
        "device_id": format!("dev-{:012x}", rng.next_u64() >> 16),
        "country": country,
        "plan": plan,
        "age": age,
        "app_version": version,
        "platform": platform,
        "email": format!("user{i}@{domain}"),
        "language": rng.pick(LANGUAGES),
        "beta": rng.chance(10),
    })
}

/// A context that satisfies every clause of [`crate::THREE_CLAUSE_FLAG`]'s rule, so a benchmark
/// of that flag evaluates all three clauses.
pub fn three_clause_context() -> Value {
    json!({
        "user_id": user_id(1),
        "device_id": "dev-00000000c0de",
        "country": "DE",
        "plan": "pro",
        "age": 34,
        "app_version": "3.4.1",
        "platform": "ios",
        "email": "user1@acme.io",
        "language": "de-DE",
        "beta": false,
    })
}

pub(crate) fn pick_weighted<T: Copy>(rng: &mut Rng, items: &[(T, u32)]) -> T {
    let weights: Vec<u32> = items.iter().map(|&(_, w)| w).collect();
    items[rng.weighted(&weights)].0
}
