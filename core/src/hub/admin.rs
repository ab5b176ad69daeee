//! Administration: what the operator's console asks of the hub (the hub stays the one owner of
//! chat state: an admin request is a hub command like a line). Each request gets an
//! [`AdminReply`]; what clients see goes out as ordinary notices (`notices.rs`). Addresses, bans
//! by address and persistence of bans belong to the shell; the hub enforces name bans at login
//! and at guest naming.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::notices::{fill, NoticeTo};
use super::{
    Channel, CloseReason, Effect, Event, Hub, HubConfig, Identity, Now, Output, SessionId,
    StoreRequest,
};
use crate::frame::JsonLine;
use crate::message::{fold_name, ChannelName, Feature};

/// One admin request.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminCommand {
    /// Every connection.
    Who,
    /// Every channel.
    Channels,
    /// Closes every session of a name, with a notice.
    Kick {
        name: String,
        reason: Option<String>,
    },
    /// Closes these sessions (the shell's address bans), with the kick or ban notice.
    KickSessions {
        sessions: Vec<SessionId>,
        reason: Option<String>,
        banned: bool,
    },
    /// The folded names that may not log in or be taken by a guest (replaces the set).
    SetBannedNames {
        names: Vec<String>,
    },
    /// A notice to everyone.
    Alert {
        text: String,
    },
    /// A private notice to every session of a name.
    Say {
        name: String,
        text: String,
    },
    Channel {
        action: ChannelAction,
        name: String,
    },
    /// New settings (reload): texts, limits, history, deferred bounds.
    Reconfigure(alloc::boxed::Box<HubConfig>),
    /// A notice that the server stops in `delay` (text from `[notices] shutdown_soon`).
    ShutdownSoon {
        delay: String,
        reason: Option<String>,
    },
    /// An account the operator created outside the chat (guests may no longer take its name;
    /// private lines to it wait for its first login).
    AccountCreated {
        name: String,
    },
    /// An account the operator deleted: forgotten with its saved channels and waiting lines
    /// (the store forgets them too). Its open sessions are not closed here (kick them first).
    AccountDeleted {
        name: String,
    },
    /// The chat lines of a name (account or guest) are refused until `until_micros`; its
    /// sessions are told when `notify` (not when the shell restores mutes at start-up).
    Mute {
        name: String,
        until_micros: u64,
        reason: Option<String>,
        notify: bool,
    },
    /// Lifts a mute (the operator's `unmute`, or its end); its sessions are told when `notify`.
    Unmute {
        name: String,
        notify: bool,
    },
    /// Slow mode in a channel: one chat line per `seconds` per person; 0 lifts it.
    Slow {
        channel: String,
        seconds: u32,
    },
    /// The shell deleted a kept line from the store: the clients that announced `deleted` and
    /// may show it remove it (`deferred`: it was still waiting for an absent account).
    MessageDeleted {
        id: u64,
        from_key: String,
        destination: super::Destination,
        deferred: bool,
    },
}

/// The longest slow mode, in seconds (one hour: past that, close the channel).
pub const MAX_SLOW_SECS: u32 = 3600;

/// Connections by kind and channels, counted without building the `who` list (metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    pub anonymous: usize,
    pub guests: usize,
    pub accounts: usize,
    pub channels: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelAction {
    /// Creates a channel kept even when empty.
    Create,
    Close,
    Open,
    /// Removes a channel: members leave it (with a notice), saved memberships are forgotten.
    Delete,
}

/// What a connection is, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session: SessionId,
    /// `None` while anonymous.
    pub name: Option<String>,
    pub kind: SessionKind,
    pub presence: &'static str,
    pub channels: Vec<String>,
    pub connected_micros: u64,
    /// Chat lines relayed from it.
    pub messages: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Anonymous,
    Guest,
    Account,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: String,
    /// Connections in it (anonymous ones included).
    pub members: usize,
    pub closed: bool,
    /// Created by an administrator: kept when empty.
    pub permanent: bool,
    /// Slow mode: seconds between two lines of one person (0: none).
    pub slow_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminReply {
    Sessions(Vec<SessionInfo>),
    Channels(Vec<ChannelInfo>),
    /// Done; this many sessions were concerned.
    Done {
        affected: usize,
    },
    /// Not done: the French reason.
    Refused(String),
}

impl Hub {
    /// Carries out an admin request.
    pub fn admin(&mut self, command: AdminCommand, now: &Now, out: &mut Output) -> AdminReply {
        match command {
            AdminCommand::Who => AdminReply::Sessions(self.session_infos()),
            AdminCommand::Channels => AdminReply::Channels(self.channel_infos()),
            AdminCommand::Kick { name, reason } => {
                let Some(group) = self.names.get(fold_name(&name).as_str()) else {
                    return AdminReply::Refused(format!(
                        "Personne n'est connecté sous le nom « {name} »."
                    ));
                };
                let sessions = group.sessions.clone();
                let affected = self.kick(&sessions, reason.as_deref(), false, false, now, out);
                AdminReply::Done { affected }
            }
            AdminCommand::KickSessions {
                sessions,
                reason,
                banned,
            } => {
                let affected = self.kick(&sessions, reason.as_deref(), banned, false, now, out);
                AdminReply::Done { affected }
            }
            AdminCommand::SetBannedNames { names } => {
                self.banned = names.iter().map(|name| fold_name(name)).collect();
                AdminReply::Done { affected: 0 }
            }
            AdminCommand::Alert { text } => AdminReply::Done {
                affected: self.announce(&text, now, out),
            },
            AdminCommand::Say { name, text } => {
                let Some(group) = self.names.get(fold_name(&name).as_str()) else {
                    return AdminReply::Refused(format!(
                        "Personne n'est connecté sous le nom « {name} »."
                    ));
                };
                let sessions = group.sessions.clone();
                for &session in &sessions {
                    self.notice(NoticeTo::Session(session), &text, now, out);
                }
                AdminReply::Done {
                    affected: sessions.len(),
                }
            }
            AdminCommand::Channel { action, name } => self.channel_admin(action, &name, now, out),
            AdminCommand::Reconfigure(config) => {
                self.config = *config;
                AdminReply::Done { affected: 0 }
            }
            AdminCommand::ShutdownSoon { delay, reason } => {
                let text = fill(
                    &self.config.notices.shutdown_soon,
                    "",
                    "",
                    reason.as_deref(),
                    &delay,
                );
                AdminReply::Done {
                    affected: self.announce(&text, now, out),
                }
            }
            AdminCommand::AccountCreated { name } => {
                self.accounts.insert(fold_name(&name), name);
                AdminReply::Done { affected: 0 }
            }
            AdminCommand::AccountDeleted { name } => {
                let key = fold_name(&name);
                if self.accounts.remove(&key).is_none() {
                    return AdminReply::Refused(format!("Aucun compte « {name} »."));
                }
                self.memberships.remove(&key);
                self.deferred_to.remove(&key);
                AdminReply::Done { affected: 0 }
            }
            AdminCommand::Mute {
                name,
                until_micros,
                reason,
                notify,
            } => AdminReply::Done {
                affected: self.mute(&name, until_micros, reason.as_deref(), notify, now, out),
            },
            AdminCommand::Unmute { name, notify } => match self.unmute(&name, notify, now, out) {
                Some(affected) => AdminReply::Done { affected },
                None => AdminReply::Refused(format!("« {name} » n'est pas réduit au silence.")),
            },
            AdminCommand::Slow { channel, seconds } => self.slow_admin(&channel, seconds, now, out),
            AdminCommand::MessageDeleted {
                id,
                from_key,
                destination,
                deferred,
            } => AdminReply::Done {
                affected: self.message_deleted(id, &from_key, &destination, deferred, out),
            },
        }
    }

    /// `slow`: the checks and refusals; `moderation.rs` does the rest.
    fn slow_admin(&mut self, name: &str, seconds: u32, now: &Now, out: &mut Output) -> AdminReply {
        let channel = match ChannelName::parse(name) {
            Ok(channel) => channel,
            Err(error) => return AdminReply::Refused(format!("{error}")),
        };
        if seconds > MAX_SLOW_SECS {
            return AdminReply::Refused(format!(
                "Mode lent de {seconds} s refusé : {MAX_SLOW_SECS} s au plus (pour couper la \
                 parole à tout un salon, fermez-le : channel close)."
            ));
        }
        let exists = self.channels.contains_key(&channel.key);
        if seconds == 0 && self.slow_secs(&channel.key) == 0 {
            return AdminReply::Refused(format!(
                "Le mode lent n'est pas actif dans {}.",
                self.channel_display(&channel)
            ));
        }
        if !exists && self.channels.len() >= super::MAX_CHANNELS {
            return AdminReply::Refused(format!(
                "Le serveur a déjà {} salons : {} ne peut pas être créé.",
                super::MAX_CHANNELS,
                channel.display
            ));
        }
        AdminReply::Done {
            affected: self.set_slow_mode(&channel, seconds, now, out),
        }
    }

    /// Connections by kind and channels (cheap: no list is built).
    pub fn census(&self) -> Census {
        let mut census = Census {
            channels: self.channels.len(),
            ..Census::default()
        };
        for state in self.sessions.values() {
            match state.identity {
                Identity::Anonymous => census.anonymous += 1,
                Identity::Guest(_) => census.guests += 1,
                Identity::User(_) => census.accounts += 1,
            }
        }
        census
    }

    /// For each session: its held lines, a `kick` line if it announced the extension, the notice
    /// (always the last line), then the close. A session waiting for its login/register reply (or
    /// refused at login: `reply_slot`) gets the text as an error line alone: that is its reply.
    fn kick(
        &mut self,
        sessions: &[SessionId],
        reason: Option<&str>,
        banned: bool,
        reply_slot: bool,
        now: &Now,
        out: &mut Output,
    ) -> usize {
        let template = if banned {
            self.config.notices.banned.clone()
        } else {
            self.config.notices.kicked.clone()
        };
        let text = fill(&template, "", "", reason, "");
        let mut affected = 0;
        for &session in sessions {
            let Some(state) = self.sessions.get_mut(&session) else {
                continue;
            };
            if state.closing {
                continue;
            }
            state.closing = true;
            affected += 1;
            if self.cancel_wait(session) || reply_slot {
                self.send_error(session, &text, out);
            } else {
                // Held lines first, and the notice last: it is what the client shows.
                self.release_all(session, out);
                if self.has_feature(session, Feature::Kick) {
                    let mut line = JsonLine::new("kick");
                    line.push_str("message", &text);
                    self.send_direct(session, line.finish(), out);
                }
                self.notice(NoticeTo::Session(session), &text, now, out);
            }
            out.effects.push(Effect::Close {
                session,
                reason: CloseReason::Kick,
            });
            out.log(Event::Kicked { session, banned });
        }
        affected
    }

    /// Whether a (folded) name is banned.
    pub(super) fn is_banned(&self, key: &str) -> bool {
        self.banned.contains(key)
    }

    /// Refuses a banned session: the ban notice, then the close.
    pub(super) fn refuse_banned(&mut self, session: SessionId, now: &Now, out: &mut Output) {
        self.kick(&[session], None, true, true, now, out);
    }

    fn session_infos(&self) -> Vec<SessionInfo> {
        self.sessions
            .iter()
            .map(|(&session, state)| {
                let (name, kind) = match &state.identity {
                    Identity::Anonymous => (None, SessionKind::Anonymous),
                    Identity::Guest(name) => {
                        (Some(String::from(&*name.display)), SessionKind::Guest)
                    }
                    Identity::User(name) => {
                        (Some(String::from(&*name.display)), SessionKind::Account)
                    }
                };
                SessionInfo {
                    session,
                    name,
                    kind,
                    presence: state.presence.as_str(),
                    channels: state
                        .channels
                        .iter()
                        .filter_map(|key| self.channels.get(key).map(|c| c.display.clone()))
                        .collect(),
                    connected_micros: state.connected_micros,
                    messages: state.messages,
                }
            })
            .collect()
    }

    fn channel_infos(&self) -> Vec<ChannelInfo> {
        self.channels
            .values()
            .map(|channel| ChannelInfo {
                name: channel.display.clone(),
                members: channel.members.len(),
                closed: channel.closed,
                permanent: channel.permanent,
                slow_secs: channel.slow.as_ref().map_or(0, |slow| slow.secs),
            })
            .collect()
    }

    fn channel_admin(
        &mut self,
        action: ChannelAction,
        name: &str,
        now: &Now,
        out: &mut Output,
    ) -> AdminReply {
        let channel = match ChannelName::parse(name) {
            Ok(channel) => channel,
            Err(error) => return AdminReply::Refused(format!("{error}")),
        };
        if channel.is_default() {
            return AdminReply::Refused(format!(
                "{} est le salon de tous : il ne peut être ni fermé ni supprimé.",
                channel.display
            ));
        }
        let exists = self.channels.contains_key(&channel.key);
        match action {
            ChannelAction::Create => {
                if exists {
                    return AdminReply::Refused(format!(
                        "Le salon {} existe déjà.",
                        channel.display
                    ));
                }
                let mut created = Channel::new(channel.display.clone(), false);
                created.permanent = true;
                self.channels.insert(channel.key.clone(), created);
                out.effects
                    .push(Effect::Store(StoreRequest::ChannelCreated {
                        key: channel.key,
                        display: channel.display,
                        created: true,
                    }));
                AdminReply::Done { affected: 0 }
            }
            ChannelAction::Close | ChannelAction::Open => {
                let closing = action == ChannelAction::Close;
                let already = self.channels.get(&channel.key).map(|c| c.closed);
                if !closing && already != Some(true) {
                    return AdminReply::Refused(format!(
                        "Le salon {} n'est pas fermé.",
                        channel.display
                    ));
                }
                if closing && already == Some(true) {
                    return AdminReply::Refused(format!(
                        "Le salon {} est déjà fermé.",
                        channel.display
                    ));
                }
                let members = self
                    .channels
                    .get(&channel.key)
                    .map_or(0, |c| c.members.len());
                self.set_channel_closed(&channel, closing, now, out);
                AdminReply::Done { affected: members }
            }
            ChannelAction::Delete => {
                let Some(found) = self.channels.get(&channel.key) else {
                    return AdminReply::Refused(format!("Salon inconnu : {}.", channel.display));
                };
                let display = found.display.clone();
                let members: Vec<SessionId> = found.members.iter().copied().collect();
                let text = fill(&self.config.notices.channel_deleted, "", &display, None, "");
                let to = NoticeTo::Channel {
                    key: &channel.key,
                    except: None,
                };
                self.notice(to, &text, now, out);
                for &session in &members {
                    if let Some(state) = self.sessions.get_mut(&session) {
                        state.channels.retain(|key| key != &channel.key);
                    }
                    self.invalidate_routes(session);
                }
                self.channels.remove(&channel.key);
                self.forget_channel_memberships(&channel.key, &display, out);
                out.effects.push(Effect::Store(StoreRequest::ChannelClosed {
                    key: channel.key.clone(),
                    display: display.clone(),
                    closed: false,
                }));
                out.effects
                    .push(Effect::Store(StoreRequest::ChannelCreated {
                        key: channel.key.clone(),
                        display: display.clone(),
                        created: false,
                    }));
                out.effects.push(Effect::Store(StoreRequest::SlowMode {
                    key: channel.key.clone(),
                    display: display.clone(),
                    secs: 0,
                }));
                out.log(Event::ChannelDeleted { channel: display });
                AdminReply::Done {
                    affected: members.len(),
                }
            }
        }
    }

    /// No account rejoins a deleted channel at its next login.
    fn forget_channel_memberships(&mut self, key: &str, display: &str, out: &mut Output) {
        let accounts: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, channels)| channels.contains_key(key))
            .map(|(account, _)| account.clone())
            .collect();
        for account in accounts {
            if let Some(channels) = self.memberships.get_mut(&account) {
                channels.remove(key);
                if channels.is_empty() {
                    self.memberships.remove(&account);
                }
            }
            out.effects.push(Effect::Store(StoreRequest::Membership {
                account,
                channel_key: String::from(key),
                channel_display: String::from(display),
                joined: false,
            }));
        }
    }
}
