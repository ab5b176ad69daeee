//! `classcord export`: the kept chat lines as CSV, JSON or JSON Lines (see `store::export`).
//! Works while the server runs (read-only snapshot) and while it is stopped.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use classcord_core::message::ChannelName;

use super::fail;
use crate::store::access::{database_in, OpsError};
use crate::store::export::{
    export, export_to_file, known_channels, parse_date, ExportOptions, Format,
};

/// Exporte les messages conservés (colonnes id, timestamp, from, to, channel, content), même
/// pendant que le serveur tourne ; en SQL, un script pour sqlite3 avec les tables users et
/// messages.
#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
pub struct Export {
    /// dossier des données (défaut : ./classcord-data)
    #[argh(option, arg_name = "dossier")]
    data: Option<PathBuf>,
    /// format : csv, json, jsonl (un objet JSON par ligne) ou sql (script pour sqlite3 :
    /// sqlite3 classe.db < export.sql)
    #[argh(option, arg_name = "format")]
    format: String,
    /// seulement ce salon (par ex. general ou "#Maths")
    #[argh(option, arg_name = "salon")]
    channel: Option<String>,
    /// à partir de cette date, heure locale du serveur : AAAA-MM-JJ ou AAAA-MM-JJTHH:MM[:SS]
    #[argh(option, arg_name = "date")]
    since: Option<String>,
    /// jusqu'à cette date incluse, même format (2026-12-01 : toute la journée)
    #[argh(option, arg_name = "date")]
    until: Option<String>,
    /// fichier à écrire (défaut : la sortie standard)
    #[argh(option, arg_name = "fichier")]
    out: Option<PathBuf>,
    /// CSV : séparateur de colonnes, « , » (défaut), « ; » (Excel en français) ou « tab »
    #[argh(option, arg_name = "sep")]
    delimiter: Option<String>,
    /// CSV : sans l'indicateur UTF-8 (BOM) en tête de fichier, pour les scripts
    #[argh(switch)]
    no_bom: bool,
    /// CSV : cellules telles quelles, sans l'apostrophe qui neutralise =, +, -, @ en tête
    #[argh(switch)]
    raw: bool,
    /// SQL : ajoute à la table users les empreintes (argon2id) des mots de passe
    #[argh(switch)]
    avec_empreintes: bool,
}

impl Export {
    pub fn run(self) -> ExitCode {
        match self.export() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    }

    fn options(&self) -> Result<ExportOptions, OpsError> {
        let mut options = ExportOptions::new(self.format.parse::<Format>()?);
        if let Some(raw) = &self.channel {
            options.channel = Some(ChannelName::parse(raw).map_err(|_| {
                OpsError::Invalid(format!(
                    "nom de salon invalide « {raw} » (1 à 32 caractères, sans espace ni virgule)"
                ))
            })?);
        }
        options.since = self.since.as_deref().map(parse_date).transpose()?;
        options.until = self.until.as_deref().map(parse_date).transpose()?;
        if let (Some(since), Some(until)) = (&options.since, &options.until) {
            if until < since && !since.starts_with(until.as_str()) {
                return Err(OpsError::Invalid(format!(
                    "--until ({until}) est avant --since ({since}) : aucune ligne ne peut convenir"
                )));
            }
        }
        if let Some(text) = &self.delimiter {
            options.delimiter = match text.as_str() {
                "," => b',',
                ";" => b';',
                "tab" | "\t" | "\\t" => b'\t',
                "|" => b'|',
                _ => {
                    return Err(OpsError::Invalid(format!(
                        "séparateur « {text} » non pris en charge : « , », « ; », « tab » ou « | »"
                    )))
                }
            };
        }
        if self.avec_empreintes && options.format != Format::Sql {
            return Err(OpsError::Invalid(
                "--avec-empreintes ne vaut que pour --format sql".into(),
            ));
        }
        options.password_hashes = self.avec_empreintes;
        options.bom = !self.no_bom;
        options.formula_guard = !self.raw;
        Ok(options)
    }

    fn export(&self) -> Result<(), OpsError> {
        let options = self.options()?;
        let db_path = database_in(self.data.as_deref());
        let txn = super::snapshot(&db_path)?;
        if let Some(channel) = &options.channel {
            let known = known_channels(&txn, &db_path)?;
            if !known.contains(&channel.key) {
                eprintln!(
                    "classcord : attention : aucun salon {} dans la base (salons connus : {}) : \
                     rien à exporter pour lui",
                    channel.display,
                    if known.is_empty() {
                        "aucun".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            }
        }
        let count = match &self.out {
            Some(out) => export_to_file(&txn, &db_path, &options, out)?,
            None => {
                let stdout = std::io::stdout();
                let mut writer = std::io::BufWriter::new(stdout.lock());
                let name = PathBuf::from("(sortie standard)");
                let count = export(&txn, &db_path, &options, &mut writer, &name)?;
                writer
                    .flush()
                    .map_err(|e| OpsError::io("écriture impossible dans", &name, e))?;
                count
            }
        };
        match &self.out {
            Some(out) => eprintln!("{count} ligne(s) exportée(s) dans {}", out.display()),
            None => eprintln!("{count} ligne(s) exportée(s)"),
        }
        Ok(())
    }
}
