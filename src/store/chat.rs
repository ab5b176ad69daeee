//! The chat tables: kept lines, their channel and conversation indexes, deferred private lines,
//! saved memberships and closed channels. Writes come in batches from the store thread (one
//! transaction per batch); reads run in a read transaction, so a second process (export,
//! backup) reads the same way from a read-only open.

use classcord_core::hub::{
    ChatRecord, Destination, HistoryPage, HistoryScope, Restored, StoreRequest,
};
use redb::{Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};

use super::records;
use super::schema::{
    CHANNEL_LINES, CLOSED_CHANNELS, CONVERSATION_LINES, DEFERRED, ID_CEILING_KEY, MEMBERSHIPS,
    MESSAGES, META,
};
use super::users::USERS;
use super::{Store, StoreError};

/// A new account to insert in the same transaction as a batch (see [`Store::commit`]).
pub struct NewUser<'a> {
    pub name: &'a str,
    pub password_hash: &'a str,
    pub created_unix: u64,
}

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
