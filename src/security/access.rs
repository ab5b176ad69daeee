//! Who may connect: the operator's address bans, the allowlist, a cap on the connections one
//! address holds open, a rate of new connections per address (token bucket), and a total cap
//! below the file-descriptor limit (refused cleanly rather than failing `accept`). One lock, taken
//! once per accepted connection and once when it ends: never on the chat path. The settings and
//! the bans can be replaced while the server runs (`reload`, `ban`).
//!
//! A whole class can arrive from one address (a VM behind NAT, a container's published port), so
//! the per-address caps sit far above what a class opens; crossing one is a connection flood, a
//! verdict reported once a minute per address (`CONN_FLOOD`, what fail2ban acts on).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::Cidr;

#[derive(Debug, Clone, PartialEq)]
pub struct AccessSettings {
    pub allow: Vec<Cidr>,
    /// Connections one address may hold open; 0: no cap.
    pub max_per_ip: u32,
    /// New connections per address: `new_burst` at once, then `new_per_minute`; 0: no limit.
    pub new_per_minute: u32,
    pub new_burst: u32,
    /// Connections the server holds at most (derived from the descriptor limit by default).
    pub max_total: usize,
}

impl Default for AccessSettings {
    /// The one home of these defaults. A class of 40 opens one connection per client and per
    /// login try, a few clients each: at most a few hundred connections in a lesson's first
    /// minutes. A flood opens thousands a minute.
    fn default() -> Self {
        AccessSettings {
            allow: Cidr::local_networks(),
            max_per_ip: 500,
            new_per_minute: 600,
            new_burst: 1000,
            // Set from the descriptor limit by the configuration.
            max_total: usize::MAX,
        }
    }
}

/// Why a connection is refused before it reaches the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address is outside the allowed networks.
    NotAllowed,
    /// Too many open connections from this address.
    TooMany,
    /// Too many new connections from this address in a short time.
    Rate,
    /// The server as a whole is at its connection cap (not the sender's fault).
    ServerFull,
    /// The address is banned by the operator (`classcord admin ban`).
    Banned,
}

/// An address or network the operator banned, until `until` (`None`: until unbanned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BannedNet {
    pub net: Cidr,
    pub until: Option<Instant>,
}

impl Refusal {
    /// Every refusal (SECURITE.md §3.2 and docs/PROTOCOL.md §8.3 list their tokens; tests/docs).
    pub const ALL: [Refusal; 5] = [
        Refusal::NotAllowed,
        Refusal::TooMany,
        Refusal::Rate,
        Refusal::ServerFull,
        Refusal::Banned,
    ];

    /// The `reason=` word of the `CONN_REJECTED` log line and the metrics label (stable: the
    /// fail2ban filter and dashboards match it).
    pub fn token(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not-allowed",
            Refusal::TooMany => "too-many",
            Refusal::Rate => "rate",
            Refusal::ServerFull => "server-full",
            Refusal::Banned => "banned",
        }
    }

    /// Whether this refusal, from one address, means that address floods the server with
    /// connections (no class reaches the per-address caps).
    pub fn is_flood(self) -> bool {
        matches!(self, Refusal::TooMany | Refusal::Rate)
    }

    /// The French line the refused client reads before the connection closes.
    pub fn text(&self) -> &'static str {
        match self {
            Refusal::NotAllowed => {
                "Connexion refusée : votre adresse ne fait pas partie des réseaux autorisés \
                 sur ce serveur."
            }
            Refusal::TooMany => {
                "Connexion refusée : trop de connexions ouvertes depuis votre adresse. Fermez-en \
                 une et réessayez."
            }
            Refusal::Rate => {
                "Connexion refusée : trop de connexions en peu de temps depuis votre adresse. \
                 Réessayez dans une minute."
            }
            Refusal::ServerFull => {
                "Connexion refusée : le serveur a atteint son nombre maximal de connexions. \
                 Réessayez plus tard."
            }
            Refusal::Banned => {
                "Connexion refusée : votre adresse a été bannie de ce serveur par \
                 l'administrateur."
            }
        }
    }
}

#[derive(Debug)]
struct PerAddress {
    open: u32,
    /// New-connection tokens, in thousandths.
    tokens: u64,
    updated: Instant,
}

#[derive(Debug)]
struct State {
    settings: AccessSettings,
    banned: Vec<BannedNet>,
    per_address: HashMap<IpAddr, PerAddress>,
    total: usize,
    /// Refusals logged per address in the current minute (a flood of refused connections must
    /// not become a flood of log lines).
    refusals: HashMap<IpAddr, RefusalWindow>,
}

#[derive(Debug)]
struct RefusalWindow {
    since: Instant,
    logged: u32,
    quiet: u64,
    /// A connection flood was reported in this window.
    flood_reported: bool,
}

/// Refusals logged per address and minute; the rest are counted (metrics) and summarised.
pub const LOGGED_REFUSALS_PER_MINUTE: u32 = 20;

/// What to log about a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalNote {
    pub line: RefusalLine,
    /// `Some(open)`: this refusal makes the address a connection flood (the first `too-many` or
    /// `rate` refusal of its minute): report the verdict; `open` connections from it are open.
    pub flood: Option<u32>,
}

/// Whether a refusal gets its own log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalLine {
    Log,
    /// Not logged; `quiet` refusals from this address were not logged this minute so far.
    Quiet {
        quiet: u64,
    },
}

/// Shared by the accept loops; see the module doc.
#[derive(Debug)]
pub struct AccessGuard {
    state: Mutex<State>,
}

/// A connection that was let in; dropping it gives its place back.
#[derive(Debug)]
pub struct Admitted {
    guard: Arc<AccessGuard>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut state = self.guard.lock();
        state.total = state.total.saturating_sub(1);
        if let Some(entry) = state.per_address.get_mut(&self.ip) {
            entry.open = entry.open.saturating_sub(1);
        }
    }
}

/// Entries kept before the map is swept of idle addresses.
const SWEEP_ABOVE: usize = 4096;

impl AccessGuard {
    pub fn new(settings: AccessSettings) -> Arc<AccessGuard> {
        Arc::new(AccessGuard {
            state: Mutex::new(State {
                settings,
                banned: Vec::new(),
                per_address: HashMap::new(),
                total: 0,
                refusals: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it cannot leave the counters half-written: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets a connection from `ip` in, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<Admitted, Refusal> {
        let ip = ip.to_canonical();
        let mut state = self.lock();
        let banned = |ban: &BannedNet| ban.net.contains(ip) && ban.until.is_none_or(|t| now < t);
        if state.banned.iter().any(banned) {
            return Err(Refusal::Banned);
        }
        if !state.settings.allow.iter().any(|net| net.contains(ip)) {
            return Err(Refusal::NotAllowed);
        }
        let settings = state.settings.clone_limits();
        if state.total >= settings.max_total {
            return Err(Refusal::ServerFull);
        }
        if state.per_address.len() > SWEEP_ABOVE {
            sweep(&mut state, &settings, now);
        }
        let capacity = u64::from(settings.new_burst) * 1000;
        let entry = state.per_address.entry(ip).or_insert(PerAddress {
            open: 0,
            tokens: capacity,
            updated: now,
        });
        if settings.max_per_ip > 0 && entry.open >= settings.max_per_ip {
            return Err(Refusal::TooMany);
        }
        if settings.new_per_minute > 0 {
            refill(entry, &settings, now);
            if entry.tokens < 1000 {
                return Err(Refusal::Rate);
            }
            entry.tokens -= 1000;
        }
        entry.open += 1;
        state.total += 1;
        Ok(Admitted {
            guard: self.clone(),
            ip,
        })
    }

    /// What to log about `refusal` of `ip`: its own line for the first ones each minute
    /// (fail2ban needs no more), and the flood verdict once a minute.
    pub fn note_refusal(&self, ip: IpAddr, refusal: Refusal, now: Instant) -> RefusalNote {
        let ip = ip.to_canonical();
        let mut state = self.lock();
        if state.refusals.len() > SWEEP_ABOVE {
            state
                .refusals
                .retain(|_, window| now.saturating_duration_since(window.since).as_secs() < 60);
        }
        let open = state.per_address.get(&ip).map_or(0, |entry| entry.open);
        let fresh = RefusalWindow {
            since: now,
            logged: 0,
            quiet: 0,
            flood_reported: false,
        };
        let window = state.refusals.entry(ip).or_insert(fresh);
        if now.saturating_duration_since(window.since).as_secs() >= 60 {
            *window = RefusalWindow {
                since: now,
                logged: 0,
                quiet: 0,
                flood_reported: false,
            };
        }
        let flood = (refusal.is_flood() && !window.flood_reported).then(|| {
            window.flood_reported = true;
            open
        });
        let line = if window.logged < LOGGED_REFUSALS_PER_MINUTE {
            window.logged += 1;
            RefusalLine::Log
        } else {
            window.quiet += 1;
            RefusalLine::Quiet {
                quiet: window.quiet,
            }
        };
        RefusalNote { line, flood }
    }

    /// Connections open now (for reports).
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// New settings (reload); connections already open stay.
    pub fn set_settings(&self, settings: AccessSettings) {
        self.lock().settings = settings;
    }

    /// The address bans in force from now on (replaces the list).
    pub fn set_banned(&self, banned: Vec<BannedNet>) {
        self.lock().banned = banned;
    }
}

impl AccessSettings {
    /// The numeric limits, without the allowlist (what admitting one connection needs).
    fn clone_limits(&self) -> AccessSettings {
        AccessSettings {
            allow: Vec::new(),
            ..*self
        }
    }
}

fn refill(entry: &mut PerAddress, settings: &AccessSettings, now: Instant) {
    let elapsed_ms = now.saturating_duration_since(entry.updated).as_millis();
    entry.updated = now.max(entry.updated);
    // `new_per_minute` tokens a minute, counted in thousandths: per_minute / 60 a millisecond.
    let gained = elapsed_ms.saturating_mul(u128::from(settings.new_per_minute)) / 60;
    let capacity = u64::from(settings.new_burst) * 1000;
    entry.tokens = (u128::from(entry.tokens) + gained).min(u128::from(capacity)) as u64;
}

/// Forgets addresses with nothing open whose bucket is full again.
fn sweep(state: &mut State, settings: &AccessSettings, now: Instant) {
    let capacity = u64::from(settings.new_burst) * 1000;
    state.per_address.retain(|_, entry| {
        refill(entry, settings, now);
        entry.open > 0 || entry.tokens < capacity
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn all_lists_every_refusal_in_order() {
        for refusal in Refusal::ALL {
            // No wildcard: a new variant does not compile here until it has its place in `ALL`.
            let position = match refusal {
                Refusal::NotAllowed => 0,
                Refusal::TooMany => 1,
                Refusal::Rate => 2,
                Refusal::ServerFull => 3,
                Refusal::Banned => 4,
            };
            assert_eq!(Refusal::ALL.get(position), Some(&refusal));
        }
    }

    fn settings() -> AccessSettings {
        AccessSettings {
            allow: Cidr::local_networks(),
            max_per_ip: 3,
            new_per_minute: 60,
            new_burst: 5,
            max_total: 10,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn outside_addresses_are_refused_and_mapped_ones_are_ipv4() {
        let guard = AccessGuard::new(settings());
        let now = Instant::now();
        assert_eq!(
            guard.admit(ip("8.8.8.8"), now).unwrap_err(),
            Refusal::NotAllowed
        );
        assert!(guard.admit(ip("::ffff:192.168.1.2"), now).is_ok());
    }

    #[test]
    fn an_address_holds_at_most_max_per_ip_and_gets_its_place_back() {
        let guard = AccessGuard::new(settings());
        let now = Instant::now();
        let held: Vec<Admitted> = (0..3)
            .map(|_| guard.admit(ip("10.0.0.2"), now).unwrap())
            .collect();
        assert_eq!(
            guard.admit(ip("10.0.0.2"), now).unwrap_err(),
            Refusal::TooMany
        );
        assert!(
            guard.admit(ip("10.0.0.3"), now).is_ok(),
            "another address is not concerned"
        );
        drop(held);
        assert!(guard.admit(ip("10.0.0.2"), now).is_ok());
        assert_eq!(guard.open(), 0, "every admission given back");
    }

    #[test]
    fn new_connections_are_rate_limited_per_address_and_refill() {
        let mut loose = settings();
        loose.max_per_ip = 0;
        let guard = AccessGuard::new(loose);
        let start = Instant::now();
        for _ in 0..5 {
            drop(guard.admit(ip("10.0.0.2"), start).unwrap());
        }
        assert_eq!(
            guard.admit(ip("10.0.0.2"), start).unwrap_err(),
            Refusal::Rate
        );
        // 60 a minute: one more a second.
        assert!(guard
            .admit(ip("10.0.0.2"), start + Duration::from_millis(1100))
            .is_ok());
    }

    #[test]
    fn refusals_are_logged_a_few_times_a_minute_per_address() {
        let guard = AccessGuard::new(settings());
        let now = Instant::now();
        let lines: Vec<RefusalLine> = (0..25)
            .map(|_| {
                guard
                    .note_refusal(ip("10.9.0.1"), Refusal::NotAllowed, now)
                    .line
            })
            .collect();
        assert!(lines[..20].iter().all(|n| *n == RefusalLine::Log));
        assert_eq!(lines[24], RefusalLine::Quiet { quiet: 5 });
        let other = guard.note_refusal(ip("10.9.0.2"), Refusal::NotAllowed, now);
        assert_eq!(other.line, RefusalLine::Log);
        let later = now + Duration::from_secs(61);
        let again = guard.note_refusal(ip("10.9.0.1"), Refusal::NotAllowed, later);
        assert_eq!(again.line, RefusalLine::Log);
        assert_eq!(
            again.flood, None,
            "an address outside the allowlist is no flood"
        );
    }

    #[test]
    fn a_flood_of_connections_is_reported_once_a_minute_per_address() {
        let mut loose = settings();
        loose.new_per_minute = 0;
        let guard = AccessGuard::new(loose);
        let now = Instant::now();
        let held: Vec<Admitted> = (0..3)
            .map(|_| guard.admit(ip("10.9.1.1"), now).unwrap())
            .collect();
        let floods: Vec<Option<u32>> = (0..50)
            .map(|_| {
                guard
                    .note_refusal(ip("10.9.1.1"), Refusal::TooMany, now)
                    .flood
            })
            .collect();
        assert_eq!(
            floods[0],
            Some(3),
            "the verdict, with the connections it holds"
        );
        assert!(floods[1..].iter().all(Option::is_none), "once a minute");
        let later = now + Duration::from_secs(61);
        let again = guard.note_refusal(ip("10.9.1.1"), Refusal::Rate, later);
        assert_eq!(again.flood, Some(3));
        drop(held);
    }

    #[test]
    fn the_defaults_let_a_class_of_40_reconnect_many_times_from_one_address() {
        let defaults = AccessSettings::default();
        // 40 students, 4 clients open each; 40 students, 20 connections each in a minute.
        assert!(defaults.max_per_ip >= 40 * 4);
        assert!(defaults.new_burst >= 40 * 20);
        let guard = AccessGuard::new(AccessSettings {
            max_total: 100_000,
            ..defaults
        });
        let now = Instant::now();
        for n in 0..800 {
            let admitted = guard.admit(ip("10.9.2.1"), now);
            assert!(admitted.is_ok(), "connection {n}: {admitted:?}");
        }
        let held: Vec<Admitted> = (0..160)
            .map(|n| {
                guard
                    .admit(ip("10.9.2.1"), now)
                    .unwrap_or_else(|r| panic!("{n}: {r:?}"))
            })
            .collect();
        assert_eq!(guard.open(), held.len());
    }

    #[test]
    fn the_server_total_is_capped() {
        let mut loose = settings();
        loose.max_per_ip = 0;
        loose.new_per_minute = 0;
        let guard = AccessGuard::new(loose);
        let now = Instant::now();
        let held: Vec<Admitted> = (0..10)
            .map(|n| guard.admit(ip(&format!("10.0.0.{n}")), now).unwrap())
            .collect();
        assert_eq!(
            guard.admit(ip("10.0.1.1"), now).unwrap_err(),
            Refusal::ServerFull
        );
        assert_eq!(held.len(), 10);
    }

    #[test]
    fn banned_networks_are_refused_until_they_expire_and_settings_can_change() {
        let guard = AccessGuard::new(settings());
        let now = Instant::now();
        guard.set_banned(vec![
            BannedNet {
                net: Cidr::parse("10.0.0.0/24").unwrap(),
                until: None,
            },
            BannedNet {
                net: Cidr::parse("10.0.1.5").unwrap(),
                until: Some(now + Duration::from_secs(60)),
            },
        ]);
        assert_eq!(
            guard.admit(ip("10.0.0.7"), now).unwrap_err(),
            Refusal::Banned
        );
        assert_eq!(
            guard.admit(ip("::ffff:10.0.1.5"), now).unwrap_err(),
            Refusal::Banned
        );
        assert!(guard.admit(ip("10.0.2.1"), now).is_ok());
        assert!(guard
            .admit(ip("10.0.1.5"), now + Duration::from_secs(61))
            .is_ok());
        let mut narrow = settings();
        narrow.allow = vec![Cidr::parse("192.168.1.0/24").unwrap()];
        guard.set_settings(narrow);
        assert_eq!(
            guard.admit(ip("10.0.2.1"), now).unwrap_err(),
            Refusal::NotAllowed
        );
        assert!(guard.admit(ip("192.168.1.9"), now).is_ok());
    }
}
