//! The account commands carried out by the running server: the store thread writes (the
//! server holds the database), the hub learns at once (a new account's name is protected, a
//! deleted account's sessions are closed). Passwords are hashed here, off the executor, with the
//! server's own parameters, and never logged.

use classcord_core::message::{check_name, NameProblem};
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use super::bans::now_unix;
use super::context::AdminContext;
use super::dispatch::unavailable;
use crate::net::hub_task::admin::{AdminAsk, AdminResult, Answer};
use crate::store::import::password_problem;

impl AdminContext {
    pub(super) async fn user_list(&self) -> AdminResult {
        let path = self.database.clone();
        let listed = self
            .store
            .run(move |store| {
                let txn = store.snapshot()?;
                Ok(crate::store::user_admin::list_users(&txn, &path))
            })
            .await;
        let users = match listed {
            Ok(Ok(Ok(users))) => users,
            Ok(Ok(Err(error))) => return Err(error.to_string()),
            _ => return Err(unavailable()),
        };
        let mut lines = Vec::new();
        let mut data = Vec::new();
        for user in &users {
            let created = super::report::local_minute(user.created_unix);
            lines.push(format!("  {}  (créé le {created})", user.name));
            data.push(json!({"name": user.name, "created_unix": user.created_unix}));
        }
        lines.push(format!("{} compte(s)", users.len()));
        Ok(Answer {
            text: lines.join("\n"),
            data: Value::Array(data),
        })
    }

    async fn hash(&self, password: String) -> Result<String, String> {
        if let Some(problem) = password_problem(&password) {
            return Err(format!("{problem} : rien n'a été changé."));
        }
        let hasher = self.hasher.clone();
        smol::unblock(move || hasher.hash(&password))
            .await
            .map_err(|error| format!("Hachage impossible : {error}."))
    }

    pub(super) async fn user_add(&self, name: String, password: String) -> AdminResult {
        let name = account_name(&name)?;
        if matches!(self.store.find_user(name.clone()).await, Ok(Some(_))) {
            return Err(format!(
                "Un compte « {name} » existe déjà (user passwd pour changer son mot de passe)."
            ));
        }
        let hash = self.hash(password).await?;
        match self.store.register(name.clone(), hash, now_unix()).await {
            Ok(true) => {
                self.ask(AdminAsk::AccountCreated { name: name.clone() })
                    .await?;
                Ok(Answer {
                    text: format!("Compte « {name} » créé."),
                    data: json!({ "name": name }),
                })
            }
            Ok(false) => Err(format!("Un compte « {name} » existe déjà.")),
            Err(_) => Err(unavailable()),
        }
    }

    pub(super) async fn user_del(&self, name: String) -> AdminResult {
        let key: String = name.nfc().collect();
        let deleted = match self.store.run(move |store| store.delete_user(&key)).await {
            Ok(Ok(Some(deleted))) => deleted,
            Ok(Ok(None)) => return Err(no_such_account(&name)),
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        let closed = self
            .ask(AdminAsk::AccountDeleted {
                name: deleted.name.clone(),
            })
            .await?
            .data["closed"]
            .as_u64()
            .unwrap_or(0);
        Ok(Answer {
            text: format!(
                "Compte « {} » supprimé ({closed} connexion(s) fermée(s), {} message(s) en \
                 attente, {} salon(s) mémorisé(s), {} ligne(s) d'historique privé retirée(s) de \
                 l'index ; les messages restent dans l'export).",
                deleted.name, deleted.deferred, deleted.memberships, deleted.conversation_lines
            ),
            data: json!({
                "name": deleted.name,
                "closed": closed,
                "deferred": deleted.deferred,
                "memberships": deleted.memberships,
                "conversation_lines": deleted.conversation_lines,
            }),
        })
    }

    pub(super) async fn user_passwd(&self, name: String, password: String) -> AdminResult {
        let name: String = name.nfc().collect();
        let record = match self.store.find_user(name.clone()).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(no_such_account(&name)),
            Err(_) => return Err(unavailable()),
        };
        let hash = self.hash(password).await?;
        match self
            .store
            .run(move |store| store.set_password_hash(&name, &hash))
            .await
        {
            Ok(Ok(true)) => Ok(Answer {
                text: format!("Mot de passe de « {} » changé.", record.name),
                data: json!({ "name": record.name }),
            }),
            Ok(Ok(false)) => Err(no_such_account(&record.name)),
            Ok(Err(error)) => Err(format!("Base de données : {error}.")),
            Err(_) => Err(unavailable()),
        }
    }
}

/// The name as the server registers it (NFC), checked like a registration.
fn account_name(raw: &str) -> Result<String, String> {
    let name: String = raw.nfc().collect();
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(NameProblem::Reserved) => Err(format!(
            "« {raw} » est un nom réservé (serveur, admin...) : choisissez-en un autre."
        )),
        Err(problem) => Err(format!("Nom de compte invalide « {raw} » : {problem}.")),
    }
}

fn no_such_account(name: &str) -> String {
    format!("Aucun compte « {name} » (user list affiche les comptes).")
}
