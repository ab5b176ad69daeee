//! `register` and `login`: validation, the password check the shell performs, and the reply-first
//! rule. While a check runs, the session's later lines wait (bounded) and frames for it are held,
//! so its reply is the very next line it receives (PROTOCOL.md §2, sync-readers).

use alloc::format;
use alloc::string::String;

use super::{nfc, AuthOutcome, Effect, Event, Hub, Now, Output, PendingAuth, SessionId};
use crate::frame::JsonLine;
use crate::message::{check_name, fold_name, NameProblem, Secret, MAX_PASSWORD_BYTES};

/// Exact error texts clients depend on (PROTOCOL.md §3).
pub const USERNAME_TAKEN: &str = "Username already exists.";

pub const LOGIN_FAILED: &str = "Login failed.";

/// Lines a session may send while its login/register is checked; more are dropped (and the
/// client told so after the reply), so a flood during a check cannot grow the hub's memory.
pub const MAX_LINES_WHILE_CHECKING: usize = 256;

impl Hub {
    /// The outcome of a password check or a registration.
    pub fn auth_result(
        &mut self,
        session: SessionId,
        outcome: AuthOutcome,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(pending) = self
            .sessions
            .get_mut(&session)
            .and_then(|state| state.auth.take())
        else {
            return;
        };
        self.invalidate_routes(session);
        match outcome {
            AuthOutcome::Registered { name } => {
                let mut reply = JsonLine::new("register");
                reply.push_str("status", "ok");
                self.send_direct(session, reply.finish(), out);
                self.accounts.insert(fold_name(&name));
                out.log(Event::Registered { session, name });
            }
            AuthOutcome::RegisterTaken => {
                self.send_error(session, USERNAME_TAKEN, out);
                out.log(Event::RegisterRefused {
                    session,
                    username: pending.username,
                    reason: "exists",
                });
            }
            AuthOutcome::LoggedIn { name } => {
                let mut reply = JsonLine::new("login");
                reply.push_str("status", "ok").push_str("username", &name);
                self.send_direct(session, reply.finish(), out);
                self.accounts.insert(fold_name(&name));
                self.become_user(session, &name, out);
                out.log(Event::LoggedIn {
                    session,
                    name: name.clone(),
                });
                self.welcome(session, &name, now, out);
            }
            AuthOutcome::LoginFailed => {
                self.send_error(session, LOGIN_FAILED, out);
                out.log(Event::LoginFailed {
                    session,
                    username: pending.username,
                });
            }
            AuthOutcome::Unavailable => {
                self.send_error(
                    session,
                    "Service momentanément indisponible, réessayez.",
                    out,
                );
            }
        }
        for frame in pending.held {
            self.send_frame(session, frame, out);
        }
        if pending.dropped > 0 {
            let text = format!(
                "{} ligne(s) ignorée(s) : envoyées pendant la vérification du mot de passe.",
                pending.dropped
            );
            self.send_error(session, &text, out);
            out.log(Event::Rejected {
                session,
                reason: "flood-during-check",
            });
        }
        let mut queued = pending.queued;
        while let Some(inbound) = queued.pop_front() {
            match self
                .sessions
                .get_mut(&session)
                .and_then(|state| state.auth.as_mut())
            {
                Some(again) => {
                    again.queued.push_back(inbound);
                    again.queued.extend(queued.drain(..));
                }
                None => self.process(session, inbound, now, out),
            }
        }
    }

    pub(super) fn register(
        &mut self,
        session: SessionId,
        username: String,
        password: Secret,
        out: &mut Output,
    ) {
        let username: String = nfc(&username);
        let refusal = match check_name(&username) {
            // Reserved names behave as taken accounts: guest-retry flows match "already exists".
            Err(NameProblem::Reserved) => Some((String::from(USERNAME_TAKEN), "reserved")),
            Err(problem) => Some((
                format!("Nom d'utilisateur invalide : {problem}."),
                "invalid-name",
            )),
            Ok(()) if password.expose().is_empty() => Some((
                String::from("Mot de passe vide : choisissez un mot de passe."),
                "empty-password",
            )),
            Ok(()) if password.expose().len() > MAX_PASSWORD_BYTES => Some((
                format!("Mot de passe trop long ({MAX_PASSWORD_BYTES} octets maximum)."),
                "password-too-long",
            )),
            Ok(()) => None,
        };
        if let Some((text, reason)) = refusal {
            self.send_error(session, &text, out);
            out.log(Event::RegisterRefused {
                session,
                username,
                reason,
            });
            return;
        }
        self.start_auth(session, &username);
        out.effects.push(Effect::Register {
            session,
            username,
            password,
        });
    }

    pub(super) fn login(
        &mut self,
        session: SessionId,
        username: String,
        password: Secret,
        out: &mut Output,
    ) {
        let username = nfc(&username);
        if check_name(&username).is_err() || password.expose().len() > MAX_PASSWORD_BYTES {
            self.send_error(session, LOGIN_FAILED, out);
            out.log(Event::LoginFailed { session, username });
            return;
        }
        self.start_auth(session, &username);
        out.effects.push(Effect::VerifyLogin {
            session,
            username,
            password,
        });
    }

    pub(super) fn start_auth(&mut self, session: SessionId, username: &str) {
        if let Some(state) = self.sessions.get_mut(&session) {
            state.auth = Some(PendingAuth {
                username: String::from(username),
                ..PendingAuth::default()
            });
        }
        self.invalidate_routes(session);
    }
}
