//! Bans set by the operator (`classcord admin ban`), kept across restarts in the `bans` table:
//! key [`BanRecord::key`] (`name:<folded name>` or `ip:<network>`), value a JSON record. Written
//! durably before the console is told the ban is in place.

use serde::{Deserialize, Serialize};

use super::schema::BANS;
use super::{Store, StoreError};

/// What a ban is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BanKind {
    /// An account or guest name (checked at login and at guest naming).
    Name,
    /// An address or a network, written as CIDR (checked at accept).
    Address,
}

/// One ban as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub kind: BanKind,
    /// As the operator wrote it (a name), or the network in CIDR form.
    pub target: String,
    pub created_unix: u64,
    /// When it ends; `None`: until `unban`.
    pub until_unix: Option<u64>,
    pub reason: Option<String>,
}

impl BanRecord {
    /// The table key: one ban per name (any letter case) or network.
    pub fn key(&self) -> String {
        match self.kind {
            BanKind::Name => format!("name:{}", super::user_key(&self.target)),
            BanKind::Address => format!("ip:{}", self.target),
        }
    }
}

impl Store {
    /// Adds or replaces a ban, durably.
    pub fn put_ban(&self, ban: &BanRecord) -> Result<(), StoreError> {
        self.put_json(BANS, &ban.key(), ban)
    }

    /// Removes the bans with these keys, durably; returns how many existed.
    pub fn remove_bans(&self, keys: &[String]) -> Result<usize, StoreError> {
        self.remove_json(BANS, keys)
    }

    /// Every ban, in key order.
    pub fn bans(&self) -> Result<Vec<BanRecord>, StoreError> {
        self.all_json(BANS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_survive_a_reopen_and_are_keyed_by_folded_name_or_network() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path, 1 << 20).unwrap();
        let name = BanRecord {
            kind: BanKind::Name,
            target: "Mallory".into(),
            created_unix: 10,
            until_unix: None,
            reason: Some("spam".into()),
        };
        let network = BanRecord {
            kind: BanKind::Address,
            target: "10.1.0.0/16".into(),
            created_unix: 11,
            until_unix: Some(99),
            reason: None,
        };
        store.put_ban(&name).unwrap();
        store.put_ban(&network).unwrap();
        let again = BanRecord {
            target: "MALLORY".into(),
            ..name.clone()
        };
        store.put_ban(&again).unwrap();
        drop(store);
        let store = Store::open(&path, 1 << 20).unwrap();
        assert_eq!(store.bans().unwrap(), [network.clone(), again]);
        assert_eq!(
            store
                .remove_bans(&["name:mallory".into(), "name:nobody".into()])
                .unwrap(),
            1
        );
        assert_eq!(store.bans().unwrap(), [network]);
    }
}
