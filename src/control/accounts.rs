//! The account requests carried out by the running server: the store thread writes (the server
//! holds the database), the hub learns at once (a new account's name is protected, a deleted
//! account's sessions are closed). Names and passwords follow the protocol's `register` rules
//! ([`account_name`], [`check_password`] with `[passwords] min_length`). Passwords are hashed here,
//! off the executor, with the server's own parameters, and never logged.

use classcord_core::message::{check_name, check_password, fold_name, NameProblem};
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use super::bans::now_unix;
use super::desk::{unavailable, Desk};
use super::hub::HubAsk;
use super::request::{Answer, Outcome};

impl Desk {
    async fn accounts(&self) -> Result<Vec<crate::store::UserRecord>, String> {
        let path = self.database.clone();
        let listed = self
            .store
            .run(move |store| {
                let txn = store.snapshot()?;
                Ok(crate::store::user_admin::list_users(&txn, &path))
            })
            .await;
        match listed {
            Ok(Ok(Ok(users))) => Ok(users),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            _ => Err(unavailable()),
        }
    }

    pub(super) async fn user_list(&self) -> Outcome {
        let users = self.accounts().await?;
        let mut lines = Vec::new();
        let mut data = Vec::new();
        for user in &users {
            let created = super::report::local_minute(user.created_unix);
            lines.push(format!("  {}  (créé le {created})", user.name));
            data.push(json!({"name": user.name, "created_unix": user.created_unix}));
        }
        lines.push(format!("{} compte(s)", users.len()));
        Ok(Answer::new(lines.join("\n"), Value::Array(data)))
    }

    async fn hash(&self, password: String) -> Result<String, String> {
        let min = self.config().hub.min_password_chars;
        if let Err(problem) = check_password(&password, min) {
            return Err(format!("{} : rien n'a été changé.", capitalised(&problem)));
        }
        let hasher = self.hasher.clone();
        smol::unblock(move || hasher.hash(&password))
            .await
            .map_err(|error| format!("Hachage impossible : {error}."))
    }

    pub(super) async fn user_add(&self, name: String, password: String) -> Outcome {
        let name = account_name(&name)?;
        if matches!(self.store.find_user(name.clone()).await, Ok(Some(_))) {
            return Err(format!(
                "Un compte « {name} » existe déjà (user passwd pour changer son mot de passe)."
            ));
        }
        let hash = self.hash(password).await?;
        match self.store.register(name.clone(), hash, now_unix()).await {
            Ok(true) => {
                self.hub
                    .ask(HubAsk::AccountCreated { name: name.clone() })
                    .await?;
                Ok(Answer::new(
                    format!("Compte « {name} » créé."),
                    json!({ "name": name }),
                ))
            }
            Ok(false) => Err(format!("Un compte « {name} » existe déjà.")),
            Err(_) => Err(unavailable()),
        }
    }

    pub(super) async fn user_del(&self, name: String) -> Outcome {
        let key: String = name.nfc().collect();
        let deleted = match self.store.run(move |store| store.delete_user(&key)).await {
            Ok(Ok(Some(deleted))) => deleted,
            Ok(Ok(None)) => return Err(self.no_such_account(&name).await),
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        self.forget_operator(&deleted.name);
        let closed = self
            .hub
            .ask(HubAsk::AccountDeleted {
                name: deleted.name.clone(),
            })
            .await?
            .data["closed"]
            .as_u64()
            .unwrap_or(0);
        Ok(Answer::new(
            format!(
                "Compte « {} » supprimé ({closed} connexion(s) fermée(s), {} message(s) en \
                 attente, {} salon(s) mémorisé(s), {} ligne(s) d'historique privé retirée(s) de \
                 l'index ; les messages restent dans l'export).",
                deleted.name, deleted.deferred, deleted.memberships, deleted.conversation_lines
            ),
            json!({
                "name": deleted.name,
                "closed": closed,
                "deferred": deleted.deferred,
                "memberships": deleted.memberships,
                "conversation_lines": deleted.conversation_lines,
            }),
        ))
    }

    pub(super) async fn user_passwd(&self, name: String, password: String) -> Outcome {
        let name: String = name.nfc().collect();
        let record = match self.store.find_user(name.clone()).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(self.no_such_account(&name).await),
            Err(_) => return Err(unavailable()),
        };
        let hash = self.hash(password).await?;
        match self
            .store
            .run(move |store| store.set_password_hash(&name, &hash))
            .await
        {
            Ok(Ok(true)) => Ok(Answer::new(
                format!("Mot de passe de « {} » changé.", record.name),
                json!({ "name": record.name }),
            )),
            Ok(Ok(false)) => Err(self.no_such_account(&record.name).await),
            Ok(Err(error)) => Err(format!("Base de données : {error}.")),
            Err(_) => Err(unavailable()),
        }
    }

    /// "No such account", naming an account this may be the start of (`jean` for
    /// `jean dupont`: a name with spaces typed without quotes).
    async fn no_such_account(&self, name: &str) -> String {
        let names: Vec<String> = self
            .accounts()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|user| user.name)
            .collect();
        format!(
            "Aucun compte « {name} » (user list affiche les comptes).{}",
            longer_name_hint(name, &names)
        )
    }
}

/// The name as the server registers it (NFC), checked like a registration. Names may hold
/// spaces (`prof dupont`), as the protocol's `register` allows: every console command takes
/// such a name between quotes.
pub fn account_name(raw: &str) -> Result<String, String> {
    let name: String = raw.nfc().collect();
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(NameProblem::Reserved) => Err(format!(
            "« {raw} » est un nom réservé (serveur, admin...) : choisissez-en un autre."
        )),
        Err(problem) => Err(format!("Nom de compte invalide « {raw} » : {problem}.")),
    }
}

/// When `name` is the first word of names in `known` (`jean` and `jean dupont`): how to write
/// them (between quotes); empty otherwise.
pub fn longer_name_hint(name: &str, known: &[String]) -> String {
    let prefix = format!("{} ", fold_name(name));
    let longer: Vec<String> = known
        .iter()
        .filter(|known| fold_name(known).starts_with(&prefix))
        .map(|known| format!("\"{known}\""))
        .collect();
    if longer.is_empty() {
        String::new()
    } else {
        format!(
            " Un nom avec des espaces se met entre guillemets : {}.",
            longer.join(", ")
        )
    }
}

fn capitalised(text: &impl ToString) -> String {
    let text = text.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_word_points_to_the_quoted_names() {
        let known = [
            "jean dupont".to_owned(),
            "Jean Martin".to_owned(),
            "jeanne".to_owned(),
        ];
        let hint = longer_name_hint("JEAN", &known);
        assert!(hint.contains("\"jean dupont\", \"Jean Martin\""), "{hint}");
        assert!(!hint.contains("jeanne"), "{hint}");
        assert_eq!(longer_name_hint("zoé", &known), "");
        assert_eq!(capitalised(&"mot de passe vide"), "Mot de passe vide");
    }

    #[test]
    fn account_names_follow_the_register_rules() {
        assert_eq!(account_name("prof dupont").unwrap(), "prof dupont");
        assert!(account_name("Serveur").unwrap_err().contains("réservé"));
        assert!(account_name(" alice").unwrap_err().contains("espace"));
    }
}
