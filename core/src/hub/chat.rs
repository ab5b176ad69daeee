//! Chat lines: a `message` names an anonymous sender, runs `/join` and `/leave`, and is relayed to
//! a channel's members (never back to the sender). Private messages are routed in `private.rs`.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use serde_json::{Map, Value};

use super::notices::message_line;
use super::notices::NoticeTo;
use super::{
    ChatRecord, Destination, Effect, Event, Frame, Hub, Identity, Name, Now, Output, SenderKind,
    SessionId, StoreRequest,
};
use crate::frame::JsonLine;
use crate::message::{ChannelName, ChatMessage, ChatTarget, SlashCommand};

impl Hub {
    pub(super) fn chat(
        &mut self,
        session: SessionId,
        mut message: ChatMessage,
        now: &Now,
        out: &mut Output,
    ) {
        self.ensure_identified(session, message.from.as_deref(), now, out);
        if let Some(command) = SlashCommand::parse(&message.content) {
            self.slash_command(session, command, now, out);
            return;
        }
        if message.content.trim().is_empty() {
            // An empty "hello" only names the guest; nothing is relayed.
            return;
        }
        let Some(sender) = self
            .sessions
            .get(&session)
            .and_then(|state| state.name())
            .cloned()
        else {
            return;
        };
        if !self.muted.is_empty() && self.refused_as_muted(session, &sender, now, out) {
            return;
        }
        match core::mem::replace(&mut message.target, ChatTarget::Channel(None)) {
            ChatTarget::Channel(channel) => {
                let channel = channel.unwrap_or_else(ChannelName::default_channel);
                self.channel_message(session, sender, message, &channel, now, out);
            }
            ChatTarget::User(to) => self.private_message(session, sender, message, &to, now, out),
        }
    }

    /// Relays a message to the channel's members (joining it first), never back to the sender.
    fn channel_message(
        &mut self,
        session: SessionId,
        sender: Name,
        message: ChatMessage,
        channel: &ChannelName,
        now: &Now,
        out: &mut Output,
    ) {
        if let Err(error) = self.join(session, channel, now, out) {
            let refused = error.text(&self.channel_display(channel));
            let text = format!("{refused} Message non envoyé.");
            self.notice(NoticeTo::Session(session), &text, now, out);
            return;
        }
        let Some((display, slow)) = self
            .channels
            .get(&channel.key)
            .map(|c| (c.display.clone(), c.slow.is_some()))
        else {
            return;
        };
        if slow && self.refused_as_too_soon(session, &sender, &channel.key, now, out) {
            return;
        }
        let id = self.take_message_id(out);
        // Formatted once, for the line and for the record.
        let stamp = now.local.iso();
        let frame = encode_chat(&message, &sender.display, None, Some(&display), id, &stamp);
        let recipients = self.send_to_channel(&frame, &channel.key, Some(session), out);
        self.count_message(session);
        let length = message.content.len();
        if self.config.keep_history {
            let destination = Destination::Channel {
                key: channel.key.clone(),
                display: display.clone(),
            };
            let line = RecordLine {
                id,
                unix_micros: now.unix_micros,
                stamp,
                content: message.content,
            };
            let record = self.chat_record(session, &sender, destination, line);
            out.effects.push(Effect::Store(StoreRequest::Keep(record)));
        }
        out.log(Event::Message {
            session,
            from: String::from(&*sender.display),
            target: display,
            length,
            recipients,
            frame,
        });
    }

    /// One more chat line relayed from `session` (the console's `who`).
    pub(super) fn count_message(&mut self, session: SessionId) {
        if let Some(state) = self.sessions.get_mut(&session) {
            state.messages += 1;
        }
    }

    /// A relayed line as the store keeps it.
    pub(super) fn chat_record(
        &self,
        session: SessionId,
        sender: &Name,
        destination: Destination,
        line: RecordLine,
    ) -> ChatRecord {
        let kind = match self.sessions.get(&session).map(|state| &state.identity) {
            Some(Identity::User(_)) => SenderKind::Account,
            _ => SenderKind::Guest,
        };
        ChatRecord {
            id: line.id,
            unix_micros: line.unix_micros,
            timestamp: line.stamp,
            from: String::from(&*sender.display),
            from_key: String::from(&*sender.key),
            kind,
            destination,
            content: line.content,
        }
    }

    pub(super) fn slash_command(
        &mut self,
        session: SessionId,
        command: SlashCommand,
        now: &Now,
        out: &mut Output,
    ) {
        let (joining, channel) = match command {
            SlashCommand::Join(channel) => (true, channel),
            SlashCommand::Leave(channel) => (false, channel),
        };
        let channel = match channel {
            Ok(channel) => channel,
            Err(error) => {
                self.send_error(session, &format!("{error}"), out);
                out.log(Event::Rejected {
                    session,
                    reason: error.reason(),
                });
                return;
            }
        };
        if self.change_membership(session, &channel, joining, now, out) {
            let display = self.channel_display(&channel);
            let text = if joining {
                format!("Vous avez rejoint {display}.")
            } else {
                format!("Vous avez quitté {display}.")
            };
            self.notice(NoticeTo::Session(session), &text, now, out);
        }
    }
}

/// What a kept line carries besides its sender and destination (moved in, not copied).
pub(super) struct RecordLine {
    pub(super) id: u64,
    pub(super) unix_micros: u64,
    /// The wire timestamp, as formatted for the relayed line.
    pub(super) stamp: String,
    pub(super) content: String,
}

/// The relayed line: the sender's object with the server-owned keys set (docs/PROTOCOL.md §4.1).
pub(super) fn encode_chat(
    message: &ChatMessage,
    from: &str,
    to: Option<&str>,
    channel: Option<&str>,
    id: u64,
    stamp: &str,
) -> Frame {
    let mut line = message_line(from, &message.content, to, channel, stamp);
    line.push_u64("id", id);
    push_extra(&mut line, &message.extra);
    Arc::from(line.finish())
}

pub(super) fn push_extra(line: &mut JsonLine, extra: &Map<String, Value>) {
    for (key, value) in extra {
        line.push_value(key, value);
    }
}
