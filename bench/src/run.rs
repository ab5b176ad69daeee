//! One fan-out run's settings ([`Config`], [`Identity`]) and the state its coordinator, senders
//! and receivers share ([`Shared`]): defined apart from the engine so that every part depends on
//! this file, and none on another part.

use event_listener::Event;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How clients identify.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Empty-content hello naming a guest.
    Guest,
    /// Register a fresh account, then log in (one-line replies read synchronously).
    Login { password: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub clients: usize,
    pub senders: usize,
    /// Total messages per second over all senders; 0 = window mode.
    pub rate: f64,
    pub window: u64,
    pub identity: Identity,
    pub channel: Option<String>,
    /// Client i is named `<prefix><i>` (guest) or `<prefix><i>_<run>` (login).
    pub name_prefix: String,
    /// Run id: part of every content, so lines from any other run are recognised as foreign.
    pub run: String,
    pub connect_timeout: Duration,
    pub ready_timeout: Duration,
    pub connect_concurrency: usize,
    /// Receiver threads (clients are spread over them).
    pub recv_threads: usize,
    /// Receiver threads poll without ever sleeping (see `receivers`).
    pub busy_poll: bool,
    /// WebSocket clients: the server's web port, and every how many clients one is a browser
    /// (2: clients 1, 3, 5...); `None`: every client on TCP.
    pub websocket: Option<(SocketAddr, usize)>,
}

impl Config {
    /// Whether client `i` speaks over the WebSocket.
    pub fn uses_websocket(&self, i: usize) -> bool {
        self.websocket
            .is_some_and(|(_, every)| every > 0 && i % every == every - 1)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.clients < 2 {
            return Err(
                "--clients must be at least 2 (a sender never receives its own message)".into(),
            );
        }
        if self.senders == 0 || self.senders > self.clients {
            return Err(format!(
                "--senders must be between 1 and --clients ({})",
                self.clients
            ));
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err("--rate must be >= 0 (0 = as fast as the window allows)".into());
        }
        if self.rate == 0.0 && self.window == 0 {
            return Err("--window must be at least 1".into());
        }
        if self.connect_concurrency == 0 {
            return Err("--connect-concurrency must be at least 1".into());
        }
        Ok(())
    }

    pub fn name(&self, i: usize) -> String {
        match self.identity {
            Identity::Guest => format!("{}{i}", self.name_prefix),
            Identity::Login { .. } => format!("{}{i}_{}", self.name_prefix, self.run),
        }
    }
}

#[repr(align(128))]
#[derive(Default)]
pub struct Padded(pub AtomicU64);

/// State shared by the coordinator, the senders and the receivers.
pub struct Shared {
    pub epoch: Instant,
    pub run: Vec<u8>,
    pub names: Vec<String>,
    pub clients: usize,
    pub senders: usize,
    /// Per sender: one past the highest sequence number its probe receiver has seen.
    pub probe_seen: Vec<AtomicU64>,
    pub probe_event: Vec<Event>,
    /// Per sender: messages written so far.
    pub sent: Vec<AtomicU64>,
    /// Per receiver: unique bench deliveries so far.
    pub progress: Vec<Padded>,
    pub stop_senders: AtomicBool,
    /// Our sockets are being shut down: an end of stream is expected, not a disconnect.
    pub stopping: AtomicBool,
    /// Connections whose receiver ended.
    pub receivers_done: AtomicUsize,
}

impl Shared {
    /// Fresh state for a run `run` whose clients are `names`, the first `senders` sending.
    pub fn new(run: &str, names: Vec<String>, senders: usize) -> Shared {
        let n = names.len();
        Shared {
            epoch: Instant::now(),
            run: run.as_bytes().to_vec(),
            names,
            clients: n,
            senders,
            probe_seen: (0..senders).map(|_| AtomicU64::new(0)).collect(),
            probe_event: (0..senders).map(|_| Event::new()).collect(),
            sent: (0..senders).map(|_| AtomicU64::new(0)).collect(),
            progress: (0..n).map(|_| Padded::default()).collect(),
            stop_senders: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            receivers_done: AtomicUsize::new(0),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The one receiver whose progress bounds sender `s`'s window.
    pub fn probe_of(&self, s: usize) -> usize {
        if s == self.clients - 1 {
            0
        } else {
            self.clients - 1
        }
    }

    pub fn stop_senders(&self) {
        self.stop_senders.store(true, Ordering::SeqCst);
        for e in &self.probe_event {
            e.notify(usize::MAX);
        }
    }
}
