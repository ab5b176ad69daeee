//! Operator accounts: the accounts that may sign in to the teacher's dashboard. Granted with
//! `operator add NAME` (kept in the store, `store::operators`) or listed in `[admin] operators`
//! (read again by `reload`). A grant is for an existing account: the dashboard's sign-in checks
//! that account's own password. Withdrawing a grant (or deleting the account) ends its dashboard
//! sessions within one refresh: the dashboard asks [`Desk::is_operator`] before every action and
//! on every refresh.

use classcord_core::message::fold_name;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use super::desk::{lock, unavailable, Desk};
use super::request::{Answer, Outcome};

impl Desk {
    /// Whether the account `name` (any letter case) may use the dashboard now.
    pub fn is_operator(&self, name: &str) -> bool {
        let key = fold_name(name);
        if lock(&self.operators).contains_key(&key) {
            return true;
        }
        lock(&self.current)
            .admin
            .operators
            .iter()
            .any(|listed| fold_name(listed) == key)
    }

    pub(super) fn operator_list(&self) -> Outcome {
        let stored: Vec<String> = lock(&self.operators).values().cloned().collect();
        let configured = lock(&self.current).admin.operators.clone();
        let mut lines = Vec::new();
        let mut data = Vec::new();
        for name in &stored {
            lines.push(format!("  {name}  (operator add)"));
            data.push(json!({ "name": name, "source": "store" }));
        }
        for name in &configured {
            lines.push(format!(
                "  {name}  (fichier de configuration, [admin] operators)"
            ));
            data.push(json!({ "name": name, "source": "config" }));
        }
        let text = if data.is_empty() {
            "Aucun opérateur : personne ne peut ouvrir le tableau de bord (classcord admin \
             operator add NOM pour un compte existant)."
                .to_owned()
        } else {
            format!("{} opérateur(s) :\n{}", data.len(), lines.join("\n"))
        };
        Ok(Answer::new(text, json!(data)))
    }

    pub(super) async fn operator_add(&self, name: String) -> Outcome {
        let name: String = name.trim().nfc().collect();
        let record = match self.store.find_user(name.clone()).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(format!(
                    "Aucun compte « {name} » : créez-le d'abord (classcord admin user add \
                     {name}), puis donnez-lui l'accès."
                ))
            }
            Err(_) => return Err(unavailable()),
        };
        let shown = record.name.clone();
        let added = match self
            .store
            .run(move |store| store.put_operator(&record.name))
            .await
        {
            Ok(Ok(added)) => added,
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        lock(&self.operators).insert(fold_name(&shown), shown.clone());
        let text = if added {
            format!(
                "« {shown} » est opérateur : le tableau de bord l'accepte avec le mot de passe \
                 de son compte (adresse et empreinte du certificat : classcord admin \
                 certificate)."
            )
        } else {
            format!("« {shown} » était déjà opérateur.")
        };
        Ok(Answer::new(text, json!({ "name": shown, "added": added })))
    }

    pub(super) async fn operator_del(&self, name: String) -> Outcome {
        let name: String = name.trim().nfc().collect();
        let key = name.clone();
        let removed = match self
            .store
            .run(move |store| store.remove_operator(&key))
            .await
        {
            Ok(Ok(removed)) => removed,
            Ok(Err(error)) => return Err(format!("Base de données : {error}.")),
            Err(_) => return Err(unavailable()),
        };
        lock(&self.operators).remove(&fold_name(&name));
        if self.is_operator(&name) {
            return Err(format!(
                "« {name} » est opérateur par le fichier de configuration ([admin] operators) : \
                 retirez-le du fichier, puis classcord admin reload."
            ));
        }
        if !removed {
            return Err(format!(
                "« {name} » n'est pas opérateur (classcord admin operators les liste)."
            ));
        }
        Ok(Answer::new(
            format!(
                "« {name} » n'est plus opérateur : ses sessions du tableau de bord se ferment."
            ),
            json!({ "name": name }),
        ))
    }

    /// An account deleted: its grant went with it in the store.
    pub(super) fn forget_operator(&self, name: &str) {
        lock(&self.operators).remove(&fold_name(name));
    }
}
