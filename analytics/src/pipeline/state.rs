//! The consumer's in-memory state, and the pure step that turns a batch of events into what a
//! commit writes.
//!
//! [`PipelineState::plan`] runs dedup → facts → per-unit join → aggregate deltas without
//! changing anything; the consumer commits the plan, then [`PipelineState::apply`]s it. The
//! state is therefore always exactly what the database's committed chunks describe, up to
//! [`PipelineState::seq`].

use std::collections::BTreeMap;
use std::sync::Arc;

use vane_engine::event::EnrichedEvent;

use crate::config::Config;

use super::FastMap;
use super::aggregate::{AggKey, AggStats, Deltas, add_contribution, key_of};
use super::dedup::{Dedup, Filtered};
use super::join::{Fact, UnitFact, UnitKey, UnitState, facts};

/// What committing a batch changes.
#[derive(Debug, Default)]
pub struct Plan {
    /// Indexes of the events kept (not duplicates).
    pub kept: Vec<usize>,
    pub duplicates: u64,
    /// Ids to remember, by hour of event time.
    pub new_ids: BTreeMap<i64, Vec<u128>>,
    /// The facts the kept events contribute.
    pub facts: Vec<UnitFact>,
    /// The new states of the units the batch touches.
    updated: Vec<(UnitKey, UnitState)>,
    /// Changes to the aggregates (zero rows removed).
    pub deltas: Deltas,
}

/// Units, remembered ids, and the last commit sequence they reflect.
#[derive(Debug)]
pub struct PipelineState {
    config: Arc<Config>,
    units: FastMap<UnitKey, UnitState>,
    dedup: Dedup,
    seq: i64,
}

impl PipelineState {
    /// An empty state. `exact_dedup` remembers every id (recomputation); otherwise the
    /// configured window and bound apply.
    pub fn new(config: Arc<Config>, exact_dedup: bool) -> Self {
        let dedup = if exact_dedup {
            Dedup::new(None, usize::MAX)
        } else {
            Dedup::new(Some(config.dedup_window_hours), config.dedup_max_ids)
        };
        Self {
            config,
            units: FastMap::default(),
            dedup,
            seq: 0,
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The last commit sequence folded into this state.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Units known.
    pub fn units(&self) -> usize {
        self.units.len()
    }

    /// Ids remembered for dedup.
    pub fn remembered_ids(&self) -> usize {
        self.dedup.len()
    }

    /// Hours of event time whose ids are forgotten.
    pub fn dedup_forgotten_before(&self) -> Option<i64> {
        self.dedup.forgotten_before()
    }

    /// Dedup, extract facts, join per unit, and compute aggregate deltas; changes nothing.
    pub fn plan(&self, events: &[EnrichedEvent]) -> Plan {
        self.plan_filtered(events, self.filter(events))
    }

    /// The dedup stage alone: which events of the batch are new.
    pub fn filter(&self, events: &[EnrichedEvent]) -> Filtered {
        self.dedup.filter(events)
    }

    /// [`PipelineState::plan`] after [`PipelineState::filter`].
    pub fn plan_filtered(&self, events: &[EnrichedEvent], filtered: Filtered) -> Plan {
        let mut all_facts = Vec::new();
        for &i in &filtered.kept {
            facts(&self.config, &events[i], &mut all_facts);
        }
        let mut by_unit: FastMap<&UnitKey, Vec<&Fact>> = FastMap::default();
        for f in &all_facts {
            by_unit.entry(&f.unit).or_default().push(&f.fact);
        }
        let mut deltas = Deltas::default();
        let mut updated = Vec::with_capacity(by_unit.len());
        for (unit, unit_facts) in by_unit {
            let old = self.units.get(unit);
            let mut new = old.cloned().unwrap_or_default();
            for f in unit_facts {
                new.apply(f);
            }
            self.join(old, &new, &mut deltas);
            updated.push((unit.clone(), new));
        }
        deltas.retain(|_, d| !d.is_zero());
        Plan {
            kept: filtered.kept,
            duplicates: filtered.duplicates,
            new_ids: filtered.new_ids,
            facts: all_facts,
            updated,
            deltas,
        }
    }

    /// Adds the change of a unit's contributions from `old` to `new`.
    fn join(&self, old: Option<&UnitState>, new: &UnitState, deltas: &mut Deltas) {
        if !new.is_exposed() {
            return;
        }
        for experiment in new.experiments() {
            let before = old.and_then(|o| o.contribution(&self.config, experiment));
            let after = new.contribution(&self.config, experiment);
            if before == after {
                continue;
            }
            if let Some(b) = &before {
                add_contribution(deltas, &self.config, experiment, b, true);
            }
            if let Some(a) = &after {
                add_contribution(deltas, &self.config, experiment, a, false);
            }
        }
    }

    /// Makes a committed plan part of the state.
    pub fn apply(&mut self, plan: Plan, seq: i64) {
        for (hour, ids) in &plan.new_ids {
            self.dedup.remember(*hour, ids);
        }
        for (unit, state) in plan.updated {
            self.units.insert(unit, state);
        }
        self.seq = seq;
    }

    /// Folds in a chunk committed elsewhere (another worker, or before a restart).
    pub fn fold(&mut self, facts: &[UnitFact], ids: &[(i64, Vec<u128>)]) {
        for (hour, ids) in ids {
            self.dedup.remember(*hour, ids);
        }
        for f in facts {
            match self.units.get_mut(&f.unit) {
                Some(state) => state.apply(&f.fact),
                None => {
                    let mut state = UnitState::default();
                    state.apply(&f.fact);
                    self.units.insert(f.unit.clone(), state);
                }
            }
        }
    }

    /// Records that the state reflects every commit up to `seq`.
    pub fn set_seq(&mut self, seq: i64) {
        self.seq = seq;
    }

    /// Every unit's contribution summed afresh (a check of the incremental aggregates, and the
    /// basis of recomputation).
    pub fn totals(&self) -> BTreeMap<AggKey, AggStats> {
        let mut deltas = Deltas::default();
        for state in self.units.values() {
            self.join(None, state, &mut deltas);
        }
        by_key(&self.config, &deltas)
    }
}

/// Deltas by stored name, zero rows dropped.
pub fn by_key(config: &Config, deltas: &Deltas) -> BTreeMap<AggKey, AggStats> {
    let mut out = BTreeMap::new();
    for (slot, stats) in deltas {
        if stats.is_zero() {
            continue;
        }
        if let Some(key) = key_of(config, slot) {
            out.entry(key).or_insert_with(AggStats::default).add(stats);
        }
    }
    out
}

/// Aggregates of a whole event collection, processed in batches of `batch` events with exact
/// dedup: the recomputation path.
pub fn aggregate_all(
    config: Arc<Config>,
    events: &[EnrichedEvent],
    batch: usize,
) -> BTreeMap<AggKey, AggStats> {
    let mut state = PipelineState::new(config, true);
    let mut totals = Deltas::default();
    for chunk in events.chunks(batch.max(1)) {
        let plan = state.plan(chunk);
        for (slot, d) in &plan.deltas {
            totals.entry(*slot).or_default().add(d);
        }
        state.apply(plan, 0);
    }
    by_key(state.config(), &totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::{config, exposure, track};

    fn events() -> Vec<EnrichedEvent> {
        let mut out = Vec::new();
        for u in 0..40 {
            let unit = format!("u{u}");
            let variant = if u % 2 == 0 { "control" } else { "treatment" };
            out.push(track(
                &format!("p{u}"),
                &unit,
                "purchase",
                -30,
                Some(f64::from(u)),
            ));
            out.push(exposure(&format!("x{u}"), &unit, "checkout", variant, 0));
            if u % 3 == 0 {
                out.push(track(
                    &format!("b{u}"),
                    &unit,
                    "purchase",
                    10,
                    Some(1.25 * f64::from(u)),
                ));
                out.push(track(&format!("c{u}"), &unit, "checkout", 5, None));
            }
            if u % 7 == 0 {
                out.push(exposure(
                    &format!("y{u}"),
                    &unit,
                    "checkout",
                    "treatment",
                    3,
                ));
            }
            // A retry of an earlier event.
            if u % 5 == 0 {
                out.push(track(
                    &format!("b{}", u / 3 * 3),
                    &format!("u{}", u / 3 * 3),
                    "purchase",
                    10,
                    Some(99.0),
                ));
            }
        }
        out
    }

    #[test]
    fn batch_boundaries_and_order_do_not_change_the_aggregates() {
        let config = Arc::new(config());
        let evs = events();
        let whole = aggregate_all(config.clone(), &evs, 10_000);
        for batch in [1, 3, 17] {
            assert_eq!(
                aggregate_all(config.clone(), &evs, batch),
                whole,
                "batch {batch}"
            );
        }
        // Without duplicates (where the first copy wins), arrival order does not matter either.
        let mut reversed: Vec<_> = evs
            .iter()
            .filter(|e| e.event.id.starts_with(['x', 'y', 'c', 'p']))
            .cloned()
            .collect();
        reversed.reverse();
        let mut forward: Vec<_> = reversed.clone();
        forward.reverse();
        assert_eq!(
            aggregate_all(config.clone(), &reversed, 5),
            aggregate_all(config, &forward, 7)
        );
    }

    #[test]
    fn incremental_deltas_equal_a_fresh_sum_over_units() {
        let config = Arc::new(config());
        let mut state = PipelineState::new(config.clone(), false);
        let mut totals = Deltas::default();
        for chunk in events().chunks(9) {
            let plan = state.plan(chunk);
            for (slot, d) in &plan.deltas {
                totals.entry(*slot).or_default().add(d);
            }
            state.apply(plan, 1);
        }
        assert_eq!(by_key(&config, &totals), state.totals());
        let units = state
            .totals()
            .iter()
            .filter(|(k, _)| k.series == crate::pipeline::aggregate::UNITS)
            .map(|(_, s)| s.n)
            .sum::<i64>();
        let excluded = state
            .totals()
            .iter()
            .filter(|(k, _)| k.series == crate::pipeline::aggregate::EXCLUDED)
            .map(|(_, s)| s.n)
            .sum::<i64>();
        // Units 0, 7, 14, ... 35 saw both variants (the even ones are in control).
        assert_eq!(excluded, 3);
        assert_eq!(units, 37);
    }

    #[test]
    fn duplicates_are_counted_once() {
        let config = Arc::new(config());
        let state = PipelineState::new(config, false);
        let evs = events();
        let plan = state.plan(&evs);
        assert_eq!(plan.duplicates, 8);
        assert_eq!(plan.kept.len(), evs.len() - 8);
    }

    #[test]
    fn folding_committed_facts_rebuilds_the_same_state() {
        let config = Arc::new(config());
        let mut live = PipelineState::new(config.clone(), false);
        let mut chunks = Vec::new();
        for chunk in events().chunks(11) {
            let plan = live.plan(chunk);
            chunks.push((plan.facts.clone(), plan.new_ids.clone()));
            live.apply(plan, 1);
        }
        let mut rebuilt = PipelineState::new(config, false);
        for (facts, ids) in chunks {
            let ids: Vec<_> = ids.into_iter().collect();
            rebuilt.fold(&facts, &ids);
        }
        assert_eq!(rebuilt.totals(), live.totals());
        assert_eq!(rebuilt.remembered_ids(), live.remembered_ids());
    }
}
