//! An in-memory stand-in for the server's store thread, as the hub sees it through
//! `Effect::Store`: keeps relayed and deferred lines, answers history pages and deferred-line
//! loads (later, in any order, or with a failure) and knows the accounts the password checks use.
//! Used by hub_model.rs.

use std::collections::BTreeMap;

use classcord_core::hub::{
    ChatRecord, Destination, HistoryPage, HistoryScope, Restored, SenderKind, SessionId,
    StoreRequest,
};
use classcord_core::message::fold_name;

/// A load the hub asked for and waits for.
#[derive(Debug, Clone)]
pub enum Load {
    History(SessionId, HistoryPage),
    Deferred(SessionId, String),
}

impl Load {
    pub fn session(&self) -> SessionId {
        match self {
            Load::History(session, _) | Load::Deferred(session, _) => *session,
        }
    }
}

#[derive(Debug, Default)]
pub struct Store {
    /// Folded name -> name as registered.
    pub accounts: BTreeMap<String, String>,
    kept: Vec<ChatRecord>,
    /// (recipient key, line) for accounts that were away.
    deferred: Vec<(String, ChatRecord)>,
    pub loads: Vec<Load>,
}

fn record(id: u64, from: &str, destination: Destination, content: &str) -> ChatRecord {
    ChatRecord {
        id,
        unix_micros: 1_764_000_000_000_000 + id,
        timestamp: String::from("2026-11-30T10:00:00.000000"),
        from: String::from(from),
        from_key: fold_name(from),
        kind: SenderKind::Account,
        destination,
        content: String::from(content),
    }
}

impl Store {
    /// Two accounts, a closed channel, a saved membership, one kept line and one line waiting
    /// for `Bob`; returns what the hub is started with.
    pub fn seeded() -> (Store, Restored) {
        let accounts = ["alice", "Bob"];
        let general = Destination::Channel {
            key: String::from("#général"),
            display: String::from("#général"),
        };
        let to_bob = Destination::Private {
            to: String::from("Bob"),
            to_key: String::from("bob"),
            conversation: Some(classcord_core::hub::records::conversation_key(
                "alice", "bob",
            )),
        };
        let store = Store {
            accounts: accounts
                .iter()
                .map(|name| (fold_name(name), String::from(*name)))
                .collect(),
            kept: vec![record(5, "alice", general, "bonjour à tous")],
            deferred: vec![(
                String::from("bob"),
                record(7, "alice", to_bob, "message en attente"),
            )],
            loads: Vec::new(),
        };
        let restored = Restored {
            accounts: accounts.map(String::from).to_vec(),
            next_message_id: 100,
            deferred: vec![(String::from("bob"), String::from("alice"))],
            closed_channels: vec![String::from("#fermé")],
            created_channels: vec![String::from("#sio")],
            memberships: vec![(String::from("alice"), String::from("#java"))],
            slow_channels: Vec::new(),
        };
        (store, restored)
    }

    /// Carries out one store request (loads wait for an answer).
    pub fn apply(&mut self, request: &StoreRequest) {
        match request {
            StoreRequest::Keep(line) => self.kept.push(line.clone()),
            StoreRequest::Defer(line) => {
                if let Destination::Private { to_key, .. } = &line.destination {
                    self.deferred.push((to_key.clone(), line.clone()));
                }
            }
            StoreRequest::Delivered { account, up_to } => self
                .deferred
                .retain(|(to, line)| !(to == account && line.id <= *up_to)),
            StoreRequest::LoadHistory { session, page } => {
                self.loads.push(Load::History(*session, page.clone()))
            }
            StoreRequest::LoadDeferred { session, account } => {
                self.loads.push(Load::Deferred(*session, account.clone()))
            }
            _ => {}
        }
    }

    /// The newest `limit` lines of the page's scope before `before`, oldest first.
    pub fn page(&self, page: &HistoryPage) -> Vec<ChatRecord> {
        let in_scope = |line: &&ChatRecord| match (&page.scope, &line.destination) {
            (HistoryScope::Channel { key, .. }, Destination::Channel { key: of, .. }) => key == of,
            (
                HistoryScope::Conversation { key, .. },
                Destination::Private {
                    conversation: Some(of),
                    ..
                },
            ) => key == of,
            _ => false,
        };
        let mut lines: Vec<ChatRecord> = self
            .kept
            .iter()
            .filter(in_scope)
            .filter(|line| page.before.is_none_or(|before| line.id < before))
            .cloned()
            .collect();
        let skip = lines.len().saturating_sub(page.limit as usize);
        lines.drain(..skip);
        lines
    }

    /// The lines waiting for `account` (folded), oldest first.
    pub fn deferred_for(&self, account: &str) -> Vec<ChatRecord> {
        let mut lines: Vec<ChatRecord> = self
            .deferred
            .iter()
            .filter(|(to, _)| to == account)
            .map(|(_, line)| line.clone())
            .collect();
        lines.sort_by_key(|line| line.id);
        lines
    }
}
