//! Configuration tests: defaults, the example file, bad values named, flags and variables.

use super::*;

fn from_text(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: PathBuf::from("test.toml"),
        message: e.to_string(),
    })?;
    Config::from_raw(raw, Overrides::default())
}

#[test]
fn defaults_listen_on_both_families_port_12345() {
    let config = from_text("").unwrap();
    assert_eq!(config.listen.len(), 2);
    assert!(config.listen.iter().all(|addr| addr.port() == 12345));
    assert!(config.listen_is_default);
    assert_eq!(config.data_dir, PathBuf::from("classcord-data"));
    assert_eq!(config.max_line_bytes, 64 * 1024);
    assert_eq!(config.outbound_queue_bytes, 256 * 1024);
    assert_eq!(config.hash, HashParams::default());
    assert_eq!(config.max_concurrent_hashes, 2);
}

#[test]
fn every_key_can_be_set() {
    let config = from_text(
        r#"
        listen = ["127.0.0.1:4000", "[::1]:4000"]
        data_dir = "/var/lib/classcord"
        welcome = ""
        [limits]
        max_line_bytes = 1024
        outbound_queue_bytes = 8192
        [passwords]
        memory_kib = 12288
        iterations = 3
        parallelism = 1
        max_concurrent_hashes = 1
        [storage]
        cache_mib = 8
        [log]
        level = "debug"
        output = "syslog"
        facility = "local3"
        security_facility = "authpriv"
        syslog_socket = "/run/test/log.sock"
        "#,
    )
    .unwrap();
    assert_eq!(config.listen[1], "[::1]:4000".parse().unwrap());
    assert_eq!(config.max_line_bytes, 1024);
    assert_eq!(config.hash.memory_kib, 12288);
    assert_eq!(config.db_cache_bytes, 8 << 20);
    assert_eq!(config.log_level, log::LevelFilter::Debug);
    assert_eq!(config.log.output, OutputChoice::Syslog);
    assert_eq!(config.log.facility as u8, Facility::LOG_LOCAL3 as u8);
    assert_eq!(
        config.log.security_facility as u8,
        Facility::LOG_AUTHPRIV as u8
    );
    assert_eq!(
        config.log.syslog_socket,
        PathBuf::from("/run/test/log.sock")
    );
    assert!(config.hub.welcome.is_empty());
}

/// Each hub default has one home, `HubConfig::default()`: an empty file gives exactly it (the
/// config once repeated 600 s, 100 and 50 on its own).
#[test]
fn an_empty_file_gives_the_hubs_own_defaults() {
    let config = from_text("").unwrap();
    assert_eq!(config.hub, HubConfig::default());
    let set = from_text("[passwords]\nmin_length = 8\n").unwrap();
    assert_eq!(set.hub.min_password_chars, 8);
    let error = from_text("[passwords]\nmin_length = 0\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("passwords.min_length"), "{error}");
}

#[test]
fn the_example_file_holds_the_defaults() {
    let text = include_str!("../../etc/classcord.toml");
    let example = from_text(text).expect("valid");
    let default = Config::from_raw(RawConfig::default(), Overrides::default()).unwrap();
    assert_eq!(example.listen, default.listen);
    assert_eq!(example.storage, default.storage);
    assert_eq!(example.security, default.security);
    assert_eq!(example.hub, default.hub);
    assert_eq!(example.max_line_bytes, default.max_line_bytes);
    assert_eq!(example.outbound_queue_bytes, default.outbound_queue_bytes);
    assert_eq!(example.db_cache_bytes, default.db_cache_bytes);
    assert_eq!(example.admin, default.admin);
    assert_eq!(example.metrics, default.metrics);
    assert_eq!(
        (
            example.web.enabled,
            &example.web.listen,
            &example.web.trusted_proxies
        ),
        (
            default.web.enabled,
            &default.web.listen,
            &default.web.trusted_proxies
        )
    );
}

#[test]
fn notices_admin_and_metrics_can_be_set_and_are_checked() {
    let config = from_text(
        r#"
        [notices]
        joined = "{nom} arrive dans {salon}"
        shutdown_soon = "Arrêt dans {delai}.{raison}"
        channel_moves = "accounts"
        [admin]
        socket = "/run/test/admin.sock"
        group = "profs"
        [metrics]
        file = "/var/lib/node/classcord.prom"
        interval_secs = 1
        "#,
    )
    .unwrap();
    assert_eq!(config.hub.notices.joined, "{nom} arrive dans {salon}");
    assert_eq!(config.hub.notices.channel_moves, ChannelMoves::AccountsOnly);
    assert_eq!(config.hub.notices.left, NoticeTexts::default().left);
    assert_eq!(config.admin.group, "profs");
    assert_eq!(
        config.admin.socket.as_deref(),
        Some(Path::new("/run/test/admin.sock"))
    );
    assert_eq!(config.metrics.interval, std::time::Duration::from_secs(1));
    for (text, key) in [
        ("[notices]\njoined = \"{name} arrive\"", "notices.joined"),
        ("[notices]\nkicked = \" \"", "notices.kicked"),
        (
            "[notices]\nchannel_moves = \"some\"",
            "notices.channel_moves",
        ),
        ("[admin]\ngroup = \"\"", "admin.group"),
        ("[metrics]\ninterval_secs = 0", "metrics.interval_secs"),
    ] {
        let error = from_text(text).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn flags_override_the_file() {
    let raw: RawConfig = toml::from_str("listen = [\"127.0.0.1:1\"]\ndata_dir = \"a\"").unwrap();
    let overrides = Overrides {
        listen: vec!["127.0.0.1:2".into()],
        data_dir: Some("b".into()),
        log_level: Some("warn".into()),
        log_output: Some("console".into()),
        metrics_file: None,
        web_listen: vec!["127.0.0.1:3".into()],
    };
    let config = Config::from_raw(raw, overrides).unwrap();
    assert_eq!(config.listen, vec!["127.0.0.1:2".parse().unwrap()]);
    assert_eq!(config.web.listen, vec!["127.0.0.1:3".parse().unwrap()]);
    assert!(!config.web.listen_is_default);
    assert_eq!(config.data_dir, PathBuf::from("b"));
    assert!(!config.listen_is_default);
    assert_eq!(config.log.output, OutputChoice::Console);
}

#[test]
fn log_defaults_and_bad_log_values() {
    let config = from_text("").unwrap();
    assert_eq!(config.log.output, OutputChoice::Auto);
    assert_eq!(config.log.facility as u8, Facility::LOG_LOCAL0 as u8);
    assert_eq!(config.log.security_facility as u8, Facility::LOG_AUTH as u8);
    assert_eq!(config.log.syslog_socket, PathBuf::from("/dev/log"));
    let error = from_text("[log]\noutput = \"printer\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("printer"), "{error}");
    let error = from_text("[log]\nsecurity_facility = \"local9\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("log.security_facility"), "{error}");
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
    assert!(matches!(
        from_text("lisen = []"),
        Err(ConfigError::Parse { .. })
    ));
    let error = from_text("[limits]\nmax_line_bytes = 10")
        .unwrap_err()
        .to_string();
    assert!(error.contains("limits.max_line_bytes"), "{error}");
    assert!(from_text("listen = [\"nowhere\"]").is_err());
    assert!(from_text("[log]\nlevel = \"loud\"").is_err());
}

#[test]
fn bare_port_listens_on_ipv4() {
    assert_eq!(
        parse_listen("4000").unwrap(),
        "0.0.0.0:4000".parse().unwrap()
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let error = Config::load(
        Some(Path::new("/nonexistent/classcord.toml")),
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("/nonexistent/classcord.toml"), "{error}");
}

fn with_env(file: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut raw: RawConfig = toml::from_str(file).unwrap();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    apply_env(&mut raw, |name| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })?;
    Config::from_raw(raw, Overrides::default())
}

#[test]
fn environment_variables_override_the_file() {
    let config = with_env(
        "listen = [\"127.0.0.1:1\"]\n[log]\nlevel = \"warn\"",
        &[
            ("CLASSCORD_LISTEN", "0.0.0.0:4000, [::]:4000"),
            ("CLASSCORD_DATA_DIR", "/data"),
            ("CLASSCORD_WELCOME", ""),
            ("CLASSCORD_MAX_LINE_BYTES", "2048"),
            ("CLASSCORD_OUTBOUND_QUEUE_BYTES", "65536"),
            ("CLASSCORD_PASSWORD_MEMORY_KIB", "12288"),
            ("CLASSCORD_PASSWORD_ITERATIONS", "3"),
            ("CLASSCORD_PASSWORD_PARALLELISM", "1"),
            ("CLASSCORD_MAX_CONCURRENT_HASHES", "1"),
            ("CLASSCORD_CACHE_MIB", "8"),
            ("CLASSCORD_LOG_LEVEL", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(
        config.listen,
        vec![
            "0.0.0.0:4000".parse().unwrap(),
            "[::]:4000".parse().unwrap()
        ]
    );
    assert!(!config.listen_is_default);
    assert_eq!(config.data_dir, PathBuf::from("/data"));
    assert!(config.hub.welcome.is_empty());
    assert_eq!(config.max_line_bytes, 2048);
    assert_eq!(config.outbound_queue_bytes, 65536);
    assert_eq!(config.hash.memory_kib, 12288);
    assert_eq!(config.hash.iterations, 3);
    assert_eq!(config.max_concurrent_hashes, 1);
    assert_eq!(config.db_cache_bytes, 8 << 20);
    assert_eq!(config.log_level, log::LevelFilter::Debug);
    // Every documented variable was exercised above.
    assert_eq!(ENV_VARS.len(), 11);
}

#[test]
fn empty_or_absent_variables_keep_the_file_and_flags_still_win() {
    let config = with_env(
        "data_dir = \"from-file\"",
        &[("CLASSCORD_DATA_DIR", " "), ("CLASSCORD_LOG_LEVEL", "")],
    )
    .unwrap();
    assert_eq!(config.data_dir, PathBuf::from("from-file"));
    assert_eq!(config.log_level, log::LevelFilter::Info);

    let mut raw = RawConfig::default();
    apply_env(&mut raw, |name| {
        (name == "CLASSCORD_DATA_DIR").then(|| "from-env".to_string())
    })
    .unwrap();
    let overrides = Overrides {
        data_dir: Some("from-flag".into()),
        ..Overrides::default()
    };
    let config = Config::from_raw(raw, overrides).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("from-flag"));
}

#[test]
fn bad_environment_values_name_the_variable() {
    let error = with_env("", &[("CLASSCORD_CACHE_MIB", "beaucoup")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("CLASSCORD_CACHE_MIB"), "{error}");
    let error = with_env("", &[("CLASSCORD_PASSWORD_ITERATIONS", "-1")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("CLASSCORD_PASSWORD_ITERATIONS"), "{error}");
    // In range checks still apply, naming the file key.
    let error = with_env("", &[("CLASSCORD_MAX_LINE_BYTES", "10")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("limits.max_line_bytes"), "{error}");
    assert!(with_env("", &[("CLASSCORD_LISTEN", "nulle-part")]).is_err());
}

#[test]
fn the_web_page_is_on_by_default_on_port_8080_and_can_be_turned_off() {
    let config = from_text("").unwrap();
    assert!(config.web.enabled);
    assert!(config.web.listen_is_default);
    assert_eq!(config.web.listen[0], "0.0.0.0:8080".parse().unwrap());
    let off = from_text("[web]\nenabled = false\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    assert!(!off.web.enabled);
    assert_eq!(off.web.trusted_proxies.len(), 1);
    let error = from_text("[web]\nlisten = []\n").unwrap_err().to_string();
    assert!(
        error.contains("web.listen") && error.contains("enabled = false"),
        "{error}"
    );
    let error = from_text("[web]\ntrusted_proxies = [\"nginx\"]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("web.trusted_proxies"), "{error}");
}

/// SECURITE.md §4 gives each `[security]` default as "`key` (value)": the same value as the
/// example file (itself checked against the defaults above), so the doc cannot drift.
#[test]
fn the_security_doc_gives_the_defaults_of_the_example_file() {
    let doc = include_str!("../../SECURITE.md");
    let example: toml::Table = toml::from_str(include_str!("../../etc/classcord.toml")).unwrap();
    let security = example["security"].as_table().expect("[security]");
    let section = doc
        .split("## 4. Défenses dans le serveur")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("§4");
    let mut checked = Vec::new();
    for (key, value) in security {
        let Some(number) = value.as_integer() else {
            continue;
        };
        let written = format!("`{key}` (");
        let Some(at) = section.find(&written) else {
            continue;
        };
        let rest = &section[at + written.len()..];
        let stated: String = rest.chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(stated, number.to_string(), "SECURITE.md §4 on {key}");
        checked.push(key.as_str());
    }
    for key in [
        "max_connections_per_ip",
        "new_connections_burst",
        "invalid_lines_max",
        "login_failures_before_delay",
        "address_lockout_after",
        "address_lockout_accounts",
        "address_lockout_locked_tries",
        "checks_in_flight_per_ip",
        "registrations_burst",
    ] {
        assert!(checked.contains(&key), "{key} is not in SECURITE.md §4");
    }
}
