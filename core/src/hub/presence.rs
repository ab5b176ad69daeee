//! `status` requests: presence states broadcast to the others, and the status line itself.

use alloc::string::String;
use alloc::sync::Arc;

use super::{Frame, Hub, Identity, Now, Output, SessionId};
use crate::frame::JsonLine;
use crate::message::{Presence, DEFAULT_CHANNEL};

impl Hub {
    pub(super) fn status(
        &mut self,
        session: SessionId,
        state: Presence,
        user: Option<String>,
        now: &Now,
        out: &mut Output,
    ) {
        let anonymous = self
            .sessions
            .get(&session)
            .is_some_and(|state| matches!(state.identity, Identity::Anonymous));
        if anonymous && user.is_none() {
            // Accepted silently: only a `user` or a first message names a guest
            // (docs/PROTOCOL.md §2.1).
            return;
        }
        let was_anonymous = self.ensure_identified(session, user.as_deref(), now, out);
        let Some(current) = self.sessions.get_mut(&session) else {
            return;
        };
        current.presence = state;
        let Some(name) = current.name().map(|name| name.display.clone()) else {
            return;
        };
        if was_anonymous && state == Presence::Online {
            return; // the guest announcement already said "online"
        }
        let frame = status_frame(&name, state.as_str());
        self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
    }
}

pub(super) fn status_frame(user: &str, state: &str) -> Frame {
    let mut line = JsonLine::new("status");
    line.push_str("user", user).push_str("state", state);
    Arc::from(line.finish())
}
