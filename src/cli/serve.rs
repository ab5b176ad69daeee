//! `classcord serve`: runs the chat server in the foreground until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::config::{ConfigSource, Overrides};
use crate::{logging, server};

/// Lance le serveur (port 12345 par défaut, données dans ./classcord-data).
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
pub struct Serve {
    /// adresse d'écoute, par ex. 0.0.0.0:12345 ou [::]:12345 (répétable)
    #[argh(option, arg_name = "adresse")]
    listen: Vec<String>,
    /// dossier des données (base de comptes)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// fichier de configuration TOML (toutes les clés sont facultatives)
    #[argh(option, arg_name = "fichier")]
    config: Option<PathBuf>,
    /// niveau de journal : error, warn, info (défaut), debug, trace
    #[argh(option, arg_name = "niveau")]
    log_level: Option<String>,
    /// sortie du journal : syslog, console ou auto (défaut : syslog si lancé par systemd,
    /// console sinon)
    #[argh(option, arg_name = "sortie")]
    log: Option<String>,
    /// fichier de métriques (format texte Prometheus, réécrit toutes les 15 s)
    #[argh(option, arg_name = "fichier")]
    metrics_file: Option<PathBuf>,
    /// adresse d'écoute de la page web (client de discussion dans le navigateur), par ex.
    /// 0.0.0.0:8080 (répétable ; défaut : port 8080)
    #[argh(option)]
    web_listen: Vec<String>,
}

impl Serve {
    pub fn run(self) -> ExitCode {
        let source = ConfigSource {
            file: self.config,
            overrides: Overrides {
                listen: self.listen,
                data_dir: self.data,
                log_level: self.log_level,
                log_output: self.log,
                metrics_file: self.metrics_file,
                web_listen: self.web_listen,
            },
        };
        let config = match source.load() {
            Ok(config) => config,
            Err(error) => return fail(&error),
        };
        if let Err(error) = server::block_shutdown_signals() {
            return fail(&error);
        }
        if let Err(error) = logging::init(&config.log, config.log_level) {
            return fail(&error);
        }
        let result = server::serve(config, source);
        logging::flush();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    }
}
