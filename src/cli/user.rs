//! `classcord user list|add|del|passwd`: account administration. While a server runs on the
//! database, every action goes through its control socket (the server holds the file; it also
//! updates the chat at once: a deleted account's sessions are closed); otherwise the file is
//! opened directly. Passwords are read from the terminal without echo, or as one line from
//! standard input when it is not a terminal (`echo "$MDP" | classcord user add alice`); they are
//! never printed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use classcord_core::message::{check_name, NameProblem};
use unicode_normalization::UnicodeNormalization;

use super::fail;
use crate::config::{Config, Overrides};
use crate::store::access::{database_in, open_writer, OpsError};
use crate::store::import::password_problem;
use crate::store::user_admin::list_users;
use crate::store::{HashParams, PasswordHasher, RegisterError};

/// Gère les comptes : list, add, del, passwd.
#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
pub struct User {
    #[argh(subcommand)]
    action: Action,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Action {
    List(List),
    Add(Add),
    Del(Del),
    Passwd(Passwd),
}

/// Liste les comptes (aussi pendant que le serveur tourne).
#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
struct List {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option)]
    data: Option<PathBuf>,
}

/// Crée un compte (serveur arrêté) ; le mot de passe est demandé sans écho, ou lu sur l'entrée
/// standard.
#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
struct Add {
    /// nom du compte
    #[argh(positional)]
    name: String,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option)]
    data: Option<PathBuf>,
    /// fichier de configuration (coût du hachage : section [passwords])
    #[argh(option)]
    config: Option<PathBuf>,
}

/// Supprime un compte, ses messages en attente et ses salons mémorisés (serveur arrêté).
#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
struct Del {
    /// nom du compte
    #[argh(positional)]
    name: String,
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option)]
    data: Option<PathBuf>,
}

/// Change le mot de passe d'un compte (serveur arrêté).
#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
struct Passwd {
    /// nom du compte
    #[argh(positional)]
    name: String,
    /// dossier des données (défaut : ./classcord-data, ou celui du fichier de configuration)
    #[argh(option)]
    data: Option<PathBuf>,
    /// fichier de configuration (coût du hachage : section [passwords])
    #[argh(option)]
    config: Option<PathBuf>,
}

impl User {
    pub fn run(self) -> ExitCode {
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
) -> Result<Option<crate::admin::client::AdminClient>, String> {
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
fn through_server(mut client: crate::admin::client::AdminClient, action: Action) -> ExitCode {
    use crate::admin::protocol::Request;
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
        let name = account_name(&self.name)?;
        let (db_path, params) = settings(self.data, self.config.as_deref())?;
        let hasher = hasher(params)?;
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
        let password = read_password(&name)?;
        let hash = hash(&hasher, &password)?;
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
        let (db_path, params) = settings(self.data, self.config.as_deref())?;
        let hasher = hasher(params)?;
        let store = open_writer(&db_path, false)?;
        let Some(record) = store
            .find_user(&name)
            .map_err(|e| OpsError::store(&db_path, e))?
        else {
            return Err(no_such_account(&name));
        };
        let password = read_password(&record.name)?;
        let hash = hash(&hasher, &password)?;
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

/// The name as the server registers it (NFC), checked like a registration.
fn account_name(raw: &str) -> Result<String, OpsError> {
    let name: String = raw.nfc().collect();
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(NameProblem::Reserved) => Err(OpsError::Invalid(format!(
            "« {raw} » est un nom réservé (serveur, admin...) : choisissez-en un autre"
        ))),
        Err(problem) => Err(OpsError::Invalid(format!(
            "nom de compte invalide « {raw} » : {problem}"
        ))),
    }
}

/// The database and hashing parameters: from `--config` if given (its `data_dir` unless `--data`
/// says otherwise), else the defaults.
pub(super) fn settings(
    data: Option<PathBuf>,
    config: Option<&Path>,
) -> Result<(PathBuf, HashParams), OpsError> {
    match config {
        None => Ok((database_in(data.as_deref()), HashParams::default())),
        Some(file) => {
            let overrides = Overrides {
                data_dir: data,
                ..Overrides::default()
            };
            let config = Config::load(Some(file), overrides)
                .map_err(|e| OpsError::Invalid(e.to_string()))?;
            Ok((config.database_path(), config.hash))
        }
    }
}

pub(super) fn hasher(params: HashParams) -> Result<PasswordHasher, OpsError> {
    PasswordHasher::new(params)
        .map_err(|e| OpsError::Invalid(format!("paramètres de hachage invalides : {e}")))
}

fn hash(hasher: &PasswordHasher, password: &str) -> Result<String, OpsError> {
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

/// Asks twice without echo on a terminal; otherwise reads one line from standard input.
pub(crate) fn read_password(name: &str) -> Result<String, OpsError> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt_hidden(&format!("Mot de passe pour « {name} » : "))?;
        let second = prompt_hidden("Confirmez le mot de passe : ")?;
        if first != second {
            return Err(OpsError::Invalid(
                "les deux mots de passe diffèrent : rien n'a été changé".into(),
            ));
        }
        first
    } else {
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line).map_err(|e| {
            OpsError::io("lecture impossible de", Path::new("(entrée standard)"), e)
        })?;
        if read == 0 {
            return Err(OpsError::Invalid(
                "aucun mot de passe reçu sur l'entrée standard".into(),
            ));
        }
        trim_line_end(line)
    };
    if let Some(problem) = password_problem(&password) {
        return Err(OpsError::Invalid(format!(
            "{problem} : rien n'a été changé"
        )));
    }
    Ok(password)
}

fn trim_line_end(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Reads one line from the terminal with echo off (restored even if the read fails).
pub(crate) fn prompt_hidden(prompt: &str) -> Result<String, OpsError> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let terminal = Path::new("(terminal)");
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{prompt}");
    let _ = stderr.flush();
    let original =
        tcgetattr(&stdin).map_err(|e| OpsError::io("lecture impossible de", terminal, e.into()))?;
    let mut silent = original.clone();
    silent.local_flags.remove(LocalFlags::ECHO);
    silent.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &silent)
        .map_err(|e| OpsError::io("lecture impossible de", terminal, e.into()))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &original);
    match read {
        Ok(0) => Err(OpsError::Invalid("aucun mot de passe saisi".into())),
        Ok(_) => Ok(trim_line_end(line)),
        Err(e) => Err(OpsError::io("lecture impossible de", terminal, e)),
    }
}
