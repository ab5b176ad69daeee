//! What moderation keeps (`classcord admin mute`, `delete`): mutes in the `mutes` table (key the
//! folded name, value a JSON record), written durably before the console is told, like bans; and
//! the deletion of one kept line with its index rows, so it is gone from `history` and exports.
//! Slow mode is kept with the channel by the hub's own writes (`chat.rs`).

use classcord_core::hub::{ChatRecord, Destination};
use redb::Durability;
use serde::{Deserialize, Serialize};

use super::records;
use super::schema::{CHANNEL_LINES, CONVERSATION_LINES, DEFERRED, MESSAGES, MUTES};
use super::{user_key, Store, StoreError};

/// One mute as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRecord {
    /// The name as the operator wrote it (an account or a guest's name).
    pub name: String,
    pub created_unix: u64,
    pub until_unix: u64,
    pub reason: Option<String>,
}

impl MuteRecord {
    /// The table key: one mute per name, any letter case.
    pub fn key(&self) -> String {
        user_key(&self.name)
    }
}

/// A kept line the store deleted, and whether it was still waiting for an absent account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedLine {
    pub record: ChatRecord,
    pub deferred: bool,
}

impl Store {
    /// Adds or replaces a mute, durably.
    pub fn put_mute(&self, mute: &MuteRecord) -> Result<(), StoreError> {
        self.put_json(MUTES, &mute.key(), mute)
    }

    /// Removes the mutes with these keys, durably; returns how many existed.
    pub fn remove_mutes(&self, keys: &[String]) -> Result<usize, StoreError> {
        self.remove_json(MUTES, keys)
    }

    /// Every mute, in key order.
    pub fn mutes(&self) -> Result<Vec<MuteRecord>, StoreError> {
        self.all_json(MUTES)
    }

    /// Deletes one kept line (channel or private, delivered or still waiting) and its index
    /// rows, durably. `None`: no line has that id (never kept, or already gone).
    pub fn delete_message(&self, id: u64) -> Result<Option<DeletedLine>, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let deleted = {
            let mut messages = txn.open_table(MESSAGES)?;
            let Some(value) = messages.remove(id)? else {
                drop(messages);
                txn.abort()?;
                return Ok(None);
            };
            let record = records::decode(id, value.value())?;
            drop(value);
            let mut deferred = false;
            match &record.destination {
                Destination::Channel { key, .. } => {
                    txn.open_table(CHANNEL_LINES)?.remove((key.as_str(), id))?;
                }
                Destination::Private {
                    to_key,
                    conversation,
                    ..
                } => {
                    if let Some(conversation) = conversation {
                        txn.open_table(CONVERSATION_LINES)?
                            .remove((conversation.as_str(), id))?;
                    }
                    deferred = txn
                        .open_table(DEFERRED)?
                        .remove((to_key.as_str(), id))?
                        .is_some();
                }
            }
            DeletedLine { record, deferred }
        };
        txn.commit()?;
        Ok(Some(deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classcord_core::hub::{HistoryPage, HistoryScope, SenderKind, StoreRequest};

    fn line(id: u64, destination: Destination) -> ChatRecord {
        ChatRecord {
            id,
            unix_micros: id,
            timestamp: "2026-12-07T10:00:00.000000".into(),
            from: "alice".into(),
            from_key: "alice".into(),
            kind: SenderKind::Account,
            destination,
            content: format!("ligne {id}"),
        }
    }

    #[test]
    fn mutes_survive_a_reopen_keyed_by_folded_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path, 1 << 20).unwrap();
        let mute = MuteRecord {
            name: "Zoé".into(),
            created_unix: 10,
            until_unix: 610,
            reason: Some("bavardage".into()),
        };
        store.put_mute(&mute).unwrap();
        store
            .put_mute(&MuteRecord {
                name: "ZOÉ".into(),
                ..mute.clone()
            })
            .unwrap();
        drop(store);
        let store = Store::open(&path, 1 << 20).unwrap();
        let stored = store.mutes().unwrap();
        assert_eq!(stored.len(), 1, "one mute per name: {stored:?}");
        assert_eq!(stored[0].name, "ZOÉ");
        assert_eq!(store.remove_mutes(&["zoé".into()]).unwrap(), 1);
        assert!(store.mutes().unwrap().is_empty());
    }

    #[test]
    fn a_deleted_line_leaves_history_and_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
        let channel = Destination::Channel {
            key: "#général".into(),
            display: "#général".into(),
        };
        let waiting = Destination::Private {
            to: "bob".into(),
            to_key: "bob".into(),
            conversation: Some("alice\u{0}bob".into()),
        };
        let writes = [
            StoreRequest::Keep(line(1, channel.clone())),
            StoreRequest::Keep(line(2, channel)),
            StoreRequest::Defer(line(3, waiting)),
        ];
        store.commit(&writes, None, true).unwrap();
        let deleted = store.delete_message(1).unwrap().unwrap();
        assert_eq!(deleted.record.content, "ligne 1");
        assert!(!deleted.deferred);
        let page = HistoryPage {
            scope: HistoryScope::Channel {
                key: "#général".into(),
                display: "#général".into(),
            },
            limit: 50,
            before: None,
        };
        let ids: Vec<u64> = store.history(&page).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, [2]);
        let waiting = store.delete_message(3).unwrap().unwrap();
        assert!(waiting.deferred, "it was still waiting for bob");
        assert!(store.deferred_for("bob").unwrap().is_empty());
        assert_eq!(store.message_counts().unwrap(), (1, 0));
        assert_eq!(store.delete_message(3).unwrap(), None, "already gone");
    }
}
