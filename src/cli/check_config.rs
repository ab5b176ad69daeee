//! `classcord check-config FILE`: validates a configuration file without starting the server.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::fail;
use crate::config::{Config, Overrides};

/// Vérifie un fichier de configuration et affiche les valeurs retenues.
#[derive(FromArgs)]
#[argh(subcommand, name = "check-config")]
pub struct CheckConfig {
    /// fichier de configuration TOML
    #[argh(positional, arg_name = "fichier")]
    file: PathBuf,
}

impl CheckConfig {
    pub fn run(self) -> ExitCode {
        let config = match Config::load(Some(&self.file), Overrides::default()) {
            Ok(config) => config,
            Err(error) => return fail(&error),
        };
        println!("configuration valide : {}", self.file.display());
        let listen: Vec<String> = config.listen.iter().map(ToString::to_string).collect();
        println!("  écoute            : {}", listen.join(", "));
        println!("  données           : {}", config.database_path().display());
        println!("  ligne max         : {} octets", config.max_line_bytes);
        println!(
            "  file d'envoi max  : {} octets",
            config.outbound_queue_bytes
        );
        println!(
            "  argon2id          : {} Kio, {} passe(s), {} hachage(s) simultané(s)",
            config.hash.memory_kib, config.hash.iterations, config.max_concurrent_hashes
        );
        let storage = &config.storage;
        println!(
            "  historique        : {}",
            if config.hub.keep_history {
                "gardé"
            } else {
                "non gardé"
            }
        );
        println!(
            "  écriture disque   : par lots, toutes les {} ms ou {} messages",
            storage.commit_interval.as_millis(),
            storage.commit_max_messages
        );
        let age = match storage.retention.max_age_days {
            0 => "sans limite d'âge".to_owned(),
            days => format!("{days} jours au plus"),
        };
        let per_channel = match storage.retention.max_messages_per_channel {
            0 => "sans limite par salon".to_owned(),
            count => format!("{count} messages par salon au plus"),
        };
        println!("  rétention         : {age}, {per_channel}");
        println!(
            "  messages différés : {} par destinataire, {} par expéditeur",
            config.hub.deferred_per_recipient, config.hub.deferred_per_sender
        );
        let hold = config.hub.login_hold;
        match hold.settle_ms {
            0 => println!("  après un login    : lignes envoyées aussitôt"),
            settle => println!(
                "  après un login    : lignes retenues jusqu'à la 1re requête du client \
                 (au plus {settle} ms), puis espacées de {} ms",
                hold.spacing_ms
            ),
        }
        ExitCode::SUCCESS
    }
}
