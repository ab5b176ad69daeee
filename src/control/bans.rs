//! The operator's bans in memory: parsed targets (a name, an address or a CIDR network), the
//! record a `ban` request makes, expiry. The hub task owns the list (`net::hub_task::admin`); the
//! store keeps it (`store::bans`); the access guard enforces addresses at accept, the hub names at
//! login.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use classcord_core::message::fold_name;

use super::duration::BanLength;
use crate::security::{BannedNet, Cidr};
use crate::store::bans::{BanKind, BanRecord};

/// What a ban target is.
pub fn parse_target(text: &str) -> Result<(BanKind, String), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "Indiquez qui bannir : un nom, une adresse IP ou un réseau (10.0.0.0/24).".into(),
        );
    }
    let looks_like_address = text.contains('/')
        || text.parse::<IpAddr>().is_ok()
        || text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':');
    if looks_like_address && (text.contains('.') || text.contains(':')) {
        let net = Cidr::parse(text)?;
        // A single address is shown (and keyed) bare: `10.0.0.5`, not `10.0.0.5/32`.
        let shown = net.to_string();
        let single = shown
            .strip_suffix("/32")
            .filter(|address| !address.contains(':'))
            .or_else(|| shown.strip_suffix("/128"));
        return Ok((BanKind::Address, single.unwrap_or(&shown).to_owned()));
    }
    if text.chars().count() > 64 || text.chars().any(char::is_control) {
        return Err(format!("Nom invalide : « {text} »."));
    }
    Ok((BanKind::Name, text.to_owned()))
}

/// The record a `ban` request makes, starting at `now_unix`.
pub fn ban_record(
    target: &str,
    length: BanLength,
    reason: Option<String>,
    now_unix: u64,
) -> Result<BanRecord, String> {
    let (kind, target) = parse_target(target)?;
    Ok(BanRecord {
        kind,
        target,
        created_unix: now_unix,
        until_unix: match length {
            BanLength::Permanent => None,
            BanLength::For(span) => Some(now_unix + span.secs()),
        },
        reason,
    })
}

/// How many addresses a ban target covers when it is a network wider than one address
/// (`10.0.0.0/8`: 16 777 216); `None` for a name or a single address.
pub fn network_size(target: &str) -> Option<u128> {
    let (BanKind::Address, canonical) = parse_target(target).ok()? else {
        return None;
    };
    let (address, prefix) = canonical.split_once('/')?;
    let bits: u32 = if address.contains(':') { 128 } else { 32 };
    let host_bits = bits.checked_sub(prefix.parse().ok()?)?;
    (host_bits > 0).then(|| 1u128.checked_shl(host_bits).unwrap_or(u128::MAX))
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Every ban in force.
#[derive(Debug, Default, Clone)]
pub struct BanList {
    bans: Vec<BanRecord>,
}

impl BanList {
    /// The stored bans, minus those already expired (returned apart, to be deleted).
    pub fn new(stored: Vec<BanRecord>, now_unix: u64) -> (BanList, Vec<BanRecord>) {
        let (bans, expired) = stored
            .into_iter()
            .partition(|ban| ban.until_unix.is_none_or(|until| until > now_unix));
        (BanList { bans }, expired)
    }

    pub fn all(&self) -> &[BanRecord] {
        &self.bans
    }

    /// Adds a ban, replacing one on the same name or network; returns the one replaced.
    pub fn add(&mut self, ban: BanRecord) -> Option<BanRecord> {
        let key = ban.key();
        let old = self
            .bans
            .iter()
            .position(|b| b.key() == key)
            .map(|at| self.bans.remove(at));
        self.bans.push(ban);
        old
    }

    /// Removes the ban on this name, address or network.
    pub fn remove(&mut self, target: &str) -> Option<BanRecord> {
        let (kind, target) = parse_target(target).ok()?;
        let key = match kind {
            BanKind::Name => format!("name:{}", fold_name(&target)),
            BanKind::Address => format!("ip:{target}"),
        };
        let at = self.bans.iter().position(|b| b.key() == key)?;
        Some(self.bans.remove(at))
    }

    /// Removes and returns the bans whose time is over.
    pub fn expire(&mut self, now_unix: u64) -> Vec<BanRecord> {
        let (kept, expired) = std::mem::take(&mut self.bans)
            .into_iter()
            .partition(|ban| ban.until_unix.is_none_or(|until| until > now_unix));
        self.bans = kept;
        expired
    }

    /// The banned names (for the hub).
    pub fn names(&self) -> Vec<String> {
        self.bans
            .iter()
            .filter(|ban| ban.kind == BanKind::Name)
            .map(|ban| ban.target.clone())
            .collect()
    }

    /// The banned networks (for the access guard), with their end as an `Instant`.
    pub fn networks(&self, now_unix: u64, now: Instant) -> Vec<BannedNet> {
        self.bans
            .iter()
            .filter(|ban| ban.kind == BanKind::Address)
            .filter_map(|ban| {
                let net = Cidr::parse(&ban.target).ok()?;
                // A date too far to count in `Instant`s is as good as permanent.
                let until = ban.until_unix.and_then(|until| {
                    now.checked_add(Duration::from_secs(until.saturating_sub(now_unix)))
                });
                Some(BannedNet { net, until })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_addresses_networks_or_names() {
        assert_eq!(
            parse_target("10.0.0.5").unwrap(),
            (BanKind::Address, "10.0.0.5".into())
        );
        assert_eq!(
            parse_target("10.1.2.3/16").unwrap(),
            (BanKind::Address, "10.1.0.0/16".into())
        );
        assert_eq!(
            parse_target("fd00::1").unwrap(),
            (BanKind::Address, "fd00::1".into())
        );
        assert_eq!(
            parse_target("Mallory").unwrap(),
            (BanKind::Name, "Mallory".into())
        );
        assert_eq!(parse_target("cafe").unwrap().0, BanKind::Name);
        assert_eq!(
            parse_target("::ffff:10.0.0.9").unwrap(),
            (BanKind::Address, "10.0.0.9".into())
        );
        assert!(parse_target("10.0.0.0/40").is_err());
        assert!(parse_target(" ").is_err());
    }

    #[test]
    fn only_networks_wider_than_one_address_have_a_size() {
        assert_eq!(network_size("10.0.0.0/8"), Some(1 << 24));
        assert_eq!(network_size("10.1.2.3/31"), Some(2));
        assert_eq!(network_size("10.0.0.5"), None);
        assert_eq!(network_size("10.0.0.5/32"), None);
        assert_eq!(network_size("fd00::/64"), Some(1 << 64));
        assert_eq!(network_size("::/0"), Some(u128::MAX));
        assert_eq!(network_size("alice"), None);
    }

    #[test]
    fn expired_bans_leave_the_list() {
        let ban = |target: &str, until| BanRecord {
            kind: parse_target(target).unwrap().0,
            target: parse_target(target).unwrap().1,
            created_unix: 1,
            until_unix: until,
            reason: None,
        };
        let (mut list, expired) = BanList::new(
            vec![
                ban("alice", None),
                ban("10.0.0.1", Some(50)),
                ban("bob", Some(200)),
            ],
            100,
        );
        assert_eq!(expired.len(), 1);
        assert_eq!(list.names(), ["alice", "bob"]);
        assert!(list.add(ban("ALICE", Some(300))).is_some());
        assert_eq!(list.expire(250).len(), 1);
        assert!(list.remove("alice").is_some());
        assert!(list.all().is_empty());
    }
}
