//! The `idle` mode: the server's memory cost per idle connection. Reads the server's RSS, opens
//! N connections (each identifies as a guest with an empty hello, or as an account registered
//! then logged in with `--login`, or stays anonymous with `--anonymous`; then confirms with
//! ping/pong), waits for the presence traffic to settle, holds them, reads the
//! RSS again, and finally pings every connection to prove it is still open.

use crate::cli::{resolve_loopback, secs, IdleArgs};
use crate::client::{timeout, Conn};
use crate::proc::{round3, CpuWindow, ProcWatch};
use crate::report::Finished;
use event_listener::Event;
use serde::Serialize;
use serde_json::json;
use smol::lock::Semaphore;
use smol::{Executor, Timer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer per idle connection (kept small: there may be tens of thousands).
const IDLE_BUF: usize = 4096;
/// Presence traffic is considered settled after this long without a byte.
const QUIET: Duration = Duration::from_millis(500);
const MAX_SETTLE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub clients: usize,
    pub hold: Duration,
    pub anonymous: bool,
    /// Each connection registers then logs in as `idle<i>_<run>` with this password.
    pub login_password: Option<String>,
    pub ready_timeout: Duration,
    pub connect_timeout: Duration,
    pub connect_concurrency: usize,
    pub run: String,
}

pub fn config(args: &IdleArgs, run: &str) -> Result<Config, String> {
    if args.clients == 0 {
        return Err("--clients must be at least 1".into());
    }
    if args.connect_concurrency == 0 {
        return Err("--connect-concurrency must be at least 1".into());
    }
    if args.anonymous && args.login {
        return Err("--anonymous and --login are exclusive".into());
    }
    Ok(Config {
        addr: resolve_loopback(&args.addr)?,
        clients: args.clients,
        hold: secs("hold", args.hold)?,
        anonymous: args.anonymous,
        login_password: args.login.then(|| format!("idle-pw-{run}")),
        ready_timeout: secs("ready-timeout", args.ready_timeout)?,
        connect_timeout: secs("connect-timeout", args.connect_timeout)?,
        connect_concurrency: args.connect_concurrency,
        run: run.into(),
    })
}

struct Shared {
    check: AtomicBool,
    check_event: Event,
    bytes: AtomicU64,
    lines: AtomicU64,
}

async fn setup(i: usize, cfg: &Config) -> Result<Conn, String> {
    let mut conn = Conn::connect(cfg.addr, cfg.connect_timeout, IDLE_BUF).await?;
    let name = format!("idle{i}_{}", cfg.run);
    if let Some(password) = &cfg.login_password {
        conn.register(&name, password, cfg.ready_timeout).await?;
        conn.login(&name, password, cfg.ready_timeout).await?;
    } else if !cfg.anonymous {
        conn.guest_hello(&name).await?;
    }
    conn.ping(cfg.ready_timeout).await?;
    Ok(conn)
}

/// One idle connection: set up, discard whatever arrives until the final check, then ping.
async fn conn_task(
    i: usize,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    ready: smol::channel::Sender<Result<(), String>>,
) -> Result<(), String> {
    let guard = sem.acquire().await;
    let res = setup(i, &cfg).await;
    drop(guard);
    let mut conn = match res {
        Ok(c) => {
            let _ = ready.send(Ok(())).await;
            c
        }
        Err(e) => {
            let e = format!("connection {i}: {e}");
            let _ = ready.send(Err(e.clone())).await;
            return Err(e);
        }
    };
    let hold = async {
        loop {
            match conn.fill().await {
                Ok(0) => {
                    return Err(format!(
                        "connection {i}: closed by the server during the hold"
                    ))
                }
                Ok(n) => {
                    let mut lines = 0;
                    conn.for_each_line(|_| lines += 1);
                    shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    shared.lines.fetch_add(lines, Ordering::Relaxed);
                }
                Err(e) => return Err(format!("connection {i}: read error during the hold: {e}")),
            }
        }
    };
    let signal = async {
        loop {
            let listener = shared.check_event.listen();
            if shared.check.load(Ordering::Acquire) {
                return Ok(());
            }
            listener.await;
        }
    };
    smol::future::or(hold, signal).await?;
    conn.ping(cfg.ready_timeout)
        .await
        .map_err(|e| format!("connection {i}: final ping: {e}"))
}

/// The `idle` report.
#[derive(Debug, Serialize)]
struct IdleReport {
    mode: &'static str,
    /// Every connection was ready, held and answered the final ping.
    ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    run: String,
    clients: usize,
    anonymous: bool,
    login: bool,
    /// Connections still open at the end (answered the final ping).
    held: usize,
    failed: usize,
    setup_s: f64,
    /// Time waited for the presence traffic to stop before the "ready" RSS reading.
    settle_s: f64,
    hold_s: f64,
    /// Lines all idle connections received (presence announcements of the others).
    presence_lines: u64,
    rss_before_kib: u64,
    rss_ready_kib: Option<u64>,
    rss_end_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
    rss_delta_kib: Option<i64>,
    kib_per_connection: Option<f64>,
    /// The same from the anonymous part of the RSS only: without the code pages the
    /// connections' paths touched for the first time (a one-time cost, large for `--login`).
    anon_kib_per_connection: Option<f64>,
    server_cpu_s_during_hold: Option<f64>,
}

/// The `idle` mode.
pub async fn run(ex: Arc<Executor<'static>>, cfg: Config, watch: ProcWatch) -> Finished {
    let n = cfg.clients;
    let mem = |w: &ProcWatch| w.memory().map_err(|e| format!("server /proc: {e}"));
    let before = match mem(&watch) {
        Ok(m) => m,
        Err(e) => return Finished::failure("idle", "rss", e, json!({})),
    };
    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        check: AtomicBool::new(false),
        check_event: Event::new(),
        bytes: AtomicU64::new(0),
        lines: AtomicU64::new(0),
    });
    let cfg = Arc::new(cfg);
    let sem = Arc::new(Semaphore::new(cfg.connect_concurrency));
    let (tx, rx) = smol::channel::unbounded();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            ex.spawn(conn_task(
                i,
                cfg.clone(),
                shared.clone(),
                sem.clone(),
                tx.clone(),
            ))
        })
        .collect();
    drop(tx);
    let deadline = t0 + cfg.ready_timeout;
    let mut ready = 0;
    while ready < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let (phase, error) = match timeout(left, rx.recv()).await {
            Some(Ok(Ok(()))) => {
                ready += 1;
                continue;
            }
            Some(Ok(Err(e))) => ("setup", e),
            Some(Err(_)) => ("setup", "connection tasks vanished".into()),
            None => (
                "ready",
                format!(
                    "only {ready} of {n} connections were ready after {:?}",
                    cfg.ready_timeout
                ),
            ),
        };
        let rss_now = mem(&watch).ok().map(|m| m.rss_kib);
        return Finished::failure(
            "idle",
            phase,
            error,
            json!({ "clients": n, "ready": ready, "rss_before_kib": before.rss_kib,
                    "rss_now_kib": rss_now }),
        );
    }
    let setup_s = t0.elapsed().as_secs_f64();

    // Let the presence announcements (O(N^2) lines for N guests) finish flowing.
    let settle_start = Instant::now();
    let mut last = shared.bytes.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < QUIET && settle_start.elapsed() < MAX_SETTLE {
        Timer::after(Duration::from_millis(50)).await;
        let now = shared.bytes.load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    let settle_s = settle_start.elapsed().as_secs_f64();
    let ready_mem = mem(&watch).ok();

    let cpu = CpuWindow::start(Some(&watch));
    Timer::after(cfg.hold).await;
    let usage = cpu.finish(Some(&watch));
    let end_mem = mem(&watch);

    // Final check: every connection answers a ping.
    shared.check.store(true, Ordering::Release);
    shared.check_event.notify(usize::MAX);
    let check_deadline = Instant::now() + cfg.ready_timeout;
    let mut held = 0usize;
    let mut errors = Vec::new();
    let mut failures = 0usize;
    for task in tasks {
        let left = check_deadline.saturating_duration_since(Instant::now());
        match timeout(left, task).await {
            Some(Ok(())) => held += 1,
            Some(Err(e)) => {
                failures += 1;
                if errors.len() < 5 {
                    errors.push(e);
                }
            }
            None => {
                failures += 1;
                if errors.len() < 5 {
                    errors.push("final ping: no answer in time".into());
                }
            }
        }
    }
    let (end, end_err) = match end_mem {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e)),
    };
    if let Some(e) = end_err {
        errors.push(e);
    }
    let delta = end.map(|m| m.rss_kib as i64 - before.rss_kib as i64);
    let anon_delta = end
        .and_then(|m| m.anon_kib.zip(before.anon_kib))
        .map(|(end, start)| end as i64 - start as i64);
    let per_connection = |kib: i64| (kib as f64 / n as f64 * 100.0).round() / 100.0;
    let ok = failures == 0 && end.is_some();
    let report = IdleReport {
        mode: "idle",
        ok,
        errors,
        run: cfg.run.clone(),
        clients: n,
        anonymous: cfg.anonymous,
        login: cfg.login_password.is_some(),
        held,
        failed: failures,
        setup_s: round3(setup_s),
        settle_s: round3(settle_s),
        hold_s: cfg.hold.as_secs_f64(),
        presence_lines: shared.lines.load(Ordering::Relaxed),
        rss_before_kib: before.rss_kib,
        rss_ready_kib: ready_mem.map(|m| m.rss_kib),
        rss_end_kib: end.map(|m| m.rss_kib),
        rss_peak_kib: end.map(|m| m.peak_kib),
        rss_delta_kib: delta,
        kib_per_connection: delta.map(per_connection),
        anon_kib_per_connection: anon_delta.map(per_connection),
        server_cpu_s_during_hold: usage.server_cpu_s,
    };
    Finished::from_report(&report, !ok, false)
}
