//! The fan-out engine and the `fanout` mode: N clients connect and identify, then S of them
//! send global messages `b|<run>|<sender>|<seq>|<t_ns>` while every client's receiver parses
//! every line, tracks per-sender sequence numbers (lost / duplicated / echoed) and latency.
//! The engine is also used by `logins` for its background chat.
//!
//! Phases, each bounded: setup (connect + identify + ping/pong, ready timeout), send (fixed
//! duration or until stopped), drain (until every expected delivery arrived or drain timeout),
//! shutdown (our own sockets are shut down so receivers see EOF and hand back their stats).

use crate::cli::{resolve_loopback, secs, FanoutArgs};
use crate::client::{show, timeout, Conn};
use crate::line::{json_str, parse_content, push_u64, scan, Content, Val};
use crate::proc::{CpuWindow, ProcWatch};
use crate::report::{FanoutReport, Finished};
use crate::stats::{Histogram, Seen, SeqTracker};
use event_listener::Event;
use serde::Serialize;
use serde_json::json;
use smol::io::AsyncWriteExt;
use smol::lock::Semaphore;
use smol::net::TcpStream;
use smol::{Executor, Task, Timer};
use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages one sender puts in one write.
const MAX_BATCH: u64 = 512;
/// Shortest sleep of a rate-limited sender (its writes are coalesced over this period).
const MIN_TICK: Duration = Duration::from_millis(1);
/// How long a sender may stay blocked in a write after the send phase ended.
const SENDER_GRACE: Duration = Duration::from_secs(5);

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
    pub buf_size: usize,
}

impl Config {
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

    fn name(&self, i: usize) -> String {
        match self.identity {
            Identity::Guest => format!("{}{i}", self.name_prefix),
            Identity::Login { .. } => format!("{}{i}_{}", self.name_prefix, self.run),
        }
    }
}

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// State shared by the coordinator, the senders and the receivers.
struct Shared {
    epoch: Instant,
    run: Vec<u8>,
    names: Vec<String>,
    clients: usize,
    senders: usize,
    /// Per sender: one past the highest sequence number its probe receiver has seen.
    probe_seen: Vec<AtomicU64>,
    probe_event: Vec<Event>,
    /// Per sender: messages written so far.
    sent: Vec<AtomicU64>,
    /// Per receiver: unique bench deliveries so far.
    progress: Vec<Padded>,
    stop_senders: AtomicBool,
    stopping: AtomicBool,
    receivers_done: AtomicUsize,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The one receiver whose progress bounds sender `s`'s window.
    fn probe_of(&self, s: usize) -> usize {
        if s == self.clients - 1 {
            0
        } else {
            self.clients - 1
        }
    }

    fn stop_senders(&self) {
        self.stop_senders.store(true, Ordering::SeqCst);
        for e in &self.probe_event {
            e.notify(usize::MAX);
        }
    }
}

/// What one receiver saw.
#[derive(Debug, Default)]
struct RecvStats {
    me: usize,
    trackers: Vec<SeqTracker>,
    unique: u64,
    latency: Histogram,
    echoed: u64,
    bad_lines: u64,
    wrong_from: u64,
    foreign: u64,
    server_errors: u64,
    status_lines: u64,
    pongs: u64,
    other_messages: u64,
    other_lines: u64,
    last_rx_ns: u64,
    disconnected: Option<String>,
    samples: BTreeMap<&'static str, String>,
}

impl RecvStats {
    fn sample(&mut self, what: &'static str, line: &[u8]) {
        self.samples.entry(what).or_insert_with(|| show(line));
    }

    fn bad(&mut self, why: &'static str, line: &[u8]) {
        self.bad_lines += 1;
        if !self.samples.contains_key("bad_line") {
            self.samples
                .insert("bad_line", format!("{why}: {}", show(line)));
        }
    }

    /// Classifies one server line received by client `me` at `now_ns`.
    fn on_line(&mut self, me: usize, line: &[u8], now_ns: u64, shared: &Shared) {
        if line.is_empty() {
            return self.bad("empty line", line);
        }
        if line.last() == Some(&b'\r') {
            return self.bad("CRLF line ending", line);
        }
        let f = match scan(line) {
            Ok(f) => f,
            Err(e) => return self.bad(scan_error_text(e), line),
        };
        let Some(Val::Str(ty)) = f.ty else {
            return self.bad("missing or non-string type", line);
        };
        match &*ty.decoded() {
            b"message" => {}
            b"status" => {
                self.status_lines += 1;
                return;
            }
            b"pong" => {
                self.pongs += 1;
                return;
            }
            b"error" | b"kick" | b"shutdown" => {
                self.server_errors += 1;
                self.sample("server_error", line);
                return;
            }
            _ => {
                self.other_lines += 1;
                return;
            }
        }
        let (Some(Val::Str(from)), Some(Val::Str(content))) = (f.from, f.content) else {
            return self.bad("message without string from/content", line);
        };
        let content = content.decoded();
        let (sender, seq, t_ns) = match parse_content(&content) {
            Content::Other => {
                self.other_messages += 1;
                self.sample("other_message", line);
                return;
            }
            Content::Malformed => return self.bad("malformed bench content", line),
            Content::Bench { run, .. } if run != shared.run.as_slice() => {
                self.foreign += 1;
                return;
            }
            Content::Bench {
                sender, seq, t_ns, ..
            } => (sender as usize, seq, t_ns),
        };
        if sender >= shared.senders {
            return self.bad("sender index out of range", line);
        }
        if !from.eq_bytes(shared.names[sender].as_bytes()) {
            self.wrong_from += 1;
            self.sample("wrong_from", line);
            return;
        }
        if sender == me {
            self.echoed += 1;
            self.sample("echoed", line);
            return;
        }
        match self.trackers[sender].observe(seq) {
            Seen::New => {
                self.unique += 1;
                self.latency.record(now_ns.saturating_sub(t_ns));
                self.last_rx_ns = now_ns;
            }
            Seen::Duplicate => {}
        }
    }
}

fn scan_error_text(e: crate::line::ScanError) -> &'static str {
    match e {
        crate::line::ScanError::Syntax(_) => "not a JSON object",
        crate::line::ScanError::NonAscii(_) => "non-ASCII byte in output",
        crate::line::ScanError::DuplicateKey => "duplicate key",
        crate::line::ScanError::TooDeep => "nesting too deep",
    }
}

/// Reads and classifies everything client `me` receives until the connection ends.
async fn receive(me: usize, mut conn: Conn, shared: Arc<Shared>) -> RecvStats {
    let mut st = RecvStats {
        me,
        trackers: vec![SeqTracker::default(); shared.senders],
        ..RecvStats::default()
    };
    let probed: Vec<usize> = (0..shared.senders)
        .filter(|&s| s != me && shared.probe_of(s) == me)
        .collect();
    loop {
        match conn.fill().await {
            Ok(0) => {
                if !shared.stopping.load(Ordering::Acquire) {
                    st.disconnected = Some("server closed the connection".into());
                }
                break;
            }
            Ok(_) => {
                let now = shared.now_ns();
                conn.for_each_line(|line| st.on_line(me, line, now, &shared));
                shared.progress[me].0.store(st.unique, Ordering::Relaxed);
                for &s in &probed {
                    let next = st.trackers[s].next();
                    if shared.probe_seen[s].swap(next, Ordering::AcqRel) != next {
                        shared.probe_event[s].notify(usize::MAX);
                    }
                }
            }
            Err(e) => {
                if !shared.stopping.load(Ordering::Acquire) {
                    st.disconnected = Some(format!("read error: {e}"));
                }
                break;
            }
        }
    }
    shared.receivers_done.fetch_add(1, Ordering::AcqRel);
    st
}

/// Connects and identifies client `i`, then confirms with a ping/pong.
async fn setup_client(i: usize, cfg: &Config, name: &str) -> Result<Conn, String> {
    let limit = cfg.ready_timeout;
    let mut conn = Conn::connect(cfg.addr, cfg.connect_timeout, cfg.buf_size).await?;
    match &cfg.identity {
        Identity::Guest => conn.guest_hello(name).await?,
        Identity::Login { password } => {
            conn.register(name, password, limit).await?;
            conn.login(name, password, limit).await?;
        }
    }
    if let Some(ch) = &cfg.channel {
        conn.join_channel(ch, limit).await?;
    }
    conn.ping(limit)
        .await
        .map_err(|e| format!("client {i}: {e}"))?;
    Ok(conn)
}

type ReadyMsg = Result<(usize, TcpStream), (usize, String)>;

/// One client: set up, announce readiness (with a writer handle), then receive.
async fn client_task(
    i: usize,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    ready: smol::channel::Sender<ReadyMsg>,
) -> Option<RecvStats> {
    let guard = sem.acquire().await;
    let res = setup_client(i, &cfg, &shared.names[i]).await;
    drop(guard);
    match res {
        Ok(conn) => {
            let _ = ready.send(Ok((i, conn.stream.clone()))).await;
            Some(receive(i, conn, shared).await)
        }
        Err(e) => {
            let _ = ready.send(Err((i, e))).await;
            None
        }
    }
}

/// When senders stop.
#[derive(Debug, Clone, Copy)]
enum Until {
    Deadline(Instant),
    Stopped,
}

struct SenderResult {
    error: Option<String>,
}

/// Sender `s`: paced at `rate` messages/s, or window-limited when `rate` is 0.
async fn sender_task(
    s: usize,
    mut stream: TcpStream,
    shared: Arc<Shared>,
    rate: f64,
    window: u64,
    channel: Option<String>,
    until: Until,
) -> SenderResult {
    let channel = channel
        .map(|c| format!("\"channel\":{},", json_str(&c)))
        .unwrap_or_default();
    let prefix = format!(
        "{{\"type\":\"message\",\"from\":{},{channel}\"content\":\"b|{}|{s}|",
        json_str(&shared.names[s]),
        String::from_utf8_lossy(&shared.run)
    );
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut seq: u64 = 0;
    let start = Instant::now();
    let finished = |now: Instant| {
        shared.stop_senders.load(Ordering::Acquire)
            || matches!(until, Until::Deadline(d) if now >= d)
    };
    // Wake-up bound so an open-ended sender notices the stop flag promptly.
    let horizon = |now: Instant| match until {
        Until::Deadline(d) => d,
        Until::Stopped => now + Duration::from_millis(20),
    };
    loop {
        let now = Instant::now();
        if finished(now) {
            break;
        }
        let n = if rate > 0.0 {
            let due = (now.duration_since(start).as_secs_f64() * rate).floor() as u64 + 1;
            due.saturating_sub(seq).min(MAX_BATCH)
        } else {
            let seen = shared.probe_seen[s].load(Ordering::Acquire);
            let inflight = seq.saturating_sub(seen);
            if inflight >= window {
                let listener = shared.probe_event[s].listen();
                if shared.probe_seen[s].load(Ordering::Acquire) == seen
                    && !shared.stop_senders.load(Ordering::Acquire)
                {
                    smol::future::or(listener, async {
                        Timer::at(horizon(now)).await;
                    })
                    .await;
                }
                continue;
            }
            (window - inflight).min(MAX_BATCH)
        };
        if n > 0 {
            buf.clear();
            let t = shared.now_ns();
            for k in seq..seq + n {
                buf.extend_from_slice(prefix.as_bytes());
                push_u64(&mut buf, k);
                buf.push(b'|');
                push_u64(&mut buf, t);
                buf.extend_from_slice(b"\"}\n");
            }
            if let Err(e) = stream.write_all(&buf).await {
                return SenderResult {
                    error: Some(format!("sender {s}: write failed: {e}")),
                };
            }
            seq += n;
            shared.sent[s].store(seq, Ordering::Release);
        }
        if rate > 0.0 && n < MAX_BATCH {
            let next_due = start + Duration::from_secs_f64(seq as f64 / rate);
            let now = Instant::now();
            let wake = next_due.max(now + MIN_TICK).min(horizon(now));
            Timer::at(wake).await;
        } else if rate > 0.0 {
            smol::future::yield_now().await;
        }
    }
    SenderResult { error: None }
}

/// A set-up fan-out whose senders have not started yet.
pub struct Fanout {
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    ex: Arc<Executor<'static>>,
    streams: Vec<TcpStream>,
    receivers: Vec<Task<Option<RecvStats>>>,
    senders: Vec<Task<SenderResult>>,
    pub setup_s: f64,
    send_start: Option<Instant>,
}

/// Why setup failed, and how far it got.
#[derive(Debug, Serialize)]
pub struct SetupFailure {
    pub phase: &'static str,
    pub error: String,
    pub ready: usize,
    pub clients: usize,
}

impl Fanout {
    /// Connects and identifies every client; returns once all answered a ping.
    pub async fn setup(ex: Arc<Executor<'static>>, cfg: Config) -> Result<Fanout, SetupFailure> {
        let t0 = Instant::now();
        let n = cfg.clients;
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            run: cfg.run.clone().into_bytes(),
            names: (0..n).map(|i| cfg.name(i)).collect(),
            clients: n,
            senders: cfg.senders,
            probe_seen: (0..cfg.senders).map(|_| AtomicU64::new(0)).collect(),
            probe_event: (0..cfg.senders).map(|_| Event::new()).collect(),
            sent: (0..cfg.senders).map(|_| AtomicU64::new(0)).collect(),
            progress: (0..n).map(|_| Padded::default()).collect(),
            stop_senders: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            receivers_done: AtomicUsize::new(0),
        });
        let cfg = Arc::new(cfg);
        let sem = Arc::new(Semaphore::new(cfg.connect_concurrency));
        let (tx, rx) = smol::channel::unbounded();
        let receivers: Vec<_> = (0..n)
            .map(|i| {
                ex.spawn(client_task(
                    i,
                    cfg.clone(),
                    shared.clone(),
                    sem.clone(),
                    tx.clone(),
                ))
            })
            .collect();
        drop(tx);
        let mut streams: Vec<Option<TcpStream>> = vec![None; n];
        let mut ready = 0;
        let deadline = t0 + cfg.ready_timeout;
        while ready < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let fail = |phase, error| SetupFailure {
                phase,
                error,
                ready,
                clients: n,
            };
            match timeout(left, rx.recv()).await {
                None => {
                    return Err(fail(
                        "ready",
                        format!(
                            "only {ready} of {n} clients were ready after {:?}",
                            cfg.ready_timeout
                        ),
                    ))
                }
                Some(Ok(Ok((i, s)))) => {
                    streams[i] = Some(s);
                    ready += 1;
                }
                Some(Ok(Err((i, e)))) => {
                    return Err(fail(
                        "setup",
                        format!("client {i} ({}): {e}", shared.names[i]),
                    ))
                }
                Some(Err(_)) => return Err(fail("setup", "client tasks vanished".into())),
            }
        }
        Ok(Fanout {
            cfg,
            shared,
            ex,
            streams: streams.into_iter().flatten().collect(),
            receivers,
            senders: Vec::new(),
            setup_s: t0.elapsed().as_secs_f64(),
            send_start: None,
        })
    }

    /// Starts the senders; they stop after `duration`, or at `stop()` when None.
    pub fn start(&mut self, duration: Option<Duration>) {
        let now = Instant::now();
        self.send_start = Some(now);
        let until = match duration {
            Some(d) => Until::Deadline(now + d),
            None => Until::Stopped,
        };
        let per_sender = self.cfg.rate / self.cfg.senders as f64;
        self.senders = (0..self.cfg.senders)
            .map(|s| {
                self.ex.spawn(sender_task(
                    s,
                    self.streams[s].clone(),
                    self.shared.clone(),
                    per_sender,
                    self.cfg.window,
                    self.cfg.channel.clone(),
                    until,
                ))
            })
            .collect();
    }

    /// Asks open-ended senders to stop.
    pub fn stop(&self) {
        self.shared.stop_senders();
    }

    /// Waits for the senders to end, then for the expected deliveries (bounded by
    /// `drain_timeout`). The measured window ends when this returns.
    pub async fn drain(&mut self, drain_timeout: Duration) -> Drained {
        let send_start = self.send_start.unwrap_or_else(Instant::now);
        let mut errors = Vec::new();
        let grace_end = Instant::now() + SENDER_GRACE;
        for (s, task) in std::mem::take(&mut self.senders).into_iter().enumerate() {
            // Senders end by themselves; one still blocked in a write is cancelled (dropped).
            let left = grace_end.saturating_duration_since(Instant::now());
            match timeout(left, task).await {
                Some(SenderResult { error: Some(e) }) => errors.push(e),
                Some(SenderResult { error: None }) => {}
                None => errors.push(format!(
                    "sender {s} was still blocked writing {SENDER_GRACE:?} after sending ended \
                     (server not reading?)"
                )),
            }
        }
        self.shared.stop_senders();
        let send_end = Instant::now();
        let sent: Vec<u64> = self
            .shared
            .sent
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .collect();
        let total_sent: u64 = sent.iter().sum();
        let receivers = self.cfg.clients as u64 - 1;
        let expected = total_sent * receivers;

        // Drain: until everything expected arrived, every receiver ended, or the timeout.
        let drain_deadline = send_end + drain_timeout;
        let mut drain_timed_out = false;
        loop {
            let got: u64 = self
                .shared
                .progress
                .iter()
                .map(|p| p.0.load(Ordering::Relaxed))
                .sum();
            if got >= expected
                || self.shared.receivers_done.load(Ordering::Acquire) == self.cfg.clients
            {
                break;
            }
            if Instant::now() >= drain_deadline {
                drain_timed_out = true;
                break;
            }
            Timer::after(Duration::from_millis(2)).await;
        }
        Drained {
            sent,
            expected,
            errors,
            send_start,
            send_end,
            drain_end: Instant::now(),
            drain_timed_out,
        }
    }

    /// Shuts our connections down (receivers see EOF and return their statistics) and merges
    /// them. Bounded.
    pub async fn shutdown(mut self, d: Drained) -> Outcome {
        let mut errors = d.errors;
        // Shutdown: receivers see EOF and return their statistics.
        self.shared.stopping.store(true, Ordering::Release);
        for s in &self.streams {
            let _ = s.shutdown(Shutdown::Both);
        }
        let join_deadline = Instant::now() + Duration::from_secs(5);
        let mut stats = Vec::with_capacity(self.receivers.len());
        let mut missing = Vec::new();
        for (i, task) in std::mem::take(&mut self.receivers).into_iter().enumerate() {
            let left = join_deadline.saturating_duration_since(Instant::now());
            match timeout(left, task).await {
                Some(Some(st)) => stats.push(st),
                _ => missing.push(i),
            }
        }
        if !missing.is_empty() {
            errors.push(format!(
                "{} receivers did not finish after shutdown (counted as lost)",
                missing.len()
            ));
        }
        Outcome::merge(
            &self.shared,
            stats,
            &missing,
            d.sent,
            d.expected,
            errors,
            d.send_start,
            d.send_end,
            d.drain_end,
            d.drain_timed_out,
        )
    }
}

/// Where the drain phase ended.
pub struct Drained {
    sent: Vec<u64>,
    expected: u64,
    errors: Vec<String>,
    send_start: Instant,
    send_end: Instant,
    drain_end: Instant,
    drain_timed_out: bool,
}

/// Everything a fan-out run measured.
pub struct Outcome {
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub echoed: u64,
    pub bad_lines: u64,
    pub wrong_from: u64,
    pub foreign: u64,
    pub server_errors: u64,
    pub status_lines: u64,
    pub pongs: u64,
    pub other_messages: u64,
    pub other_lines: u64,
    pub disconnected: u64,
    pub latency: Histogram,
    pub send_s: f64,
    pub elapsed_s: f64,
    pub drain_s: f64,
    pub drain_timed_out: bool,
    pub errors: Vec<String>,
    pub samples: BTreeMap<&'static str, String>,
}

impl Outcome {
    #[allow(clippy::too_many_arguments)]
    fn merge(
        shared: &Shared,
        stats: Vec<RecvStats>,
        missing: &[usize],
        sent: Vec<u64>,
        expected: u64,
        mut errors: Vec<String>,
        send_start: Instant,
        send_end: Instant,
        drain_end: Instant,
        drain_timed_out: bool,
    ) -> Outcome {
        let mut o = Outcome {
            sent: sent.iter().sum(),
            expected,
            received: 0,
            lost: 0,
            duplicated: 0,
            echoed: 0,
            bad_lines: 0,
            wrong_from: 0,
            foreign: 0,
            server_errors: 0,
            status_lines: 0,
            pongs: 0,
            other_messages: 0,
            other_lines: 0,
            disconnected: 0,
            latency: Histogram::new(),
            send_s: send_end.duration_since(send_start).as_secs_f64(),
            elapsed_s: 0.0,
            drain_s: drain_end.duration_since(send_end).as_secs_f64(),
            drain_timed_out,
            errors: Vec::new(),
            samples: BTreeMap::new(),
        };
        // What receiver `me` should get: everything from every sender but itself.
        let owed = |me: usize| -> u64 {
            sent.iter()
                .enumerate()
                .filter(|&(s, _)| s != me)
                .map(|(_, n)| n)
                .sum()
        };
        let start_ns = send_start.duration_since(shared.epoch).as_nanos() as u64;
        let mut last_rx = start_ns;
        for st in &stats {
            o.received += st.unique;
            o.echoed += st.echoed;
            o.bad_lines += st.bad_lines;
            o.wrong_from += st.wrong_from;
            o.foreign += st.foreign;
            o.server_errors += st.server_errors;
            o.status_lines += st.status_lines;
            o.pongs += st.pongs;
            o.other_messages += st.other_messages;
            o.other_lines += st.other_lines;
            o.latency.merge(&st.latency);
            last_rx = last_rx.max(st.last_rx_ns);
            // Lost is counted per (receiver, sender) pair, so no extra copy can hide a loss.
            for (s, t) in st.trackers.iter().enumerate() {
                o.duplicated += t.duplicates();
                if s != st.me {
                    o.lost += t.lost(sent[s]);
                }
            }
            if let Some(why) = &st.disconnected {
                o.disconnected += 1;
                o.samples
                    .entry("disconnected")
                    .or_insert_with(|| format!("client {}: {why}", st.me));
            }
            for (k, v) in &st.samples {
                o.samples.entry(k).or_insert_with(|| v.clone());
            }
        }
        o.lost += missing.iter().map(|&me| owed(me)).sum::<u64>();
        // The delivery window: from the first send to the end of sending or the last delivery,
        // whichever is later (so a short run at a fixed rate is not inflated).
        o.elapsed_s = (last_rx.saturating_sub(start_ns) as f64 / 1e9).max(o.send_s);
        if o.disconnected > 0 {
            errors.push(format!(
                "{} clients were disconnected by the server before the end",
                o.disconnected
            ));
        }
        o.errors = errors;
        o
    }

    /// Deliveries per second over the delivery window (see `elapsed_s`).
    pub fn deliveries_per_sec(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.received as f64 / self.elapsed_s
        } else {
            0.0
        }
    }

    /// True when nothing was lost, duplicated, echoed, misattributed or unparsable.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.echoed == 0
            && self.bad_lines == 0
            && self.wrong_from == 0
    }
}

/// Builds the engine configuration of the `fanout` mode (resolving and checking the target).
pub fn config(args: &FanoutArgs, run: &str) -> Result<Config, String> {
    if args.guest && args.login {
        return Err("--guest and --login are exclusive".into());
    }
    let cfg = Config {
        addr: resolve_loopback(&args.addr)?,
        clients: args.clients,
        senders: args.senders,
        rate: args.rate,
        window: args.window,
        identity: if args.login {
            Identity::Login {
                password: format!("bench-pw-{run}"),
            }
        } else {
            Identity::Guest
        },
        channel: args.channel.clone(),
        name_prefix: "bench".into(),
        run: run.into(),
        connect_timeout: secs("connect-timeout", args.connect_timeout)?,
        ready_timeout: secs("ready-timeout", args.ready_timeout)?,
        connect_concurrency: args.connect_concurrency,
        buf_size: 64 * 1024,
    };
    cfg.validate()?;
    secs("duration", args.duration)?;
    secs("drain-timeout", args.drain_timeout)?;
    Ok(cfg)
}

/// The `fanout` mode.
pub async fn run(
    ex: Arc<Executor<'static>>,
    args: FanoutArgs,
    cfg: Config,
    watch: Option<ProcWatch>,
) -> Finished {
    let duration = Duration::from_secs_f64(args.duration);
    let drain_timeout = Duration::from_secs_f64(args.drain_timeout);
    let mut f = match Fanout::setup(ex, cfg.clone()).await {
        Ok(f) => f,
        Err(fail) => {
            return Finished::failure(
                "fanout",
                fail.phase,
                fail.error,
                json!({ "ready": fail.ready, "clients": fail.clients, "run": cfg.run }),
            )
        }
    };
    let setup_s = f.setup_s;
    let cpu = CpuWindow::start(watch.as_ref());
    f.start(Some(duration));
    Timer::after(duration).await;
    let drained = f.drain(drain_timeout).await;
    let usage = cpu.finish(watch.as_ref());
    let mem = watch.as_ref().and_then(|w| w.memory().ok());
    let outcome = f.shutdown(drained).await;
    let report = FanoutReport::new("fanout", &cfg, setup_s, outcome, usage, mem);
    let failed = !report.ok;
    let check_failed = args.check && !report.clean;
    Finished::from_report(&report, failed, check_failed)
}
