//! The dashboard's sign-in, checked like a chat `login`: the same accounts and argon2id hashes,
//! the same hashing threads, and the same attempt limits (`security::attempts`, owned by the hub
//! task: failures count per account and verdicts per address, whichever door was used), so a
//! guesser gains nothing by trying the dashboard instead of the chat port. Only then is the
//! account's operator grant looked at.

use std::net::IpAddr;
use std::time::Duration;

use classcord_core::hub::AuthOutcome;
use classcord_core::message::{fold_name, Secret};
use unicode_normalization::UnicodeNormalization;

use super::desk::{unavailable, Desk};
use super::hub::HubAsk;

/// The refusal of a wrong name or password (the same whether the account exists or not).
pub const WRONG_PASSWORD: &str = "Nom ou mot de passe incorrect.";

/// How a sign-in ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The right password of an operator: the name as registered.
    Operator(String),
    /// The right password of an account that is not an operator.
    NotOperator(String),
    /// Refused by the attempt limits before any check (locked account, judged address): the
    /// French reason.
    Limited(String),
    /// Refused: the French reason (wrong name or password, database unavailable).
    Refused(String),
}

impl Desk {
    /// Checks `name` and `password` from `ip`.
    pub async fn sign_in(&self, ip: IpAddr, name: &str, password: String) -> SignIn {
        let name: String = name.trim().nfc().collect();
        if name.is_empty() || password.is_empty() {
            return SignIn::Refused("Écrivez le nom du compte et son mot de passe.".into());
        }
        let account = fold_name(&name);
        let attempt = HubAsk::SignInAttempt {
            ip,
            account: account.clone(),
        };
        let wait = match self.hub.ask(attempt).await {
            Ok(answer) => answer.data["wait_ms"].as_u64().unwrap_or(0),
            Err(refusal) => return SignIn::Limited(refusal),
        };
        if wait > 0 {
            smol::Timer::after(Duration::from_millis(wait)).await;
        }
        let outcome = self
            .accounts
            .login(name.clone(), Secret::new(password))
            .await;
        let failed = matches!(outcome, AuthOutcome::LoginFailed);
        let done = HubAsk::SignInDone {
            ip,
            account,
            name,
            failed,
        };
        // The hub counts it; if the server is stopping, the sign-in no longer matters.
        let _ = self.hub.ask(done).await;
        match outcome {
            AuthOutcome::LoggedIn { name } if self.is_operator(&name) => SignIn::Operator(name),
            AuthOutcome::LoggedIn { name } => SignIn::NotOperator(name),
            AuthOutcome::LoginFailed => SignIn::Refused(WRONG_PASSWORD.into()),
            _ => SignIn::Refused(unavailable()),
        }
    }
}
