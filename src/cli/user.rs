//! `classcord user list|add|del|passwd`: account administration. While a server runs on the
//! database, every action goes through its control socket (the server holds the file; it also
//! updates the chat at once: a deleted account's sessions are closed); otherwise the file is
//! opened directly. Names and passwords follow the protocol's `register` rules (a name may hold
//! spaces; `[passwords] min_length`). Passwords are read from the terminal without echo, or as
//! one line from standard input when it is not a terminal (`echo "$MDP" | classcord user add
//! alice`); they are never printed. `del` says what it deletes and asks `oui/non` on a terminal;
//! without one it needs `--yes`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use classcord_core::hub::HubConfig;
use classcord_core::message::check_password;
use unicode_normalization::UnicodeNormalization;

use super::fail;
use crate::admin::client::AdminClient;
use crate::config::{Config, Overrides};
use crate::console::confirm::{understood, Answer, QUESTION};
use crate::console::password::read_password;
use crate::control::accounts::account_name;
use crate::control::Request;
use crate::store::access::{database_in, open_writer, OpsError};
use crate::store::user_admin::list_users;
use crate::store::{HashParams, PasswordHasher, RegisterError};

/// Gère les comptes : list, add, del, passwd ; par le serveur quand il tourne (sans l'arrêter),
/// sinon directement dans la base.
#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
pub struct User {
    #[argh(subcommand)]
    action: Action,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub(super) enum Action {
    List(List),
    Add(Add),
    Del(Del),
    Passwd(Passwd),
}

/// Liste les comptes (aussi pendant que le serveur tourne).
#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
pub(super) struct List {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
}

/// Crée un compte (par le serveur s'il tourne, sinon dans la base) ; le mot de passe est demandé
/// sans écho, ou lu sur l'entrée standard.
#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
pub(super) struct Add {
    /// nom du compte
    #[argh(positional, arg_name = "nom")]
    name: String,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de configuration (section [passwords] : coût du hachage, longueur minimale)
    #[argh(option, arg_name = "fichier")]
    config: Option<PathBuf>,
}

/// Supprime un compte, ses messages en attente et ses salons mémorisés (par le serveur s'il
/// tourne : ses connexions sont fermées) ; demande confirmation.
#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
pub(super) struct Del {
    /// nom du compte
    #[argh(positional, arg_name = "nom")]
    name: String,
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// confirme d'avance (indispensable sans terminal, dans un script)
    #[argh(switch)]
    yes: bool,
}

/// Change le mot de passe d'un compte (par le serveur s'il tourne, sinon dans la base).
#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
pub(super) struct Passwd {
    /// nom du compte
    #[argh(positional, arg_name = "nom")]
    name: String,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de configuration (section [passwords] : coût du hachage, longueur minimale)
    #[argh(option, arg_name = "fichier")]
    config: Option<PathBuf>,
}

impl User {
    pub fn run(self) -> ExitCode {
        if let Action::Del(del) = &self.action {
            if let Err(error) = del.confirmed() {
                return fail(&error);
            }
        }
        let (data, config) = match &self.action {
            Action::List(a) => (a.data.clone(), None),
            Action::Add(a) => (a.data.clone(), a.config.clone()),
            Action::Del(a) => (a.data.clone(), None),
            Action::Passwd(a) => (a.data.clone(), a.config.clone()),
        };
        let refusal = match running_server(data, config.as_deref()) {
            Ok(Some(client)) => return through_server(client, self.action),
            Ok(None) => None,
            Err(refusal) => Some(refusal),
        };
        let result = match self.action {
            Action::List(list) => list.run(),
            Action::Add(add) => add.run(),
            Action::Del(del) => del.run(),
            Action::Passwd(passwd) => passwd.run(),
        };
        match (result, refusal) {
            (Ok(()), _) => ExitCode::SUCCESS,
            // The server runs but refused this user: that is the useful reason.
            (Err(OpsError::InUse(_)), Some(refusal)) => fail(&refusal),
            (Err(error), _) => fail(&error),
        }
    }
}

/// The server running on this database, if any (see `admin::client::server_for`).
pub(super) fn running_server(
    data: Option<PathBuf>,
    config: Option<&Path>,
) -> Result<Option<AdminClient>, String> {
    let (db_path, configured) = match config {
        None => (database_in(data.as_deref()), None),
        Some(file) => {
            let overrides = Overrides {
                data_dir: data,
                ..Overrides::default()
            };
            match Config::load(Some(file), overrides) {
                Ok(config) => (config.database_path(), config.admin.socket),
                Err(_) => return Ok(None),
            }
        }
    };
    let data_dir = db_path.parent().map(Path::to_path_buf);
    let paths = crate::admin::client::candidates(None, data_dir.as_deref(), configured.as_deref());
    crate::admin::client::server_for(&db_path, &paths)
}

/// The action carried out by the running server.
fn through_server(mut client: AdminClient, action: Action) -> ExitCode {
    let request = match action {
        Action::List(_) => Ok(Request::UserList),
        Action::Del(del) => Ok(Request::UserDel { name: del.name }),
        Action::Add(add) => account_name(&add.name).and_then(|name| {
            read_password(&name).map(|password| Request::UserAdd { name, password })
        }),
        Action::Passwd(passwd) => read_password(&passwd.name).map(|password| Request::UserPasswd {
            name: passwd.name,
            password,
        }),
    };
    let request = match request {
        Ok(request) => request,
        Err(error) => return fail(&error),
    };
    match client.request(&request) {
        Ok(reply) if reply.ok => {
            println!("{}", reply.text.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(reply) => fail(&reply.error.unwrap_or_default()),
        Err(error) => fail(&error),
    }
}

impl List {
    fn run(self) -> Result<(), OpsError> {
        let db_path = database_in(self.data.as_deref());
        let txn = super::snapshot(&db_path)?;
        let users = list_users(&txn, &db_path)?;
        for user in &users {
            let t = crate::clock::local_time(user.created_unix, 0);
            println!(
                "{}  (créé le {:04}-{:02}-{:02} {:02}:{:02})",
                user.name, t.year, t.month, t.day, t.hour, t.minute
            );
        }
        println!("{} compte(s)", users.len());
        Ok(())
    }
}

impl Add {
    fn run(self) -> Result<(), OpsError> {
        let name = account_name(&self.name).map_err(invalid)?;
        let settings = settings(self.data, self.config.as_deref())?;
        let db_path = settings.db_path;
        let hasher = hasher(settings.hash)?;
        let store = open_writer(&db_path, true)?;
        let taken = store
            .find_user(&name)
            .map_err(|e| OpsError::store(&db_path, e))?;
        if let Some(existing) = taken {
            return Err(OpsError::Invalid(format!(
                "un compte « {} » existe déjà (classcord user passwd pour changer son mot de passe)",
                existing.name
            )));
        }
        let password = read_password(&name).map_err(invalid)?;
        let hash = hash(&hasher, &password, settings.min_password_chars)?;
        match store.register_user(&name, &hash, now_unix()) {
            Ok(()) => {
                println!("compte « {name} » créé dans {}", db_path.display());
                Ok(())
            }
            Err(RegisterError::AlreadyExists) => Err(OpsError::Invalid(format!(
                "un compte « {name} » existe déjà"
            ))),
            Err(RegisterError::Store(e)) => Err(OpsError::store(&db_path, e)),
        }
    }
}

impl Del {
    /// Says what will be deleted; asks on a terminal, needs `--yes` otherwise.
    fn confirmed(&self) -> Result<(), String> {
        if self.yes {
            return Ok(());
        }
        let request = Request::UserDel {
            name: self.name.clone(),
        };
        let what = request.confirmation().unwrap_or_default();
        if !std::io::stdin().is_terminal() {
            return Err(format!(
                "{what} Pour confirmer sans terminal, ajoutez --yes : classcord user del \
                 {} --yes",
                crate::control::words::render(&request).trim_start_matches("user del ")
            ));
        }
        eprint!("{what}\n{QUESTION}");
        let _ = std::io::stderr().flush();
        let mut typed = String::new();
        let _ = std::io::stdin().read_line(&mut typed);
        match understood(&typed) {
            Answer::Yes => Ok(()),
            Answer::No => Err("annulé : rien n'a été supprimé".into()),
            Answer::Unclear(said) => Err(format!(
                "réponse « {said} » non comprise : annulé, rien n'a été supprimé (répondez oui \
                 pour confirmer)"
            )),
        }
    }

    fn run(self) -> Result<(), OpsError> {
        let db_path = database_in(self.data.as_deref());
        let store = open_writer(&db_path, false)?;
        match store
            .delete_user(self.name.nfc().collect::<String>().as_str())
            .map_err(|e| OpsError::store(&db_path, e))?
        {
            Some(deleted) => {
                println!(
                    "compte « {} » supprimé ({} message(s) en attente, {} salon(s) mémorisé(s), \
                     {} ligne(s) d'historique privé retirée(s) de l'index ; les messages restent \
                     dans l'export)",
                    deleted.name, deleted.deferred, deleted.memberships, deleted.conversation_lines
                );
                Ok(())
            }
            None => Err(no_such_account(&self.name)),
        }
    }
}

impl Passwd {
    fn run(self) -> Result<(), OpsError> {
        let name: String = self.name.nfc().collect();
        let settings = settings(self.data, self.config.as_deref())?;
        let db_path = settings.db_path;
        let hasher = hasher(settings.hash)?;
        let store = open_writer(&db_path, false)?;
        let Some(record) = store
            .find_user(&name)
            .map_err(|e| OpsError::store(&db_path, e))?
        else {
            return Err(no_such_account(&name));
        };
        let password = read_password(&record.name).map_err(invalid)?;
        let hash = hash(&hasher, &password, settings.min_password_chars)?;
        if !store
            .set_password_hash(&name, &hash)
            .map_err(|e| OpsError::store(&db_path, e))?
        {
            return Err(no_such_account(&name));
        }
        println!("mot de passe de « {} » changé", record.name);
        Ok(())
    }
}

fn no_such_account(name: &str) -> OpsError {
    OpsError::Invalid(format!(
        "aucun compte « {name} » (classcord user list affiche les comptes)"
    ))
}

fn invalid(text: String) -> OpsError {
    OpsError::Invalid(text)
}

/// What the offline account commands take from the configuration.
pub(super) struct AccountSettings {
    pub db_path: PathBuf,
    pub hash: HashParams,
    pub min_password_chars: usize,
}

/// The database, hashing parameters and password rule: from `--config` if given (its
/// `data_dir` unless `--data` says otherwise), else the defaults.
pub(super) fn settings(
    data: Option<PathBuf>,
    config: Option<&Path>,
) -> Result<AccountSettings, OpsError> {
    match config {
        None => Ok(AccountSettings {
            db_path: database_in(data.as_deref()),
            hash: HashParams::default(),
            min_password_chars: HubConfig::default().min_password_chars,
        }),
        Some(file) => {
            let overrides = Overrides {
                data_dir: data,
                ..Overrides::default()
            };
            let config = Config::load(Some(file), overrides)
                .map_err(|e| OpsError::Invalid(e.to_string()))?;
            Ok(AccountSettings {
                db_path: config.database_path(),
                hash: config.hash,
                min_password_chars: config.hub.min_password_chars,
            })
        }
    }
}

pub(super) fn hasher(params: HashParams) -> Result<PasswordHasher, OpsError> {
    PasswordHasher::new(params)
        .map_err(|e| OpsError::Invalid(format!("paramètres de hachage invalides : {e}")))
}

/// The password checked like a registration (`check_password`), then hashed.
fn hash(hasher: &PasswordHasher, password: &str, min_chars: usize) -> Result<String, OpsError> {
    if let Err(problem) = check_password(password, min_chars) {
        return Err(OpsError::Invalid(format!(
            "{problem} : rien n'a été changé"
        )));
    }
    hasher
        .hash(password)
        .map_err(|e| OpsError::Invalid(format!("hachage impossible : {e}")))
}

pub(super) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
