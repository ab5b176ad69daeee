//! `classcord-bench`: a load generator that speaks the ClassCord protocol (TCP, one JSON object
//! per line) against a LOOPBACK server and prints one JSON report on stdout.
//!
//! Modes (see bench/README.md): `fanout` (global-message fan-out: loss, duplicates, echo,
//! latency, deliveries per server CPU second), `idle` (RSS per idle connection), `logins`
//! (register + login throughput, optionally under chat load), and `fake-server` (a trivial
//! fan-out echo, not ClassCord, used to measure this tool's own ceiling).
//!
//! Design, so the bench is not the bottleneck: a smol executor runs on every core (one thread
//! per core); each client is one task reading 64 KiB at a time and scanning lines in place
//! (no allocation per line: a validating JSON scanner borrows `type`/`from`/`content`); one
//! receive timestamp per read batch; per-receiver statistics (histogram, sequence trackers)
//! are merged only at the end; senders build a whole batch of messages into one buffer and
//! write it with one call.
//!
//! Own ceiling, measured against `fake-server` on the 2-core development VM (bench and fake
//! sharing both cores; details and method in bench/README.md): at saturation (`--rate 0`,
//! reads of many lines) about 4-5 M deliveries per bench CPU-second (0.2-0.25 us per
//! delivered line: read, validate, account), and 8.4 M deliveries/s in total with 50 clients;
//! one bench thread alone sustains about 4.9 M deliveries/s. At moderate rates each delivery
//! costs a wake-up, so the cost per line rises (about 0.9 M per CPU-second at 20 000 msg/s to
//! 49 receivers) while the total load stays far from the ceiling. Every report carries
//! `bench_cpu_s` and `deliveries_per_bench_cpu_s`, and `deliveries_per_server_cpu_s` does not
//! depend on the bench's own speed.

mod cli;
mod client;
mod fake;
mod fanout;
mod idle;
mod line;
mod logins;
mod proc;
mod report;
mod stats;

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
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
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
            let threads = args.threads;
            Ok(execute(threads, move |ex| fanout::run(ex, args, cfg, w)))
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
