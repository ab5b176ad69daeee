//! `history` (docs/PROTOCOL.md §3.9): a channel's past lines, or the requester's private
//! conversation with another account (accounts only). The hub checks who may read what and asks the
//! store for the page; the reply is built when the page comes back, oldest first. Never pushed
//! unasked.

use alloc::format;
use alloc::vec::Vec;

use super::records::conversation_key;
use super::waiting::{Waiting, WaitingFor};
use super::{
    ChatRecord, Destination, Effect, HistoryPage, HistoryScope, Hub, Identity, Now, Output,
    SessionId, StoreRequest,
};
use crate::frame::{JsonLine, ObjectWriter};
use crate::message::{fold_name, ChannelName, HistoryQuery};

impl Hub {
    pub(super) fn history(&mut self, session: SessionId, query: HistoryQuery, out: &mut Output) {
        let scope = match &query.with {
            None => {
                let channel = query.channel.unwrap_or_else(ChannelName::default_channel);
                HistoryScope::Channel {
                    display: self.channel_display(&channel),
                    key: channel.key,
                }
            }
            Some(with) => {
                let own = match self.sessions.get(&session).map(|state| &state.identity) {
                    Some(Identity::User(name)) => name.key.clone(),
                    _ => {
                        self.send_error(
                            session,
                            "L'historique des messages privés est réservé aux comptes : \
                             connectez-vous (login) pour le lire.",
                            out,
                        );
                        return;
                    }
                };
                let with_key = fold_name(with);
                let Some(with) = self.accounts.get(&with_key).cloned() else {
                    self.send_error(session, &format!("Compte inconnu : « {with} »."), out);
                    return;
                };
                HistoryScope::Conversation {
                    key: conversation_key(&own, &with_key),
                    with,
                }
            }
        };
        let page = HistoryPage {
            scope,
            limit: query.limit,
            before: query.before,
        };
        if !self.config.keep_history {
            self.history_reply(session, &page, &[], out);
            return;
        }
        // Later requests wait for this reply, so replies keep their order.
        self.start_waiting(session, Waiting::new(WaitingFor::History));
        out.effects
            .push(Effect::Store(StoreRequest::LoadHistory { session, page }));
    }

    /// The page asked for by [`StoreRequest::LoadHistory`], oldest first. `None`: the store could
    /// not read it (the client gets a French error).
    pub fn history_loaded(
        &mut self,
        session: SessionId,
        page: HistoryPage,
        records: Option<Vec<ChatRecord>>,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(waiting) = self.take_waiting(session, |r| matches!(r, WaitingFor::History)) else {
            return;
        };
        match records {
            Some(records) => self.history_reply(session, &page, &records, out),
            None => self.send_error(
                session,
                "Historique momentanément indisponible, réessayez plus tard.",
                out,
            ),
        }
        self.resume(session, waiting, now, out);
    }

    fn history_reply(
        &mut self,
        session: SessionId,
        page: &HistoryPage,
        records: &[ChatRecord],
        out: &mut Output,
    ) {
        let mut reply = JsonLine::new("history");
        match &page.scope {
            HistoryScope::Channel { display, .. } => {
                reply.push_str("channel", display);
            }
            HistoryScope::Conversation { with, .. } => {
                reply.push_str("with", with);
            }
        }
        reply.push_object_array("messages", records, |item, record| {
            push_history_item(item, record);
        });
        self.send_direct(session, reply.finish(), out);
    }
}

/// One `messages` item: `id`, `from`, `content`, `timestamp`, `subtype`, and `channel` or `to`.
fn push_history_item(item: &mut ObjectWriter<&mut Vec<u8>>, record: &ChatRecord) {
    item.push_u64("id", record.id)
        .push_str("from", &record.from)
        .push_str("content", &record.content)
        .push_str("timestamp", &record.timestamp);
    match &record.destination {
        Destination::Channel { display, .. } => {
            item.push_str("subtype", "global")
                .push_str("channel", display);
        }
        Destination::Private { to, .. } => {
            item.push_str("subtype", "private").push_str("to", to);
        }
    }
}
