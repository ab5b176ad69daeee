//! The `logins` mode: register + log in N fresh users with C concurrent workers (one fresh
//! connection per user, so each reply must be the very next line), reporting the pair rate and
//! each operation's latency; optionally with a background guest chat whose latency and loss
//! show whether password hashing ever blocks chat delivery.

use crate::cli::{resolve_loopback, secs, LoginsArgs};
use crate::client::Conn;
use crate::fanout::{self, Fanout};
use crate::proc::{round3, CpuUsage, CpuWindow, ProcWatch};
use crate::report::{FanoutReport, Finished};
use crate::run::{self as fanout_run, Identity};
use crate::stats::{Histogram, LatencyMs};
use serde::Serialize;
use serde_json::json;
use smol::Executor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub count: usize,
    pub concurrency: usize,
    pub op_timeout: Duration,
    pub connect_timeout: Duration,
    pub drain_timeout: Duration,
    pub check: bool,
    pub run: String,
    pub chat: Option<fanout_run::Config>,
}

pub fn config(args: &LoginsArgs, run: &str) -> Result<Config, String> {
    if args.count == 0 || args.concurrency == 0 {
        return Err("--count and --concurrency must be at least 1".into());
    }
    let addr = resolve_loopback(&args.addr)?;
    let connect_timeout = secs("connect-timeout", args.connect_timeout)?;
    let chat = match args.chat {
        0 => None,
        1 => return Err("--chat needs at least 2 clients".into()),
        m => {
            let c = fanout_run::Config {
                addr,
                clients: m,
                senders: m.min(5),
                rate: args.chat_rate,
                window: 64,
                identity: Identity::Guest,
                channel: None,
                name_prefix: "chat".into(),
                run: run.into(),
                connect_timeout,
                ready_timeout: secs("ready-timeout", args.ready_timeout)?,
                connect_concurrency: 64,
                recv_threads: fanout::threads_or_cores(args.threads),
                busy_poll: false,
                websocket: None,
            };
            if args.chat_rate <= 0.0 {
                return Err("--chat-rate must be positive".into());
            }
            c.validate()?;
            Some(c)
        }
    };
    Ok(Config {
        addr,
        count: args.count,
        concurrency: args.concurrency,
        op_timeout: secs("op-timeout", args.op_timeout)?,
        connect_timeout,
        drain_timeout: secs("drain-timeout", args.drain_timeout)?,
        check: args.check,
        run: run.into(),
        chat,
    })
}

/// Latencies of one worker.
#[derive(Default)]
struct WorkerStats {
    connect: Histogram,
    register: Histogram,
    login: Histogram,
    ok: usize,
    failed: usize,
    errors: Vec<String>,
}

async fn one_user(cfg: &Config, i: usize, st: &mut WorkerStats) -> Result<(), String> {
    let user = format!("u{i}_{}", cfg.run);
    let pass = format!("pw-{}-{i}", cfg.run);
    let t0 = Instant::now();
    let mut conn = Conn::connect(cfg.addr, cfg.connect_timeout, 4096).await?;
    st.connect.record(t0.elapsed().as_nanos() as u64);
    let r = conn.register(&user, &pass, cfg.op_timeout).await?;
    st.register.record(r.as_nanos() as u64);
    let l = conn.login(&user, &pass, cfg.op_timeout).await?;
    st.login.record(l.as_nanos() as u64);
    Ok(())
}

async fn worker(cfg: Arc<Config>, next: Arc<AtomicUsize>) -> WorkerStats {
    let mut st = WorkerStats::default();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= cfg.count {
            return st;
        }
        match one_user(&cfg, i, &mut st).await {
            Ok(()) => st.ok += 1,
            Err(e) => {
                st.failed += 1;
                if st.errors.len() < 5 {
                    st.errors.push(e);
                }
            }
        }
    }
}

/// The `logins` report.
#[derive(Debug, Serialize)]
struct LoginsReport {
    mode: &'static str,
    /// Every user registered and logged in, and the chat (if any) had no errors.
    ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    run: String,
    count: usize,
    concurrency: usize,
    succeeded: usize,
    failed: usize,
    elapsed_s: f64,
    /// Register + login pairs completed per second.
    pairs_per_sec: f64,
    connect_ms: LatencyMs,
    register_ms: LatencyMs,
    login_ms: LatencyMs,
    bench_cpu_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_rss_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_rss_peak_kib: Option<u64>,
    /// The background guest chat, when --chat was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<FanoutReport>,
}

/// The `logins` mode.
pub async fn run(ex: Arc<Executor<'static>>, cfg: Config, watch: Option<ProcWatch>) -> Finished {
    let mut chat = None;
    if let Some(chat_cfg) = &cfg.chat {
        match Fanout::setup(ex.clone(), chat_cfg.clone()).await {
            Ok(mut f) => {
                f.start(None);
                chat = Some(f);
            }
            Err(fail) => {
                return Finished::failure(
                    "logins",
                    "chat-setup",
                    fail.error,
                    json!({ "ready": fail.ready, "clients": fail.clients }),
                )
            }
        }
    }
    let cfg = Arc::new(cfg);
    let cpu = CpuWindow::start(watch.as_ref());
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..cfg.concurrency.min(cfg.count))
        .map(|_| ex.spawn(worker(cfg.clone(), next.clone())))
        .collect();
    // Every operation in a worker is bounded, so joining is bounded too.
    let mut all = WorkerStats::default();
    for w in workers {
        let st = w.await;
        all.connect.merge(&st.connect);
        all.register.merge(&st.register);
        all.login.merge(&st.login);
        all.ok += st.ok;
        all.failed += st.failed;
        for e in st.errors {
            if all.errors.len() < 5 {
                all.errors.push(e);
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut chat_report = None;
    let usage;
    let mem;
    if let Some(mut f) = chat {
        f.stop();
        let drained = f.drain(cfg.drain_timeout).await;
        usage = cpu.finish(watch.as_ref());
        mem = watch.as_ref().and_then(|w| w.memory().ok());
        let setup_s = f.setup_s;
        let outcome = f.shutdown(drained).await;
        if let Some(chat_cfg) = &cfg.chat {
            // Server CPU and memory belong to the whole run (hashing included): they are
            // reported once, at the top level, not as the chat's own cost.
            let chat_usage = CpuUsage {
                server_cpu_s: None,
                ..usage
            };
            chat_report = Some(FanoutReport::new(
                "chat", chat_cfg, setup_s, outcome, chat_usage, None,
            ));
        }
    } else {
        usage = cpu.finish(watch.as_ref());
        mem = watch.as_ref().and_then(|w| w.memory().ok());
    }
    let chat_ok = chat_report.as_ref().is_none_or(|r| r.ok);
    let chat_clean = chat_report.as_ref().is_none_or(|r| r.clean);
    let ok = all.failed == 0 && chat_ok;
    let pairs_per_sec = if elapsed > 0.0 {
        (all.ok as f64 / elapsed * 10.0).round() / 10.0
    } else {
        0.0
    };
    let report = LoginsReport {
        mode: "logins",
        ok,
        errors: all.errors,
        run: cfg.run.clone(),
        count: cfg.count,
        concurrency: cfg.concurrency,
        succeeded: all.ok,
        failed: all.failed,
        elapsed_s: round3(elapsed),
        pairs_per_sec,
        connect_ms: all.connect.summary_ms(),
        register_ms: all.register.summary_ms(),
        login_ms: all.login.summary_ms(),
        bench_cpu_s: usage.bench_cpu_s,
        server_cpu_s: usage.server_cpu_s,
        server_rss_kib: mem.map(|m| m.rss_kib),
        server_rss_peak_kib: mem.map(|m| m.peak_kib),
        chat: chat_report,
    };
    Finished::from_report(&report, !ok, cfg.check && !chat_clean)
}
