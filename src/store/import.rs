//! `classcord import-pickle`: the accounts of the Python reference server. Its `users.pkl` is a
//! pickled `dict` of username -> plaintext password. The file is decoded by `serde-pickle`, which
//! only builds plain values (a pickle that asks to call anything, such as `os.system`, is refused
//! as malformed): nothing in it is ever executed.
//!
//! Each name is normalised like the server does (NFC) and checked like a registration
//! ([`check_name`]); each password is hashed with argon2id. Invalid or reserved names, unusable
//! passwords (empty, too long) and names that already have an account are reported and skipped:
//! an existing account is never overwritten. A password shorter than today's minimum
//! (`[passwords] min_length`) is imported all the same (the student could no longer log in
//! otherwise), and the account is listed so the teacher can ask for a change.

use std::path::Path;

use classcord_core::message::{check_name, check_password, NameProblem, PasswordProblem};
use serde_pickle::{DeOptions, HashableValue, Value};
use unicode_normalization::UnicodeNormalization;

use super::access::OpsError;
use super::{PasswordHasher, RegisterError, Store};

/// The largest `users.pkl` read (a class's accounts take a few kilobytes).
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// One entry of the pickle: a usable (name, password), or why it cannot be.
pub type Entry = (String, Result<String, String>);

/// Reads and decodes `path` into its entries, in the pickle's key order.
pub fn read_pickle(path: &Path) -> Result<Vec<Entry>, OpsError> {
    if !path.is_file() {
        return Err(OpsError::MissingFile(path.to_owned()));
    }
    let size = std::fs::metadata(path)
        .map_err(|e| OpsError::io("lecture impossible de", path, e))?
        .len();
    if size > MAX_PICKLE_BYTES {
        return Err(OpsError::Invalid(format!(
            "{} fait {size} octets : trop gros pour un fichier de comptes (64 Mio au plus)",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| OpsError::io("lecture impossible de", path, e))?;
    parse_pickle(&bytes).map_err(|why| {
        OpsError::Invalid(format!(
            "{} n'est pas un users.pkl lisible ({why}) : il faut un dictionnaire \
             nom -> mot de passe enregistré par pickle",
            path.display()
        ))
    })
}

/// Decodes a pickled dict of name -> password; the error says why in French.
pub fn parse_pickle(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let value = serde_pickle::value_from_slice(bytes, DeOptions::new())
        .map_err(|err| format!("pickle invalide : {err}"))?;
    let Value::Dict(map) = value else {
        return Err("le contenu n'est pas un dictionnaire".to_owned());
    };
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = match key {
            HashableValue::String(name) => name,
            HashableValue::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(name) => name,
                Err(_) => {
                    entries.push((
                        "(nom non UTF-8)".to_owned(),
                        Err("nom illisible".to_owned()),
                    ));
                    continue;
                }
            },
            other => {
                entries.push((
                    format!("{other:?}"),
                    Err("le nom n'est pas un texte".to_owned()),
                ));
                continue;
            }
        };
        let password = match value {
            Value::String(password) => Ok(password),
            Value::Bytes(bytes) => {
                String::from_utf8(bytes).map_err(|_| "mot de passe non UTF-8".to_owned())
            }
            _ => Err("le mot de passe n'est pas un texte".to_owned()),
        };
        entries.push((name, password));
    }
    Ok(entries)
}

/// What the import did, entry by entry.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// Imported accounts whose password is shorter than the minimum for new ones.
    pub short_passwords: Vec<String>,
    /// (name as found, why it was skipped).
    pub skipped: Vec<(String, String)>,
}

/// Hashes and registers every usable entry, one durable commit each; `min_chars`: the minimum
/// length for new passwords (shorter ones are imported and listed).
pub fn import(
    store: &Store,
    hasher: &PasswordHasher,
    entries: Vec<Entry>,
    created_unix: u64,
    db_path: &Path,
    min_chars: usize,
) -> Result<ImportReport, OpsError> {
    let mut report = ImportReport::default();
    for (raw_name, password) in entries {
        let name: String = raw_name.nfc().collect();
        let password = match password {
            Ok(password) => password,
            Err(why) => {
                report.skipped.push((raw_name, why));
                continue;
            }
        };
        if let Err(problem) = check_name(&name) {
            let why = match problem {
                NameProblem::Reserved => "nom réservé".to_owned(),
                problem => format!("nom invalide : {problem}"),
            };
            report.skipped.push((raw_name, why));
            continue;
        }
        if let Err(problem) = check_password(&password, 1) {
            report.skipped.push((raw_name, problem.to_string()));
            continue;
        }
        let short = matches!(
            check_password(&password, min_chars),
            Err(PasswordProblem::TooShort { .. })
        );
        // Cheap check first: no hash for an existing account.
        if store
            .find_user(&name)
            .map_err(|e| OpsError::store(db_path, e))?
            .is_some()
        {
            report.skipped.push((
                raw_name,
                "un compte de ce nom existe déjà (inchangé)".to_owned(),
            ));
            continue;
        }
        let hash = hasher
            .hash(&password)
            .map_err(|e| OpsError::Invalid(format!("hachage impossible : {e}")))?;
        match store.register_user(&name, &hash, created_unix) {
            Ok(()) => {
                if short {
                    report.short_passwords.push(name.clone());
                }
                report.imported.push(name)
            }
            Err(RegisterError::AlreadyExists) => report.skipped.push((
                raw_name,
                "un compte de ce nom existe déjà (inchangé)".to_owned(),
            )),
            Err(RegisterError::Store(e)) => return Err(OpsError::store(db_path, e)),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x80",
            b"\x80\x04\x95",
            b"not a pickle at all",
            b"\x80\x04N.",
        ] {
            assert!(parse_pickle(bad).is_err(), "{bad:?}");
        }
    }
}
