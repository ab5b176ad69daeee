//! The part of the vocabulary the hub task carries out (it is the one owner of the chat state:
//! sessions, channels, bans), and the door the [`Desk`](super::Desk) reaches it through. The
//! server wiring builds the door over the hub task's command channel, so nothing here knows
//! the network shell.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use classcord_core::hub::HubConfig;
use futures_lite::future::{Boxed, FutureExt};
use smol::channel::Sender;

use super::request::{Outcome, Request};
use super::trace::{TraceFeed, TraceTarget};
use crate::security::{AccessSettings, AttemptSettings};
use crate::store::moderation::DeletedLine;

/// The reply when the hub task is gone (the server is stopping).
pub const STOPPING: &str = "Le serveur s'arrête : commande non exécutée.";

/// What the hub task is asked.
#[derive(Debug)]
pub enum HubAsk {
    /// An operator's request about the chat: `who`, `channels`, `stats`, `kick`, `ban`,
    /// `unban`, `bans`, `alert`, `say`, `channel`, `mute`, `unmute`, `mutes`, `delete`, `slow`.
    Request(Request),
    /// The follow-up of `delete`: the store deleted this line; browsers showing it are told.
    MessageDeleted(Box<DeletedLine>),
    /// Starts a protocol trace fed into `feed` for `duration` at most.
    Trace {
        target: TraceTarget,
        duration: std::time::Duration,
        feed: TraceFeed,
    },
    /// An account the operator created: guests may no longer take its name.
    AccountCreated { name: String },
    /// An account the operator deleted: its sessions are closed and it is forgotten.
    AccountDeleted { name: String },
    /// What `reload` changes while the server runs.
    Reconfigure(Box<LiveSettings>),
    /// A countdown notice: the server stops in `delay`.
    ShutdownSoon {
        delay: String,
        reason: Option<String>,
    },
    /// A dashboard sign-in from `ip` for `account` (folded name), before its password is
    /// checked: the chat's own attempt limits decide (the answer's `data.wait_ms`: wait that
    /// long first; an error: the French refusal, nothing to check).
    SignInAttempt { ip: IpAddr, account: String },
    /// That check ended (`failed`: wrong password or no such account; `name`: as typed, for
    /// the `AUTH_FAIL` line).
    SignInDone {
        ip: IpAddr,
        account: String,
        name: String,
        failed: bool,
    },
}

/// One job for the hub task, with where its answer goes.
pub struct HubJob {
    pub ask: HubAsk,
    pub reply: Sender<Outcome>,
}

/// What `reload` changes while the server runs.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub hub: HubConfig,
    pub access: AccessSettings,
    pub attempts: AttemptSettings,
}

/// What goes through the door: a job, or the order to stop the server cleanly.
pub enum ToHub {
    Job(HubJob),
    Stop,
}

type SendFn = dyn Fn(ToHub) -> Boxed<bool> + Send + Sync;

/// The way to the hub task: hands it a job or the stop order; `false` once it is gone.
#[derive(Clone)]
pub struct HubDoor(Arc<SendFn>);

impl HubDoor {
    pub fn new<F>(send: impl Fn(ToHub) -> F + Send + Sync + 'static) -> HubDoor
    where
        F: Future<Output = bool> + Send + 'static,
    {
        HubDoor(Arc::new(move |to_hub| send(to_hub).boxed()))
    }

    /// Asks the hub task and waits for its answer.
    pub async fn ask(&self, ask: HubAsk) -> Outcome {
        let (reply, answer) = smol::channel::bounded(1);
        if !(self.0)(ToHub::Job(HubJob { ask, reply })).await {
            return Err(STOPPING.into());
        }
        answer.recv().await.unwrap_or_else(|_| Err(STOPPING.into()))
    }

    /// Starts the clean shutdown (the same path as SIGTERM, without a signal).
    pub async fn stop(&self) -> bool {
        (self.0)(ToHub::Stop).await
    }
}
