//! The fan-out engine and the `fanout` mode: N clients connect and identify, then S of them
//! send global messages `b|<run>|<sender>|<seq>|<t_ns>` (`sender`) while the receiver threads
//! (`receivers`) parse every line each client gets and track per-sender sequence numbers
//! (lost / duplicated / echoed) and latency (`checks`). The engine is also used by `logins`
//! for its background chat.
//!
//! Phases, each bounded: setup (connect + identify + ping/pong on the async executor, ready
//! timeout; each ready client's socket is then handed to its receiver thread), send (fixed
//! duration or until stopped), drain (until every expected delivery arrived or drain timeout),
//! shutdown (our own sockets are shut down so receivers see EOF and hand back their stats).

use crate::cli::{resolve_loopback, secs, FanoutArgs};
use crate::client::{timeout, Conn};
use crate::outcome::Outcome;
use crate::proc::{CpuWindow, ProcWatch};
use crate::receivers::{Handover, Receivers};
use crate::report::{FanoutReport, Finished};
use crate::run::{Config, Identity, Shared};
use crate::sender::{sender_task, Pace, SenderResult, Until};
use serde::Serialize;
use serde_json::json;
use smol::lock::Semaphore;
use smol::net::TcpStream;
use smol::{Executor, Task, Timer};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer of a client during setup (grows if needed; the receivers have their own).
const SETUP_BUF: usize = 16 * 1024;
/// How long a sender may stay blocked in a write after the send phase ended.
const SENDER_GRACE: Duration = Duration::from_secs(5);

/// Connects and identifies client `i`, then confirms with a ping/pong.
async fn setup_client(i: usize, cfg: &Config, name: &str) -> Result<Conn, String> {
    let limit = cfg.ready_timeout;
    let mut conn = match cfg.websocket {
        Some((web, _)) if cfg.uses_websocket(i) => {
            let mut conn = Conn::connect(web, cfg.connect_timeout, SETUP_BUF).await?;
            conn.upgrade(web, limit)
                .await
                .map_err(|e| format!("client {i}: {e}"))?;
            conn
        }
        _ => Conn::connect(cfg.addr, cfg.connect_timeout, SETUP_BUF).await?,
    };
    match &cfg.identity {
        Identity::Guest => conn.guest_hello(name).await?,
        Identity::Login { password } => {
            conn.hello_no_hold(limit).await?;
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

/// Hands a set-up client's socket (a duplicate descriptor) and its unread bytes to the
/// receiver threads.
fn hand_over(i: usize, mut conn: Conn, receivers: &Receivers) -> Result<TcpStream, String> {
    let fd = conn
        .stream
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("client {i}: duplicate socket: {e}"))?;
    receivers.add(Handover {
        me: i,
        stream: std::net::TcpStream::from(fd),
        buffered: conn.take_buffered(),
        ws: conn.ws.take(),
    })?;
    Ok(conn.stream)
}

/// One client: set up, hand the socket to the receiver threads, announce readiness (with a
/// writer handle).
async fn client_task(
    i: usize,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    receivers: Arc<Receivers>,
    sem: Arc<Semaphore>,
    ready: smol::channel::Sender<ReadyMsg>,
) {
    let guard = sem.acquire().await;
    let res = setup_client(i, &cfg, &shared.names[i]).await;
    drop(guard);
    let msg = match res.and_then(|conn| hand_over(i, conn, &receivers)) {
        Ok(stream) => Ok((i, stream)),
        Err(e) => Err((i, e)),
    };
    let _ = ready.send(msg).await;
}

/// A set-up fan-out whose senders have not started yet.
pub struct Fanout {
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    ex: Arc<Executor<'static>>,
    streams: Vec<TcpStream>,
    receivers: Arc<Receivers>,
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
        let names = (0..n).map(|i| cfg.name(i)).collect();
        let shared = Arc::new(Shared::new(&cfg.run, names, cfg.senders));
        let cfg = Arc::new(cfg);
        let receivers = match Receivers::start(cfg.recv_threads, cfg.busy_poll, n, shared.clone()) {
            Ok(r) => Arc::new(r),
            Err(error) => {
                return Err(SetupFailure {
                    phase: "setup",
                    error,
                    ready: 0,
                    clients: n,
                })
            }
        };
        let sem = Arc::new(Semaphore::new(cfg.connect_concurrency));
        let (tx, rx) = smol::channel::unbounded();
        // Dropping these tasks (setup failed) cancels the clients still being set up.
        let _setups: Vec<Task<()>> = (0..n)
            .map(|i| {
                ex.spawn(client_task(
                    i,
                    cfg.clone(),
                    shared.clone(),
                    receivers.clone(),
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
        let (rate, window, senders) = (self.cfg.rate, self.cfg.window, self.cfg.senders);
        self.senders = (0..senders)
            .map(|s| {
                self.ex.spawn(sender_task(
                    s,
                    self.streams[s].clone(),
                    self.shared.clone(),
                    Pace::new(rate, window, s, senders, now),
                    self.cfg.channel.clone(),
                    until,
                    self.cfg.uses_websocket(s),
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
    pub async fn shutdown(self, d: Drained) -> Outcome {
        let mut errors = d.errors;
        // Shutdown: receivers see EOF and return their statistics.
        self.shared.stopping.store(true, Ordering::Release);
        for s in &self.streams {
            let _ = s.shutdown(Shutdown::Both);
        }
        let join_deadline = Instant::now() + Duration::from_secs(5);
        let (stats, missing) = self.receivers.finish(join_deadline).await;
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

/// `threads`, or one per core when not given.
pub fn threads_or_cores(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1)
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
        recv_threads: threads_or_cores(args.threads),
        busy_poll: args.busy_poll,
        websocket: match &args.web_addr {
            Some(web) => Some((resolve_loopback(web)?, args.websocket_every)),
            None => None,
        },
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
