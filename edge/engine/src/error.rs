//! Validation errors found while compiling a snapshot. Compilation never stops at the first
//! problem: every error is collected with the JSON path of the offending field.

use serde::Serialize;

/// One problem in a snapshot, located by a JSON path such as `flags[3].rules[0].condition.age.$gt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompileError {
    /// Where the problem is, as a dotted JSON path from the snapshot root.
    pub path: String,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: CompileErrorKind,
}

impl CompileError {
    pub fn new(path: impl Into<String>, kind: CompileErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl std::error::Error for CompileError {}

/// The kinds of validation error. `code` in JSON is the stable, machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", content = "detail", rename_all = "snake_case")]
pub enum CompileErrorKind {
    #[error("unsupported schema version {found}; this engine reads version {supported}")]
    UnsupportedSchemaVersion { found: u32, supported: u32 },
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    #[error("unknown flag `{0}`")]
    UnknownFlag(String),
    #[error("unknown segment `{0}`")]
    UnknownSegment(String),
    #[error("unknown layer `{0}`")]
    UnknownLayer(String),
    #[error("unknown holdout `{0}`")]
    UnknownHoldout(String),
    #[error("segment `{0}` is not an id-list segment, so `$inGroup`/`$notInGroup` cannot use it")]
    NotAnIdList(String),
    #[error("prerequisite cycle: {}", .0.join(" -> "))]
    PrerequisiteCycle(Vec<String>),
    #[error("weights sum to {sum}, not 1")]
    WeightsDoNotSumToOne { sum: String },
    #[error("expected {expected} weights (one per variation), found {found}")]
    WeightCountMismatch { expected: usize, found: usize },
    #[error("range [{start}, {end}) overlaps experiment `{other}` in the same layer")]
    OverlappingLayerRange {
        start: String,
        end: String,
        other: String,
    },
    #[error("experiment hashes on `{experiment}` but its layer hashes on `{layer}`")]
    LayerUnitMismatch { experiment: String, layer: String },
    #[error("invalid regular expression `{pattern}`: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("invalid condition: {0}")]
    InvalidCondition(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("variation {index} does not exist (the flag has {count})")]
    VariationOutOfRange { index: usize, count: usize },
    #[error("value does not match the flag type `{expected}`")]
    TypeMismatch { expected: String },
    #[error("the window ends before it starts")]
    EmptyWindow,
    #[error(
        "the content hash does not match the snapshot (expected {expected}, computed {computed})"
    )]
    HashMismatch { expected: String, computed: String },
    #[error("snapshot is not valid JSON for schema v1: {0}")]
    Malformed(String),
    #[error("nested deeper than {max} levels (the limit every edge parses)")]
    TooDeep { max: usize },
    #[error("{found} {what}; at most {max}")]
    TooLarge {
        what: &'static str,
        found: usize,
        max: usize,
    },
}
