//! Retention: kept lines older than `max_age_days`, and the oldest lines of a channel beyond
//! `max_messages_per_channel`, are deleted in small transactions (a few thousand rows each), so
//! the store thread stays responsive and the file stays bounded. Deferred private lines are kept
//! until delivered, whatever their age. `classcord compact` then gives the space back.

use redb::{Durability, ReadableTable};

use super::records;
use super::schema::{CHANNEL_LINES, CONVERSATION_LINES, DEFERRED, MESSAGES};
use super::{Store, StoreError};
use classcord_core::hub::Destination;

/// Rows deleted per transaction.
const CHUNK: usize = 2000;
/// Transactions per run (the rest waits for the next run, a second later).
const CHUNKS_PER_RUN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// 0: keep lines whatever their age.
    pub max_age_days: u32,
    /// 0: no per-channel cap.
    pub max_messages_per_channel: u64,
}

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub deleted: u64,
    /// More is due: run again soon.
    pub more: bool,
}

impl Retention {
    pub fn is_active(&self) -> bool {
        self.max_age_days > 0 || self.max_messages_per_channel > 0
    }

    /// One run, bounded to a few small transactions.
    pub fn apply(&self, store: &Store, now_micros: u64) -> Result<Pruned, StoreError> {
        let mut result = Pruned::default();
        for _ in 0..CHUNKS_PER_RUN {
            let mut victims = Vec::new();
            if self.max_age_days > 0 {
                let cutoff =
                    now_micros.saturating_sub(u64::from(self.max_age_days) * 86_400_000_000);
                victims = store.expired_ids(cutoff, CHUNK)?;
            }
            if victims.is_empty() && self.max_messages_per_channel > 0 {
                victims = store.over_cap_ids(self.max_messages_per_channel, CHUNK)?;
            }
            if victims.is_empty() {
                return Ok(result);
            }
            result.deleted += store.delete_lines(&victims)?;
        }
        result.more = true;
        Ok(result)
    }
}

impl Store {
    /// Ids of kept lines older than `cutoff` (not waiting for delivery), oldest first.
    fn expired_ids(&self, cutoff_micros: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        use redb::ReadableDatabase;
        let txn = self.db.begin_read()?;
        let messages = txn.open_table(MESSAGES)?;
        let deferred = txn.open_table(DEFERRED)?;
        let mut ids = Vec::new();
        for entry in messages.iter()? {
            let (id, value) = entry?;
            let record = records::decode(id.value(), value.value())?;
            if record.unix_micros >= cutoff_micros {
                break;
            }
            if let Destination::Private { to_key, .. } = &record.destination {
                if deferred.get((to_key.as_str(), record.id))?.is_some() {
                    continue;
                }
            }
            ids.push(record.id);
            if ids.len() >= limit {
                break;
            }
        }
        Ok(ids)
    }

    /// Ids of the oldest lines of channels holding more than `cap` lines.
    fn over_cap_ids(&self, cap: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        use redb::ReadableDatabase;
        let txn = self.db.begin_read()?;
        let lines = txn.open_table(CHANNEL_LINES)?;
        let mut ids = Vec::new();
        let mut channel: Option<String> = None;
        let mut of_channel: Vec<u64> = Vec::new();
        let flush = |of_channel: &mut Vec<u64>, ids: &mut Vec<u64>| {
            let excess = (of_channel.len() as u64).saturating_sub(cap) as usize;
            ids.extend(of_channel.drain(..).take(excess));
        };
        for entry in lines.iter()? {
            let (key, _) = entry?;
            let (name, id) = key.value();
            if channel.as_deref() != Some(name) {
                flush(&mut of_channel, &mut ids);
                if ids.len() >= limit {
                    break;
                }
                channel = Some(name.to_owned());
            }
            of_channel.push(id);
        }
        flush(&mut of_channel, &mut ids);
        ids.truncate(limit);
        Ok(ids)
    }

    /// Deletes kept lines and their index rows, in one transaction.
    fn delete_lines(&self, ids: &[u64]) -> Result<u64, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut deleted = 0;
        {
            let mut messages = txn.open_table(MESSAGES)?;
            let mut channel_lines = txn.open_table(CHANNEL_LINES)?;
            let mut conversation_lines = txn.open_table(CONVERSATION_LINES)?;
            for &id in ids {
                let Some(value) = messages.remove(id)? else {
                    continue;
                };
                let record = records::decode(id, value.value())?;
                drop(value);
                match &record.destination {
                    Destination::Channel { key, .. } => {
                        channel_lines.remove((key.as_str(), id))?;
                    }
                    Destination::Private {
                        conversation: Some(key),
                        ..
                    } => {
                        conversation_lines.remove((key.as_str(), id))?;
                    }
                    Destination::Private { .. } => {}
                }
                deleted += 1;
            }
        }
        txn.commit()?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use classcord_core::hub::{ChatRecord, SenderKind, StoreRequest};

    fn record(id: u64, channel: &str, day: u64) -> ChatRecord {
        ChatRecord {
            id,
            unix_micros: day * 86_400_000_000,
            timestamp: String::new(),
            from: "a".into(),
            from_key: "a".into(),
            kind: SenderKind::Guest,
            destination: Destination::Channel {
                key: channel.into(),
                display: channel.into(),
            },
            content: "x".into(),
        }
    }

    #[test]
    fn old_lines_go_deferred_ones_stay_and_channels_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
        let mut writes: Vec<StoreRequest> = (1..=10)
            .map(|id| StoreRequest::Keep(record(id, "#a", id)))
            .collect();
        let mut waiting = record(11, "", 1);
        waiting.destination = Destination::Private {
            to: "bob".into(),
            to_key: "bob".into(),
            conversation: None,
        };
        writes.push(StoreRequest::Defer(waiting));
        writes.extend((12..=20).map(|id| StoreRequest::Keep(record(id, "#b", 100))));
        store.commit(&writes, None, true).unwrap();

        // Day 104 with a 100-day limit: lines of days 1..=3 are older than day 4.
        let by_age = Retention {
            max_age_days: 100,
            max_messages_per_channel: 0,
        };
        let pruned = by_age.apply(&store, 104 * 86_400_000_000).unwrap();
        assert_eq!(pruned.deleted, 3);
        assert_eq!(
            store.deferred_for("bob").unwrap().len(),
            1,
            "kept until delivered"
        );

        let by_count = Retention {
            max_age_days: 0,
            max_messages_per_channel: 4,
        };
        let pruned = by_count.apply(&store, 0).unwrap();
        assert_eq!(pruned.deleted, 3 + 5, "#a keeps 4 of 7, #b keeps 4 of 9");
        assert_eq!(store.message_counts().unwrap(), (9, 1));
        assert_eq!(by_count.apply(&store, 0).unwrap().deleted, 0, "stable");
    }
}
