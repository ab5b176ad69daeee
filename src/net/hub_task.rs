//! The hub task: the one owner of chat state. It receives lines and connection events over a
//! channel, runs `core::hub`, pushes each produced frame (encoded once, shared) into the
//! recipients' outboxes, and carries out the effects: password checks on blocking threads, closes,
//! log lines. It never waits on a socket.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::{
    AuthOutcome, CloseReason, Effect, Event, Hub, Inbound, Output, SessionId, StoreRequest,
};
use smol::channel::{Receiver, Sender};
use smol::Executor;

use super::flood::{FloodControl, ReadGate, RECHECK_EVERY};
use super::outbox::{Flushed, Outbox, Push};
use super::writer::{write_backlog, Stream, WriterEnd};
use crate::accounts::Accounts;
use crate::clock;
use crate::logging::{
    audit, bare_ip, FloodAction, RateAction, RateKind, SecurityEvent, Shown, TimeoutPhase,
};
use crate::security::{AttemptGuard, AttemptSettings, Verdict};
use crate::store::{Loaded, StoreHandle};
use classcord_core::message::fold_name;
use smol::Timer;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Look at deep queues again while senders are paused (every [`RECHECK_EVERY`]).
    Recheck,
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
}

struct Peer {
    connection: Connection,
    outbox: Outbox,
    name: Option<String>,
}

impl Peer {
    fn ip(&self) -> IpAddr {
        bare_ip(self.connection.peer.ip())
    }
}

pub struct HubTask {
    hub: Hub,
    peers: PeerMap,
    /// Outboxes to flush at the end of the current batch.
    to_flush: Vec<SessionId>,
    accounts: Accounts,
    store: StoreHandle,
    /// Answers produced while carrying out effects (a load the store queue refused, an attempt
    /// refused by the limits), handed to the hub once the current output is out.
    later: Vec<Later>,
    /// Password attempts per address and account.
    attempts: AttemptGuard,
    flood: FloodControl,
    /// Lines of paused senders, read before the pause, handled when they resume.
    parked: HashMap<SessionId, VecDeque<Inbound>>,
    /// Set while the recheck ticker runs (only while senders are paused).
    recheck_running: Arc<AtomicBool>,
    /// Checks running: the address and account they count against.
    checking: HashMap<SessionId, (IpAddr, Option<String>)>,
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
        } = services;
        HubTask {
            hub,
            peers: PeerMap::default(),
            to_flush: Vec::new(),
            accounts,
            store,
            later: Vec::new(),
            attempts: AttemptGuard::new(attempts),
            flood: FloodControl::new(outbound_limit),
            parked: HashMap::new(),
            recheck_running: Arc::new(AtomicBool::new(false)),
            checking: HashMap::new(),
            dropped_since_warning: 0,
            last_drop_warning: None,
            executor,
            commands,
            writers_alive,
            outbound_limit,
            output: Output::new(),
            last_activity: Instant::now(),
            churned: false,
        }
    }

    /// Runs until a `Shutdown` command (or until every sender is gone).
    pub async fn run(mut self, inbox: Receiver<HubCommand>) {
        while let Ok(command) = inbox.recv().await {
            let mut running = self.apply(command);
            let mut handled = 1;
            while running && handled < MAX_BATCH {
                let Ok(command) = inbox.try_recv() else { break };
                running = self.apply(command);
                handled += 1;
            }
            self.flush_outboxes();
            if !running {
                break;
            }
        }
        let sessions: Vec<SessionId> = self.peers.keys().copied().collect();
        for session in sessions {
            self.close_peer(session);
        }
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
                log::info!("[CONNEXION] {} (#{})", connection.peer, session.0);
                self.hub.connect(session, &clock::now());
                self.peers.insert(
                    session,
                    Peer {
                        connection,
                        outbox: Outbox::new(),
                        name: None,
                    },
                );
                true
            }
            HubCommand::Lines { session, lines } => {
                self.feed_lines(session, lines.into(), &mut output);
                true
            }
            HubCommand::Disconnect { session } => {
                self.flood.forget(session);
                self.parked.remove(&session);
                self.hub.disconnect(session, &mut output);
                self.close_peer(session);
                if let Some(peer) = self.peers.remove(&session) {
                    let name = peer
                        .name
                        .as_deref()
                        .map(|name| format!(", {}", Shown(name)))
                        .unwrap_or_default();
                    log::info!(
                        "[DECONNEXION] {} (#{}{name})",
                        peer.connection.peer,
                        session.0
                    );
                }
                true
            }
            HubCommand::AuthDone { session, outcome } => {
                if let Some((ip, account)) = self.checking.remove(&session) {
                    let failed = matches!(outcome, AuthOutcome::LoginFailed);
                    self.attempts
                        .finished(ip, account.as_deref(), failed, Instant::now());
                    // Closed before its answer: the hub drops the outcome, fail2ban still counts it.
                    if failed && !self.peers.contains_key(&session) {
                        let user = account.as_deref().unwrap_or_default();
                        audit(&SecurityEvent::AuthFail { ip, user });
                    }
                }
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
            HubCommand::Tick => {
                self.hub.expire(&clock::now(), &mut output);
                // Once the chat has been quiet for a moment, give freed heap pages back: after a
                // burst (a class logging in at once) RSS returns to what live connections need.
                if self.churned && self.last_activity.elapsed() >= TICK / 2 {
                    super::release_free_memory();
                    self.churned = false;
                }
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
        output.clear();
        // Answers decided while carrying out effects go in now.
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
        keep_going
    }

    /// Hands a sender's lines to the hub one at a time, each delivered at once: as soon as one
    /// deepens a recipient's queue, the rest is parked and the sender paused (see `flood`).
    fn feed_lines(
        &mut self,
        session: SessionId,
        mut lines: VecDeque<Inbound>,
        output: &mut Output,
    ) {
        if let Some(parked) = self.parked.get_mut(&session) {
            // Read before the pause took effect: after what is already waiting.
            parked.extend(lines);
            return;
        }
        let now = clock::now();
        while let Some(line) = lines.pop_front() {
            self.flood.start_command();
            self.hub.handle(session, line, &now, output);
            self.deliver(output);
            output.clear();
            if self.flood.deepened() {
                if !lines.is_empty() {
                    self.parked.insert(session, lines);
                }
                self.pause_if_flooding(session);
                return;
            }
        }
    }

    /// Stops reading `sender` if its lines just deepened a recipient's queue.
    fn pause_if_flooding(&mut self, sender: SessionId) {
        let Some(peer) = self.peers.get(&sender) else {
            return;
        };
        if self.flood.after_lines(sender, &peer.connection.gate) {
            audit(&SecurityEvent::Flood {
                ip: peer.ip(),
                action: FloodAction::Paused,
                conn: sender.0,
            });
        }
        if self.flood.any_paused() && !self.recheck_running.swap(true, Ordering::AcqRel) {
            let running = self.recheck_running.clone();
            let commands = self.commands.clone();
            self.executor
                .spawn(async move {
                    while running.load(Ordering::Acquire) {
                        Timer::after(RECHECK_EVERY).await;
                        if commands.send(HubCommand::Recheck).await.is_err() {
                            return;
                        }
                    }
                })
                .detach();
        }
    }

    /// Resumes paused senders once no queue is deep; stalled readers are left to the byte cap.
    fn recheck_floods(&mut self, output: &mut Output) {
        let peers = &self.peers;
        let outcome = self.flood.recheck(
            |session| {
                peers.get(&session).map(|peer| {
                    let (queued, sent) = peer.outbox.progress();
                    // The kernel may hold megabytes for a loopback peer: what the peer took is
                    // what was sent minus what still sits unsent in the socket.
                    let unsent = unsent_in_socket(peer.connection.stream.get_ref());
                    (queued, sent.saturating_sub(unsent))
                })
            },
            Instant::now(),
        );
        for session in outcome.stalled {
            log::debug!(
                "[DEBUG] lecteur bloqué, plus attendu par les expéditeurs (#{})",
                session.0
            );
        }
        if !outcome.resumed.is_empty() {
            log::debug!(
                "[DEBUG] lecture reprise pour {} expéditeur(s)",
                outcome.resumed.len()
            );
        }
        for session in outcome.resumed {
            if let Some(parked) = self.parked.remove(&session) {
                self.feed_lines(session, parked, output);
            }
        }
        if !self.flood.any_paused() {
            self.recheck_running.store(false, Ordering::Release);
        }
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

    /// Hands a write or a load to the store thread without waiting. A full queue means the disk
    /// is far behind: writes are dropped and counted (one warning per 10 s), loads answered
    /// "unavailable".
    fn send_to_store(&mut self, request: StoreRequest) {
        let Err(request) = self.store.submit(request) else {
            return;
        };
        match *request {
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

    fn deliver(&mut self, output: &mut Output) {
        let limit = self.outbound_limit;
        let now = Instant::now();
        for (frame, recipients) in output.deliveries() {
            for &session in recipients {
                let Some(peer) = self.peers.get_mut(&session) else {
                    continue;
                };
                match peer.outbox.push(frame, limit) {
                    Push::Queued | Push::Closed => {}
                    Push::Backlogged { depth } => self.flood.queued(session, depth, now),
                    Push::FlushLater => self.to_flush.push(session),
                    Push::FlushNow => {
                        let flushed = peer.outbox.flush(peer.connection.stream.get_ref());
                        let stream = &peer.connection.stream;
                        after_flush(
                            flushed,
                            stream,
                            session,
                            &self.executor,
                            &self.writers_alive,
                        );
                    }
                    Push::Overflowed => {
                        audit(&SecurityEvent::SlowClient {
                            ip: peer.ip(),
                            limit,
                            conn: session.0,
                        });
                        // Unblocks a writer stuck on a full socket; the reader then sees the end.
                        let _ = peer.connection.stream.get_ref().shutdown(Shutdown::Both);
                    }
                }
            }
        }
        for effect in output.effects.drain(..) {
            self.perform(effect);
        }
    }

    fn flush_outboxes(&mut self) {
        let mut to_flush = std::mem::take(&mut self.to_flush);
        for &session in &to_flush {
            self.flush_peer(session);
        }
        to_flush.clear();
        self.to_flush = to_flush;
    }

    /// Writes a connection's queued lines; starts a backlog writer if its socket is full.
    fn flush_peer(&mut self, session: SessionId) {
        let Some(peer) = self.peers.get_mut(&session) else {
            return;
        };
        let flushed = peer.outbox.flush(peer.connection.stream.get_ref());
        after_flush(
            flushed,
            &peer.connection.stream,
            session,
            &self.executor,
            &self.writers_alive,
        );
    }

    /// Closes a connection once what is queued for it is written.
    fn close_peer(&mut self, session: SessionId) {
        if let Some(peer) = self.peers.get_mut(&session) {
            peer.outbox.close();
            self.flush_peer(session);
        }
    }

    /// Runs an account check off the hub, after the limits' verdict; its outcome comes back as
    /// a command. A refused attempt costs no hashing; a delayed one waits on a timer first.
    fn check_account(
        &mut self,
        session: SessionId,
        account: Option<String>,
        check: impl std::future::Future<Output = AuthOutcome> + Send + 'static,
    ) {
        let ip = self
            .peers
            .get(&session)
            .map_or(IpAddr::from([0, 0, 0, 0]), Peer::ip);
        let now = Instant::now();
        let verdict = match &account {
            Some(account) => self.attempts.login(ip, account, now),
            None => self.attempts.register(ip, now),
        };
        let kind = if account.is_some() {
            RateKind::Login
        } else {
            RateKind::Register
        };
        let limited = |action| SecurityEvent::RateLimit {
            ip,
            kind,
            action,
            conn: session.0,
            user: account.as_deref(),
        };
        let delay = match verdict {
            Verdict::Refuse(text) => {
                audit(&limited(RateAction::Refuse));
                self.later
                    .push(Later::Auth(session, AuthOutcome::Refused { text }));
                return;
            }
            Verdict::Delay(wait) => {
                audit(&limited(RateAction::Delay));
                Some(wait)
            }
            Verdict::Go => None,
        };
        self.attempts.started(ip, now);
        self.checking.insert(session, (ip, account));
        let commands = self.commands.clone();
        self.executor
            .spawn(async move {
                if let Some(wait) = delay {
                    Timer::after(wait).await;
                }
                let outcome = check.await;
                let _ = commands
                    .send(HubCommand::AuthDone { session, outcome })
                    .await;
            })
            .detach();
    }

    fn perform(&mut self, effect: Effect) {
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
                        CloseReason::RateLimit | CloseReason::Timeout | CloseReason::Kick
                    ) {
                        let _ = peer.connection.stream.get_ref().shutdown(Shutdown::Read);
                    }
                    self.close_peer(session);
                }
            }
            Effect::Log(event) => self.log_event(event),
            Effect::Store(request) => self.send_to_store(request),
        }
    }

    fn log_event(&mut self, event: Event) {
        match event {
            Event::GuestNamed { session, name } => {
                let ip = self.ip(session);
                log::info!("[INVITE] {} depuis {ip} (#{})", Shown(&name), session.0);
                self.set_name(session, name);
            }
            Event::LoggedIn { session, name } => {
                let ip = self.ip(session);
                log::info!("[LOGIN] {} depuis {ip} (#{})", Shown(&name), session.0);
                self.set_name(session, name);
            }
            Event::LoginFailed { session, username } => {
                if let Some(ip) = self.peer_ip(session) {
                    audit(&SecurityEvent::AuthFail {
                        ip,
                        user: &username,
                    });
                }
            }
            Event::Registered { session, name } => {
                log::info!(
                    "[INSCRIPTION] {} depuis {} (#{})",
                    Shown(&name),
                    self.ip(session),
                    session.0
                );
            }
            Event::RegisterRefused {
                session,
                username,
                reason,
            } => {
                if let Some(ip) = self.peer_ip(session) {
                    let user = &username;
                    audit(&SecurityEvent::RegisterRefused { ip, reason, user });
                }
            }
            Event::Message {
                session,
                from,
                target,
                length,
                recipients,
                frame,
            } => {
                log::info!(
                    "[MSG] {} -> {} ({length} octets, {recipients} destinataire(s)) (#{})",
                    Shown(&from),
                    Shown(&target),
                    session.0
                );
                if log::log_enabled!(log::Level::Debug) {
                    log::debug!("[MSG] {}", String::from_utf8_lossy(&frame).trim_end());
                }
            }
            Event::Deferred {
                session,
                from,
                to,
                length,
            } => {
                log::info!(
                    "[MSG] {} -> {} ({length} octets, différé : destinataire absent) (#{})",
                    Shown(&from),
                    Shown(&to),
                    session.0
                );
            }
            Event::RateLimited {
                session,
                disconnected,
            } => {
                if let Some(ip) = self.peer_ip(session) {
                    audit(&SecurityEvent::RateLimit {
                        ip,
                        kind: RateKind::Message,
                        action: if disconnected {
                            RateAction::Disconnect
                        } else {
                            RateAction::Warn
                        },
                        conn: session.0,
                        user: None,
                    });
                }
            }
            Event::TimedOut {
                session,
                partial_line,
            } => {
                if let Some(ip) = self.peer_ip(session) {
                    let phase = if partial_line {
                        TimeoutPhase::PartialLine
                    } else {
                        TimeoutPhase::Identify
                    };
                    audit(&SecurityEvent::Timeout {
                        ip,
                        phase,
                        conn: session.0,
                    });
                }
            }
            Event::Kicked { session, banned } => {
                let what = if banned { "banni" } else { "exclu" };
                log::warn!(
                    "[ADMIN] {} (#{}) {what} par l'administrateur",
                    self.ip(session),
                    session.0
                );
            }
            Event::ChannelDeleted { channel } => {
                log::info!("[ADMIN] salon {} supprimé", Shown(&channel));
            }
            Event::Rejected { session, reason } => {
                if let Some(ip) = self.peer_ip(session) {
                    let conn = session.0;
                    audit(&SecurityEvent::ProtocolError { ip, reason, conn });
                }
            }
            Event::ChannelJoined { session, channel } => {
                log::info!("[SALON] #{} rejoint {}", session.0, Shown(&channel));
            }
            Event::ChannelLeft { session, channel } => {
                log::info!("[SALON] #{} quitte {}", session.0, Shown(&channel));
            }
        }
    }

    fn peer_ip(&self, session: SessionId) -> Option<IpAddr> {
        self.peers.get(&session).map(Peer::ip)
    }

    fn ip(&self, session: SessionId) -> String {
        self.peers
            .get(&session)
            .map_or_else(|| "?".to_string(), |peer| peer.ip().to_string())
    }

    fn set_name(&mut self, session: SessionId, name: String) {
        if let Some(peer) = self.peers.get_mut(&session) {
            peer.name = Some(name);
        }
    }
}

/// Carries out what a flush asked for: shut the write side, or start a backlog writer.
fn after_flush(
    flushed: Flushed,
    stream: &Stream,
    session: SessionId,
    executor: &Executor<'static>,
    writers_alive: &Sender<()>,
) {
    match flushed {
        Flushed::Done => {}
        Flushed::ShutdownWrite => {
            let _ = stream.get_ref().shutdown(Shutdown::Write);
        }
        Flushed::StartWriter(backlog) => {
            let stream = stream.clone();
            let alive = writers_alive.clone();
            executor
                .spawn(async move {
                    let _alive = alive;
                    if write_backlog(stream, backlog).await == WriterEnd::Failed {
                        log::debug!("[DEBUG] écriture interrompue (#{})", session.0);
                    }
                })
                .detach();
        }
    }
}

/// Bytes written to `socket` that its peer has not taken yet (`TIOCOUTQ`; 0 if unknown).
fn unsent_in_socket(socket: &std::net::TcpStream) -> u64 {
    use std::os::fd::AsRawFd;
    let mut unsent: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one c_int through the pointer, which points to a live c_int.
    let status = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut unsent) };
    if status == 0 {
        u64::try_from(unsent).unwrap_or(0)
    } else {
        0
    }
}
