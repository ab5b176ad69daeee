//! Server notices (docs/PROTOCOL.md §4.3): ordinary message lines from `Serveur` with `system:
//! true`. Every notice goes through [`Hub::notice`]: the welcome (after the login reply, never
//! before), arrivals and departures in a channel, private notices, admin alerts, kicks, bans,
//! closed channels and the shutdown. Their French texts are [`NoticeTexts`], each overridable in
//! the configuration (`[notices]`); `{nom}`, `{salon}` and `{raison}` are filled in.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{CloseReason, Effect, Frame, Hub, Now, Output, SessionId};
use crate::frame::JsonLine;
use crate::message::{Feature, DEFAULT_CHANNEL, SERVER_NAME};

/// Where a notice goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum NoticeTo<'a> {
    /// One session: a private notice (`to` = its name). An anonymous session has no name: it
    /// gets the text as an error line, a reply to what it just did.
    Session(SessionId),
    /// The identified members of a channel, but `except`.
    Channel {
        key: &'a str,
        except: Option<SessionId>,
    },
    /// Every identified session.
    Everyone,
}

/// Who hears about arrivals and departures in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMoves {
    All,
    /// Only accounts' moves are announced (guests come and go quietly).
    AccountsOnly,
    Off,
}

/// The French texts of the notices. `{nom}`: a user's name; `{salon}`: a channel; `{raison}`:
/// the reason an administrator gave, as " Raison : ..." (empty when none); `{delai}`: a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeTexts {
    pub joined: String,
    pub left: String,
    pub kicked: String,
    pub banned: String,
    pub channel_closed: String,
    pub channel_reopened: String,
    pub channel_deleted: String,
    pub shutdown: String,
    pub shutdown_soon: String,
    pub channel_moves: ChannelMoves,
}

impl Default for NoticeTexts {
    fn default() -> Self {
        NoticeTexts {
            joined: "{nom} a rejoint {salon}.".into(),
            left: "{nom} a quitté {salon}.".into(),
            kicked: "Vous avez été déconnecté par l'administrateur.{raison}".into(),
            banned: "Vous êtes banni de ce serveur.{raison}".into(),
            channel_closed: "Le salon {salon} a été fermé par l'administrateur.".into(),
            channel_reopened: "Le salon {salon} est rouvert.".into(),
            channel_deleted: "Le salon {salon} a été supprimé par l'administrateur.".into(),
            shutdown: "Le serveur s'arrête. À bientôt !".into(),
            shutdown_soon: "Le serveur s'arrête dans {delai}.{raison}".into(),
            channel_moves: ChannelMoves::All,
        }
    }
}

/// Fills `{nom}`, `{salon}`, `{raison}` and `{delai}` in a notice text.
pub fn fill(text: &str, name: &str, channel: &str, reason: Option<&str>, delay: &str) -> String {
    let reason = match reason.map(str::trim) {
        Some(reason) if !reason.is_empty() => alloc::format!(" Raison : {reason}"),
        _ => String::new(),
    };
    text.replace("{nom}", name)
        .replace("{salon}", channel)
        .replace("{raison}", &reason)
        .replace("{delai}", delay)
}

impl Hub {
    /// Sends a server notice; returns how many sessions it reached.
    pub(super) fn notice(
        &mut self,
        to: NoticeTo<'_>,
        text: &str,
        now: &Now,
        out: &mut Output,
    ) -> usize {
        match to {
            NoticeTo::Session(session) => {
                let Some(name) = self.sessions.get(&session).and_then(|state| state.name()) else {
                    self.send_error(session, text, out);
                    return 1;
                };
                let name = name.display.clone();
                let frame = self.notice_frame(text, Some(&name), None, now);
                self.send_frame(session, frame, out);
                1
            }
            NoticeTo::Channel { key, except } => {
                let Some(channel) = self.channels.get(key) else {
                    return 0;
                };
                let display = (key != DEFAULT_CHANNEL).then(|| channel.display.clone());
                let frame = self.notice_frame(text, None, display.as_deref(), now);
                self.send_to_channel(&frame, key, except, out)
            }
            NoticeTo::Everyone => {
                let frame = self.notice_frame(text, None, None, now);
                self.send_to_channel(&frame, DEFAULT_CHANNEL, None, out)
            }
        }
    }

    /// Server shutdown: held lines released, a `shutdown` line to the sessions that announced the
    /// extension, the notice to every identified session (its last line), then every connection
    /// is closed.
    pub fn shutdown(&mut self, now: &Now, out: &mut Output) {
        let text = self.config.notices.shutdown.clone();
        // A session waiting for its login/register reply gets the notice as that reply first.
        let waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, state)| state.waiting.is_some())
            .map(|(&session, _)| session)
            .collect();
        for session in waiting {
            if self.cancel_wait(session) {
                self.send_error(session, &text, out);
            }
        }
        let identified: Vec<SessionId> = self.identified_sessions(None).collect();
        for &session in &identified {
            self.release_all(session, out);
        }
        // The extension line only to those who asked for it, and the notice last for everyone.
        let featured: Vec<SessionId> = identified
            .iter()
            .copied()
            .filter(|&session| self.has_feature(session, Feature::Shutdown))
            .collect();
        if !featured.is_empty() {
            let mut line = JsonLine::new("shutdown");
            line.push_str("message", &text);
            out.begin(Arc::from(line.finish()));
            for session in featured {
                out.add_recipient(session);
            }
        }
        out.begin(self.notice_frame(&text, None, None, now));
        for &session in &identified {
            out.add_recipient(session);
        }
        for &session in self.sessions.keys() {
            out.effects.push(Effect::Close {
                session,
                reason: CloseReason::Shutdown,
            });
        }
    }

    /// A server notice to every identified session (admin alert); returns how many.
    pub fn announce(&mut self, text: &str, now: &Now, out: &mut Output) -> usize {
        self.notice(NoticeTo::Everyone, text, now, out)
    }

    /// The welcome, right after a login reply (or a guest's naming), never before.
    pub(super) fn welcome(&mut self, session: SessionId, name: &str, now: &Now, out: &mut Output) {
        if self.config.welcome.is_empty() {
            return;
        }
        let text = self.config.welcome.replace("{nom}", name);
        self.notice(NoticeTo::Session(session), &text, now, out);
    }

    /// `{"type":"message","subtype":...,"from":"Serveur","content":...,"system":true}`.
    pub(super) fn notice_frame(
        &self,
        text: &str,
        to: Option<&str>,
        channel: Option<&str>,
        now: &Now,
    ) -> Frame {
        let mut line = message_line(SERVER_NAME, text, to, channel, &now.local.iso());
        line.push_bool("system", true);
        Arc::from(line.finish())
    }
}

/// The common head of every chat line (relayed or server notice). Always `type: "message"`:
/// every client family handles it; `subtype` tells private (with `to`) from global.
pub(super) fn message_line(
    from: &str,
    content: &str,
    to: Option<&str>,
    channel: Option<&str>,
    stamp: &str,
) -> JsonLine {
    let mut line = JsonLine::new("message");
    line.push_str("subtype", if to.is_some() { "private" } else { "global" })
        .push_str("from", from)
        .push_str("content", content);
    if let Some(to) = to {
        line.push_str("to", to);
    }
    if let Some(channel) = channel {
        line.push_str("channel", channel);
    }
    line.push_str("timestamp", stamp);
    line
}
