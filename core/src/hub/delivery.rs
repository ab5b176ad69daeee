//! How frames reach sessions: direct replies (never held), frames held for a session awaiting its
//! login/register reply (`waiting.rs`) or in the hold after its login reply (`hold.rs`), and
//! channel broadcasts through cached routes (one slice copy per message
//! instead of a lookup per member).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::waiting::Waiting;
use super::{Channel, Frame, Hub, Identity, Output, Session, SessionId};
use crate::frame::JsonLine;

#[derive(Debug, Default)]
pub(super) struct Routes {
    /// Identified members, ready to receive.
    ready: Vec<SessionId>,
    /// Identified members whose lines are held (waiting for a reply, or in the login hold).
    held: Vec<SessionId>,
}

pub(super) fn fresh_routes<'a>(
    channel: &'a mut Channel,
    sessions: &BTreeMap<SessionId, Box<Session>>,
) -> &'a Routes {
    channel.routes.get_or_insert_with(|| {
        let mut routes = Routes::default();
        for member in &channel.members {
            let Some(state) = sessions.get(member) else {
                continue;
            };
            if matches!(state.identity, Identity::Anonymous) {
                continue;
            }
            if state.waiting.as_deref().is_some_and(Waiting::holds_frames) || state.hold.is_some() {
                routes.held.push(*member);
            } else {
                routes.ready.push(*member);
            }
        }
        routes
    })
}

impl Hub {
    pub(super) fn send_error(&mut self, session: SessionId, text: &str, out: &mut Output) {
        let mut line = JsonLine::new("error");
        line.push_str("message", text).push_str("error", text);
        self.send_direct(session, line.finish(), out);
    }

    /// A direct reply: never held, it is what the session is waiting for.
    pub(super) fn send_direct(&mut self, session: SessionId, bytes: Vec<u8>, out: &mut Output) {
        out.begin(Arc::from(bytes));
        out.add_recipient(session);
    }

    pub(super) fn send_frame(&mut self, session: SessionId, frame: Frame, out: &mut Output) {
        self.send_many(&frame, [session], out);
    }

    /// Delivers `frame` to the identified members of a channel but `except`, from the cached
    /// routes. Returns the number of recipients.
    pub(super) fn send_to_channel(
        &mut self,
        frame: &Frame,
        key: &str,
        except: Option<SessionId>,
        out: &mut Output,
    ) -> usize {
        let Some(channel) = self.channels.get_mut(key) else {
            return 0;
        };
        let routes = fresh_routes(channel, &self.sessions);
        let count = out.add_delivery(frame, &routes.ready, except);
        if routes.held.is_empty() {
            return count;
        }
        let held: Vec<SessionId> = routes
            .held
            .iter()
            .copied()
            .filter(|&s| Some(s) != except)
            .collect();
        let held_count = held.len();
        for session in held {
            self.hold_for(session, frame.clone(), out);
        }
        count + held_count
    }

    /// Keeps a frame for a session whose lines are held: behind its awaited reply first, else in
    /// its login hold; delivered at once if neither holds any more.
    fn hold_for(&mut self, session: SessionId, frame: Frame, out: &mut Output) {
        if let Some(waiting) = self
            .sessions
            .get_mut(&session)
            .and_then(|state| state.waiting.as_mut())
            .filter(|waiting| waiting.holds_frames())
        {
            waiting.held.push(frame);
            return;
        }
        if let Some((frame, _)) = self.hold_frame(session, frame, None, out) {
            out.begin(frame);
            out.add_recipient(session);
        }
    }

    /// The session's identity or waiting state changed: its channels' routes are stale.
    pub(super) fn invalidate_routes(&mut self, session: SessionId) {
        let Some(state) = self.sessions.get(&session) else {
            return;
        };
        for key in &state.channels {
            if let Some(channel) = self.channels.get_mut(key) {
                channel.routes = None;
            }
        }
    }

    /// Delivers `frame` to identified sessions among `targets`; a session waiting for its login
    /// reply or deferred lines gets it later. Returns the number of recipients.
    pub(super) fn send_many(
        &mut self,
        frame: &Frame,
        targets: impl IntoIterator<Item = SessionId>,
        out: &mut Output,
    ) -> usize {
        let mut held = Vec::new();
        out.begin(frame.clone());
        let mut count = 0;
        for target in targets {
            let Some(state) = self.sessions.get_mut(&target) else {
                continue;
            };
            if matches!(state.identity, Identity::Anonymous) {
                continue;
            }
            count += 1;
            if state.waiting.as_deref().is_some_and(Waiting::holds_frames) || state.hold.is_some() {
                held.push(target);
            } else {
                out.add_recipient(target);
            }
        }
        for target in held {
            self.hold_for(target, frame.clone(), out);
        }
        count
    }
}
