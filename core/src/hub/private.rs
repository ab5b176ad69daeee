//! Private messages (docs/PROTOCOL.md §4.2): routed to every session of the recipient's name, with
//! `to` set. To a registered account with no open session, the line is deferred: stored, and
//! delivered right after that account's next login reply, marked `"deferred": true`. Deferred lines
//! are bounded per recipient and per sender, so a flood to an absent account cannot fill the disk.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::chat::{encode_chat, RecordLine};
use super::hold::DeferredMark;
use super::notices::NoticeTo;
use super::records::conversation_key;
use super::waiting::WaitingFor;
use super::{
    ChatRecord, Destination, Effect, Event, Frame, Hub, Identity, Name, Now, Output, SessionId,
    StoreRequest,
};
use crate::frame::JsonLine;
use crate::message::{fold_name, ChatMessage};

impl Hub {
    /// Delivers a private message to every session of `to`; only them (and the sender only when
    /// writing to itself). Defers it when `to` is an account with no open session.
    pub(super) fn private_message(
        &mut self,
        session: SessionId,
        sender: Name,
        message: ChatMessage,
        to: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let key = fold_name(to);
        let Some(group) = self.names.get(key.as_str()) else {
            match self.accounts.get(&key).cloned() {
                Some(account) => self.defer(session, sender, message, &account, now, out),
                None => {
                    let text = format!("Utilisateur « {to} » inconnu : message non remis.");
                    self.notice(NoticeTo::Session(session), &text, now, out);
                }
            }
            return;
        };
        let recipient = String::from(&*group.display);
        let targets = group.sessions.clone();
        let id = self.take_message_id(out);
        let stamp = now.local.iso();
        let frame = encode_chat(
            &message,
            &sender.display,
            Some(&recipient),
            None,
            id,
            &stamp,
        );
        let recipients = self.send_many(&frame, targets, out);
        self.count_message(session);
        let length = message.content.len();
        if self.config.keep_history {
            let line = RecordLine {
                id,
                unix_micros: now.unix_micros,
                stamp,
                content: message.content,
            };
            let record = self.private_record(session, &sender, &recipient, line);
            out.effects.push(Effect::Store(StoreRequest::Keep(record)));
        }
        out.log(Event::Message {
            session,
            from: String::from(&*sender.display),
            target: recipient,
            length,
            recipients,
            frame,
        });
    }

    /// Stores a line for an absent account, within the bounds, and tells the sender.
    fn defer(
        &mut self,
        session: SessionId,
        sender: Name,
        message: ChatMessage,
        account: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let to_key = fold_name(account);
        let waiting_for_them = self.deferred_to.get(&to_key).copied().unwrap_or(0);
        let sent_by_sender = self.deferred_from.get(&*sender.key).copied().unwrap_or(0);
        let refusal = if waiting_for_them >= self.config.deferred_per_recipient {
            Some(format!(
                "{account} a déjà {waiting_for_them} messages en attente : message non remis."
            ))
        } else if sent_by_sender >= self.config.deferred_per_sender {
            Some(format!(
                "Vous avez déjà {sent_by_sender} messages en attente de remise : message non remis \
                 (attendez que leurs destinataires se connectent)."
            ))
        } else {
            None
        };
        if let Some(text) = refusal {
            self.notice(NoticeTo::Session(session), &text, now, out);
            out.log(Event::Rejected {
                session,
                reason: super::output::reasons::DEFERRED_LIMIT,
            });
            return;
        }
        let id = self.take_message_id(out);
        let length = message.content.len();
        let line = RecordLine {
            id,
            unix_micros: now.unix_micros,
            stamp: now.local.iso(),
            content: message.content,
        };
        let record = self.private_record(session, &sender, account, line);
        *self.deferred_to.entry(to_key).or_insert(0) += 1;
        *self
            .deferred_from
            .entry(String::from(&*sender.key))
            .or_insert(0) += 1;
        out.effects.push(Effect::Store(StoreRequest::Defer(record)));
        self.count_message(session);
        let text = format!(
            "{account} n'est pas connecté·e : message conservé, il lui sera remis à sa prochaine \
             connexion."
        );
        self.notice(NoticeTo::Session(session), &text, now, out);
        out.log(Event::Deferred {
            session,
            from: String::from(&*sender.display),
            to: String::from(account),
            length,
        });
    }

    fn private_record(
        &self,
        session: SessionId,
        sender: &Name,
        to: &str,
        line: RecordLine,
    ) -> ChatRecord {
        let to_key = fold_name(to);
        let from_account = matches!(
            self.sessions.get(&session).map(|state| &state.identity),
            Some(Identity::User(_))
        );
        let conversation = (from_account && self.accounts.contains_key(&to_key))
            .then(|| conversation_key(&sender.key, &to_key));
        self.chat_record(
            session,
            sender,
            Destination::Private {
                to: String::from(to),
                to_key,
                conversation,
            },
            line,
        )
    }

    /// The deferred lines asked for by [`StoreRequest::LoadDeferred`], oldest first, delivered
    /// right after the login reply; then the welcome and whatever waited. `None`: the store could
    /// not read them (they stay stored for the next login).
    pub fn deferred_loaded(
        &mut self,
        session: SessionId,
        records: Option<Vec<ChatRecord>>,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(waiting) =
            self.take_waiting(session, |r| matches!(r, WaitingFor::Deferred { .. }))
        else {
            return;
        };
        let WaitingFor::Deferred { name } = &waiting.reason else {
            return;
        };
        let name = name.clone();
        let account = fold_name(&name);
        match records {
            Some(records) if !records.is_empty() => {
                // Oldest first; each is counted as delivered when it leaves the login hold.
                let count = records.len();
                for (index, record) in records.into_iter().enumerate() {
                    let mark = DeferredMark {
                        account: account.clone(),
                        id: record.id,
                        from_key: record.from_key.clone(),
                    };
                    let frame: Frame = Arc::from(deferred_line(&record));
                    if let Some((frame, Some(mark))) =
                        self.hold_frame(session, frame, Some(mark), out)
                    {
                        out.begin(frame);
                        out.add_recipient(session);
                        self.deferred_released(mark, index + 1 == count, out);
                    }
                }
            }
            Some(_) => {
                self.deferred_to.remove(&account);
                self.deferred_loading.remove(&account);
            }
            None => {
                self.deferred_loading.remove(&account);
                let text = "Vos messages reçus en votre absence n'ont pas pu être lus : ils vous \
                            seront remis à votre prochaine connexion.";
                self.notice(NoticeTo::Session(session), text, now, out);
            }
        }
        self.welcome(session, &name, now, out);
        self.resume(session, waiting, now, out);
    }
}

/// A deferred private line as delivered: the original time and id, marked `"deferred": true`.
fn deferred_line(record: &ChatRecord) -> Vec<u8> {
    let to = match &record.destination {
        Destination::Private { to, .. } => to.as_str(),
        Destination::Channel { display, .. } => display.as_str(),
    };
    let mut line = JsonLine::new("message");
    line.push_str("subtype", "private")
        .push_str("from", &record.from)
        .push_str("content", &record.content)
        .push_str("to", to)
        .push_str("timestamp", &record.timestamp)
        .push_u64("id", record.id)
        .push_bool("deferred", true);
    line.finish()
}
