//! `shutdown [delay|annuler] [message]`: a countdown announced to users (the `shutdown_soon`
//! notice at round marks), then the usual clean shutdown; a countdown can be cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use smol::channel::Sender;

use super::bans::{describe_duration, parse_duration};
use super::context::AdminContext;
use crate::net::hub_task::admin::{AdminAsk, AdminResult, Answer};
use crate::net::hub_task::HubCommand;

impl AdminContext {
    pub(super) fn shutdown(&self, delay: Option<String>, reason: Option<String>) -> AdminResult {
        let mut running = self
            .countdown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let delay_text = delay.as_deref().map(str::trim).unwrap_or("");
        if matches!(delay_text, "annuler" | "cancel") {
            let Some(cancelled) = running.take() else {
                return Err("Aucun arrêt programmé.".into());
            };
            cancelled.store(true, Ordering::Relaxed);
            let hub = self.hub.clone();
            self.executor
                .spawn(async move {
                    let (reply, _answer) = smol::channel::bounded(1);
                    let ask = AdminAsk::Alert {
                        text: "L'arrêt du serveur est annulé.".into(),
                    };
                    let _ = hub.send(HubCommand::Admin { ask, reply }).await;
                })
                .detach();
            return Ok(Answer {
                text: "Arrêt annulé ; les utilisateurs sont prévenus.".into(),
                data: json!({ "cancelled": true }),
            });
        }
        let total = if delay_text.is_empty() || delay_text == "0" {
            Duration::ZERO
        } else {
            parse_duration(delay_text).ok_or_else(|| {
                format!("Délai invalide « {delay_text} » (exemples : 30s, 5m, 1h).")
            })?
        };
        if running.is_some() {
            return Err("Un arrêt est déjà programmé (shutdown annuler pour l'annuler).".into());
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        *running = Some(cancelled.clone());
        let hub = self.hub.clone();
        self.executor
            .spawn(countdown(hub, total, reason, cancelled))
            .detach();
        let text = if total.is_zero() {
            "Arrêt du serveur en cours.".to_owned()
        } else {
            format!(
                "Arrêt dans {} ; les utilisateurs sont prévenus (shutdown annuler pour \
                 l'annuler).",
                describe_duration(total)
            )
        };
        Ok(Answer {
            text,
            data: json!({ "delay_seconds": total.as_secs() }),
        })
    }
}

/// Notices at the start and at round marks, then the usual clean shutdown (SIGTERM to
/// ourselves: the same path as `systemctl stop`).
async fn countdown(
    hub: Sender<HubCommand>,
    total: Duration,
    reason: Option<String>,
    cancelled: Arc<AtomicBool>,
) {
    const MARKS: [u64; 9] = [3600, 1800, 900, 600, 300, 120, 60, 30, 10];
    let notify = |left: Duration| {
        let hub = hub.clone();
        let reason = reason.clone();
        async move {
            let (reply, answer) = smol::channel::bounded(1);
            let ask = AdminAsk::ShutdownSoon {
                delay: describe_duration(left),
                reason,
            };
            if hub.send(HubCommand::Admin { ask, reply }).await.is_ok() {
                let _ = answer.recv().await;
            }
        }
    };
    let started = std::time::Instant::now();
    if !total.is_zero() {
        notify(total).await;
        for mark in MARKS.map(Duration::from_secs) {
            if mark >= total {
                continue;
            }
            smol::Timer::at(started + (total - mark)).await;
            if cancelled.load(Ordering::Relaxed) {
                return;
            }
            notify(mark).await;
        }
        smol::Timer::at(started + total).await;
    } else {
        // Lets the reply reach the console first.
        smol::Timer::after(Duration::from_millis(100)).await;
    }
    if cancelled.load(Ordering::Relaxed) {
        return;
    }
    log::info!("[ARRET] arrêt demandé par l'administrateur");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM);
}
