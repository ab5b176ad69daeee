//! The hub task: the one owner of chat state. It receives lines and connection events over a
//! channel, runs `core::hub`, pushes each produced frame (encoded once, shared) into the
//! recipients' outboxes, and carries out the effects: password checks on blocking threads, closes,
//! log lines. It never waits on a socket.
//!
//! - this file: the commands it receives and its loop;
//! - `deliver.rs`: frames into outboxes, outboxes onto sockets;
//! - `effects.rs`: the store, closes; `checks.rs`: password checks after the attempt limits;
//! - `events.rs`: log lines and security events;
//! - `floods.rs`: back-pressure (pausing a flooding sender);
//! - `admin.rs`: the console's requests (who, kick, bans, mutes...), gauges, ban and mute expiry;
//! - `trace.rs`: the live protocol traces (one branch per hook while none runs).

pub mod admin;
mod checks;
mod deliver;
mod effects;
mod events;
mod floods;
mod pacing;
mod trace;

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::{AuthOutcome, Hub, Inbound, Output, SessionId, StoreRequest};
use futures_lite::future;
use smol::channel::{Receiver, Sender};
use smol::{Executor, Timer};

use super::flood::{FloodControl, ReadGate};
use super::outbox::Outbox;
use super::writer::Stream;
use crate::accounts::Accounts;
use crate::clock;
use crate::logging::{bare_ip, Shown};
use crate::metrics::{self, Metrics};
use crate::security::{AttemptGuard, AttemptSettings};
use crate::store::{Loaded, StoreHandle};
use std::sync::atomic::AtomicBool;

/// Commands handled before the touched outboxes are flushed: under load, each connection then
/// gets the lines of many messages in one write.
const MAX_BATCH: usize = 256;

/// Session ids are sequential numbers: one multiply spreads them, SipHash is not needed here
/// (the ids are ours, not attacker-chosen).
#[derive(Default)]
struct SessionHasher(u64);

impl Hasher for SessionHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PeerMap = HashMap<SessionId, Peer, BuildHasherDefault<SessionHasher>>;

/// An answer for the hub decided while carrying out its effects.
enum Later {
    Loaded(Loaded),
    Auth(SessionId, AuthOutcome),
}

/// Everything the hub task is told.
pub enum HubCommand {
    Connect {
        session: SessionId,
        connection: Connection,
    },
    Lines {
        session: SessionId,
        lines: Vec<Inbound>,
        /// Their texts, while a protocol trace watches the connection (`trace.rs`).
        texts: Option<Vec<String>>,
    },
    Disconnect {
        session: SessionId,
    },
    AuthDone {
        session: SessionId,
        outcome: AuthOutcome,
    },
    /// A history page or deferred lines, read by the store thread.
    Loaded(Loaded),
    /// Periodic housekeeping (sent every [`TICK`]).
    Tick,
    /// A time the hub asked to be woken at has come (`Effect::WakeAt`).
    Wake,
    /// Transport bytes for one connection, written in order with its frames (a WebSocket pong
    /// or close).
    Raw {
        session: SessionId,
        bytes: Vec<u8>,
    },
    /// Look at deep queues again while senders are paused (every [`RECHECK_EVERY`]).
    Recheck,
    /// An operator's request about the chat, or a follow-up of one (`crate::control::HubJob`);
    /// the answer goes to the job's reply channel.
    Admin(crate::control::HubJob),
    Shutdown,
}

/// How often the hub gets a [`HubCommand::Tick`].
pub const TICK: Duration = Duration::from_secs(2);

/// The hub's handle on one connection.
pub struct Connection {
    pub stream: Stream,
    pub peer: SocketAddr,
    /// Closed by the hub while this client floods (see `flood`).
    pub gate: Arc<ReadGate>,
    pub transport: Transport,
}

/// How a connection's lines travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A JSON object per line: the students' clients.
    Tcp,
    /// A JSON object per WebSocket text frame: the browser client (`crate::web`).
    WebSocket,
}

impl Transport {
    /// The name in log lines, `who` and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::WebSocket => "websocket",
        }
    }
}

struct Peer {
    connection: Connection,
    outbox: Outbox,
    /// A WebSocket close frame went out (from the reader): nothing may follow it.
    close_frame_sent: bool,
}

impl Peer {
    fn ip(&self) -> IpAddr {
        bare_ip(self.connection.peer.ip())
    }
}

pub struct HubTask {
    hub: Hub,
    peers: PeerMap,
    /// Outboxes to flush at the end of the current batch, or when `pacer` says.
    to_flush: Vec<SessionId>,
    pacer: pacing::FlushPacer,
    accounts: Accounts,
    store: StoreHandle,
    /// Answers produced while carrying out effects (a load the store queue refused, an attempt
    /// refused by the limits), handed to the hub once the current output is out.
    later: Vec<Later>,
    /// Store requests of the current batch (handed over once per batch).
    store_batch: Vec<StoreRequest>,
    /// Password attempts per address and account.
    attempts: AttemptGuard,
    flood: FloodControl,
    /// Lines of paused senders, read before the pause, handled when they resume.
    parked: HashMap<SessionId, VecDeque<Inbound>>,
    /// Set while the recheck ticker runs (only while senders are paused).
    recheck_running: Arc<AtomicBool>,
    /// Checks running: the address and account they count against.
    checking: HashMap<SessionId, (IpAddr, Option<String>)>,
    /// Checks waiting for their address's turn (see `checks.rs`).
    queued_checks: HashMap<IpAddr, VecDeque<checks::QueuedCheck>>,
    /// Writes dropped on a full store queue since the last warning, and when it was.
    dropped_since_warning: u64,
    last_drop_warning: Option<Instant>,
    executor: Arc<Executor<'static>>,
    commands: Sender<HubCommand>,
    /// Cap on the bytes queued for one connection.
    outbound_limit: usize,
    /// Given to each backlog writer; at shutdown the server waits (bounded) until every writer
    /// has dropped it, that is has written its last lines.
    writers_alive: Sender<()>,
    output: Output,
    /// When the last connection or line was handled, and whether memory churned since the last
    /// give-back to the system.
    last_activity: Instant,
    churned: bool,
    /// systemd's watchdog, fed from this loop so a wedged hub gets the service restarted.
    watchdog: crate::systemd::Watchdog,
    metrics: Arc<Metrics>,
    /// Bans, the access guard and the message rate, for the console.
    admin: admin::AdminState,
    /// The protocol traces running; `None` (the common case) costs one branch per hook.
    traces: Option<Box<trace::Traces>>,
}

/// What the hub task works with besides the hub and the executor.
pub struct Services {
    pub accounts: Accounts,
    pub store: StoreHandle,
    pub attempts: AttemptSettings,
    /// Commands to the hub task itself (account checks report back through it).
    pub commands: Sender<HubCommand>,
    /// Given to each backlog writer; at shutdown the server waits until all are dropped.
    pub writers_alive: Sender<()>,
    pub outbound_limit: usize,
    pub admin: admin::AdminState,
}

impl HubTask {
    pub fn new(hub: Hub, services: Services, executor: Arc<Executor<'static>>) -> Self {
        let Services {
            accounts,
            store,
            attempts,
            commands,
            writers_alive,
            outbound_limit,
            admin,
        } = services;
        HubTask {
            hub,
            peers: PeerMap::default(),
            to_flush: Vec::new(),
            pacer: pacing::FlushPacer::new(pacing::FLUSH_LINGER, pacing::BUSY_BELOW),
            accounts,
            store,
            later: Vec::new(),
            store_batch: Vec::new(),
            attempts: AttemptGuard::new(attempts),
            flood: FloodControl::new(outbound_limit),
            parked: HashMap::new(),
            recheck_running: Arc::new(AtomicBool::new(false)),
            checking: HashMap::new(),
            queued_checks: HashMap::new(),
            dropped_since_warning: 0,
            last_drop_warning: None,
            executor,
            commands,
            writers_alive,
            outbound_limit,
            output: Output::new(),
            last_activity: Instant::now(),
            churned: false,
            watchdog: crate::systemd::Watchdog::from_env(),
            metrics: admin.metrics.clone(),
            admin,
            traces: None,
        }
    }

    /// Runs until a `Shutdown` command (or until every sender is gone).
    pub async fn run(mut self, inbox: Receiver<HubCommand>) {
        let mut pace_timer = Timer::never();
        loop {
            let next = match self.pacer.due() {
                None => inbox.recv().await.ok(),
                Some(due) => {
                    // Lines are waiting (a busy hub, see `pacing`): the next command or their
                    // due time, whichever comes first.
                    pace_timer.set_at(due);
                    let arrived = future::or(async { Some(inbox.recv().await.ok()) }, async {
                        (&mut pace_timer).await;
                        None
                    })
                    .await;
                    match arrived {
                        Some(next) => next,
                        None => {
                            self.write_queued();
                            continue;
                        }
                    }
                }
            };
            let Some(command) = next else { break };
            let mut running = self.apply(command);
            let mut handled = 1;
            while running && handled < MAX_BATCH {
                let Ok(command) = inbox.try_recv() else { break };
                running = self.apply(command);
                handled += 1;
            }
            self.flush_store_batch();
            self.answer_later();
            self.flush_store_batch();
            self.answer_later();
            self.paced_flush();
            self.watchdog.ping();
            if !running {
                break;
            }
        }
        let sessions: Vec<SessionId> = self.peers.keys().copied().collect();
        for session in sessions {
            self.close_peer(session);
        }
    }

    /// Writes the outboxes the batch touched, now or once the pacer's linger is over.
    fn paced_flush(&mut self) {
        if self.to_flush.is_empty() {
            return;
        }
        if self.pacer.after_batch(Instant::now()) == pacing::AfterBatch::FlushNow {
            self.write_queued();
        }
    }

    fn write_queued(&mut self) {
        self.flush_outboxes();
        self.pacer.flushed(Instant::now());
    }

    /// Returns false once the server is shutting down.
    fn apply(&mut self, command: HubCommand) -> bool {
        let mut output = std::mem::take(&mut self.output);
        if !matches!(command, HubCommand::Tick) {
            self.last_activity = Instant::now();
            self.churned = true;
        }
        let keep_going = match command {
            HubCommand::Connect {
                session,
                connection,
            } => {
                log::info!(
                    "[CONNEXION] {} (#{}, {})",
                    connection.peer,
                    session.0,
                    connection.transport.name()
                );
                self.admin.sessions_opened += 1;
                self.hub.connect(session, &clock::now());
                self.peers.insert(
                    session,
                    Peer {
                        connection,
                        outbox: Outbox::new(),
                        close_frame_sent: false,
                    },
                );
                if self.traces.is_some() {
                    self.trace_connected(session);
                }
                true
            }
            HubCommand::Lines {
                session,
                lines,
                texts,
            } => {
                metrics::add(&self.metrics.counters.lines_received, lines.len() as u64);
                if let Some(traces) = self.traces.as_deref_mut() {
                    traces.arrived(session, lines.len(), texts);
                }
                self.feed_lines(session, lines.into(), &mut output);
                true
            }
            HubCommand::Disconnect { session } => {
                self.flood.forget(session);
                self.parked.remove(&session);
                // Read before the hub forgets the session: the log line below names it.
                let name = self
                    .hub
                    .session_name(session)
                    .map(|name| format!(", {}", Shown(name)))
                    .unwrap_or_default();
                self.hub.disconnect(session, &mut output);
                self.close_peer(session);
                if self.traces.is_some() {
                    self.trace_closed(session);
                }
                if let Some(peer) = self.peers.remove(&session) {
                    log::info!(
                        "[DECONNEXION] {} (#{}{name})",
                        peer.connection.peer,
                        session.0
                    );
                }
                true
            }
            HubCommand::AuthDone { session, outcome } => {
                self.check_done(session, &outcome);
                self.hub
                    .auth_result(session, outcome, &clock::now(), &mut output);
                true
            }
            HubCommand::Loaded(loaded) => {
                self.loaded(loaded, &mut output);
                true
            }
            HubCommand::Recheck => {
                self.recheck_floods(&mut output);
                true
            }
            HubCommand::Raw { session, bytes } => {
                self.push_raw(session, &bytes);
                true
            }
            HubCommand::Wake => {
                self.hub.wake(&clock::now(), &mut output);
                true
            }
            HubCommand::Tick => {
                let now = clock::now();
                self.hub.expire(&now, &mut output);
                // A safety net for a wake-up lost to a clock step.
                self.hub.wake(&now, &mut output);
                self.admin_tick(&mut output);
                if self.traces.is_some() {
                    self.trace_tick();
                }
                // Once the chat has been quiet for a moment, give freed heap pages back: after a
                // burst (a class logging in at once) RSS returns to what live connections need.
                if self.churned && self.last_activity.elapsed() >= TICK / 2 {
                    super::release_free_memory();
                    self.churned = false;
                }
                true
            }
            HubCommand::Admin(job) => {
                self.admin_request(job, &mut output);
                true
            }
            HubCommand::Shutdown => {
                log::info!(
                    "[ARRET] arrêt demandé : prévient {} connexion(s)",
                    self.peers.len()
                );
                self.hub.shutdown(&clock::now(), &mut output);
                false
            }
        };
        self.deliver(&mut output);
        if self.traces.is_some() {
            self.trace_settle();
            if !keep_going {
                self.trace_shutdown();
            }
        }
        output.clear();
        self.output = output;
        self.answer_later();
        keep_going
    }

    /// Answers decided while carrying out effects (a refused attempt, a load the store queue
    /// could not take) go to the hub now.
    fn answer_later(&mut self) {
        let mut output = std::mem::take(&mut self.output);
        while let Some(answer) = self.later.pop() {
            match answer {
                Later::Loaded(loaded) => self.loaded(loaded, &mut output),
                Later::Auth(session, outcome) => {
                    self.hub
                        .auth_result(session, outcome, &clock::now(), &mut output)
                }
            }
            self.deliver(&mut output);
            output.clear();
        }
        self.output = output;
    }

    fn loaded(&mut self, loaded: Loaded, output: &mut Output) {
        let now = clock::now();
        match loaded {
            Loaded::History {
                session,
                page,
                records,
            } => self
                .hub
                .history_loaded(session, page, records, &now, output),
            Loaded::Deferred { session, records } => {
                self.hub.deferred_loaded(session, records, &now, output)
            }
        }
    }
}
