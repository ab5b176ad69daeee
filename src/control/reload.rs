//! `reload` and SIGHUP: the configuration file read again (flags still win), checked as at
//! start (a bad file is refused and the configuration in force stays), and what can change live
//! applied: texts, security limits and allowlist, password attempt limits, history and deferred
//! settings, log level. What needs a restart is reported, not applied.

use serde_json::json;

use super::desk::{lock, Desk};
use super::hub::{HubAsk, LiveSettings};
use super::request::{Answer, Outcome};
use crate::config::Config;

/// One configuration item, whether it changes live, and whether it differs.
struct Item {
    name: &'static str,
    live: bool,
    differs: bool,
}

/// What differs between two configurations.
fn items(old: &Config, new: &Config) -> Vec<Item> {
    let debug =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    let (o, n) = (&old.security, &new.security);
    let item = |name, live, differs| Item {
        name,
        live,
        differs,
    };
    vec![
        item("welcome", true, old.hub.welcome != new.hub.welcome),
        item("notices", true, old.hub.notices != new.hub.notices),
        item(
            "storage.keep_history",
            true,
            old.hub.keep_history != new.hub.keep_history,
        ),
        item(
            "storage.deferred_per_recipient / deferred_per_sender",
            true,
            (old.hub.deferred_per_recipient, old.hub.deferred_per_sender)
                != (new.hub.deferred_per_recipient, new.hub.deferred_per_sender),
        ),
        item(
            "security.messages_per_second / messages_burst",
            true,
            old.hub.line_rate != new.hub.line_rate,
        ),
        item(
            "security.invalid_lines_max / invalid_lines_window_secs",
            true,
            old.hub.invalid_lines != new.hub.invalid_lines,
        ),
        item(
            "passwords.min_length",
            true,
            old.hub.min_password_chars != new.hub.min_password_chars,
        ),
        item(
            "security.identify_timeout_secs",
            true,
            old.hub.identify_timeout_secs != new.hub.identify_timeout_secs,
        ),
        item(
            "clients.login_settle_ms / login_spacing_ms",
            true,
            old.hub.login_hold != new.hub.login_hold,
        ),
        item("security.allow", true, o.allow != n.allow),
        item(
            "security.max_connections / max_connections_per_ip",
            true,
            (o.max_connections, o.max_connections_per_ip)
                != (n.max_connections, n.max_connections_per_ip),
        ),
        item(
            "security.new_connections_per_minute / new_connections_burst",
            true,
            (o.new_connections_per_minute, o.new_connections_burst)
                != (n.new_connections_per_minute, n.new_connections_burst),
        ),
        item(
            "security (mots de passe : retards et verrouillages)",
            true,
            o.attempts != n.attempts,
        ),
        item("log.level", true, old.log_level != new.log_level),
        item("listen", false, old.listen != new.listen),
        item("data_dir", false, old.data_dir != new.data_dir),
        item(
            "limits",
            false,
            (old.max_line_bytes, old.outbound_queue_bytes)
                != (new.max_line_bytes, new.outbound_queue_bytes),
        ),
        item(
            "passwords",
            false,
            old.hash != new.hash || old.max_concurrent_hashes != new.max_concurrent_hashes,
        ),
        item(
            "storage (cache, écritures, rétention)",
            false,
            old.storage != new.storage || old.db_cache_bytes != new.db_cache_bytes,
        ),
        item(
            "security.partial_line_timeout_secs",
            false,
            o.partial_line_timeout != n.partial_line_timeout,
        ),
        item(
            "log (sortie, catégories, socket)",
            false,
            debug(&old.log, &new.log),
        ),
        item(
            "admin.operators",
            true,
            old.admin.operators != new.admin.operators,
        ),
        item(
            "admin (socket, groupe)",
            false,
            (&old.admin.socket, &old.admin.group) != (&new.admin.socket, &new.admin.group),
        ),
        item("metrics", false, old.metrics != new.metrics),
    ]
}

impl Desk {
    /// Reads the configuration again and applies it (see the module doc).
    pub(super) async fn reload(&self) -> Outcome {
        reload(self).await
    }
}

async fn reload(context: &Desk) -> Outcome {
    let Some(file) = context.source.file.clone() else {
        return Err(
            "Le serveur a démarré sans fichier de configuration (--config) : rien à relire.".into(),
        );
    };
    let source = context.source.clone();
    let new = smol::unblock(move || source.load())
        .await
        .map_err(|error| {
            log::warn!("[ADMIN] configuration refusée, l'ancienne reste en place : {error}");
            format!("Fichier refusé, la configuration en place est gardée : {error}")
        })?;
    let current = lock(&context.current).clone();
    let applied: Vec<&str> = items(&current, &new)
        .into_iter()
        .filter(|item| item.live && item.differs)
        .map(|item| item.name)
        .collect();
    let restart: Vec<&str> = items(&context.started, &new)
        .into_iter()
        .filter(|item| !item.live && item.differs)
        .map(|item| item.name)
        .collect();
    let live = LiveSettings {
        hub: new.hub.clone(),
        access: new.security.access_settings(),
        attempts: new.security.attempts.clone(),
    };
    context.hub.ask(HubAsk::Reconfigure(Box::new(live))).await?;
    crate::logging::set_level(new.log_level);
    *lock(&context.current) = new;
    let mut lines = vec![format!("Configuration relue : {}.", file.display())];
    if applied.is_empty() {
        lines.push("Rien à changer en service.".into());
    } else {
        lines.push(format!("Appliqué tout de suite : {}.", applied.join(", ")));
    }
    if !restart.is_empty() {
        lines.push(format!(
            "Pris en compte au prochain redémarrage seulement : {}.",
            restart.join(", ")
        ));
    }
    let text = lines.join("\n");
    log::info!("[ADMIN] {}", text.replace('\n', " "));
    Ok(Answer::new(
        text,
        json!({ "applied": applied, "needs_restart": restart }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigSource, Overrides};

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        ConfigSource {
            file: Some(path),
            overrides: Overrides::default(),
        }
        .load()
        .unwrap()
    }

    #[test]
    fn live_and_restart_items_are_told_apart() {
        let old = load("welcome = \"a\"\n");
        let new = load(
            "welcome = \"b\"\nlisten = [\"127.0.0.1:1\"]\n[security]\nallow = [\"10.0.0.0/8\"]\n",
        );
        let differs: Vec<(&str, bool)> = items(&old, &new)
            .into_iter()
            .filter(|i| i.differs)
            .map(|i| (i.name, i.live))
            .collect();
        assert_eq!(
            differs,
            [
                ("welcome", true),
                ("security.allow", true),
                ("listen", false)
            ]
        );
    }
}
