//! Per-connection limits the hub enforces itself, with the time the shell passes in: a token
//! bucket on the lines a connection sends (a French warning from `Serveur` first, then the
//! connection is closed), a count of invalid lines (a client looping on bad JSON is closed, alone:
//! its classmates behind the same address are not concerned), and a deadline for a connection
//! that never identifies. Per-address limits (allowlist, connection caps, login attempts) belong
//! to the shell, which sees addresses.

use alloc::format;

use super::notices::NoticeTo;
use super::{CloseReason, Event, Hub, Identity, Now, Output, SessionId};

/// How many lines a connection may send: `burst` at once, then `per_second` on average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRate {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for LineRate {
    /// Far above what a person types or a client sends when its window opens (users, channels,
    /// history...), far below a flood.
    fn default() -> Self {
        LineRate {
            per_second: 20,
            burst: 60,
        }
    }
}

/// Invalid lines (bad JSON, unknown type, missing field...) one connection may send: `max` within
/// `window_secs` and the connection is closed with a French error. Each invalid line already gets
/// its own error reply; this stops a client that ignores them in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLines {
    pub max: u32,
    pub window_secs: u32,
}

impl Default for InvalidLines {
    /// A student testing a client by hand sends a few wrong lines a minute; a loop sends one
    /// every few hundred milliseconds or faster, and is stopped within seconds.
    fn default() -> Self {
        InvalidLines {
            max: 30,
            window_secs: 60,
        }
    }
}

/// A connection's invalid lines in its current window (8 bytes: every session carries it).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Strikes {
    count: u32,
    /// Start of the window, in seconds of the shell's clock.
    since_secs: u32,
}

/// Fixed point: one line costs this many units.
const UNIT: u64 = 1_000_000;

/// A token bucket in micro-lines, refilled from the shell's clock.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    tokens: u64,
    updated_micros: u64,
    /// Lines refused since the warning (the warning is sent once per overflow).
    refused_since_warning: Option<u32>,
}

impl Bucket {
    pub(super) fn full(rate: &LineRate, now_micros: u64) -> Bucket {
        Bucket {
            tokens: u64::from(rate.burst) * UNIT,
            updated_micros: now_micros,
            refused_since_warning: None,
        }
    }

    /// Takes one line's worth; false when the bucket is empty.
    fn take(&mut self, rate: &LineRate, now_micros: u64) -> bool {
        let elapsed = now_micros.saturating_sub(self.updated_micros);
        self.updated_micros = now_micros.max(self.updated_micros);
        let capacity = u64::from(rate.burst) * UNIT;
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(u64::from(rate.per_second)))
            .min(capacity);
        if self.tokens == capacity {
            self.refused_since_warning = None;
        }
        if self.tokens >= UNIT {
            self.tokens -= UNIT;
            true
        } else {
            false
        }
    }
}

/// What became of a line under the rate limit.
pub(super) enum Admission {
    Accepted,
    Refused,
}

impl Hub {
    /// Charges one line to the session's bucket. Past the limit the line is dropped: the first
    /// time with a warning, and after `burst` more refused lines the connection is closed.
    pub(super) fn admit(&mut self, session: SessionId, now: &Now, out: &mut Output) -> Admission {
        let Some(rate) = self.config.line_rate else {
            return Admission::Accepted;
        };
        let Some(state) = self.sessions.get_mut(&session) else {
            return Admission::Refused;
        };
        if state.bucket.take(&rate, now.unix_micros) {
            return Admission::Accepted;
        }
        match state.bucket.refused_since_warning {
            None => {
                state.bucket.refused_since_warning = Some(0);
                let text = format!(
                    "Vous envoyez trop de messages (plus de {} par seconde) : ralentissez, sinon \
                     vous serez déconnecté. Ce message n'a pas été transmis.",
                    rate.per_second
                );
                self.notice(NoticeTo::Session(session), &text, now, out);
                out.log(Event::RateLimited {
                    session,
                    disconnected: false,
                });
            }
            Some(refused) if refused + 1 >= rate.burst => {
                let event = Event::RateLimited {
                    session,
                    disconnected: true,
                };
                let text = "Trop de messages malgré l'avertissement : connexion fermée.";
                self.close_with_error(session, text, CloseReason::RateLimit, event, out);
            }
            Some(refused) => state.bucket.refused_since_warning = Some(refused + 1),
        }
        Admission::Refused
    }

    /// Counts an invalid line (its error is already out). Past the limit the connection is
    /// closed: the French reason, then the close.
    pub(super) fn strike(&mut self, session: SessionId, now: &Now, out: &mut Output) {
        let Some(limit) = self.config.invalid_lines else {
            return;
        };
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        let now_secs = (now.unix_micros / 1_000_000) as u32;
        let strikes = &mut state.strikes;
        if strikes.count == 0 || now_secs.saturating_sub(strikes.since_secs) >= limit.window_secs {
            *strikes = Strikes {
                count: 0,
                since_secs: now_secs,
            };
        }
        strikes.count += 1;
        if limit.max == 0 || strikes.count < limit.max {
            return;
        }
        let text = format!(
            "Trop de lignes invalides ({} en moins de {} secondes) : votre client envoie des \
             lignes que le serveur ne comprend pas, sans tenir compte des erreurs reçues. \
             Connexion fermée ; corrigez le client (voir DOC_CONNEXION.md).",
            limit.max, limit.window_secs
        );
        let event = Event::InvalidLines { session };
        self.close_with_error(session, &text, CloseReason::InvalidLines, event, out);
    }

    /// Periodic check (the shell calls it every few seconds): connections still anonymous after
    /// `identify_timeout_secs` are told why and closed.
    pub fn expire(&mut self, now: &Now, out: &mut Output) {
        self.prune_slow_modes(now);
        let Some(limit) = self.config.identify_timeout_secs else {
            return;
        };
        let deadline = now.unix_micros.saturating_sub(u64::from(limit) * 1_000_000);
        let late: alloc::vec::Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, state)| {
                matches!(state.identity, Identity::Anonymous)
                    && state.waiting.is_none()
                    && !state.closing
                    && state.connected_micros < deadline
            })
            .map(|(&session, _)| session)
            .collect();
        for session in late {
            let text = format!(
                "Délai dépassé : connectez-vous (login) ou envoyez un message dans les {limit} \
                 secondes qui suivent la connexion. Connexion fermée."
            );
            let event = Event::TimedOut {
                session,
                partial_line: false,
            };
            self.close_with_error(session, &text, CloseReason::Timeout, event, out);
        }
    }
}
