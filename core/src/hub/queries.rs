//! Read-only requests answered from the hub's state: `users` (and aliases), `who` and `channels`.
//! Queries never name anyone (docs/PROTOCOL.md §2.1).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;

use super::{Hub, Output, SessionId};
use crate::frame::JsonLine;
use crate::message::{ChannelName, Presence, UsersAlias};

impl Hub {
    /// Queries never name anyone (docs/PROTOCOL.md §2.1): an anonymous requester gets the
    /// identified names and stays anonymous.
    pub(super) fn users(&mut self, session: SessionId, alias: UsersAlias, out: &mut Output) {
        let own = self.own_key(session);
        let names: Vec<&str> = self
            .names
            .iter()
            .filter(|(key, group)| Some(&***key) == own.as_deref() || self.group_visible(group))
            .map(|(_, group)| &*group.display)
            .collect();
        let mut reply = JsonLine::new(alias.reply_type());
        reply.push_str_array("users", names);
        self.send_direct(session, reply.finish(), out);
    }

    pub(super) fn who(
        &mut self,
        session: SessionId,
        channel: Option<ChannelName>,
        out: &mut Output,
    ) {
        let channel = channel.unwrap_or_else(ChannelName::default_channel);
        let Some(found) = self.channels.get(&channel.key) else {
            self.send_error(
                session,
                &format!("Salon inconnu : {}.", channel.display),
                out,
            );
            return;
        };
        let own = self.own_key(session);
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for member in &found.members {
            let Some(state) = self.sessions.get(member) else {
                continue;
            };
            let Some(name) = state.name() else { continue };
            let visible =
                state.presence != Presence::Invisible || Some(&*name.key) == own.as_deref();
            if visible {
                names.insert(&name.key, &name.display);
            }
        }
        let mut reply = JsonLine::new("who");
        reply
            .push_str("channel", &found.display)
            .push_str_array("users", names.into_values());
        self.send_direct(session, reply.finish(), out);
    }

    pub(super) fn channels(&mut self, session: SessionId, out: &mut Output) {
        let listing: Vec<(&str, u64, bool)> = self
            .channels
            .values()
            .map(|channel| {
                (
                    channel.display.as_str(),
                    self.visible_names_in(channel),
                    channel.closed,
                )
            })
            .collect();
        let mut reply = JsonLine::new("channels");
        reply.push_object_array("channels", listing, |object, (name, members, closed)| {
            object.push_str("name", name).push_u64("members", members);
            if closed {
                object.push_bool("closed", true);
            }
        });
        self.send_direct(session, reply.finish(), out);
    }
}
