//! Moderation a class needs (docs/PROTOCOL.md §4.8): a name whose chat lines are refused for a
//! while (`mute`), a channel where each person may write once per N seconds (slow mode), and the
//! live removal of a deleted line from the screens of the clients that announced `deleted`.
//!
//! The shell owns what outlives the hub: it keeps mutes in the store and hands them back at
//! start (`AdminCommand::Mute`), and deletes kept lines before telling the hub
//! (`AdminCommand::MessageDeleted`). Slow mode is kept with the channel (`StoreRequest::SlowMode`),
//! like a closed channel: it survives a restart. Both checks cost one branch while nothing is set.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::notices::{fill, NoticeTo};
use super::{Destination, Effect, Event, Frame, Hub, Name, Now, Output, SessionId, StoreRequest};
use crate::frame::JsonLine;
use crate::message::{fold_name, ChannelName, Feature};

/// A name whose chat lines are refused until `until_micros`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mute {
    until_micros: u64,
}

/// Slow mode in one channel: one line per `secs` per person (by folded name, so a second
/// connection does not double the pace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SlowMode {
    pub(super) secs: u32,
    /// When each person's last line was relayed (µs).
    last: BTreeMap<String, u64>,
}

impl SlowMode {
    pub(super) fn new(secs: u32) -> SlowMode {
        SlowMode {
            secs,
            last: BTreeMap::new(),
        }
    }

    /// Records a line from `key` at `now`, or returns the µs left to wait.
    fn admit(&mut self, key: &str, now_micros: u64) -> Result<(), u64> {
        let pace = u64::from(self.secs) * 1_000_000;
        if let Some(&last) = self.last.get(key) {
            let next = last.saturating_add(pace);
            if now_micros < next {
                return Err(next - now_micros);
            }
        }
        self.last.insert(String::from(key), now_micros);
        Ok(())
    }
}

/// Why a chat line was refused by moderation (the log line and the protocol trace say it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// The sender's name is muted.
    Muted,
    /// Too soon after its last line in a slow channel.
    SlowMode { channel: String },
}

/// `570` -> `9 min 30 s`: a duration as the notices and the console write it.
pub fn describe_secs(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "j"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "min"),
        (secs % 60, "s"),
    ];
    let mut out = String::new();
    for (value, unit) in parts {
        if value > 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{value} {unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0 s");
    }
    out
}

/// Whole seconds, rounded up (a wait of 0.2 s is "1 s", never "0 s").
fn secs_up(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

impl Hub {
    /// Mutes `name` until `until_micros`; its sessions are told when `notify` (not at start-up).
    /// Returns how many sessions were told.
    pub(super) fn mute(
        &mut self,
        name: &str,
        until_micros: u64,
        reason: Option<&str>,
        notify: bool,
        now: &Now,
        out: &mut Output,
    ) -> usize {
        let key = fold_name(name);
        self.muted.insert(key.clone(), Mute { until_micros });
        if !notify {
            return 0;
        }
        let left = describe_secs(secs_up(until_micros.saturating_sub(now.unix_micros)));
        let text = fill(
            "L'administrateur vous a retiré la parole pour {delai} : vos messages ne seront pas \
             transmis.{raison}",
            "",
            "",
            reason,
            &left,
        );
        self.tell_name(&key, &text, now, out)
    }

    /// Lifts a mute; its sessions are told when `notify`. `None`: the name was not muted.
    pub(super) fn unmute(
        &mut self,
        name: &str,
        notify: bool,
        now: &Now,
        out: &mut Output,
    ) -> Option<usize> {
        let key = fold_name(name);
        self.muted.remove(&key)?;
        if !notify {
            return Some(0);
        }
        let text = "Vous pouvez de nouveau envoyer des messages.";
        Some(self.tell_name(&key, text, now, out))
    }

    /// A private notice to every session of a (folded) name; returns how many.
    fn tell_name(&mut self, key: &str, text: &str, now: &Now, out: &mut Output) -> usize {
        let sessions = self
            .names
            .get(key)
            .map(|group| group.sessions.clone())
            .unwrap_or_default();
        for &session in &sessions {
            self.notice(NoticeTo::Session(session), text, now, out);
        }
        sessions.len()
    }

    /// Refuses a chat line from a muted name (with its notice); false when it may go on.
    pub(super) fn refused_as_muted(
        &mut self,
        session: SessionId,
        sender: &Name,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        let Some(mute) = self.muted.get(&*sender.key) else {
            return false;
        };
        if mute.until_micros <= now.unix_micros {
            return false;
        }
        let left = describe_secs(secs_up(mute.until_micros - now.unix_micros));
        let text = format!(
            "Message non envoyé : l'administrateur vous a retiré la parole (encore {left})."
        );
        self.notice(NoticeTo::Session(session), &text, now, out);
        out.log(Event::Moderated {
            session,
            name: String::from(&*sender.display),
            rule: Moderation::Muted,
        });
        true
    }

    /// In a slow channel, refuses a line sent too soon (with its notice); false when it may go
    /// on (and then it counts as the sender's last line there).
    pub(super) fn refused_as_too_soon(
        &mut self,
        session: SessionId,
        sender: &Name,
        key: &str,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        let Some(channel) = self.channels.get_mut(key) else {
            return false;
        };
        let Some(slow) = channel.slow.as_deref_mut() else {
            return false;
        };
        let Err(wait) = slow.admit(&sender.key, now.unix_micros) else {
            return false;
        };
        let display = channel.display.clone();
        let text = format!(
            "Message non envoyé : mode lent dans {display}, un message toutes les {} par \
             personne. Réessayez dans {}.",
            describe_secs(u64::from(slow.secs)),
            describe_secs(secs_up(wait))
        );
        self.notice(NoticeTo::Session(session), &text, now, out);
        out.log(Event::Moderated {
            session,
            name: String::from(&*sender.display),
            rule: Moderation::SlowMode { channel: display },
        });
        true
    }

    /// Sets (or with 0 lifts) slow mode in a channel (`admin.rs` checked the request), tells its
    /// members, and keeps it with the channel in the store. A channel in slow mode is kept when
    /// empty. Returns how many members were told.
    pub(super) fn set_slow_mode(
        &mut self,
        channel: &ChannelName,
        secs: u32,
        now: &Now,
        out: &mut Output,
    ) -> usize {
        let entry = self
            .channels
            .entry(channel.key.clone())
            .or_insert_with(|| super::Channel::new(channel.display.clone(), false));
        entry.slow = (secs > 0).then(|| alloc::boxed::Box::new(SlowMode::new(secs)));
        let display = entry.display.clone();
        let empty = entry.members.is_empty();
        let kept = entry.closed || entry.permanent || channel.is_default();
        out.effects.push(Effect::Store(StoreRequest::SlowMode {
            key: channel.key.clone(),
            display: display.clone(),
            secs,
        }));
        let text = if secs > 0 {
            format!(
                "Mode lent dans {display} : un message toutes les {} par personne.",
                describe_secs(u64::from(secs))
            )
        } else {
            format!("Fin du mode lent dans {display}.")
        };
        let to = NoticeTo::Channel {
            key: &channel.key,
            except: None,
        };
        let told = self.notice(to, &text, now, out);
        if secs == 0 && empty && !kept {
            self.channels.remove(&channel.key);
        }
        told
    }

    /// The slow mode of a channel, in seconds (0: none).
    pub(super) fn slow_secs(&self, key: &str) -> u32 {
        self.channels
            .get(key)
            .and_then(|channel| channel.slow.as_ref())
            .map_or(0, |slow| slow.secs)
    }

    /// A kept line was deleted by the operator: the sessions that announced `deleted` and may
    /// have it on screen (the channel's members, or both ends of a private line) get
    /// `{"type":"deleted","id":N}`. A line still waiting for an absent account no longer counts
    /// against the deferred bounds. Returns how many sessions were told.
    pub(super) fn message_deleted(
        &mut self,
        id: u64,
        from_key: &str,
        destination: &Destination,
        deferred: bool,
        out: &mut Output,
    ) -> usize {
        let mut targets: Vec<SessionId> = Vec::new();
        match destination {
            Destination::Channel { key, .. } => {
                if let Some(channel) = self.channels.get(key) {
                    targets.extend(channel.members.iter().copied());
                }
            }
            Destination::Private { to_key, .. } => {
                for key in [to_key.as_str(), from_key] {
                    if let Some(group) = self.names.get(key) {
                        targets.extend(group.sessions.iter().copied());
                    }
                }
                targets.sort();
                targets.dedup();
                if deferred {
                    uncount(&mut self.deferred_to, to_key);
                    uncount(&mut self.deferred_from, from_key);
                }
            }
        }
        targets.retain(|&session| self.has_feature(session, Feature::Deleted));
        if targets.is_empty() {
            return 0;
        }
        let mut line = JsonLine::new("deleted");
        line.push_u64("id", id);
        let frame: Frame = Arc::from(line.finish());
        self.send_many(&frame, targets, out)
    }

    /// Forgets slow-mode senders whose pause is over (the shell's periodic tick).
    pub(super) fn prune_slow_modes(&mut self, now: &Now) {
        for channel in self.channels.values_mut() {
            if let Some(slow) = channel.slow.as_deref_mut() {
                let pace = u64::from(slow.secs) * 1_000_000;
                slow.last
                    .retain(|_, last| last.saturating_add(pace) > now.unix_micros);
            }
        }
    }
}

fn uncount(counts: &mut BTreeMap<String, u32>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}
