//! The JSON reports printed on stdout and the exit codes: 0 clean run, 1 `--check` found a
//! correctness problem, 2 the run itself failed (timeout, refused, disconnected, setup error).

use crate::outcome::Outcome;
use crate::proc::{round3, CpuUsage, Memory};
use crate::run::{Config, Identity};
use crate::stats::LatencyUs;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const EXIT_OK: i32 = 0;
pub const EXIT_CHECK: i32 = 1;
pub const EXIT_FAILED: i32 = 2;

/// A finished mode: the one JSON object to print and the process exit code.
pub struct Finished {
    pub json: String,
    pub code: i32,
}

/// The report of a run that could not complete.
#[derive(Debug, Serialize)]
struct Failure<'a> {
    mode: &'a str,
    ok: bool,
    phase: &'a str,
    error: String,
    #[serde(flatten)]
    details: Value,
}

impl Finished {
    /// A run that could not complete: what failed, in which phase, plus mode-specific details
    /// (a JSON object).
    pub fn failure(mode: &str, phase: &str, error: String, details: Value) -> Finished {
        let report = Failure {
            mode,
            ok: false,
            phase,
            error,
            details,
        };
        Finished::from_report(&report, true, false)
    }

    /// Serialises `report`; `failed` wins over `check_failed`.
    pub fn from_report(report: &impl Serialize, failed: bool, check_failed: bool) -> Finished {
        let (json, failed) = match serde_json::to_string(report) {
            Ok(j) => (j, failed),
            Err(e) => (
                json!({ "ok": false, "error": format!("report: {e}") }).to_string(),
                true,
            ),
        };
        let code = if failed {
            EXIT_FAILED
        } else if check_failed {
            EXIT_CHECK
        } else {
            EXIT_OK
        };
        Finished { json, code }
    }
}

fn per(n: u64, d: f64) -> f64 {
    if d > 0.0 {
        (n as f64 / d).round()
    } else {
        0.0
    }
}

/// The fan-out report (also embedded as `chat` in the logins report).
#[derive(Debug, Serialize)]
pub struct FanoutReport {
    pub mode: &'static str,
    /// No timeout, disconnect or send error (see `errors`).
    pub ok: bool,
    /// Nothing lost, duplicated, echoed, misattributed or unparsable.
    pub clean: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub run: String,
    pub clients: usize,
    pub senders: usize,
    pub identity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Target total rate; 0 = window mode.
    pub rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    /// Receiver threads (epoll loops) and whether they busy-poll.
    pub receiver_threads: usize,
    pub busy_poll: bool,
    pub setup_s: f64,
    /// Length of the send phase.
    pub duration_s: f64,
    /// From the first send to the last delivery.
    pub elapsed_s: f64,
    pub drain_s: f64,
    pub drain_timed_out: bool,
    pub sent: u64,
    pub send_rate: f64,
    pub expected_deliveries: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub echoed: u64,
    pub bad_lines: u64,
    pub wrong_from: u64,
    pub foreign: u64,
    pub disconnected: u64,
    pub server_errors: u64,
    pub status_lines: u64,
    pub other_messages: u64,
    pub other_lines: u64,
    pub deliveries_per_sec: f64,
    pub latency_us: LatencyUs,
    pub bench_cpu_s: f64,
    pub deliveries_per_bench_cpu_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries_per_server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_peak_kib: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub samples: BTreeMap<&'static str, String>,
}

impl FanoutReport {
    pub fn new(
        mode: &'static str,
        cfg: &Config,
        setup_s: f64,
        o: Outcome,
        cpu: CpuUsage,
        mem: Option<Memory>,
    ) -> FanoutReport {
        FanoutReport {
            mode,
            ok: o.errors.is_empty(),
            clean: o.clean(),
            run: cfg.run.clone(),
            clients: cfg.clients,
            senders: cfg.senders,
            identity: match cfg.identity {
                Identity::Guest => "guest",
                Identity::Login { .. } => "login",
            },
            channel: cfg.channel.clone(),
            rate: cfg.rate,
            window: (cfg.rate == 0.0).then_some(cfg.window),
            receiver_threads: cfg.recv_threads.clamp(1, cfg.clients),
            busy_poll: cfg.busy_poll,
            setup_s: round3(setup_s),
            duration_s: round3(o.send_s),
            elapsed_s: round3(o.elapsed_s),
            drain_s: round3(o.drain_s),
            drain_timed_out: o.drain_timed_out,
            sent: o.sent,
            send_rate: per(o.sent, o.send_s),
            expected_deliveries: o.expected,
            received: o.received,
            lost: o.lost,
            duplicated: o.duplicated,
            echoed: o.echoed,
            bad_lines: o.bad_lines,
            wrong_from: o.wrong_from,
            foreign: o.foreign,
            disconnected: o.disconnected,
            server_errors: o.server_errors,
            status_lines: o.status_lines,
            other_messages: o.other_messages,
            other_lines: o.other_lines,
            deliveries_per_sec: o.deliveries_per_sec().round(),
            latency_us: o.latency.summary_us(),
            bench_cpu_s: cpu.bench_cpu_s,
            deliveries_per_bench_cpu_s: per(o.received, cpu.bench_cpu_s),
            server_cpu_s: cpu.server_cpu_s,
            deliveries_per_server_cpu_s: cpu.server_cpu_s.map(|c| per(o.received, c)),
            server_rss_kib: mem.map(|m| m.rss_kib),
            server_rss_peak_kib: mem.map(|m| m.peak_kib),
            samples: o.samples,
            errors: o.errors,
        }
    }
}
