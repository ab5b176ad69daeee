//! `[log]`: level, output (console or syslog), facilities, syslog socket.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<String>,
    pub(super) output: Option<String>,
    pub(super) facility: Option<String>,
    pub(super) security_facility: Option<String>,
    pub(super) syslog_socket: Option<PathBuf>,
}

/// The `[log]` keys besides the level; `--log` wins over `output`.
pub(super) fn log_settings(
    raw: RawLog,
    output: Option<String>,
) -> Result<LogSettings, ConfigError> {
    let mut settings = LogSettings::default();
    if let Some(text) = output.or(raw.output) {
        settings.output = OutputChoice::parse(&text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "sortie du journal « {text} » inconnue (auto, syslog ou console)"
            ))
        })?;
    }
    let facility = |key: &str, text: Option<String>, default: Facility| match text {
        None => Ok(default),
        Some(text) => text.trim().parse::<Facility>().map_err(|()| {
            ConfigError::Invalid(format!(
                "« log.{key} » : catégorie syslog « {text} » inconnue (par ex. local0 à local7, \
                 auth, authpriv, daemon, user)"
            ))
        }),
    };
    settings.facility = facility("facility", raw.facility, settings.facility)?;
    settings.security_facility = facility(
        "security_facility",
        raw.security_facility,
        settings.security_facility,
    )?;
    if let Some(path) = raw.syslog_socket {
        settings.syslog_socket = path;
    }
    Ok(settings)
}

pub(super) fn parse_level(text: &str) -> Result<log::LevelFilter, ConfigError> {
    text.trim().parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "niveau de journal « {text} » inconnu (error, warn, info, debug, trace ou off)"
        ))
    })
}
