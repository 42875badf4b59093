//! Snapshot model, schema version 1: everything an edge needs to evaluate one environment, and
//! nothing it does not (no PII beyond override and id-list unit ids, no audit data).
//!
//! These are plain serde types: the wire format. [`crate::compile`] turns a [`Snapshot`] into a
//! validated, indexed [`crate::CompiledSnapshot`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The schema version this engine reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A published configuration snapshot for one environment. Immutable once published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always [`SCHEMA_VERSION`] for this model.
    pub schema_version: u32,
    /// Environment key, e.g. `production`.
    pub environment: String,
    /// Monotonic version per environment.
    pub version: u64,
    /// When core-api published it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Hex SHA-256 of the snapshot serialized with this field absent (see [`Snapshot::compute_hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub flags: Vec<Flag>,
    #[serde(default)]
    pub experiments: Vec<Experiment>,
    #[serde(default)]
    pub segments: Vec<Segment>,
    #[serde(default)]
    pub layers: Vec<Layer>,
    #[serde(default)]
    pub holdouts: Vec<Holdout>,
    /// SHA-256 digests of the environment's API keys that edges accept. Only digests: a
    /// snapshot never carries a usable key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<ApiKeyDigest>,
}

/// An API key an edge accepts, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyDigest {
    /// Lowercase hex SHA-256 of the key's UTF-8 text.
    pub sha256: String,
    pub kind: KeyKind,
}

/// What a key may do at an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Evaluate, assign and send events: safe to ship in a browser or app.
    Client,
    /// Also read the configuration for local evaluation (backend SDKs).
    Server,
    /// Automation; at an edge it may do what a server key may.
    Admin,
}

/// Lowercase hex SHA-256 of `text`, as used for content hashes and key digests.
pub fn sha256_hex(text: &[u8]) -> String {
    hex(&Sha256::digest(text))
}

impl Snapshot {
    /// An empty snapshot for `environment` at `version`.
    pub fn empty(environment: impl Into<String>, version: u64) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            environment: environment.into(),
            version,
            published_at: None,
            content_hash: None,
            flags: Vec::new(),
            experiments: Vec::new(),
            segments: Vec::new(),
            layers: Vec::new(),
            holdouts: Vec::new(),
            api_keys: Vec::new(),
        }
    }

    /// The content hash: lowercase hex SHA-256 of the compact JSON serialization of this
    /// snapshot with `content_hash` removed. Serialization is canonical because every map in
    /// the model is ordered (`BTreeMap`, and `serde_json` without `preserve_order`).
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.content_hash = None;
        // Serializing these types cannot fail: every key is a string and no value is a float NaN.
        let bytes = serde_json::to_vec(&unhashed).unwrap_or_default();
        sha256_hex(&bytes)
    }

    /// Sets `content_hash` to [`Snapshot::compute_hash`].
    pub fn seal(mut self) -> Self {
        self.content_hash = Some(self.compute_hash());
        self
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The type of a flag's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagType {
    Bool,
    String,
    Number,
    Json,
}

impl FlagType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::String => "string",
            Self::Number => "number",
            Self::Json => "json",
        }
    }

    /// Whether `value` is acceptable for a flag of this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Self::Bool => value.is_boolean(),
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Json => true,
        }
    }
}

/// A feature flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: FlagType,
    /// The values this flag can take; rules and rollouts refer to them by index.
    pub variations: Vec<Value>,
    /// Kill switch: when false every unit gets `off_variation`.
    pub enabled: bool,
    /// Served when the flag is off, outside its window, or a prerequisite fails.
    pub off_variation: usize,
    /// Served when the flag is on and no rule matches.
    pub default_variation: usize,
    /// Evaluated in order; the first rule whose targeting matches (and, for a rollout, whose
    /// coverage includes the unit) decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Other flags whose values must satisfy a condition before this flag's rules apply.
    #[serde(default)]
    pub prerequisites: Vec<Prerequisite>,
    /// Holdouts whose units skip the rules and get `default_variation`.
    #[serde(default)]
    pub holdouts: Vec<String>,
    /// Optional active window; outside it the flag serves `off_variation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Window>,
}

/// One targeting rule of a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A stable id shown in evaluation reasons; defaults to the rule's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// GrowthBook-style condition over the context attributes; absent means "everyone".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    /// Segments the unit must all belong to (in addition to `condition`).
    #[serde(default)]
    pub segments: Vec<String>,
    pub serve: Serve,
}

/// What a matching rule serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Serve {
    /// A fixed variation index.
    Variation(usize),
    /// A percentage rollout over the flag's variations.
    Rollout(Rollout),
}

/// A percentage rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// One weight per variation, each in [0, 1], summing to 1.
    pub weights: Vec<f64>,
    /// Share of units included, in [0, 1]; the others fall through to the next rule.
    #[serde(default = "one")]
    pub coverage: f64,
    /// The context attribute hashed to place the unit.
    #[serde(default = "default_unit_attribute")]
    pub unit_attribute: String,
    /// Hash salt; defaults to the flag key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// A prerequisite on another flag's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prerequisite {
    /// Key of the flag this one depends on.
    pub flag: String,
    /// Condition evaluated against `{"value": <that flag's value>}`, as in GrowthBook,
    /// e.g. `{"value": true}`.
    pub condition: Value,
}

/// A half-open time window `[start, end)`; either end may be open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// RFC 3339 time the window opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// RFC 3339 time the window closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// Lifecycle status of an experiment, as core-api tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Draft,
    Scheduled,
    Running,
    Stopped,
    Concluded,
}

impl ExperimentStatus {
    /// Scheduled and running experiments assign units inside their window; the others never do.
    pub fn may_assign(self) -> bool {
        matches!(self, Self::Scheduled | Self::Running)
    }
}

/// An A/B/n experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub key: String,
    pub status: ExperimentStatus,
    pub variants: Vec<Variant>,
    /// Share of eligible units that enter the experiment, in [0, 1].
    #[serde(default = "one")]
    pub coverage: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default)]
    pub segments: Vec<String>,
    /// The context attribute hashed for assignment, e.g. `user_id` or `device_id`.
    #[serde(default = "default_unit_attribute")]
    pub unit_attribute: String,
    /// Hash salt; changing it re-randomizes every unit.
    pub salt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerSlot>,
    /// Holdouts this experiment belongs to: their held-out units never enter it.
    #[serde(default)]
    pub holdouts: Vec<String>,
    /// Forced variants by unit id (QA, internal users): unit id → variant key.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// When it assigns; scheduled experiments start on their own at `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Window>,
}

/// One variant of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub key: String,
    /// Share of covered units, in [0, 1]; an experiment's weights sum to 1.
    pub weight: f64,
    /// Optional JSON the client receives with the assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// An experiment's place in a layer: the share `[start, end)` of the layer's bucket space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSlot {
    pub key: String,
    pub start: f64,
    pub end: f64,
}

/// A set of units used by targeting: `{"key": "...", "condition": {...}}` or
/// `{"key": "...", "id_list": {"attribute": "user_id", "ids": [...]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub key: String,
    #[serde(flatten)]
    pub definition: SegmentDefinition,
}

/// How a segment is defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentDefinition {
    /// Units whose attributes match a condition.
    Condition(Value),
    /// Units whose `attribute` value is in `ids` (GrowthBook's saved group).
    IdList { attribute: String, ids: Vec<Value> },
}

/// Mutually exclusive experiments share a layer: each takes a disjoint range of its buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub key: String,
    pub salt: String,
    #[serde(default = "default_unit_attribute")]
    pub unit_attribute: String,
}

/// A share of units kept out of every experiment and flag rule that names the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    pub key: String,
    pub salt: String,
    /// Share of units held out, in [0, 1].
    pub share: f64,
    #[serde(default = "default_unit_attribute")]
    pub unit_attribute: String,
}

fn one() -> f64 {
    1.0
}

fn default_unit_attribute() -> String {
    "user_id".to_owned()
}
