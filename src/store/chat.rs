//! The chat tables: kept lines, their channel and conversation indexes, deferred private lines,
//! saved memberships and closed channels. Writes come in batches from the store thread (one
//! transaction per batch); reads run in a read transaction, so a second process (export,
//! backup) reads the same way from a read-only open.

use classcord_core::hub::{
    ChatRecord, Destination, HistoryPage, HistoryScope, Restored, StoreRequest,
};
use redb::{Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};

use super::records;
use super::schema::USERS;
use super::schema::{
    CHANNEL_LINES, CLOSED_CHANNELS, CONVERSATION_LINES, CREATED_CHANNELS, DEFERRED, ID_CEILING_KEY,
    MEMBERSHIPS, MESSAGES, META, SLOW_CHANNELS,
};
use super::users::NewUser;
use super::{Store, StoreError};

impl Store {
    /// Applies the hub's writes in order, and inserts `user` if given, in one transaction;
    /// `durable` commits with an fsync. Returns whether `user` was inserted (`false`: the name
    /// was taken). Loads in `writes` are ignored (the store thread answers them).
    pub fn commit(
        &self,
        writes: &[StoreRequest],
        user: Option<NewUser<'_>>,
        durable: bool,
    ) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })?;
        apply(&txn, writes)?;
        let inserted = match user {
            Some(user) => super::users::insert_in(&txn, user)?,
            None => true,
        };
        txn.commit()?;
        Ok(inserted)
    }

    /// One `history` page, oldest first.
    pub fn history(&self, page: &HistoryPage) -> Result<Vec<ChatRecord>, StoreError> {
        history(&self.db.begin_read()?, page)
    }

    /// The deferred lines of `account` (folded), oldest first.
    pub fn deferred_for(&self, account: &str) -> Result<Vec<ChatRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let deferred = txn.open_table(DEFERRED)?;
        let messages = txn.open_table(MESSAGES)?;
        let mut records = Vec::new();
        for entry in deferred.range((account, 0)..=(account, u64::MAX))? {
            let (key, _) = entry?;
            let id = key.value().1;
            if let Some(value) = messages.get(id)? {
                records.push(records::decode(id, value.value())?);
            }
        }
        Ok(records)
    }

    /// Everything the hub needs at start-up. The next id is above every stored id and above the
    /// last reservation.
    pub fn restored(&self) -> Result<Restored, StoreError> {
        let txn = self.db.begin_read()?;
        let mut restored = Restored::default();
        for entry in txn.open_table(USERS)?.iter()? {
            let (key, value) = entry?;
            restored
                .accounts
                .push(super::users::decode(key.value(), value.value())?.name);
        }
        let last_id = txn
            .open_table(MESSAGES)?
            .last()?
            .map_or(0, |(id, _)| id.value());
        let ceiling = txn
            .open_table(META)?
            .get(ID_CEILING_KEY)?
            .map_or(0, |v| v.value());
        restored.next_message_id = (last_id + 1).max(ceiling).max(1);
        for entry in txn.open_table(DEFERRED)?.iter()? {
            let (key, sender) = entry?;
            restored
                .deferred
                .push((key.value().0.to_owned(), sender.value().to_owned()));
        }
        for entry in txn.open_table(CLOSED_CHANNELS)?.iter()? {
            let (_, display) = entry?;
            restored.closed_channels.push(display.value().to_owned());
        }
        for entry in txn.open_table(CREATED_CHANNELS)?.iter()? {
            let (_, display) = entry?;
            restored.created_channels.push(display.value().to_owned());
        }
        for entry in txn.open_table(SLOW_CHANNELS)?.iter()? {
            let (_, value) = entry?;
            let (display, secs) = value.value();
            restored.slow_channels.push((display.to_owned(), secs));
        }
        for entry in txn.open_table(MEMBERSHIPS)?.iter()? {
            let (key, display) = entry?;
            restored
                .memberships
                .push((key.value().0.to_owned(), display.value().to_owned()));
        }
        Ok(restored)
    }

    /// Records durably that ids below `until` may be handed out (before the hub serves).
    pub fn reserve_ids(&self, until: u64) -> Result<(), StoreError> {
        self.commit(&[StoreRequest::ReserveIds { until }], None, true)
            .map(|_| ())
    }

    /// Kept lines (messages table) and deferred lines, for reports and tests.
    pub fn message_counts(&self) -> Result<(u64, u64), StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        let kept = txn.open_table(MESSAGES)?.len()?;
        let deferred = txn.open_table(DEFERRED)?.len()?;
        Ok((kept, deferred))
    }
}

fn apply(txn: &WriteTransaction, writes: &[StoreRequest]) -> Result<(), StoreError> {
    let mut messages = txn.open_table(MESSAGES)?;
    let mut channel_lines = txn.open_table(CHANNEL_LINES)?;
    let mut conversation_lines = txn.open_table(CONVERSATION_LINES)?;
    let mut deferred = txn.open_table(DEFERRED)?;
    let mut bytes = Vec::with_capacity(256);
    let mut keep = |record: &ChatRecord| -> Result<(), StoreError> {
        records::encode(record, &mut bytes);
        messages.insert(record.id, bytes.as_slice())?;
        match &record.destination {
            Destination::Channel { key, .. } => {
                channel_lines.insert((key.as_str(), record.id), ())?;
            }
            Destination::Private {
                conversation: Some(conversation),
                ..
            } => {
                conversation_lines.insert((conversation.as_str(), record.id), ())?;
            }
            Destination::Private { .. } => {}
        }
        Ok(())
    };
    for write in writes {
        match write {
            StoreRequest::Keep(record) => keep(record)?,
            StoreRequest::Defer(record) => {
                keep(record)?;
                if let Destination::Private { to_key, .. } = &record.destination {
                    deferred.insert((to_key.as_str(), record.id), record.from_key.as_str())?;
                }
            }
            StoreRequest::Delivered { account, up_to } => {
                let ids: Vec<u64> = deferred
                    .range((account.as_str(), 0)..=(account.as_str(), *up_to))?
                    .map(|entry| entry.map(|(key, _)| key.value().1))
                    .collect::<Result<_, _>>()?;
                for id in ids {
                    deferred.remove((account.as_str(), id))?;
                }
            }
            StoreRequest::ReserveIds { until } => {
                let mut meta = txn.open_table(META)?;
                let current = meta.get(ID_CEILING_KEY)?.map_or(0, |v| v.value());
                if *until > current {
                    meta.insert(ID_CEILING_KEY, *until)?;
                }
            }
            StoreRequest::Membership {
                account,
                channel_key,
                channel_display,
                joined,
            } => {
                let mut table = txn.open_table(MEMBERSHIPS)?;
                let key = (account.as_str(), channel_key.as_str());
                if *joined {
                    table.insert(key, channel_display.as_str())?;
                } else {
                    table.remove(key)?;
                }
            }
            StoreRequest::ChannelClosed {
                key,
                display,
                closed,
            } => {
                let mut table = txn.open_table(CLOSED_CHANNELS)?;
                if *closed {
                    table.insert(key.as_str(), display.as_str())?;
                } else {
                    table.remove(key.as_str())?;
                }
            }
            StoreRequest::ChannelCreated {
                key,
                display,
                created,
            } => {
                let mut table = txn.open_table(CREATED_CHANNELS)?;
                if *created {
                    table.insert(key.as_str(), display.as_str())?;
                } else {
                    table.remove(key.as_str())?;
                }
            }
            StoreRequest::SlowMode { key, display, secs } => {
                let mut table = txn.open_table(SLOW_CHANNELS)?;
                if *secs > 0 {
                    table.insert(key.as_str(), (display.as_str(), *secs))?;
                } else {
                    table.remove(key.as_str())?;
                }
            }
            StoreRequest::LoadHistory { .. } | StoreRequest::LoadDeferred { .. } => {}
        }
    }
    Ok(())
}

/// One `history` page from a read transaction: the newest `limit` lines before `before`, returned
/// oldest first.
pub fn history(txn: &ReadTransaction, page: &HistoryPage) -> Result<Vec<ChatRecord>, StoreError> {
    let (table, scope) = match &page.scope {
        HistoryScope::Channel { key, .. } => (txn.open_table(CHANNEL_LINES)?, key.as_str()),
        HistoryScope::Conversation { key, .. } => {
            (txn.open_table(CONVERSATION_LINES)?, key.as_str())
        }
    };
    let end = page.before.unwrap_or(u64::MAX);
    let mut ids = Vec::new();
    for entry in table.range((scope, 0)..(scope, end))?.rev() {
        let (key, _) = entry?;
        ids.push(key.value().1);
        if ids.len() >= page.limit as usize {
            break;
        }
    }
    let messages = txn.open_table(MESSAGES)?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids.into_iter().rev() {
        if let Some(value) = messages.get(id)? {
            records.push(records::decode(id, value.value())?);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use classcord_core::hub::SenderKind;

    pub(crate) fn line(id: u64, channel: &str, content: &str) -> ChatRecord {
        ChatRecord {
            id,
            unix_micros: 1_000_000 * id,
            timestamp: format!("2026-11-25T09:00:{:02}.000000", id % 60),
            from: "alice".into(),
            from_key: "alice".into(),
            kind: SenderKind::Account,
            destination: Destination::Channel {
                key: channel.into(),
                display: channel.into(),
            },
            content: content.into(),
        }
    }

    fn private(id: u64, from: &str, to: &str, conversation: Option<&str>) -> ChatRecord {
        ChatRecord {
            from: from.into(),
            from_key: from.into(),
            destination: Destination::Private {
                to: to.into(),
                to_key: to.into(),
                conversation: conversation.map(Into::into),
            },
            ..line(id, "", &format!("{from}->{to} {id}"))
        }
    }

    fn page(scope: HistoryScope, limit: u32, before: Option<u64>) -> HistoryPage {
        HistoryPage {
            scope,
            limit,
            before,
        }
    }

    fn channel(key: &str) -> HistoryScope {
        HistoryScope::Channel {
            key: key.into(),
            display: key.into(),
        }
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
        (dir, store)
    }

    #[test]
    fn channel_history_pages_newest_first_returned_oldest_first() {
        let (_dir, store) = open();
        let writes: Vec<StoreRequest> = (1..=10)
            .map(|id| StoreRequest::Keep(line(id, if id % 2 == 0 { "#a" } else { "#b" }, "x")))
            .collect();
        assert!(store.commit(&writes, None, true).unwrap());
        let ids = |records: Vec<ChatRecord>| records.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.history(&page(channel("#a"), 3, None)).unwrap()),
            [6, 8, 10]
        );
        assert_eq!(
            ids(store.history(&page(channel("#a"), 3, Some(6))).unwrap()),
            [2, 4]
        );
        assert_eq!(
            ids(store.history(&page(channel("#b"), 100, None)).unwrap()),
            [1, 3, 5, 7, 9]
        );
        assert!(store
            .history(&page(channel("#c"), 3, None))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn conversations_deferred_lines_and_what_a_restart_gets_back() {
        let (_dir, store) = open();
        let writes = vec![
            StoreRequest::Keep(private(1, "alice", "bob", Some("alice\u{0}bob"))),
            StoreRequest::Defer(private(2, "alice", "bob", Some("alice\u{0}bob"))),
            StoreRequest::Defer(private(3, "zoé", "bob", None)),
            StoreRequest::Membership {
                account: "bob".into(),
                channel_key: "#java".into(),
                channel_display: "#java".into(),
                joined: true,
            },
            StoreRequest::ChannelClosed {
                key: "#maths".into(),
                display: "#maths".into(),
                closed: true,
            },
            StoreRequest::ReserveIds { until: 500 },
        ];
        store.commit(&writes, None, true).unwrap();
        let conversation = HistoryScope::Conversation {
            key: "alice\u{0}bob".into(),
            with: "bob".into(),
        };
        let history = store.history(&page(conversation, 50, None)).unwrap();
        assert_eq!(history.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        let deferred = store.deferred_for("bob").unwrap();
        assert_eq!(deferred.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);

        let restored = store.restored().unwrap();
        assert_eq!(restored.next_message_id, 500, "above the reservation");
        assert_eq!(
            restored.deferred,
            [
                ("bob".to_owned(), "alice".to_owned()),
                ("bob".to_owned(), "zoé".to_owned())
            ]
        );
        assert_eq!(
            restored.memberships,
            [("bob".to_owned(), "#java".to_owned())]
        );
        assert_eq!(restored.closed_channels, ["#maths"]);

        let delivered = [StoreRequest::Delivered {
            account: "bob".into(),
            up_to: 2,
        }];
        store.commit(&delivered, None, true).unwrap();
        assert_eq!(store.deferred_for("bob").unwrap().len(), 1);
        assert_eq!(
            store.message_counts().unwrap(),
            (3, 1),
            "the lines themselves stay"
        );
    }

    #[test]
    fn the_next_id_is_above_every_stored_line() {
        let (_dir, store) = open();
        store
            .commit(&[StoreRequest::Keep(line(7_000, "#a", "x"))], None, true)
            .unwrap();
        assert_eq!(store.restored().unwrap().next_message_id, 7_001);
    }

    #[test]
    fn a_registration_in_the_same_transaction_as_a_batch() {
        let (_dir, store) = open();
        let user = NewUser {
            name: "Alice",
            password_hash: "$argon2id$x",
            created_unix: 1,
        };
        let writes = [StoreRequest::Keep(line(1, "#a", "x"))];
        assert!(store.commit(&writes, Some(user), true).unwrap());
        let again = NewUser {
            name: "ALICE",
            password_hash: "$argon2id$y",
            created_unix: 2,
        };
        assert!(!store.commit(&[], Some(again), true).unwrap(), "taken");
        assert_eq!(store.restored().unwrap().accounts, ["Alice"]);
    }
}
