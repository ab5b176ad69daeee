//! Channels (docs/PROTOCOL.md §5): joining (creating), leaving, closing, the notices members get,
//! and the bounds on how many channels exist and how many one connection joins.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;

use super::notices::{fill, ChannelMoves, NoticeTo};
use super::{Channel, Effect, Event, Hub, Identity, Now, Output, SessionId, StoreRequest};
use crate::frame::JsonLine;
use crate::message::{ChannelName, Presence, DEFAULT_CHANNEL};

/// Why a channel could not be joined or left.
pub(super) enum MembershipError {
    Closed,
    LeavingDefault,
    TooManyForSession,
    TooManyChannels,
}

impl MembershipError {
    /// The French text sent to the client.
    pub(super) fn text(&self, channel: &str) -> String {
        match self {
            MembershipError::Closed => format!("Le salon {channel} est fermé."),
            MembershipError::LeavingDefault => {
                format!("Impossible de quitter {channel} : c'est le salon de tous.")
            }
            MembershipError::TooManyForSession => format!(
                "Impossible de rejoindre {channel} : {MAX_CHANNELS_PER_SESSION} salons au maximum par connexion."
            ),
            MembershipError::TooManyChannels => format!(
                "Impossible de créer {channel} : le serveur a déjà {MAX_CHANNELS} salons."
            ),
        }
    }
}

/// Channels one connection may be a member of (the default one included).
pub const MAX_CHANNELS_PER_SESSION: usize = 32;

/// Channels that may exist at once (memory bound against a client creating channels in a loop).
pub const MAX_CHANNELS: usize = 1000;

impl Hub {
    /// Closes or reopens a channel (admin). Members stay; messages to a closed channel get a
    /// notice. Returns false when the channel does not exist (closing creates it, to reserve it).
    pub fn set_channel_closed(
        &mut self,
        channel: &ChannelName,
        closed: bool,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        if channel.is_default() {
            return false;
        }
        if !closed && !self.channels.contains_key(&channel.key) {
            return false;
        }
        let entry = self
            .channels
            .entry(channel.key.clone())
            .or_insert_with(|| Channel::new(channel.display.clone(), closed));
        entry.closed = closed;
        let display = entry.display.clone();
        out.effects.push(Effect::Store(StoreRequest::ChannelClosed {
            key: channel.key.clone(),
            display: display.clone(),
            closed,
        }));
        // Reopened and empty: it goes, unless kept for another reason.
        let empty = entry.members.is_empty() && !entry.permanent && entry.slow.is_none();
        let texts = &self.config.notices;
        let template = if closed {
            &texts.channel_closed
        } else {
            &texts.channel_reopened
        };
        let text = fill(template, "", &display, None, "");
        let to = NoticeTo::Channel {
            key: &channel.key,
            except: None,
        };
        self.notice(to, &text, now, out);
        if !closed && empty {
            self.channels.remove(&channel.key);
        }
        true
    }

    /// Remembers an account's membership (it rejoins at its next login); the store keeps it too.
    fn save_membership(
        &mut self,
        account: String,
        key: String,
        display: String,
        joined: bool,
        out: &mut Output,
    ) {
        if key == DEFAULT_CHANNEL {
            return;
        }
        let saved = self.memberships.entry(account.clone()).or_default();
        let changed = if joined {
            saved.insert(key.clone(), display.clone()).is_none()
        } else {
            saved.remove(&key).is_some()
        };
        if saved.is_empty() {
            self.memberships.remove(&account);
        }
        if changed {
            out.effects.push(Effect::Store(StoreRequest::Membership {
                account,
                channel_key: key,
                channel_display: display,
                joined,
            }));
        }
    }

    /// After a login: the account's saved channels are joined again (closed ones are skipped).
    pub(super) fn rejoin_saved_channels(
        &mut self,
        session: SessionId,
        account: &str,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(saved) = self.memberships.get(account) else {
            return;
        };
        let names: alloc::vec::Vec<String> = saved.values().cloned().collect();
        for display in names {
            if let Ok(channel) = ChannelName::parse(&display) {
                let _ = self.join(session, &channel, now, out);
            }
        }
    }

    /// Joins (creating the channel if needed) or leaves a channel, and tells the client if that
    /// fails. Returns whether the membership is as asked afterwards.
    pub(super) fn change_membership(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        joining: bool,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        let changed = if joining {
            self.join(session, channel, now, out)
        } else {
            self.leave(session, channel, now, out)
        };
        match changed {
            Ok(()) => true,
            Err(error) => {
                let text = error.text(&self.channel_display(channel));
                self.send_error(session, &text, out);
                false
            }
        }
    }

    pub(super) fn join(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        now: &Now,
        out: &mut Output,
    ) -> Result<(), MembershipError> {
        if !self.channels.contains_key(&channel.key) && self.channels.len() >= MAX_CHANNELS {
            return Err(MembershipError::TooManyChannels);
        }
        if let Some(state) = self.sessions.get(&session) {
            if state.channels.len() >= MAX_CHANNELS_PER_SESSION
                && !state.channels.contains(&channel.key)
            {
                return Err(MembershipError::TooManyForSession);
            }
        }
        let entry = self
            .channels
            .entry(channel.key.clone())
            .or_insert_with(|| Channel::new(channel.display.clone(), false));
        if entry.closed {
            return Err(MembershipError::Closed);
        }
        if !entry.members.insert(session) {
            return Ok(());
        }
        entry.routes = None;
        let display = entry.display.clone();
        let Some(state) = self.sessions.get_mut(&session) else {
            return Ok(());
        };
        state.channels.push(channel.key.clone());
        if let Some(account) = state.account_key() {
            self.save_membership(account, channel.key.clone(), display.clone(), true, out);
        }
        let Some(state) = self.sessions.get(&session) else {
            return Ok(());
        };
        if state.name().is_some() {
            out.log(Event::ChannelJoined {
                session,
                channel: display,
            });
            self.announce_move(&channel.key, session, true, now, out);
        }
        Ok(())
    }

    pub(super) fn leave(
        &mut self,
        session: SessionId,
        channel: &ChannelName,
        now: &Now,
        out: &mut Output,
    ) -> Result<(), MembershipError> {
        if channel.is_default() {
            return Err(MembershipError::LeavingDefault);
        }
        let Some(state) = self.sessions.get_mut(&session) else {
            return Ok(());
        };
        let before = state.channels.len();
        state.channels.retain(|key| key != &channel.key);
        if state.channels.len() == before {
            return Ok(());
        }
        let name = state.name().map(|name| name.display.clone());
        let account = state.account_key();
        let display = self.channel_display(channel);
        self.remove_member(&channel.key, session);
        if let Some(account) = account {
            self.save_membership(account, channel.key.clone(), display.clone(), false, out);
        }
        if name.is_some() {
            out.log(Event::ChannelLeft {
                session,
                channel: display,
            });
            self.announce_move(&channel.key, session, false, now, out);
        }
        Ok(())
    }

    pub(super) fn remove_member(&mut self, key: &str, session: SessionId) {
        let Some(channel) = self.channels.get_mut(key) else {
            return;
        };
        channel.members.remove(&session);
        channel.routes = None;
        if channel.members.is_empty()
            && !channel.closed
            && !channel.permanent
            && channel.slow.is_none()
            && key != DEFAULT_CHANNEL
        {
            self.channels.remove(key);
        }
    }

    pub(super) fn membership_reply(
        &mut self,
        session: SessionId,
        kind: &str,
        channel: &ChannelName,
        out: &mut Output,
    ) {
        let mut reply = JsonLine::new(kind);
        reply
            .push_str("channel", &self.channel_display(channel))
            .push_str("status", "ok");
        self.send_direct(session, reply.finish(), out);
    }

    pub(super) fn channel_display(&self, channel: &ChannelName) -> String {
        self.channels
            .get(&channel.key)
            .map_or_else(|| channel.display.clone(), |found| found.display.clone())
    }

    /// Tells a channel's other members that `session` arrived or left (never in the default
    /// channel: everybody is there, presence lines already tell), as `[notices]` says.
    fn announce_move(
        &mut self,
        key: &str,
        session: SessionId,
        joined: bool,
        now: &Now,
        out: &mut Output,
    ) {
        if key == DEFAULT_CHANNEL {
            return;
        }
        let Some(state) = self.sessions.get(&session) else {
            return;
        };
        let (name, account) = match &state.identity {
            Identity::Anonymous => return,
            Identity::Guest(name) => (name.display.clone(), false),
            Identity::User(name) => (name.display.clone(), true),
        };
        let texts = &self.config.notices;
        let announced = match texts.channel_moves {
            ChannelMoves::All => true,
            ChannelMoves::AccountsOnly => account,
            ChannelMoves::Off => false,
        };
        let Some(display) = self.channels.get(key).map(|c| c.display.clone()) else {
            return;
        };
        if !announced {
            return;
        }
        let template = if joined { &texts.joined } else { &texts.left };
        let text = fill(template, &name, &display, None, "");
        let to = NoticeTo::Channel {
            key,
            except: Some(session),
        };
        self.notice(to, &text, now, out);
    }

    pub(super) fn visible_names_in(&self, channel: &Channel) -> u64 {
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for member in &channel.members {
            if let Some(state) = self.sessions.get(member) {
                if let Some(name) = state.name() {
                    if state.presence != Presence::Invisible {
                        keys.insert(&name.key);
                    }
                }
            }
        }
        keys.len() as u64
    }
}
