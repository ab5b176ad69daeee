//! Who a session is: anonymous, a guest or an account. Guest naming (docs/PROTOCOL.md §2.2), logins
//! switching names, and name groups: several sessions may share a name; `online` is announced for
//! a name's first session and `offline` after its last.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::notices::{fill, NoticeTo};
use super::presence::status_frame;
use super::{CloseReason, Event, Hub, Identity, Name, NameGroup, Now, Output, SessionId};
use crate::message::{fold_name, guest_name, Presence, DEFAULT_CHANNEL, REPLACED_CHAR};

impl Hub {
    /// Makes an anonymous session a guest (docs/PROTOCOL.md §2.2) and welcomes it. Returns whether
    /// it was anonymous.
    pub(super) fn ensure_identified(
        &mut self,
        session: SessionId,
        requested: Option<&str>,
        now: &Now,
        out: &mut Output,
    ) -> bool {
        match self.name_guest(session, requested, out) {
            Some(name) => {
                self.welcome(session, &name, now, out);
                let replaced = name.contains(REPLACED_CHAR)
                    && !requested.is_some_and(|asked| asked.contains(REPLACED_CHAR));
                if replaced {
                    let text = format!(
                        "Votre nom contenait des caractères invisibles ou de contrôle : ils ont \
                         été remplacés par « {REPLACED_CHAR} ». Vous apparaissez sous le nom « {name} »."
                    );
                    self.notice(NoticeTo::Session(session), &text, now, out);
                }
                true
            }
            None => false,
        }
    }

    /// Makes an anonymous session a guest and announces it; returns the guest's name, or `None`
    /// when the session was already identified.
    pub(super) fn name_guest(
        &mut self,
        session: SessionId,
        requested: Option<&str>,
        out: &mut Output,
    ) -> Option<String> {
        let state = self.sessions.get_mut(&session)?;
        if !matches!(state.identity, Identity::Anonymous) {
            return None;
        }
        let mut display = guest_name(requested);
        let mut key = fold_name(&display);
        if self.banned.contains(&key) {
            let text = fill(&self.config.notices.banned, "", "", None, "");
            let event = Event::Kicked {
                session,
                banned: true,
            };
            self.close_with_error(session, &text, CloseReason::Kick, event, out);
            return None;
        }
        if self.accounts.contains_key(&key) {
            // A registered name belongs to its account: a guest asking for it is marked, so it
            // can neither pose as the owner nor receive the owner's private messages.
            display = format!("{display} (invité)");
            key = fold_name(&display);
        }
        state.identity = Identity::Guest(Name::new(&display, key));
        self.invalidate_routes(session);
        self.join_name_group(session, out);
        out.log(Event::GuestNamed {
            session,
            name: display.clone(),
        });
        Some(display)
    }

    pub(super) fn become_user(&mut self, session: SessionId, account: &str, out: &mut Output) {
        let key = fold_name(account);
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        let previous = core::mem::replace(
            &mut state.identity,
            Identity::User(Name::new(account, key.clone())),
        );
        self.invalidate_routes(session);
        let Some(state) = self.sessions.get_mut(&session) else {
            return;
        };
        match previous {
            Identity::Guest(old) | Identity::User(old) if *old.key == *key => {
                // Same name again: membership in the name group is unchanged.
            }
            Identity::Guest(old) | Identity::User(old) => {
                state.presence = Presence::Online;
                self.leave_name_group(session, &old, out);
                self.join_name_group(session, out);
            }
            Identity::Anonymous => {
                state.presence = Presence::Online;
                self.join_name_group(session, out);
            }
        }
    }

    /// Adds an identified session to its name group; the first session of a name is announced.
    pub(super) fn join_name_group(&mut self, session: SessionId, out: &mut Output) {
        let Some(name) = self
            .sessions
            .get(&session)
            .and_then(|state| state.name())
            .cloned()
        else {
            return;
        };
        let group = self
            .names
            .entry(name.key.clone())
            .or_insert_with(|| NameGroup {
                display: name.display.clone(),
                // Most names have one session: room for one, not the default four.
                sessions: Vec::with_capacity(1),
            });
        group.sessions.push(session);
        if group.sessions.len() == 1 {
            let frame = status_frame(&name.display, "online");
            self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
        }
    }

    /// Removes a session from a name group; `offline` goes out when the name's last session leaves.
    pub(super) fn leave_name_group(&mut self, session: SessionId, name: &Name, out: &mut Output) {
        let Some(group) = self.names.get_mut(&name.key) else {
            return;
        };
        group.sessions.retain(|&member| member != session);
        if group.sessions.is_empty() {
            let display = group.display.clone();
            self.names.remove(&name.key);
            let frame = status_frame(&display, "offline");
            self.send_to_channel(&frame, DEFAULT_CHANNEL, Some(session), out);
        }
    }

    pub(super) fn identified_sessions(
        &self,
        except: Option<SessionId>,
    ) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions
            .iter()
            .filter(move |(id, state)| Some(**id) != except && state.name().is_some())
            .map(|(id, _)| *id)
    }

    pub(super) fn own_key(&self, session: SessionId) -> Option<String> {
        self.sessions
            .get(&session)
            .and_then(|state| state.name())
            .map(|name| String::from(&*name.key))
    }

    pub(super) fn group_visible(&self, group: &NameGroup) -> bool {
        group.sessions.iter().any(|member| {
            self.sessions
                .get(member)
                .is_some_and(|state| state.presence != Presence::Invisible)
        })
    }
}
