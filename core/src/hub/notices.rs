//! Server notices (PROTOCOL.md §4): ordinary message lines from `Serveur` with `system: true` —
//! the welcome, private notices, admin announcements and the shutdown notice.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{CloseReason, Effect, Frame, Hub, Now, Output, SessionId};
use crate::frame::JsonLine;
use crate::message::{DEFAULT_CHANNEL, SERVER_NAME};

impl Hub {
    /// Server shutdown: a French notice and a `shutdown` line to every identified session, then
    /// every connection is closed.
    pub fn shutdown(&mut self, text: &str, now: &Now, out: &mut Output) {
        let notice = self.notice_frame(text, None, None, now);
        let mut line = JsonLine::new("shutdown");
        line.push_str("message", text);
        let shutdown: Frame = Arc::from(line.finish());
        let identified: Vec<SessionId> = self.identified_sessions(None).collect();
        for frame in [notice, shutdown] {
            out.begin(frame);
            for &session in &identified {
                out.add_recipient(session);
            }
        }
        for &session in self.sessions.keys() {
            out.effects.push(Effect::Close {
                session,
                reason: CloseReason::Shutdown,
            });
        }
    }

    /// A server notice to every identified session (admin alert).
    pub fn announce(&mut self, text: &str, now: &Now, out: &mut Output) {
        let frame = self.notice_frame(text, None, None, now);
        self.send_to_channel(&frame, DEFAULT_CHANNEL, None, out);
    }

    pub(super) fn private_notice(
        &mut self,
        session: SessionId,
        to: &str,
        text: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let frame = self.notice_frame(text, Some(to), None, now);
        self.send_frame(session, frame, out);
    }

    pub(super) fn welcome(&mut self, session: SessionId, name: &str, now: &Now, out: &mut Output) {
        if self.config.welcome.is_empty() {
            return;
        }
        let text = self.config.welcome.replace("{nom}", name);
        self.private_notice(session, name, &text, now, out);
    }

    /// `{"type":"message","subtype":...,"from":"Serveur","content":...,"system":true}`.
    pub(super) fn notice_frame(
        &self,
        text: &str,
        to: Option<&str>,
        channel: Option<&str>,
        now: &Now,
    ) -> Frame {
        let mut line = message_line(SERVER_NAME, text, to, channel, now);
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
    now: &Now,
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
    line.push_str("timestamp", &now.local.iso());
    line
}
