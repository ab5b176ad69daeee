//! The operator's bans in memory: parsed targets (a name, an address or a CIDR network),
//! durations, expiry. The hub task owns the list (`net::hub_task::admin`); the store keeps it
//! (`store::bans`); the access guard enforces addresses at accept, the hub names at login.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use classcord_core::message::fold_name;

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

/// `30s`, `10m`, `10min`, `2h`, `1j`/`1d`, or a bare number of seconds; `None` if not a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim().to_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secondes" | "seconde" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "heure" | "heures" => 3600,
        "j" | "d" | "jour" | "jours" => 86_400,
        _ => return None,
    };
    let total = number.checked_mul(seconds)?;
    (total > 0 && total <= 10 * 365 * 86_400).then(|| Duration::from_secs(total))
}

/// A duration in French words: `45 s`, `10 min`, `2 h 30 min`, `3 j`.
pub fn describe_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut parts = Vec::new();
    for (value, unit) in [(days, "j"), (hours, "h"), (minutes, "min"), (seconds, "s")] {
        if value > 0 {
            parts.push(format!("{value} {unit}"));
        }
    }
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
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
    fn durations_in_french_units() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10min"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1j"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("trop"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(describe_duration(Duration::from_secs(9000)), "2 h 30 min");
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
