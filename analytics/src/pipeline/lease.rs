//! Shard lease planning: which shards a worker should hold, given who holds what (pure).

use std::collections::BTreeMap;

use super::store::LeaseRequest;

/// The shards `r.worker` should hold: its current leases on eligible shards, then free or
/// expired ones, then (while below its fair share) one taken from the busiest worker above its
/// share. Deterministic: shards are considered in order.
pub fn plan_leases(
    r: &LeaseRequest,
    live_workers: i64,
    leases: &BTreeMap<String, (String, i64)>,
) -> Vec<String> {
    let eligible = r.eligible.len() as i64;
    let target = usize::try_from((eligible + live_workers - 1) / live_workers.max(1)).unwrap_or(0);
    let mut mine: Vec<String> = r
        .eligible
        .iter()
        .filter(|s| leases.get(*s).is_some_and(|(owner, _)| owner == &r.worker))
        .cloned()
        .collect();
    for shard in &r.eligible {
        if mine.len() >= target {
            break;
        }
        let free = match leases.get(shard) {
            None => true,
            Some((owner, expires)) => owner != &r.worker && *expires <= r.now,
        };
        if free {
            mine.push(shard.clone());
        }
    }
    while mine.len() < target {
        let mut counts: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for shard in &r.eligible {
            if let Some((owner, expires)) = leases.get(shard)
                && owner != &r.worker
                && *expires > r.now
                && !mine.contains(shard)
            {
                counts.entry(owner.as_str()).or_default().push(shard);
            }
        }
        let victim = counts
            .into_iter()
            .filter(|(_, shards)| shards.len() > target)
            .max_by_key(|(_, shards)| shards.len());
        match victim.and_then(|(_, shards)| shards.last().copied()) {
            Some(shard) => mine.push(shard.clone()),
            None => break,
        }
    }
    mine.sort();
    mine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(worker: &str, shards: &[&str]) -> LeaseRequest {
        LeaseRequest {
            stream: "s".into(),
            worker: worker.into(),
            now: 1000,
            ttl_ms: 100,
            eligible: shards.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn held(pairs: &[(&str, &str, i64)]) -> BTreeMap<String, (String, i64)> {
        pairs
            .iter()
            .map(|(s, o, e)| ((*s).to_owned(), ((*o).to_owned(), *e)))
            .collect()
    }

    #[test]
    fn a_lone_worker_takes_every_shard() {
        let plan = plan_leases(&request("a", &["1", "2", "3"]), 1, &BTreeMap::new());
        assert_eq!(plan, vec!["1", "2", "3"]);
    }

    #[test]
    fn a_second_worker_takes_half_from_the_first() {
        let leases = held(&[
            ("1", "a", 2000),
            ("2", "a", 2000),
            ("3", "a", 2000),
            ("4", "a", 2000),
        ]);
        let plan = plan_leases(&request("b", &["1", "2", "3", "4"]), 2, &leases);
        assert_eq!(plan, vec!["3", "4"]);
        let mut after = leases.clone();
        for s in &plan {
            after.insert(s.clone(), ("b".into(), 2000));
        }
        assert_eq!(
            plan_leases(&request("a", &["1", "2", "3", "4"]), 2, &after),
            vec!["1", "2"]
        );
    }

    #[test]
    fn expired_leases_are_free() {
        let leases = held(&[("1", "dead", 900), ("2", "a", 2000)]);
        assert_eq!(
            plan_leases(&request("b", &["1", "2"]), 2, &leases),
            vec!["1"]
        );
    }
}
