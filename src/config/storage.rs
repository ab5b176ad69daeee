//! `[storage]`: how the store thread commits and what it keeps (retention).

use super::*;

/// `[storage]`: how the store thread commits and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub commit_interval: std::time::Duration,
    pub commit_max_messages: usize,
    pub queue_capacity: usize,
    pub retention: Retention,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub(super) cache_mib: Option<usize>,
    pub(super) keep_history: Option<bool>,
    pub(super) commit_interval_ms: Option<u64>,
    pub(super) commit_max_messages: Option<usize>,
    pub(super) queue_capacity: Option<usize>,
    pub(super) max_age_days: Option<u32>,
    pub(super) max_messages_per_channel: Option<u64>,
    pub(super) deferred_per_recipient: Option<u32>,
    pub(super) deferred_per_sender: Option<u32>,
}

pub(super) fn storage_config(raw: &RawStorage) -> Result<StorageConfig, ConfigError> {
    let interval = raw.commit_interval_ms.unwrap_or(50);
    check_range("storage.commit_interval_ms", interval as usize, 1, 10_000)?;
    let commit_max_messages = raw.commit_max_messages.unwrap_or(1000);
    check_range(
        "storage.commit_max_messages",
        commit_max_messages,
        1,
        1_000_000,
    )?;
    let queue_capacity = raw.queue_capacity.unwrap_or(50_000);
    check_range("storage.queue_capacity", queue_capacity, 100, 10_000_000)?;
    let max_age_days = raw.max_age_days.unwrap_or(365);
    check_range("storage.max_age_days", max_age_days as usize, 0, 36_500)?;
    let max_messages_per_channel = raw.max_messages_per_channel.unwrap_or(100_000);
    check_range(
        "storage.max_messages_per_channel",
        usize::try_from(max_messages_per_channel).unwrap_or(usize::MAX),
        0,
        1_000_000_000,
    )?;
    Ok(StorageConfig {
        commit_interval: std::time::Duration::from_millis(interval),
        commit_max_messages,
        queue_capacity,
        retention: Retention {
            max_age_days,
            max_messages_per_channel,
        },
    })
}
