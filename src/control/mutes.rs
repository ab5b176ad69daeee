//! The operator's mutes in memory (`mute NAME DURATION [raison]`): the record a request makes,
//! the list in force, expiry. The hub task owns the list (`net::hub_task::admin`), the store
//! keeps it (`store::moderation`), the hub refuses the chat lines (`core` `moderation.rs`).

use classcord_core::message::fold_name;

use super::duration::Span;
use crate::store::moderation::MuteRecord;

/// The record a `mute` request makes, starting at `now_unix`.
pub fn mute_record(
    name: &str,
    duration: Span,
    reason: Option<String>,
    now_unix: u64,
) -> Result<MuteRecord, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Indiquez à qui retirer la parole : un nom de compte ou d'invité.".into());
    }
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(format!("Nom invalide : « {name} »."));
    }
    Ok(MuteRecord {
        name: name.to_owned(),
        created_unix: now_unix,
        until_unix: now_unix + duration.secs(),
        reason,
    })
}

/// Every mute in force.
#[derive(Debug, Default, Clone)]
pub struct MuteList {
    mutes: Vec<MuteRecord>,
}

impl MuteList {
    /// The stored mutes, minus those already over (returned apart, to be deleted).
    pub fn new(stored: Vec<MuteRecord>, now_unix: u64) -> (MuteList, Vec<MuteRecord>) {
        let (mutes, over) = stored
            .into_iter()
            .partition(|mute| mute.until_unix > now_unix);
        (MuteList { mutes }, over)
    }

    pub fn all(&self) -> &[MuteRecord] {
        &self.mutes
    }

    /// Adds a mute, replacing one on the same name; returns the one replaced.
    pub fn add(&mut self, mute: MuteRecord) -> Option<MuteRecord> {
        let old = self.remove(&mute.name);
        self.mutes.push(mute);
        old
    }

    /// Removes the mute on this name (any letter case).
    pub fn remove(&mut self, name: &str) -> Option<MuteRecord> {
        let key = fold_name(name.trim());
        let at = self.mutes.iter().position(|m| m.key() == key)?;
        Some(self.mutes.remove(at))
    }

    /// Removes and returns the mutes whose time is over.
    pub fn expire(&mut self, now_unix: u64) -> Vec<MuteRecord> {
        let (kept, over) = std::mem::take(&mut self.mutes)
            .into_iter()
            .partition(|mute| mute.until_unix > now_unix);
        self.mutes = kept;
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutes_are_per_name_and_expire() {
        let ten = Span::from_secs(600).unwrap();
        let (mut list, over) = MuteList::new(
            vec![
                mute_record("alice", ten, None, 0).unwrap(),
                mute_record("bob", ten, None, 1000).unwrap(),
            ],
            700,
        );
        assert_eq!(over.len(), 1);
        assert!(list
            .add(mute_record("BOB", ten, None, 1100).unwrap())
            .is_some());
        assert_eq!(list.all().len(), 1);
        assert_eq!(list.expire(1699).len(), 0);
        assert_eq!(list.expire(1700).len(), 1);
        assert!(list.remove("bob").is_none());
        assert!(mute_record(" ", ten, None, 0).is_err());
    }
}
