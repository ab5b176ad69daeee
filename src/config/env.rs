//! `CLASSCORD_*` environment variables (containers): applied between the file and the flags.

use super::*;

/// The environment variables read by [`Config::load`] (containers are configured this way), with
/// the file key each one replaces. A variable that is set wins over the file; a command-line flag
/// wins over both. Empty values count as unset, except `CLASSCORD_WELCOME` (empty = no welcome).
pub const ENV_VARS: &[(&str, &str)] = &[
    // Comma-separated addresses, e.g. "0.0.0.0:12345,[::]:12345".
    ("CLASSCORD_LISTEN", "listen"),
    ("CLASSCORD_DATA_DIR", "data_dir"),
    ("CLASSCORD_WELCOME", "welcome"),
    ("CLASSCORD_MAX_LINE_BYTES", "limits.max_line_bytes"),
    (
        "CLASSCORD_OUTBOUND_QUEUE_BYTES",
        "limits.outbound_queue_bytes",
    ),
    ("CLASSCORD_PASSWORD_MEMORY_KIB", "passwords.memory_kib"),
    ("CLASSCORD_PASSWORD_ITERATIONS", "passwords.iterations"),
    ("CLASSCORD_PASSWORD_PARALLELISM", "passwords.parallelism"),
    (
        "CLASSCORD_MAX_CONCURRENT_HASHES",
        "passwords.max_concurrent_hashes",
    ),
    ("CLASSCORD_CACHE_MIB", "storage.cache_mib"),
    ("CLASSCORD_LOG_LEVEL", "log.level"),
];

/// Applies the `CLASSCORD_*` variables found by `lookup` over the file's values (ranges are
/// checked afterwards, with the others).
pub(super) fn apply_env(
    raw: &mut RawConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let text = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    if let Some(list) = text("CLASSCORD_LISTEN") {
        let addrs = list
            .split(',')
            .map(str::trim)
            .filter(|addr| !addr.is_empty());
        raw.listen = Some(addrs.map(String::from).collect());
    }
    if let Some(dir) = text("CLASSCORD_DATA_DIR") {
        raw.data_dir = Some(PathBuf::from(dir));
    }
    if let Some(welcome) = lookup("CLASSCORD_WELCOME") {
        raw.welcome = Some(welcome);
    }
    if let Some(level) = text("CLASSCORD_LOG_LEVEL") {
        raw.log.level = Some(level);
    }
    env_number(
        &text,
        "CLASSCORD_MAX_LINE_BYTES",
        &mut raw.limits.max_line_bytes,
    )?;
    env_number(
        &text,
        "CLASSCORD_OUTBOUND_QUEUE_BYTES",
        &mut raw.limits.outbound_queue_bytes,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_MEMORY_KIB",
        &mut raw.passwords.memory_kib,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_ITERATIONS",
        &mut raw.passwords.iterations,
    )?;
    env_number(
        &text,
        "CLASSCORD_PASSWORD_PARALLELISM",
        &mut raw.passwords.parallelism,
    )?;
    env_number(
        &text,
        "CLASSCORD_MAX_CONCURRENT_HASHES",
        &mut raw.passwords.max_concurrent_hashes,
    )?;
    env_number(&text, "CLASSCORD_CACHE_MIB", &mut raw.storage.cache_mib)
}

/// Sets `slot` from the variable `name` when it is set; a value that is not a whole number is
/// refused with the variable named.
pub(super) fn env_number<T: std::str::FromStr>(
    text: &impl Fn(&str) -> Option<String>,
    name: &str,
    slot: &mut Option<T>,
) -> Result<(), ConfigError> {
    if let Some(value) = text(name) {
        let number = value.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "variable d'environnement {name} : « {value} » n'est pas un nombre entier positif"
            ))
        })?;
        *slot = Some(number);
    }
    Ok(())
}
