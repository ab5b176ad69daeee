//! Private messages (PROTOCOL.md §4): routed to every session of the recipient's name, with `to`
//! set; a recipient who is not connected gets the sender a private notice instead.

use alloc::format;

use super::chat::encode_chat;
use super::{Event, Hub, Name, Now, Output, SessionId};
use crate::message::{fold_name, ChatMessage};

impl Hub {
    /// Delivers a private message to every session of `to`; only them (and the sender only when
    /// writing to itself).
    pub(super) fn private_message(
        &mut self,
        session: SessionId,
        sender: Name,
        message: &ChatMessage,
        to: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let key = fold_name(to);
        let Some(group) = self.names.get(&key) else {
            let text = if self.accounts.contains(&key) {
                format!("{to} n'est pas connecté·e : message non remis.")
            } else {
                format!("Utilisateur « {to} » inconnu : message non remis.")
            };
            self.private_notice(session, &sender.display, &text, now, out);
            return;
        };
        let recipient = group.display.clone();
        let targets = group.sessions.clone();
        let id = self.take_message_id();
        let frame = encode_chat(message, &sender.display, Some(&recipient), None, id, now);
        let recipients = self.send_many(&frame, targets, out);
        out.log(Event::Message {
            session,
            from: sender.display,
            target: recipient,
            length: message.content.len(),
            recipients,
            frame,
        });
    }
}
