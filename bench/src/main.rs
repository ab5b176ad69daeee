//! `classcord-bench`: a load generator that speaks the ClassCord protocol (TCP, one JSON object
//! per line) against a LOOPBACK server and prints one JSON report on stdout.
//!
//! Modes (see bench/README.md): `fanout` (global-message fan-out: loss, duplicates, echo,
//! latency, deliveries per server CPU second), `idle` (RSS per idle connection), `logins`
//! (register + login throughput, optionally under chat load), and `fake-server` (a trivial
//! single-threaded fan-out relay, not ClassCord, used to measure this tool's floor and ceiling),
//! and `store` (the server's store thread alone on a real redb file: persisted lines per second).
//!
//! Design, so the bench is not the bottleneck: setup and the senders run on a smol executor;
//! the fan-out receivers are plain OS threads (`--threads`, default one per core), each owning
//! a share of the sockets and running a level-triggered epoll loop (`receivers`, `epoll`), so a
//! burst of fan-out writes costs one thread wake-up, not one task wake-up per socket. Lines are
//! scanned in place (no allocation per line: a validating JSON scanner borrows
//! `type`/`from`/`content`); one receive timestamp per read; per-client statistics
//! (histogram, sequence trackers) are merged only at the end; a sender writes all its due
//! messages in one call, and fixed-rate senders are phase-staggered so the total stream is
//! evenly spaced.
//!
//! Own ceiling and floor, measured against `fake-server` on the 2-core development VM (bench
//! and fake sharing both cores; details and method in bench/README.md): at saturation about
//! 5 M deliveries per bench CPU-second (0.2 us per delivered line: read, validate, account);
//! at 100 msg/s to 199 receivers a latency floor of about 0.6 ms p50 / 1.2-1.4 ms p99 (0.4 /
//! 0.9 ms with `--threads 1 --busy-poll`), set by the loopback writes of the fan-out and by the
//! scheduler running the woken receiver on the writer's CPU. Every report carries
//! `bench_cpu_s` and `deliveries_per_bench_cpu_s`, and `deliveries_per_server_cpu_s` does not
//! depend on the bench's own speed.

mod checks;
mod cli;
mod client;
mod epoll;
mod fake;
mod fanout;
mod idle;
mod line;
mod logins;
mod outcome;
mod proc;
mod receivers;
mod report;
mod run;
mod sender;
mod stats;
mod store;
mod ws;

use cli::{Cli, Command};
use proc::ProcWatch;
use report::{Finished, EXIT_FAILED};
use smol::Executor;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A short id unique to this run: part of user names and of every message content.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = (nanos ^ (u64::from(std::process::id()) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:08x}", (mixed >> 32) as u32)
}

/// Runs `make(executor)` on a smol executor served by `threads` threads (this one included).
fn execute<F, Fut>(threads: Option<usize>, make: F) -> Finished
where
    F: FnOnce(Arc<Executor<'static>>) -> Fut,
    Fut: Future<Output = Finished>,
{
    let n = fanout::threads_or_cores(threads);
    let ex = Arc::new(Executor::new());
    let (stop_tx, stop_rx) = smol::channel::unbounded::<()>();
    let mut workers = Vec::new();
    for k in 1..n {
        let (ex, rx) = (ex.clone(), stop_rx.clone());
        match std::thread::Builder::new()
            .name(format!("bench-{k}"))
            .spawn(move || smol::block_on(ex.run(rx.recv())))
        {
            Ok(h) => workers.push(h),
            Err(e) => eprintln!("classcord-bench: cannot start worker thread {k}: {e}"),
        }
    }
    let out = smol::block_on(ex.run(make(ex.clone())));
    drop(stop_tx);
    for w in workers {
        let _ = w.join();
    }
    out
}

/// Raises RLIMIT_NOFILE and checks `needed` descriptors fit.
fn prepare_fds(needed: usize) -> Result<(), String> {
    match proc::raise_nofile_limit() {
        Ok(limit) if (limit as usize) < needed + 64 => Err(format!(
            "{needed} connections need more file descriptors than RLIMIT_NOFILE allows ({limit}); \
             raise the hard limit (ulimit -Hn) first"
        )),
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("classcord-bench: could not raise RLIMIT_NOFILE: {e}");
            Ok(())
        }
    }
}

fn watch(pid: Option<u32>) -> Result<Option<ProcWatch>, String> {
    pid.map(ProcWatch::new).transpose()
}

/// Validates the command line, then runs the mode. Err = refused before anything ran.
fn dispatch(cmd: Command) -> Result<Finished, String> {
    let run = run_id();
    match cmd {
        Command::Fanout(args) => {
            let cfg = fanout::config(&args, &run)?;
            prepare_fds(cfg.clients)?;
            let w = watch(args.pid)?;
            // One async thread sets up and paces; the receivers are threads of their own.
            Ok(execute(Some(1), move |ex| fanout::run(ex, args, cfg, w)))
        }
        Command::Idle(args) => {
            let cfg = idle::config(&args, &run)?;
            prepare_fds(cfg.clients)?;
            let w = ProcWatch::new(args.pid)?;
            Ok(execute(args.threads, move |ex| idle::run(ex, cfg, w)))
        }
        Command::Logins(args) => {
            let cfg = logins::config(&args, &run)?;
            prepare_fds(args.concurrency + args.chat)?;
            let w = watch(args.pid)?;
            Ok(execute(args.threads, move |ex| logins::run(ex, cfg, w)))
        }
        Command::Store(args) => Ok(store::run(&args)),
        Command::FakeServer(args) => {
            prepare_fds(0)?;
            fake::run(&args)?;
            Ok(Finished {
                json: String::new(),
                code: 0,
            })
        }
    }
}

fn main() {
    let cli: Cli = argh::from_env();
    let code = match dispatch(cli.cmd) {
        Ok(done) => {
            if !done.json.is_empty() {
                println!("{}", done.json);
            }
            done.code
        }
        Err(e) => {
            eprintln!("classcord-bench: {e}");
            EXIT_FAILED
        }
    };
    std::process::exit(code);
}
