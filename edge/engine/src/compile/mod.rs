//! Compilation: validate a [`Snapshot`] completely and build the immutable, indexed form that
//! evaluation uses. Every error is collected with its path; nothing is evaluated from a
//! snapshot that has any.

mod experiments;
mod flags;

use rustc_hash::FxHashMap as HashMap;

use serde_json::Value;

use crate::condition::{Condition, GroupIndex, IdList};
use crate::error::{CompileError, CompileErrorKind};
use crate::hash::{Bucket, Ranges, basis_points};
use crate::model::{ExperimentStatus, FlagType, SCHEMA_VERSION, Snapshot, Window};
use crate::time::Timestamp;

/// A validated snapshot, ready to evaluate. Cheap to share behind an `Arc`; never mutated.
#[derive(Debug)]
pub struct CompiledSnapshot {
    pub(crate) environment: String,
    pub(crate) version: u64,
    pub(crate) content_hash: String,
    pub(crate) flags: Vec<CFlag>,
    pub(crate) flag_index: HashMap<String, usize>,
    pub(crate) experiments: Vec<CExperiment>,
    pub(crate) experiment_index: HashMap<String, usize>,
    pub(crate) segments: Vec<CSegment>,
    pub(crate) id_lists: Vec<IdList>,
    pub(crate) layers: Vec<CLayer>,
    pub(crate) holdouts: Vec<CHoldout>,
    source: Snapshot,
}

impl CompiledSnapshot {
    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The verified content hash (computed when the snapshot did not carry one).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The snapshot this was compiled from.
    pub fn source(&self) -> &Snapshot {
        &self.source
    }

    /// Flag keys in snapshot order.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| f.key.as_str())
    }

    /// Experiment keys in snapshot order.
    pub fn experiment_keys(&self) -> impl Iterator<Item = &str> {
        self.experiments.iter().map(|e| e.key.as_str())
    }
}

#[derive(Debug)]
pub(crate) struct CFlag {
    pub key: String,
    pub variations: Vec<Value>,
    pub enabled: bool,
    pub off_variation: usize,
    pub default_variation: usize,
    pub rules: Vec<CRule>,
    pub prerequisites: Vec<CPrerequisite>,
    pub holdouts: Vec<usize>,
    pub window: CWindow,
}

#[derive(Debug)]
pub(crate) struct CRule {
    pub id: String,
    pub condition: Condition,
    pub segments: Vec<usize>,
    pub serve: CServe,
}

#[derive(Debug)]
pub(crate) enum CServe {
    Variation(usize),
    Rollout(Hashing),
}

/// Weighted placement of units: which attribute to hash, with which salt, onto which ranges.
#[derive(Debug)]
pub(crate) struct Hashing {
    pub unit_attribute: String,
    pub salt: String,
    pub ranges: Ranges,
}

#[derive(Debug)]
pub(crate) struct CPrerequisite {
    pub flag: usize,
    /// Whether each of the parent's variations satisfies the prerequisite's condition. The
    /// condition only sees `{"value": <parent value>}`, so it is decided once, here.
    pub satisfied_by: Vec<bool>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CWindow {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl CWindow {
    pub fn contains(&self, now: Timestamp) -> bool {
        self.start.is_none_or(|s| now >= s) && self.end.is_none_or(|e| now < e)
    }
}

#[derive(Debug)]
pub(crate) struct CExperiment {
    pub key: String,
    pub status: ExperimentStatus,
    pub variants: Vec<CVariant>,
    pub hashing: Hashing,
    pub condition: Condition,
    pub segments: Vec<usize>,
    pub layer: Option<CLayerSlot>,
    pub holdouts: Vec<usize>,
    pub overrides: HashMap<String, usize>,
    pub window: CWindow,
}

#[derive(Debug)]
pub(crate) struct CVariant {
    pub key: String,
    pub payload: Option<Value>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CLayerSlot {
    pub layer: usize,
    pub start: Bucket,
    pub end: Bucket,
}

#[derive(Debug)]
pub(crate) enum CSegment {
    Condition {
        key: String,
        condition: Condition,
    },
    IdList {
        key: String,
        attribute: String,
        list: usize,
    },
}

impl CSegment {
    pub fn key(&self) -> &str {
        match self {
            Self::Condition { key, .. } | Self::IdList { key, .. } => key,
        }
    }
}

#[derive(Debug)]
pub(crate) struct CLayer {
    pub key: String,
    pub salt: String,
    pub unit_attribute: String,
}

#[derive(Debug)]
pub(crate) struct CHoldout {
    pub key: String,
    pub salt: String,
    pub share: Bucket,
    pub unit_attribute: String,
}

/// Everything shared while compiling one snapshot: the error list and the key indexes that
/// references resolve against.
pub(crate) struct Compiler {
    pub errors: Vec<CompileError>,
    pub groups: GroupIndex,
    pub segment_index: HashMap<String, usize>,
    pub layer_index: HashMap<String, usize>,
    pub holdout_index: HashMap<String, usize>,
    pub flag_index: HashMap<String, usize>,
    pub id_lists: Vec<IdList>,
}

impl Compiler {
    pub fn error(&mut self, path: impl Into<String>, kind: CompileErrorKind) {
        self.errors.push(CompileError::new(path, kind));
    }

    pub fn invalid(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.error(path, CompileErrorKind::InvalidValue(message.into()));
    }

    /// Checks a key's syntax: 1–256 characters of `A-Z a-z 0-9 _ - . :`.
    pub fn key(&mut self, path: &str, key: &str) {
        let ok = !key.is_empty()
            && key.len() <= 256
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        if !ok {
            self.invalid(
                path,
                format!("`{key}` is not a valid key (1-256 of A-Z a-z 0-9 _ - . :)"),
            );
        }
    }

    pub fn non_empty(&mut self, path: &str, value: &str) {
        if value.is_empty() {
            self.invalid(path, "must not be empty");
        }
    }

    /// A share in [0, 1], as basis points.
    pub fn share(&mut self, path: &str, share: f64) -> Bucket {
        if !(0.0..=1.0).contains(&share) {
            self.invalid(path, format!("{share} is not a share in [0, 1]"));
        }
        basis_points(share)
    }

    pub fn condition(&mut self, path: &str, doc: Option<&Value>) -> Condition {
        match doc {
            None => Condition::always(),
            Some(doc) => Condition::compile(doc, path, &self.groups, &mut self.errors)
                .unwrap_or_else(Condition::always),
        }
    }

    pub fn segment_refs(&mut self, path: &str, keys: &[String]) -> Vec<usize> {
        self.refs(path, keys, Ref::Segment)
    }

    pub fn holdout_refs(&mut self, path: &str, keys: &[String]) -> Vec<usize> {
        self.refs(path, keys, Ref::Holdout)
    }

    fn refs(&mut self, path: &str, keys: &[String], kind: Ref) -> Vec<usize> {
        let mut out = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let (index, error) = match kind {
                Ref::Segment => (
                    self.segment_index.get(key),
                    CompileErrorKind::UnknownSegment(key.clone()),
                ),
                Ref::Holdout => (
                    self.holdout_index.get(key),
                    CompileErrorKind::UnknownHoldout(key.clone()),
                ),
            };
            match index {
                Some(&index) => out.push(index),
                None => self.error(format!("{path}[{i}]"), error),
            }
        }
        out
    }

    pub fn window(&mut self, path: &str, window: Option<&Window>) -> CWindow {
        let Some(window) = window else {
            return CWindow::default();
        };
        let mut time = |field: &str, text: &Option<String>| {
            let text = text.as_deref()?;
            match Timestamp::parse_rfc3339(text) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.invalid(
                        format!("{path}.{field}"),
                        format!("`{text}` is not an RFC 3339 time: {e}"),
                    );
                    None
                }
            }
        };
        let start = time("start", &window.start);
        let end = time("end", &window.end);
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            self.error(path, CompileErrorKind::EmptyWindow);
        }
        CWindow { start, end }
    }

    /// Validates weights (one per option, each a share, summing to 1) and lays out ranges.
    pub fn ranges(
        &mut self,
        path: &str,
        weights: &[f64],
        coverage: f64,
        paths: WeightPaths,
    ) -> Ranges {
        for (i, w) in weights.iter().enumerate() {
            if !(0.0..=1.0).contains(w) {
                self.invalid(
                    paths.weight(path, i),
                    format!("{w} is not a share in [0, 1]"),
                );
            }
        }
        let sum: f64 = weights.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            self.error(
                paths.all(path),
                CompileErrorKind::WeightsDoNotSumToOne {
                    sum: format!("{sum}"),
                },
            );
        }
        let coverage = self.share(&format!("{path}.coverage"), coverage);
        Ranges::new(&crate::hash::weights_to_basis_points(weights), coverage)
    }

    /// Records `key` at `index` in `seen`, reporting a duplicate.
    pub fn unique(
        &mut self,
        seen: &mut HashMap<String, usize>,
        path: &str,
        key: &str,
        index: usize,
    ) {
        if seen.insert(key.to_owned(), index).is_some() {
            self.error(path, CompileErrorKind::DuplicateKey(key.to_owned()));
        }
    }
}

#[derive(Clone, Copy)]
enum Ref {
    Segment,
    Holdout,
}

/// Where weights live in the JSON: a flat array (`weights[i]`) or one field per variant
/// (`variants[i].weight`).
#[derive(Clone, Copy)]
pub(crate) enum WeightPaths {
    Array,
    Variants,
}

impl WeightPaths {
    fn weight(self, path: &str, i: usize) -> String {
        match self {
            Self::Array => format!("{path}.weights[{i}]"),
            Self::Variants => format!("{path}.variants[{i}].weight"),
        }
    }

    fn all(self, path: &str) -> String {
        match self {
            Self::Array => format!("{path}.weights"),
            Self::Variants => format!("{path}.variants"),
        }
    }
}

/// Parses and compiles snapshot JSON. Malformed JSON is reported as one error at the root.
pub fn compile_json(json: &str) -> Result<CompiledSnapshot, Vec<CompileError>> {
    let snapshot: Snapshot = serde_json::from_str(json).map_err(|e| {
        vec![CompileError::new(
            "$",
            CompileErrorKind::Malformed(e.to_string()),
        )]
    })?;
    compile(snapshot)
}

/// Validates `snapshot` and builds its compiled form, or returns every error found.
pub fn compile(snapshot: Snapshot) -> Result<CompiledSnapshot, Vec<CompileError>> {
    let mut c = Compiler {
        errors: Vec::new(),
        groups: GroupIndex::new(),
        segment_index: HashMap::default(),
        layer_index: HashMap::default(),
        holdout_index: HashMap::default(),
        flag_index: HashMap::default(),
        id_lists: Vec::new(),
    };
    if snapshot.schema_version != SCHEMA_VERSION {
        c.error(
            "schema_version",
            CompileErrorKind::UnsupportedSchemaVersion {
                found: snapshot.schema_version,
                supported: SCHEMA_VERSION,
            },
        );
    }
    c.errors.extend(crate::limits::check(&snapshot));
    let computed = snapshot.compute_hash();
    if let Some(expected) = &snapshot.content_hash
        && *expected != computed
    {
        c.error(
            "content_hash",
            CompileErrorKind::HashMismatch {
                expected: expected.clone(),
                computed: computed.clone(),
            },
        );
    }
    c.non_empty("environment", &snapshot.environment);

    let segments = compile_segments(&mut c, &snapshot);
    let layers = compile_layers(&mut c, &snapshot);
    let holdouts = compile_holdouts(&mut c, &snapshot);
    let flags = flags::compile_flags(&mut c, &snapshot.flags);
    let experiments = experiments::compile_experiments(&mut c, &snapshot.experiments, &layers);

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let experiment_index = experiments
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.clone(), i))
        .collect();
    Ok(CompiledSnapshot {
        environment: snapshot.environment.clone(),
        version: snapshot.version,
        content_hash: computed,
        flags,
        flag_index: c.flag_index,
        experiments,
        experiment_index,
        segments,
        id_lists: c.id_lists,
        layers,
        holdouts,
        source: snapshot,
    })
}

fn compile_segments(c: &mut Compiler, snapshot: &Snapshot) -> Vec<CSegment> {
    use crate::model::SegmentDefinition;
    // Index first: conditions anywhere (including other segments') may name any segment.
    let mut seen = HashMap::default();
    let mut lists = 0;
    for (i, s) in snapshot.segments.iter().enumerate() {
        let path = format!("segments[{i}].key");
        c.key(&path, &s.key);
        c.unique(&mut seen, &path, &s.key, i);
        let list = match s.definition {
            SegmentDefinition::IdList { .. } => {
                lists += 1;
                Some(lists - 1)
            }
            SegmentDefinition::Condition(_) => None,
        };
        c.groups.insert(s.key.clone(), list);
    }
    c.segment_index = seen;
    c.id_lists = snapshot
        .segments
        .iter()
        .filter_map(|s| match &s.definition {
            SegmentDefinition::IdList { ids, .. } => Some(IdList::new(ids)),
            SegmentDefinition::Condition(_) => None,
        })
        .collect();
    let mut lists = 0;
    snapshot
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.definition {
            SegmentDefinition::Condition(doc) => {
                let condition = c.condition(&format!("segments[{i}].condition"), Some(doc));
                CSegment::Condition {
                    key: s.key.clone(),
                    condition,
                }
            }
            SegmentDefinition::IdList { attribute, .. } => {
                c.non_empty(&format!("segments[{i}].id_list.attribute"), attribute);
                lists += 1;
                CSegment::IdList {
                    key: s.key.clone(),
                    attribute: attribute.clone(),
                    list: lists - 1,
                }
            }
        })
        .collect()
}

fn compile_layers(c: &mut Compiler, snapshot: &Snapshot) -> Vec<CLayer> {
    let mut seen = HashMap::default();
    let layers = snapshot
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            c.key(&format!("layers[{i}].key"), &l.key);
            c.unique(&mut seen, &format!("layers[{i}].key"), &l.key, i);
            c.non_empty(&format!("layers[{i}].salt"), &l.salt);
            c.non_empty(&format!("layers[{i}].unit_attribute"), &l.unit_attribute);
            CLayer {
                key: l.key.clone(),
                salt: l.salt.clone(),
                unit_attribute: l.unit_attribute.clone(),
            }
        })
        .collect();
    c.layer_index = seen;
    layers
}

fn compile_holdouts(c: &mut Compiler, snapshot: &Snapshot) -> Vec<CHoldout> {
    let mut seen = HashMap::default();
    let holdouts = snapshot
        .holdouts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            c.key(&format!("holdouts[{i}].key"), &h.key);
            c.unique(&mut seen, &format!("holdouts[{i}].key"), &h.key, i);
            c.non_empty(&format!("holdouts[{i}].salt"), &h.salt);
            c.non_empty(&format!("holdouts[{i}].unit_attribute"), &h.unit_attribute);
            CHoldout {
                key: h.key.clone(),
                salt: h.salt.clone(),
                share: c.share(&format!("holdouts[{i}].share"), h.share),
                unit_attribute: h.unit_attribute.clone(),
            }
        })
        .collect();
    c.holdout_index = seen;
    holdouts
}

/// Whether `value` fits a flag of type `kind`; reports a mismatch at `path`.
pub(crate) fn check_type(c: &mut Compiler, path: &str, kind: FlagType, value: &Value) {
    if !kind.accepts(value) {
        c.error(
            path,
            CompileErrorKind::TypeMismatch {
                expected: kind.as_str().to_owned(),
            },
        );
    }
}
