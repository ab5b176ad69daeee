//! The `classcord` command: `classcord serve` runs the chat server; `classcord check-config`
//! validates a configuration file.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use classcord::config::{Config, Overrides};
use classcord::{logging, net};

/// ClassCord : serveur de discussion pour les réseaux d'établissement scolaire.
#[derive(FromArgs)]
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(Serve),
    CheckConfig(CheckConfig),
}

/// Lance le serveur (port 12345 par défaut, données dans ./classcord-data).
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
struct Serve {
    /// adresse d'écoute, par ex. 0.0.0.0:12345 ou [::]:12345 (répétable)
    #[argh(option)]
    listen: Vec<String>,
    /// dossier des données (base de comptes)
    #[argh(option)]
    data: Option<PathBuf>,
    /// fichier de configuration TOML (toutes les clés sont facultatives)
    #[argh(option)]
    config: Option<PathBuf>,
    /// niveau de journal : error, warn, info (défaut), debug, trace
    #[argh(option)]
    log_level: Option<String>,
}

/// Vérifie un fichier de configuration et affiche les valeurs retenues.
#[derive(FromArgs)]
#[argh(subcommand, name = "check-config")]
struct CheckConfig {
    /// fichier de configuration TOML
    #[argh(positional)]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli: Cli = argh::from_env();
    match cli.command {
        Command::Serve(serve) => {
            let overrides = Overrides {
                listen: serve.listen,
                data_dir: serve.data,
                log_level: serve.log_level,
            };
            let config = match Config::load(serve.config.as_deref(), overrides) {
                Ok(config) => config,
                Err(error) => return fail(&error),
            };
            if let Err(error) = net::block_shutdown_signals() {
                return fail(&error);
            }
            logging::init_console(config.log_level);
            let result = net::serve(config);
            logging::flush();
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
        Command::CheckConfig(check) => {
            match Config::load(Some(&check.file), Overrides::default()) {
                Ok(config) => {
                    println!("configuration valide : {}", check.file.display());
                    let listen: Vec<String> =
                        config.listen.iter().map(ToString::to_string).collect();
                    println!("  écoute            : {}", listen.join(", "));
                    println!("  données           : {}", config.database_path().display());
                    println!("  ligne max         : {} octets", config.max_line_bytes);
                    println!(
                        "  file d'envoi max  : {} octets",
                        config.outbound_queue_bytes
                    );
                    println!(
                        "  argon2id          : {} Kio, {} passe(s), {} hachage(s) simultané(s)",
                        config.hash.memory_kib,
                        config.hash.iterations,
                        config.max_concurrent_hashes
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            }
        }
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("classcord : erreur : {error}");
    ExitCode::FAILURE
}
