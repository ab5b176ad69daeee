//! `shutdown [maintenant|durée|annuler] [message]`: a countdown announced to users (the
//! `shutdown_soon` notice at round marks), then the usual clean shutdown, asked of the hub task
//! directly (no signal: the log says who stopped the server); a countdown can be cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::desk::{lock, Desk};
use super::duration::describe;
use super::duration::When;
use super::hub::{HubAsk, HubDoor};
use super::request::{Answer, Operator, Outcome, Request};

impl Desk {
    pub(super) fn shutdown(&self, when: When, reason: Option<String>, by: &Operator) -> Outcome {
        let mut running = lock(&self.countdown);
        let total = match when {
            When::Cancel => {
                let Some(cancelled) = running.take() else {
                    return Err("Aucun arrêt programmé.".into());
                };
                cancelled.store(true, Ordering::Relaxed);
                let hub = self.hub.clone();
                self.executor
                    .spawn(async move {
                        let alert = Request::Alert {
                            text: "L'arrêt du serveur est annulé.".into(),
                        };
                        let _ = hub.ask(HubAsk::Request(alert)).await;
                    })
                    .detach();
                return Ok(Answer::new(
                    "Arrêt annulé ; les utilisateurs sont prévenus.",
                    json!({ "cancelled": true }),
                ));
            }
            When::Now => Duration::ZERO,
            When::In(span) => span.duration(),
        };
        if running.is_some() {
            return Err("Un arrêt est déjà programmé (shutdown annuler pour l'annuler).".into());
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        *running = Some(cancelled.clone());
        self.executor
            .spawn(countdown(
                self.hub.clone(),
                total,
                reason,
                cancelled,
                by.clone(),
            ))
            .detach();
        let text = if total.is_zero() {
            "Arrêt du serveur en cours.".to_owned()
        } else {
            format!(
                "Arrêt dans {} ; les utilisateurs sont prévenus (shutdown annuler pour \
                 l'annuler).",
                describe(total)
            )
        };
        Ok(Answer::new(
            text,
            json!({ "delay_seconds": total.as_secs() }),
        ))
    }
}

/// Notices at the start and at round marks, then the clean shutdown.
async fn countdown(
    hub: HubDoor,
    total: Duration,
    reason: Option<String>,
    cancelled: Arc<AtomicBool>,
    by: Operator,
) {
    const MARKS: [u64; 9] = [3600, 1800, 900, 600, 300, 120, 60, 30, 10];
    let notify = |left: Duration| {
        let ask = HubAsk::ShutdownSoon {
            delay: describe(left),
            reason: reason.clone(),
        };
        let hub = hub.clone();
        async move {
            let _ = hub.ask(ask).await;
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
    log::info!("[ARRET] arrêt demandé par l'administrateur ({by})");
    hub.stop().await;
}
