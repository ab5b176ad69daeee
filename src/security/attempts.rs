//! Password attempts: a brute force must cost the attacker time, never the server's hashing
//! threads. Per address: after a few failures each further attempt waits (a timer, no hashing),
//! and many failures lock the address out for a while; per account, the same lock-out, so
//! spreading attempts over addresses does not help either; at most a few checks in flight per
//! address; registrations per address are rate limited. Failures are counted in a window; a
//! successful login clears the account's count. Owned by the hub task: no lock.
//!
//! A classroom behind one NAT address shares the per-address counts: the defaults count
//! failures only (a class logging in correctly is never slowed) and are documented in
//! SECURITE.md with how to raise them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptSettings {
    /// Failures from one address after which each attempt waits `delay`.
    pub delay_after: u32,
    pub delay: Duration,
    /// Failures from one address, or on one account, that lock it out for `lockout`.
    pub address_lockout_after: u32,
    pub account_lockout_after: u32,
    pub lockout: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// Password checks one address may have running at once.
    pub in_flight_per_address: u32,
    /// Registrations per address: `register_burst` at once, then one every `register_every`.
    pub register_burst: u32,
    pub register_every: Duration,
}

impl Default for AttemptSettings {
    fn default() -> Self {
        AttemptSettings {
            delay_after: 5,
            delay: Duration::from_secs(1),
            address_lockout_after: 30,
            account_lockout_after: 10,
            lockout: Duration::from_secs(5 * 60),
            window: Duration::from_secs(10 * 60),
            // A class behind one NAT address logs in at once.
            in_flight_per_address: 32,
            register_burst: 40,
            register_every: Duration::from_secs(10),
        }
    }
}

/// What to do with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Check it after this wait (the connection's later lines wait too).
    Delay(Duration),
    /// Refuse it without checking: the French reason for the client.
    Refuse(String),
}

#[derive(Debug)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn fresh(now: Instant) -> Failures {
        Failures {
            count: 0,
            since: now,
            locked_until: None,
        }
    }

    /// Forgets an expired window or lock-out.
    fn age(&mut self, settings: &AttemptSettings, now: Instant) {
        if self.locked_until.is_some_and(|until| now >= until) {
            *self = Failures::fresh(now);
        }
        if self.locked_until.is_none()
            && now.saturating_duration_since(self.since) > settings.window
        {
            *self = Failures::fresh(now);
        }
    }

    fn record(&mut self, threshold: u32, settings: &AttemptSettings, now: Instant) {
        self.age(settings, now);
        self.count += 1;
        if threshold > 0 && self.count >= threshold {
            self.locked_until = Some(now + settings.lockout);
        }
    }

    fn remaining_lock(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|&until| until > now)
            .map(|until| until - now)
    }
}

#[derive(Debug)]
struct Address {
    failures: Failures,
    in_flight: u32,
    /// Registration tokens, in thousandths.
    register_tokens: u64,
    register_updated: Instant,
}

/// See the module doc.
#[derive(Debug)]
pub struct AttemptGuard {
    settings: AttemptSettings,
    addresses: HashMap<IpAddr, Address>,
    accounts: HashMap<String, Failures>,
}

/// Entries kept before the maps are swept.
const SWEEP_ABOVE: usize = 4096;

fn minutes(wait: Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

impl AttemptGuard {
    pub fn new(settings: AttemptSettings) -> AttemptGuard {
        AttemptGuard {
            settings,
            addresses: HashMap::new(),
            accounts: HashMap::new(),
        }
    }

    /// New limits (reload); the counts so far are kept.
    pub fn set_settings(&mut self, settings: AttemptSettings) {
        self.settings = settings;
    }

    fn address(&mut self, ip: IpAddr, now: Instant) -> &mut Address {
        if self.addresses.len() > SWEEP_ABOVE {
            let settings = &self.settings;
            self.addresses.retain(|_, entry| {
                entry.failures.age(settings, now);
                entry.in_flight > 0 || entry.failures.count > 0
            });
        }
        let burst = u64::from(self.settings.register_burst) * 1000;
        self.addresses.entry(ip.to_canonical()).or_insert(Address {
            failures: Failures::fresh(now),
            in_flight: 0,
            register_tokens: burst,
            register_updated: now,
        })
    }

    /// A `login` from `ip` for `account` (folded name).
    pub fn login(&mut self, ip: IpAddr, account: &str, now: Instant) -> Verdict {
        let settings = self.settings.clone();
        if let Some(failures) = self.accounts.get_mut(account) {
            failures.age(&settings, now);
            if let Some(wait) = failures.remaining_lock(now) {
                return Verdict::Refuse(format!(
                    "Trop d'échecs de connexion pour ce compte : réessayez dans {} minute(s).",
                    minutes(wait)
                ));
            }
        }
        self.check_address(ip, &settings, now)
    }

    /// A `register` from `ip`.
    pub fn register(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        let settings = self.settings.clone();
        let entry = self.address(ip, now);
        if settings.register_burst > 0 {
            let elapsed = now.saturating_duration_since(entry.register_updated);
            entry.register_updated = now.max(entry.register_updated);
            let every_ms = settings.register_every.as_millis().max(1);
            let gained = elapsed.as_millis().saturating_mul(1000) / every_ms;
            let capacity = u128::from(settings.register_burst) * 1000;
            entry.register_tokens =
                (u128::from(entry.register_tokens) + gained).min(capacity) as u64;
            if entry.register_tokens < 1000 {
                return Verdict::Refuse(
                    "Trop d'inscriptions depuis votre adresse : réessayez dans une minute.".into(),
                );
            }
            entry.register_tokens -= 1000;
        }
        self.check_address(ip, &settings, now)
    }

    fn check_address(&mut self, ip: IpAddr, settings: &AttemptSettings, now: Instant) -> Verdict {
        let entry = self.address(ip, now);
        entry.failures.age(settings, now);
        if let Some(wait) = entry.failures.remaining_lock(now) {
            return Verdict::Refuse(format!(
                "Trop d'échecs de connexion depuis votre adresse : réessayez dans {} minute(s).",
                minutes(wait)
            ));
        }
        if settings.in_flight_per_address > 0 && entry.in_flight >= settings.in_flight_per_address {
            return Verdict::Refuse(
                "Trop de vérifications de mot de passe en cours depuis votre adresse : \
                 patientez un instant."
                    .into(),
            );
        }
        if settings.delay_after > 0 && entry.failures.count >= settings.delay_after {
            Verdict::Delay(settings.delay)
        } else {
            Verdict::Go
        }
    }

    /// A check starts (counted until [`AttemptGuard::finished`]).
    pub fn started(&mut self, ip: IpAddr, now: Instant) {
        self.address(ip, now).in_flight += 1;
    }

    /// A check ended: `failed` for a wrong password (or unknown account), with the account.
    pub fn finished(&mut self, ip: IpAddr, account: Option<&str>, failed: bool, now: Instant) {
        let settings = self.settings.clone();
        let entry = self.address(ip, now);
        entry.in_flight = entry.in_flight.saturating_sub(1);
        if failed {
            entry
                .failures
                .record(settings.address_lockout_after, &settings, now);
            if let Some(account) = account {
                if self.accounts.len() > SWEEP_ABOVE {
                    self.accounts.retain(|_, failures| {
                        failures.age(&settings, now);
                        failures.count > 0
                    });
                }
                self.accounts
                    .entry(account.to_owned())
                    .or_insert_with(|| Failures::fresh(now))
                    .record(settings.account_lockout_after, &settings, now);
            }
        } else if let Some(account) = account {
            self.accounts.remove(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn fail(guard: &mut AttemptGuard, from: &str, account: &str, now: Instant) -> Verdict {
        let verdict = guard.login(ip(from), account, now);
        if !matches!(verdict, Verdict::Refuse(_)) {
            guard.started(ip(from), now);
            guard.finished(ip(from), Some(account), true, now);
        }
        verdict
    }

    #[test]
    fn failures_from_an_address_delay_then_lock_it_out_and_expire() {
        let settings = AttemptSettings::default();
        let mut guard = AttemptGuard::new(settings.clone());
        let now = Instant::now();
        let verdicts: Vec<Verdict> = (0..40)
            .map(|n| fail(&mut guard, "10.0.0.9", &format!("compte{n}"), now))
            .collect();
        assert!(verdicts[..5].iter().all(|v| *v == Verdict::Go));
        assert!(verdicts[5..30]
            .iter()
            .all(|v| *v == Verdict::Delay(settings.delay)));
        assert!(matches!(&verdicts[30], Verdict::Refuse(text) if text.contains("votre adresse")));
        assert_eq!(
            guard.login(ip("10.0.0.10"), "x", now),
            Verdict::Go,
            "others unaffected"
        );
        let later = now + settings.lockout + Duration::from_secs(1);
        assert_eq!(
            guard.login(ip("10.0.0.9"), "x", later),
            Verdict::Go,
            "the lock-out ends"
        );
    }

    #[test]
    fn failures_on_one_account_lock_it_from_every_address() {
        let mut guard = AttemptGuard::new(AttemptSettings::default());
        let now = Instant::now();
        for n in 0..10 {
            fail(&mut guard, &format!("10.0.1.{n}"), "alice", now);
        }
        assert!(
            matches!(guard.login(ip("10.0.2.1"), "alice", now), Verdict::Refuse(text) if text.contains("ce compte"))
        );
        assert_eq!(guard.login(ip("10.0.2.1"), "bob", now), Verdict::Go);
    }

    #[test]
    fn a_success_clears_the_account_and_checks_in_flight_are_capped() {
        let mut guard = AttemptGuard::new(AttemptSettings::default());
        let now = Instant::now();
        for _ in 0..9 {
            fail(&mut guard, "10.0.3.1", "alice", now);
        }
        guard.started(ip("10.0.3.2"), now);
        guard.finished(ip("10.0.3.2"), Some("alice"), false, now);
        fail(&mut guard, "10.0.3.3", "alice", now);
        assert_eq!(guard.login(ip("10.0.3.4"), "alice", now), Verdict::Go);
        for _ in 0..32 {
            guard.started(ip("10.0.3.5"), now);
        }
        assert!(matches!(
            guard.login(ip("10.0.3.5"), "z", now),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn registrations_per_address_are_rate_limited() {
        let mut guard = AttemptGuard::new(AttemptSettings::default());
        let now = Instant::now();
        for _ in 0..40 {
            assert_eq!(guard.register(ip("10.0.4.1"), now), Verdict::Go);
        }
        assert!(matches!(
            guard.register(ip("10.0.4.1"), now),
            Verdict::Refuse(_)
        ));
        assert_eq!(
            guard.register(ip("10.0.4.1"), now + Duration::from_secs(11)),
            Verdict::Go
        );
    }
}
