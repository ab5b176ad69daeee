//! The hub's events as log lines: French tags for people, security events (stable tokens with the
//! bare address) for fail2ban; never a password, message contents only at debug level.

use std::net::IpAddr;

use classcord_core::hub::{Event, Moderation, SessionId};

use super::HubTask;
use super::Peer;
use crate::logging::{self, audit, ChatLine, ChatOutcome};
use crate::logging::{RateAction, RateKind, SecurityEvent, Shown, TimeoutPhase};
use crate::metrics::add;

impl HubTask {
    pub(super) fn log_event(&mut self, event: Event) {
        match event {
            Event::GuestNamed { session, name } => {
                let ip = self.ip(session);
                log::info!("[INVITE] {} depuis {ip} (#{})", Shown(&name), session.0);
                self.named(session);
            }
            Event::LoggedIn { session, name } => {
                add(&self.metrics.counters.logins, 1);
                let ip = self.ip(session);
                log::info!("[LOGIN] {} depuis {ip} (#{})", Shown(&name), session.0);
                self.named(session);
            }
            Event::LoginFailed { session, username } => {
                add(&self.metrics.counters.auth_failures, 1);
                if let Some(ip) = self.peer_ip(session) {
                    audit(&SecurityEvent::AuthFail {
                        ip,
                        user: &username,
                    });
                }
            }
            Event::Registered { session, name } => {
                add(&self.metrics.counters.registrations, 1);
                log::info!(
                    "[INSCRIPTION] {} depuis {} (#{})",
                    Shown(&name),
                    self.ip(session),
                    session.0
                );
            }
            Event::RegisterRefused {
                session,
                username,
                reason,
            } => {
                if let Some(ip) = self.peer_ip(session) {
                    let user = &username;
                    audit(&SecurityEvent::RegisterRefused { ip, reason, user });
                }
            }
            Event::Message {
                session,
                from,
                target,
                length,
                recipients,
                frame,
            } => {
                add(&self.metrics.counters.messages_relayed, 1);
                // A record, formatted by the log writer: the hub only moves the names it owns.
                logging::chat(ChatLine {
                    from,
                    target,
                    length,
                    outcome: ChatOutcome::Relayed { recipients },
                    conn: session.0,
                    at_secs: logging::now_secs(),
                });
                if log::log_enabled!(log::Level::Debug) {
                    log::debug!("[MSG] {}", String::from_utf8_lossy(&frame).trim_end());
                }
            }
            Event::Deferred {
                session,
                from,
                to,
                length,
            } => {
                logging::chat(ChatLine {
                    from,
                    target: to,
                    length,
                    outcome: ChatOutcome::Deferred,
                    conn: session.0,
                    at_secs: logging::now_secs(),
                });
            }
            Event::RateLimited {
                session,
                disconnected,
            } => {
                self.metrics.rate_limited("message");
                if let Some(ip) = self.peer_ip(session) {
                    audit(&SecurityEvent::RateLimit {
                        ip,
                        kind: RateKind::Message,
                        action: if disconnected {
                            RateAction::Disconnect
                        } else {
                            RateAction::Warn
                        },
                        conn: session.0,
                        user: None,
                    });
                }
            }
            Event::InvalidLines { session } => {
                self.metrics.rate_limited(RateKind::Invalid.as_str());
                if let Some(ip) = self.peer_ip(session) {
                    audit(&SecurityEvent::RateLimit {
                        ip,
                        kind: RateKind::Invalid,
                        action: RateAction::Disconnect,
                        conn: session.0,
                        user: None,
                    });
                }
            }
            Event::TimedOut {
                session,
                partial_line,
            } => {
                add(&self.metrics.counters.timeouts, 1);
                if let Some(ip) = self.peer_ip(session) {
                    let phase = if partial_line {
                        TimeoutPhase::PartialLine
                    } else {
                        TimeoutPhase::Identify
                    };
                    audit(&SecurityEvent::Timeout {
                        ip,
                        phase,
                        conn: session.0,
                    });
                }
            }
            Event::Kicked { session, banned } => {
                if banned {
                    add(&self.metrics.counters.bans_enforced, 1);
                    if let Some(peer) = self.peers.get(&session) {
                        let name = self.hub.session_name(session);
                        crate::control::audit::banned(peer.ip(), session.0, name);
                    }
                } else {
                    add(&self.metrics.counters.kicks, 1);
                }
                let what = if banned { "banni" } else { "exclu" };
                log::warn!(
                    "[ADMIN] {} (#{}) {what} par l'administrateur",
                    self.ip(session),
                    session.0
                );
            }
            Event::ChannelDeleted { channel } => {
                log::info!("[ADMIN] salon {} supprimé", Shown(&channel));
            }
            Event::Moderated {
                session,
                name,
                rule,
            } => {
                let why = match rule {
                    Moderation::Muted => "parole retirée".to_owned(),
                    Moderation::SlowMode { channel } => {
                        format!("mode lent dans {}", Shown(&channel))
                    }
                };
                log::info!(
                    "[MODERATION] message de {} refusé : {why} (#{})",
                    Shown(&name),
                    session.0
                );
            }
            Event::Rejected { session, reason } => {
                self.metrics.protocol_error(reason);
                if let Some(ip) = self.peer_ip(session) {
                    let conn = session.0;
                    audit(&SecurityEvent::ProtocolError { ip, reason, conn });
                }
            }
            Event::ChannelJoined { session, channel } => {
                log::info!("[SALON] #{} rejoint {}", session.0, Shown(&channel));
            }
            Event::ChannelLeft { session, channel } => {
                log::info!("[SALON] #{} quitte {}", session.0, Shown(&channel));
            }
        }
    }

    pub(super) fn peer_ip(&self, session: SessionId) -> Option<IpAddr> {
        self.peers.get(&session).map(Peer::ip)
    }

    pub(super) fn ip(&self, session: SessionId) -> String {
        self.peers
            .get(&session)
            .map_or_else(|| "?".to_string(), |peer| peer.ip().to_string())
    }

    /// `session` took a name (kept by the hub, read there when needed).
    pub(super) fn named(&mut self, session: SessionId) {
        if self.traces.is_some() {
            self.trace_named(session);
        }
    }
}
