//! Account checks for the hub: password verification and registration, run on blocking threads
//! (argon2id costs tens of milliseconds and ~19 MiB each), at most N at once.

use std::sync::Arc;

use classcord_core::hub::AuthOutcome;
use classcord_core::message::Secret;
use smol::lock::Semaphore;

use crate::store::{PasswordHasher, RegisterError, Store};

/// Verifies and registers accounts off the executor.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<Store>,
    hasher: PasswordHasher,
    permits: Arc<Semaphore>,
}

impl Accounts {
    pub fn new(store: Arc<Store>, hasher: PasswordHasher, max_concurrent_hashes: usize) -> Self {
        Accounts {
            store,
            hasher,
            permits: Arc::new(Semaphore::new(max_concurrent_hashes.max(1))),
        }
    }

    /// Checks a login; an unknown user costs the same hash time as a known one.
    pub async fn login(&self, username: String, password: Secret) -> AuthOutcome {
        let _permit = self.permits.acquire().await;
        let store = self.store.clone();
        let hasher = self.hasher.clone();
        smol::unblock(move || match store.find_user(&username) {
            Ok(Some(record)) => match hasher.verify(password.expose(), &record.password_hash) {
                Ok(true) => AuthOutcome::LoggedIn { name: record.name },
                Ok(false) => AuthOutcome::LoginFailed,
                Err(error) => {
                    log::error!("[ERREUR] hachage illisible pour le compte {username:?} : {error}");
                    AuthOutcome::Unavailable
                }
            },
            Ok(None) => {
                hasher.verify_dummy(password.expose());
                AuthOutcome::LoginFailed
            }
            Err(error) => {
                log::error!("[ERREUR] base de données (connexion de {username:?}) : {error}");
                AuthOutcome::Unavailable
            }
        })
        .await
    }

    /// Hashes and durably stores a new account; the outcome is known only after the commit.
    pub async fn register(
        &self,
        username: String,
        password: Secret,
        created_unix: u64,
    ) -> AuthOutcome {
        let store = self.store.clone();
        let name = username.clone();
        // Cheap refusal first: no hash for a name that is already taken.
        match smol::unblock(move || store.find_user(&name)).await {
            Ok(Some(_)) => return AuthOutcome::RegisterTaken,
            Ok(None) => {}
            Err(error) => {
                log::error!("[ERREUR] base de données (inscription de {username:?}) : {error}");
                return AuthOutcome::Unavailable;
            }
        }
        // The permit covers the hash only: the durable commit (an fsync) must not idle a core
        // another hash could use.
        let permit = self.permits.acquire().await;
        let hasher = self.hasher.clone();
        let hashed = smol::unblock(move || hasher.hash(password.expose())).await;
        drop(permit);
        let hash = match hashed {
            Ok(hash) => hash,
            Err(error) => {
                log::error!("[ERREUR] hachage du mot de passe impossible : {error}");
                return AuthOutcome::Unavailable;
            }
        };
        let store = self.store.clone();
        smol::unblock(move || {
            match store.register_user(&username, &hash, created_unix) {
                Ok(()) => AuthOutcome::Registered { name: username },
                Err(RegisterError::AlreadyExists) => AuthOutcome::RegisterTaken,
                Err(RegisterError::Store(error)) => {
                    log::error!("[ERREUR] base de données (inscription de {username:?}) : {error}");
                    AuthOutcome::Unavailable
                }
            }
        })
        .await
    }
}
