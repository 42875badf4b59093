//! Login throttling: failed logins are counted per account (normalized email) and per client
//! address over a sliding window; once either count reaches its limit, further attempts are
//! refused with 429 and `Retry-After` before any password is hashed, until the oldest failure
//! in the window ages out. A successful login clears its account's failures (not its
//! address's: one attacker guessing many accounts from one address stays throttled).
//!
//! The counts live in memory (per process): a restart forgets them, which only gives an
//! attacker one more window. Memory is bounded: each key keeps at most `limit` timestamps and
//! the maps are pruned of expired keys when they grow.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Limits of the login throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures per account within the window before the account is refused.
    pub per_account: usize,
    /// Failures per client address within the window before the address is refused.
    pub per_address: usize,
    /// The sliding window, in milliseconds.
    pub window_ms: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_address: 20,
            window_ms: 15 * 60 * 1000,
        }
    }
}

/// How many keys a map may hold before expired ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Failed-login counts per account and per address.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    accounts: HashMap<String, VecDeque<i64>>,
    addresses: HashMap<IpAddr, VecDeque<i64>>,
}

/// A refusal: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(Failures::default()),
        }
    }

    /// Refuses when the account or the address has reached its limit at `now`.
    pub fn check(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<(), RetryAfter> {
        let mut state = self.lock();
        let window = self.limits.window_ms;
        let mut wait_ms = 0;
        if let Some(times) = state.accounts.get_mut(account) {
            wait_ms = wait_ms.max(wait(times, self.limits.per_account, window, now));
        }
        if let Some(times) = address.and_then(|a| state.addresses.get_mut(&a)) {
            wait_ms = wait_ms.max(wait(times, self.limits.per_address, window, now));
        }
        if wait_ms > 0 {
            let secs = u64::try_from(wait_ms.saturating_add(999) / 1000).unwrap_or(1);
            Err(RetryAfter(secs.max(1)))
        } else {
            Ok(())
        }
    }

    /// Records a failed login.
    pub fn failed(&self, account: &str, address: Option<IpAddr>, now: i64) {
        let limits = self.limits;
        let mut state = self.lock();
        let account_times = state.accounts.entry(account.to_owned()).or_default();
        push(account_times, limits.per_account, now);
        if let Some(address) = address {
            push(
                state.addresses.entry(address).or_default(),
                limits.per_address,
                now,
            );
        }
        let expired =
            |times: &VecDeque<i64>| times.back().is_none_or(|t| now - t >= limits.window_ms);
        if state.accounts.len() > PRUNE_ABOVE {
            state.accounts.retain(|_, t| !expired(t));
        }
        if state.addresses.len() > PRUNE_ABOVE {
            state.addresses.retain(|_, t| !expired(t));
        }
    }

    /// Clears an account's failures after a successful login.
    pub fn succeeded(&self, account: &str) {
        self.lock().accounts.remove(account);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        // The counts stay usable even if a thread panicked while holding the lock.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Milliseconds until `times` holds fewer than `limit` failures inside the window (0: now).
fn wait(times: &mut VecDeque<i64>, limit: usize, window: i64, now: i64) -> i64 {
    while times.front().is_some_and(|t| now - t >= window) {
        times.pop_front();
    }
    if times.len() < limit.max(1) {
        return 0;
    }
    // The failure whose expiry brings the count under the limit.
    let index = times.len() - limit.max(1);
    times.get(index).map_or(0, |t| t + window - now)
}

fn push(times: &mut VecDeque<i64>, limit: usize, now: i64) {
    times.push_back(now);
    while times.len() > limit.max(1) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ThrottleLimits = ThrottleLimits {
        per_account: 3,
        per_address: 5,
        window_ms: 60_000,
    };

    #[test]
    fn an_account_is_refused_after_its_limit_until_the_window_passes() {
        let throttle = LoginThrottle::new(LIMITS);
        for t in 0..3 {
            assert_eq!(throttle.check("a@x.io", None, t * 1000), Ok(()));
            throttle.failed("a@x.io", None, t * 1000);
        }
        assert_eq!(throttle.check("a@x.io", None, 3000), Err(RetryAfter(57)));
        assert_eq!(
            throttle.check("b@x.io", None, 3000),
            Ok(()),
            "other accounts are not affected"
        );
        assert_eq!(
            throttle.check("a@x.io", None, 60_000),
            Ok(()),
            "the first failure aged out"
        );
    }

    #[test]
    fn an_address_is_refused_after_failing_on_many_accounts() {
        let throttle = LoginThrottle::new(LIMITS);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for i in 0..5 {
            throttle.failed(&format!("user{i}@x.io"), Some(ip), 0);
        }
        assert!(throttle.check("fresh@x.io", Some(ip), 10).is_err());
        assert_eq!(
            throttle.check("fresh@x.io", Some("10.0.0.8".parse().unwrap()), 10),
            Ok(())
        );
    }

    #[test]
    fn a_success_clears_the_account_but_not_the_address() {
        let throttle = LoginThrottle::new(LIMITS);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..3 {
            throttle.failed("a@x.io", Some(ip), 0);
        }
        throttle.succeeded("a@x.io");
        assert_eq!(throttle.check("a@x.io", Some(ip), 1), Ok(()));
        throttle.failed("a@x.io", Some(ip), 1);
        throttle.failed("a@x.io", Some(ip), 1);
        assert!(
            throttle.check("a@x.io", Some(ip), 2).is_err(),
            "5 failures from the address"
        );
    }
}
