//! `register` and `login`: validation, the password check the shell performs, and the reply-first
//! rule. While a check runs, the session's later lines wait (bounded) and frames for it are held,
//! so its reply is the very next line it receives (docs/PROTOCOL.md §2.3, sync-readers).

use alloc::format;
use alloc::string::String;

use super::output::reasons;
use super::waiting::{Waiting, WaitingFor};
use super::{nfc, AuthOutcome, Effect, Event, Hub, Now, Output, SessionId, StoreRequest};
use crate::frame::JsonLine;
use crate::message::{
    check_name, check_password, fold_name, NameProblem, PasswordProblem, Secret, MAX_PASSWORD_BYTES,
};

/// Exact error texts clients depend on (docs/PROTOCOL.md §4.5).
pub const USERNAME_TAKEN: &str = "Username already exists.";

pub const LOGIN_FAILED: &str = "Login failed.";

impl Hub {
    /// The outcome of a password check or a registration.
    pub fn auth_result(
        &mut self,
        session: SessionId,
        outcome: AuthOutcome,
        now: &Now,
        out: &mut Output,
    ) {
        let Some(mut waiting) =
            self.take_waiting(session, |reason| matches!(reason, WaitingFor::Auth { .. }))
        else {
            return;
        };
        let WaitingFor::Auth { username } =
            core::mem::replace(&mut waiting.reason, WaitingFor::History)
        else {
            return;
        };
        match outcome {
            AuthOutcome::Registered { name } => {
                let mut reply = JsonLine::new("register");
                reply.push_str("status", "ok");
                self.send_direct(session, reply.finish(), out);
                self.accounts.insert(fold_name(&name), name.clone());
                out.log(Event::Registered { session, name });
            }
            AuthOutcome::RegisterTaken => {
                self.send_error(session, USERNAME_TAKEN, out);
                out.log(Event::RegisterRefused {
                    session,
                    username,
                    reason: reasons::EXISTS,
                });
            }
            AuthOutcome::LoggedIn { name } if self.is_banned(&fold_name(&name)) => {
                // The login reply slot carries the refusal; then the connection closes.
                self.refuse_banned(session, now, out);
            }
            AuthOutcome::LoggedIn { name } => {
                let mut reply = JsonLine::new("login");
                reply.push_str("status", "ok").push_str("username", &name);
                self.send_direct(session, reply.finish(), out);
                // Everything after the reply waits until the client listens (`hold.rs`).
                self.start_hold(session, now, out);
                let key = fold_name(&name);
                self.accounts.insert(key.clone(), name.clone());
                self.become_user(session, &name, out);
                out.log(Event::LoggedIn {
                    session,
                    name: name.clone(),
                });
                self.rejoin_saved_channels(session, &key, now, out);
                if self.deferred_to.get(&key).is_some_and(|&count| count > 0)
                    && self.deferred_loading.insert(key.clone())
                {
                    // The deferred lines come right after the reply: keep holding until loaded.
                    waiting.reason = WaitingFor::Deferred { name };
                    self.start_waiting(session, waiting);
                    out.effects.push(Effect::Store(StoreRequest::LoadDeferred {
                        session,
                        account: key,
                    }));
                    return;
                }
                self.welcome(session, &name, now, out);
            }
            AuthOutcome::LoginFailed => {
                self.send_error(session, LOGIN_FAILED, out);
                out.log(Event::LoginFailed { session, username });
            }
            AuthOutcome::Refused { text } => self.send_error(session, &text, out),
            AuthOutcome::Unavailable => {
                self.send_error(
                    session,
                    "Service momentanément indisponible, réessayez.",
                    out,
                );
            }
        }
        self.resume(session, waiting, now, out);
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
            Err(NameProblem::Reserved) => Some((String::from(USERNAME_TAKEN), reasons::RESERVED)),
            Err(problem) => Some((
                format!("Nom d'utilisateur invalide : {problem}."),
                reasons::INVALID_NAME,
            )),
            Ok(()) => password_refusal(password.expose(), self.config.min_password_chars),
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
        let reason = WaitingFor::Auth {
            username: String::from(username),
        };
        self.start_waiting(session, Waiting::new(reason));
    }
}

/// The error text and log reason refusing a new account's password, if it is refused (the
/// same rule as the operator's `user add`: `check_password`).
fn password_refusal(password: &str, min_chars: usize) -> Option<(String, &'static str)> {
    match check_password(password, min_chars) {
        Ok(()) => None,
        Err(PasswordProblem::Empty) => Some((
            String::from("Mot de passe vide : choisissez un mot de passe."),
            reasons::EMPTY_PASSWORD,
        )),
        Err(PasswordProblem::TooShort { min }) => Some((
            format!("Mot de passe trop court : {min} caractères au moins."),
            reasons::PASSWORD_TOO_SHORT,
        )),
        Err(PasswordProblem::TooLong) => Some((
            format!("Mot de passe trop long ({MAX_PASSWORD_BYTES} octets maximum)."),
            reasons::PASSWORD_TOO_LONG,
        )),
    }
}
