//! `hello`: a client names the extensions it understands (docs/PROTOCOL.md §2.5). Extension
//! lines (`kick`, `shutdown`, and any later type) go only to a connection that announced them:
//! student clients print unknown line types raw, or show only the last line they received, so an
//! extension line sent to them hides the French notice that says the same thing. `hello` never
//! names anyone; each `hello` replaces the previous set.

use super::{Hub, Output, SessionId};
use crate::frame::JsonLine;
use crate::message::{Feature, Features};

impl Hub {
    /// Records the announced extensions and answers with those this server will use.
    pub(super) fn hello(&mut self, session: SessionId, features: Features, out: &mut Output) {
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        state.features = features;
        let mut reply = JsonLine::new("hello");
        reply
            .push_str("server", "ClassCord")
            .push_str_array("features", features.iter().map(Feature::wire_name));
        self.send_direct(session, reply.finish(), out);
        if features.has(Feature::NoHold) {
            // Announced after its login: the client reads continuously, the hold can end now.
            self.release_all(session, out);
        }
    }

    /// Whether the session announced `feature`.
    pub(super) fn has_feature(&self, session: SessionId, feature: Feature) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|state| state.features.has(feature))
    }
}
