//! The hub's effects carried out: writes and loads handed to the store thread (never waited
//! for), password checks (handed to `checks.rs`), closes.

use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use classcord_core::hub::{CloseReason, Effect, StoreRequest};
use classcord_core::message::fold_name;

use smol::Timer;

use super::{HubCommand, HubTask, Later};
use crate::clock;
use crate::logging::{audit, SecurityEvent};
use crate::store::Loaded;

impl HubTask {
    /// Hands a write or a load to the store thread without waiting. A full queue means the disk
    /// is far behind: writes are dropped and counted (one warning per 10 s), loads answered
    /// "unavailable".
    /// Collects a request for the store thread; the batch goes out once per hub batch.
    pub(super) fn send_to_store(&mut self, request: StoreRequest) {
        self.store_batch.push(request);
    }

    /// Hands the batch's store requests over in one go, never waiting. A full queue means the
    /// disk is far behind: writes are dropped and counted (one warning per 10 s), loads answered
    /// "unavailable" (through `later`).
    pub(super) fn flush_store_batch(&mut self) {
        if self.store_batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.store_batch);
        let Err(refused) = self.store.submit_batch(batch) else {
            return;
        };
        for request in refused {
            self.refused_by_store(request);
        }
    }

    fn refused_by_store(&mut self, request: StoreRequest) {
        match request {
            StoreRequest::LoadHistory { session, page } => {
                self.later.push(Later::Loaded(Loaded::History {
                    session,
                    page,
                    records: None,
                }))
            }
            StoreRequest::LoadDeferred { session, .. } => {
                self.later.push(Later::Loaded(Loaded::Deferred {
                    session,
                    records: None,
                }))
            }
            _ => {
                self.store
                    .stats
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                self.dropped_since_warning += 1;
                let due = self
                    .last_drop_warning
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
                if due {
                    log::warn!(
                        "[STOCKAGE] file d'écriture pleine (disque trop lent) : {} écriture(s) \
                         non enregistrée(s) ; le chat continue",
                        self.dropped_since_warning
                    );
                    self.dropped_since_warning = 0;
                    self.last_drop_warning = Some(Instant::now());
                }
            }
        }
    }

    /// A timer that hands the hub a [`HubCommand::Wake`] at `micros` (the login hold's steps:
    /// a few per login, so one short-lived timer task each).
    fn wake_at(&mut self, micros: u64) {
        let wait = Duration::from_micros(micros.saturating_sub(clock::now().unix_micros));
        let commands = self.commands.clone();
        self.executor
            .spawn(async move {
                Timer::after(wait).await;
                let _ = commands.send(HubCommand::Wake).await;
            })
            .detach();
    }

    pub(super) fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::VerifyLogin {
                session,
                username,
                password,
            } => {
                let accounts = self.accounts.clone();
                let account = Some(fold_name(&username));
                self.check_account(session, account, async move {
                    accounts.login(username, password).await
                });
            }
            Effect::Register {
                session,
                username,
                password,
            } => {
                let accounts = self.accounts.clone();
                let created = clock::now().unix_micros / 1_000_000;
                self.check_account(session, None, async move {
                    accounts.register(username, password, created).await
                });
            }
            Effect::Close { session, reason } => {
                if let Some(peer) = self.peers.get(&session) {
                    if reason == CloseReason::LineTooLong {
                        audit(&SecurityEvent::LineTooLong {
                            ip: peer.ip(),
                            conn: session.0,
                        });
                    }
                    // The reader stops too: nothing more from this client reaches the hub.
                    if matches!(
                        reason,
                        CloseReason::RateLimit
                            | CloseReason::InvalidLines
                            | CloseReason::Timeout
                            | CloseReason::Kick
                    ) {
                        let _ = peer.connection.stream.get_ref().shutdown(Shutdown::Read);
                    }
                    self.close_peer(session);
                }
            }
            Effect::Log(event) => self.log_event(event),
            Effect::Store(request) => self.send_to_store(request),
            Effect::WakeAt { micros } => self.wake_at(micros),
        }
    }
}
