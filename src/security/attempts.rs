//! Password attempts: a brute force must cost the attacker time, never the server's hashing
//! threads, and a class behind one address must never pay for it.
//!
//! What concerns one person is counted per ACCOUNT: after a few failures each attempt on that
//! account waits (a timer, no hashing; parallel attempts are spaced out, not run together), after
//! more it is locked for a while whatever the address; a successful login clears it.
//! Per ADDRESS only what no class produces is counted (a VM behind NAT or a container's published
//! port brings a whole class from one address): hundreds of failures, hundreds of distinct
//! failing accounts, or continued attempts on locked accounts. Reaching one of them is a verdict:
//! the address is judged brute-forcing, reported ([`Report::BruteForce`], the line fail2ban acts
//! on) and its password attempts are refused for the lock-out time. Checks in flight per address
//! are capped so one address cannot fill the hashing queue; the excess waits its turn (the shell
//! queues it), it is never refused. Registrations per address are rate limited above what two
//! groups of a class need at once. Many distinct accounts logging in from one address is noticed
//! once ([`Report::SharedAddress`]). Owned by the hub task: no lock; time is passed in.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The limits. `Default` is the one home of every default (the config and its docs read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptSettings {
    /// Failures on one account after which each attempt on it waits `delay`; 0: never.
    pub delay_after: u32,
    pub delay: Duration,
    /// Failures on one account that lock it for `lockout`, whatever the address; 0: never.
    pub account_lockout_after: u32,
    pub lockout: Duration,
    /// Within `window`, an address is judged brute-forcing after this many failures, this many
    /// distinct failing accounts, or this many attempts on locked accounts (each 0: never).
    pub address_lockout_after: u32,
    pub address_lockout_accounts: u32,
    pub address_lockout_locked_tries: u32,
    /// Counts older than this are forgotten.
    pub window: Duration,
    /// Password checks one address may have running at once; more wait their turn. 0: no cap.
    pub in_flight_per_address: u32,
    /// Registrations per address: `register_burst` at once, then one every `register_every`.
    pub register_burst: u32,
    pub register_every: Duration,
}

impl Default for AttemptSettings {
    fn default() -> Self {
        AttemptSettings {
            // A student mistyping twice is not slowed; a guesser is, at once: a second a try.
            delay_after: 3,
            delay: Duration::from_secs(1),
            // Ten wrong passwords in ten minutes on one account is no longer a typo.
            account_lockout_after: 10,
            lockout: Duration::from_secs(5 * 60),
            // A class of 40 mistyping names and passwords makes tens of failures on tens of
            // names in ten minutes; these are ten times that. A person whose account is locked
            // tries again a few times; a program hammers.
            address_lockout_after: 500,
            address_lockout_accounts: 200,
            address_lockout_locked_tries: 30,
            window: Duration::from_secs(10 * 60),
            // Two hashing threads by default: eight waiting per address keeps them busy, and
            // another address's check is never more than eight behind.
            in_flight_per_address: 8,
            // Two groups of a class of 40 registering at once, then one every 10 s.
            register_burst: 100,
            register_every: Duration::from_secs(10),
        }
    }
}

/// Distinct accounts logged in from one address (within `window`) that make it a shared address.
pub const SHARED_ADDRESS_ACCOUNTS: usize = 10;

/// What to do with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Check it after this wait (the connection's later lines wait too).
    Delay(Duration),
    /// Refuse it without checking: the French reason for the client.
    Refuse(String),
}

/// Why an address was judged brute-forcing (the `reason=` of `BRUTE_FORCE`, stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BruteForceReason {
    ManyFailures,
    ManyAccounts,
    LockedAccounts,
}

impl BruteForceReason {
    pub fn token(self) -> &'static str {
        match self {
            BruteForceReason::ManyFailures => "many-failures",
            BruteForceReason::ManyAccounts => "many-accounts",
            BruteForceReason::LockedAccounts => "locked-accounts",
        }
    }
}

/// Something the hub task must log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The address was judged brute-forcing: its password attempts are refused until `lockout`
    /// passes. The counts are those of the current window; `account` the one last tried.
    BruteForce {
        ip: IpAddr,
        reason: BruteForceReason,
        failures: u32,
        accounts: u32,
        locked_tries: u32,
        account: String,
    },
    /// Many distinct accounts logged in from this address: a class shares it (once per run).
    SharedAddress { ip: IpAddr, accounts: usize },
}

#[derive(Debug)]
struct Account {
    failures: u32,
    since: Instant,
    locked_until: Option<Instant>,
    /// When the last delayed attempt on it starts: delayed attempts are `delay` apart.
    last_slot: Option<Instant>,
}

impl Account {
    fn fresh(now: Instant) -> Account {
        Account {
            failures: 0,
            since: now,
            locked_until: None,
            last_slot: None,
        }
    }

    /// Forgets an expired lock-out or window.
    fn age(&mut self, settings: &AttemptSettings, now: Instant) {
        let expired = match self.locked_until {
            Some(until) => now >= until,
            None => now.saturating_duration_since(self.since) > settings.window,
        };
        if expired {
            *self = Account::fresh(now);
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
    since: Instant,
    failures: u32,
    /// Distinct failing accounts (hashed), kept up to the verdict's threshold.
    failing: HashSet<u64>,
    locked_tries: u32,
    /// Distinct accounts logged in (hashed), kept up to [`SHARED_ADDRESS_ACCOUNTS`].
    logged_in: HashSet<u64>,
    /// Judged brute-forcing: password attempts refused until then.
    judged_until: Option<Instant>,
    in_flight: u32,
    /// Registration tokens, in thousandths.
    register_tokens: u64,
    register_updated: Instant,
}

impl Address {
    fn age(&mut self, settings: &AttemptSettings, now: Instant) {
        let expired = match self.judged_until {
            Some(until) => now >= until,
            None => now.saturating_duration_since(self.since) > settings.window,
        };
        if expired {
            self.since = now;
            self.failures = 0;
            self.failing.clear();
            self.locked_tries = 0;
            self.logged_in.clear();
            self.judged_until = None;
        }
    }

    fn idle(&self) -> bool {
        self.in_flight == 0
            && self.failures == 0
            && self.locked_tries == 0
            && self.judged_until.is_none()
            && self.logged_in.is_empty()
    }
}

/// See the module doc.
#[derive(Debug)]
pub struct AttemptGuard {
    settings: AttemptSettings,
    addresses: HashMap<IpAddr, Address>,
    accounts: HashMap<String, Account>,
    /// Addresses already reported as shared (once per run each).
    shared: HashSet<IpAddr>,
    reports: Vec<Report>,
    hasher: RandomState,
}

/// Entries kept before the maps are swept.
const SWEEP_ABOVE: usize = 4096;

fn minutes(wait: Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

fn reached(count: u32, threshold: u32) -> bool {
    threshold > 0 && count >= threshold
}

impl AttemptGuard {
    pub fn new(settings: AttemptSettings) -> AttemptGuard {
        AttemptGuard {
            settings,
            addresses: HashMap::new(),
            accounts: HashMap::new(),
            shared: HashSet::new(),
            reports: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    /// New limits (reload); the counts so far are kept.
    pub fn set_settings(&mut self, settings: AttemptSettings) {
        self.settings = settings;
    }

    /// What happened since the last call, to log.
    pub fn take_reports(&mut self) -> Vec<Report> {
        std::mem::take(&mut self.reports)
    }

    fn address(&mut self, ip: IpAddr, now: Instant) -> &mut Address {
        let settings = &self.settings;
        if self.addresses.len() > SWEEP_ABOVE {
            self.addresses.retain(|_, entry| {
                entry.age(settings, now);
                !entry.idle()
            });
        }
        let entry = self
            .addresses
            .entry(ip.to_canonical())
            .or_insert_with(|| Address {
                since: now,
                failures: 0,
                failing: HashSet::new(),
                locked_tries: 0,
                logged_in: HashSet::new(),
                judged_until: None,
                in_flight: 0,
                register_tokens: u64::from(settings.register_burst) * 1000,
                register_updated: now,
            });
        entry.age(settings, now);
        entry
    }

    fn account(&mut self, key: &str, now: Instant) -> &mut Account {
        let settings = &self.settings;
        if self.accounts.len() > SWEEP_ABOVE {
            self.accounts.retain(|_, entry| {
                entry.age(settings, now);
                entry.failures > 0
            });
        }
        let entry = self
            .accounts
            .entry(key.to_owned())
            .or_insert_with(|| Account::fresh(now));
        entry.age(settings, now);
        entry
    }

    /// The refusal for a judged address, if it is.
    fn judged(&mut self, ip: IpAddr, now: Instant) -> Option<Verdict> {
        let until = self.address(ip, now).judged_until?;
        Some(Verdict::Refuse(format!(
            "Trop d'échecs de connexion depuis votre adresse : réessayez dans {} minute(s).",
            minutes(until.saturating_duration_since(now))
        )))
    }

    /// Judges `ip` brute-forcing (once per lock-out) and reports it.
    fn judge(&mut self, ip: IpAddr, reason: BruteForceReason, account: &str, now: Instant) {
        let lockout = self.settings.lockout;
        let entry = self.address(ip, now);
        if entry.judged_until.is_some() {
            return;
        }
        entry.judged_until = Some(now + lockout);
        let report = Report::BruteForce {
            ip: ip.to_canonical(),
            reason,
            failures: entry.failures,
            accounts: entry.failing.len() as u32,
            locked_tries: entry.locked_tries,
            account: account.to_owned(),
        };
        self.reports.push(report);
    }

    /// A `login` from `ip` for `account` (folded name).
    pub fn login(&mut self, ip: IpAddr, account: &str, now: Instant) -> Verdict {
        if let Some(refusal) = self.judged(ip, now) {
            return refusal;
        }
        let settings = self.settings.clone();
        let entry = self.account(account, now);
        if let Some(wait) = entry.remaining_lock(now) {
            let text = format!(
                "Trop d'échecs de connexion pour ce compte : réessayez dans {} minute(s).",
                minutes(wait)
            );
            let address = self.address(ip, now);
            address.locked_tries += 1;
            if reached(address.locked_tries, settings.address_lockout_locked_tries) {
                self.judge(ip, BruteForceReason::LockedAccounts, account, now);
            }
            return Verdict::Refuse(text);
        }
        if !reached(entry.failures, settings.delay_after) {
            return Verdict::Go;
        }
        // Spaced out: parallel guesses on one account do not run together.
        let start = entry.last_slot.map_or(now, |last| last.max(now)) + settings.delay;
        entry.last_slot = Some(start);
        Verdict::Delay(start - now)
    }

    /// A `register` from `ip`.
    pub fn register(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        if let Some(refusal) = self.judged(ip, now) {
            return refusal;
        }
        let settings = self.settings.clone();
        let entry = self.address(ip, now);
        if settings.register_burst == 0 {
            return Verdict::Go;
        }
        let elapsed = now.saturating_duration_since(entry.register_updated);
        entry.register_updated = now.max(entry.register_updated);
        let every_ms = settings.register_every.as_millis().max(1);
        let gained = elapsed.as_millis().saturating_mul(1000) / every_ms;
        let capacity = u128::from(settings.register_burst) * 1000;
        entry.register_tokens = (u128::from(entry.register_tokens) + gained).min(capacity) as u64;
        if entry.register_tokens < 1000 {
            return Verdict::Refuse(
                "Trop d'inscriptions depuis votre adresse : réessayez dans une minute.".into(),
            );
        }
        entry.register_tokens -= 1000;
        Verdict::Go
    }

    /// Whether `ip` may start one more check now (otherwise it waits for one to finish).
    pub fn may_start(&mut self, ip: IpAddr, now: Instant) -> bool {
        let cap = self.settings.in_flight_per_address;
        cap == 0 || self.address(ip, now).in_flight < cap
    }

    /// A check starts (counted until [`AttemptGuard::finished`]).
    pub fn started(&mut self, ip: IpAddr, now: Instant) {
        self.address(ip, now).in_flight += 1;
    }

    /// A check ended: `failed` for a wrong password (or unknown account), with the account
    /// (`None` for a registration).
    pub fn finished(&mut self, ip: IpAddr, account: Option<&str>, failed: bool, now: Instant) {
        let settings = self.settings.clone();
        let entry = self.address(ip, now);
        entry.in_flight = entry.in_flight.saturating_sub(1);
        let Some(account) = account else {
            return;
        };
        let hashed = self.hasher.hash_one(account);
        if !failed {
            self.accounts.remove(account);
            let entry = self.address(ip, now);
            if entry.logged_in.len() < SHARED_ADDRESS_ACCOUNTS {
                entry.logged_in.insert(hashed);
            }
            let accounts = entry.logged_in.len();
            if accounts >= SHARED_ADDRESS_ACCOUNTS && self.shared.insert(ip.to_canonical()) {
                self.reports.push(Report::SharedAddress {
                    ip: ip.to_canonical(),
                    accounts,
                });
            }
            return;
        }
        let entry = self.address(ip, now);
        entry.failures += 1;
        if (entry.failing.len() as u32) < settings.address_lockout_accounts {
            entry.failing.insert(hashed);
        }
        let verdict = if reached(entry.failures, settings.address_lockout_after) {
            Some(BruteForceReason::ManyFailures)
        } else if reached(
            entry.failing.len() as u32,
            settings.address_lockout_accounts,
        ) {
            Some(BruteForceReason::ManyAccounts)
        } else {
            None
        };
        let lockout = settings.lockout;
        let entry = self.account(account, now);
        entry.failures += 1;
        if reached(entry.failures, settings.account_lockout_after) && entry.locked_until.is_none() {
            entry.locked_until = Some(now + lockout);
        }
        if let Some(reason) = verdict {
            self.judge(ip, reason, account, now);
        }
    }
}

#[cfg(test)]
mod tests;
