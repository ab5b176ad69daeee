//! Counters and gauges for operators: updated where things happen (atomics, no lock on the chat
//! path), rendered in the Prometheus text format for node_exporter's textfile collector
//! (`--metrics-file`, rewritten every 15 s with an atomic rename) and shown by `classcord admin
//! stats`. The metric names are a contract: `etc/grafana/classcord.json` uses exactly these.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::StoreStats;

/// How often the metrics file is rewritten.
pub const WRITE_EVERY: Duration = Duration::from_secs(15);

/// Reasons a connection is refused at accept (label values of `connections_rejected_total`).
pub const REJECT_REASONS: [&str; 5] = ["not-allowed", "too-many", "rate", "server-full", "banned"];
/// What a rate limit counted (label values of `rate_limited_total`).
pub const RATE_KINDS: [&str; 4] = ["message", "invalid", "login", "register"];

/// Every counter, shared by the threads that count.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_accepted: AtomicU64,
    pub connections_rejected: [AtomicU64; 5],
    pub lines_received: AtomicU64,
    pub messages_relayed: AtomicU64,
    pub deliveries: AtomicU64,
    pub auth_failures: AtomicU64,
    pub logins: AtomicU64,
    pub registrations: AtomicU64,
    pub kicks: AtomicU64,
    pub bans_enforced: AtomicU64,
    pub rate_limited: [AtomicU64; 4],
    pub flood_pauses: AtomicU64,
    pub slow_clients: AtomicU64,
    pub timeouts: AtomicU64,
    /// Protocol errors by reason (a few dozen reasons; not on the chat path).
    pub protocol_errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// Gauges the hub task refreshes (every few seconds).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HubGauges {
    /// Connections open now, by transport: the students' TCP clients and browsers (WebSocket).
    pub tcp_open: u64,
    pub websocket_open: u64,
    pub anonymous: u64,
    pub guests: u64,
    pub accounts: u64,
    pub channels: u64,
}

/// Everything the metrics are made of.
#[derive(Debug)]
pub struct Metrics {
    pub counters: Counters,
    pub gauges: Mutex<HubGauges>,
    started: Instant,
    store: Mutex<Option<Arc<StoreStats>>>,
    database: Mutex<Option<PathBuf>>,
}

pub fn add(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics {
            counters: Counters::default(),
            gauges: Mutex::new(HubGauges::default()),
            started: Instant::now(),
            store: Mutex::new(None),
            database: Mutex::new(None),
        })
    }

    /// Where the store's counters and the database file are (once they exist).
    pub fn attach_store(&self, stats: Arc<StoreStats>, database: PathBuf) {
        *lock(&self.store) = Some(stats);
        *lock(&self.database) = Some(database);
    }

    pub fn rejected(&self, reason: &str) {
        if let Some(at) = REJECT_REASONS.iter().position(|r| *r == reason) {
            add(&self.counters.connections_rejected[at], 1);
        }
    }

    pub fn rate_limited(&self, kind: &str) {
        if let Some(at) = RATE_KINDS.iter().position(|k| *k == kind) {
            add(&self.counters.rate_limited[at], 1);
        }
    }

    pub fn protocol_error(&self, reason: &'static str) {
        *lock(&self.counters.protocol_errors)
            .entry(reason)
            .or_insert(0) += 1;
    }

    pub fn set_gauges(&self, gauges: HubGauges) {
        *lock(&self.gauges) = gauges;
    }

    /// Size of the database file, in bytes (0 when unknown).
    pub fn database_bytes(&self) -> u64 {
        lock(&self.database)
            .as_deref()
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(0, |meta| meta.len())
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Text(String::with_capacity(4096));
        let counters = &self.counters;
        let gauges = *lock(&self.gauges);
        out.family("up", "gauge", "1 while the server runs.", &[("", 1)]);
        let uptime = self.uptime().as_secs();
        out.family(
            "uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            &[("", uptime)],
        );
        out.family(
            "connections_open",
            "gauge",
            "Connections open now, by transport (tcp: the students' clients; websocket: browsers).",
            &[
                ("{transport=\"tcp\"}", gauges.tcp_open),
                ("{transport=\"websocket\"}", gauges.websocket_open),
            ],
        );
        out.family(
            "connections_accepted_total",
            "counter",
            "Connections let in since start.",
            &[("", get(&counters.connections_accepted))],
        );
        out.labelled(
            "connections_rejected_total",
            "Connections refused at accept, by reason.",
            "reason",
            REJECT_REASONS
                .iter()
                .zip(counters.connections_rejected.iter().map(get)),
        );
        out.family(
            "sessions",
            "gauge",
            "Connections by kind: anonymous, guest, account.",
            &[
                ("{kind=\"anonymous\"}", gauges.anonymous),
                ("{kind=\"guest\"}", gauges.guests),
                ("{kind=\"account\"}", gauges.accounts),
            ],
        );
        out.family(
            "channels",
            "gauge",
            "Channels that exist now.",
            &[("", gauges.channels)],
        );
        for (name, help, value) in [
            (
                "lines_received_total",
                "Lines read from clients.",
                &counters.lines_received,
            ),
            (
                "messages_relayed_total",
                "Chat lines relayed (channel and private).",
                &counters.messages_relayed,
            ),
            (
                "deliveries_total",
                "Lines written to clients' queues.",
                &counters.deliveries,
            ),
            (
                "auth_failures_total",
                "Failed logins (wrong password or unknown account).",
                &counters.auth_failures,
            ),
            ("logins_total", "Successful logins.", &counters.logins),
            (
                "registrations_total",
                "Accounts registered.",
                &counters.registrations,
            ),
            (
                "kicks_total",
                "Connections closed by an administrator.",
                &counters.kicks,
            ),
            (
                "bans_enforced_total",
                "Connections refused or closed because of a ban.",
                &counters.bans_enforced,
            ),
            (
                "flood_pauses_total",
                "Times a flooding sender's reading was paused.",
                &counters.flood_pauses,
            ),
            (
                "slow_clients_total",
                "Clients cut off because their queue overflowed.",
                &counters.slow_clients,
            ),
            (
                "timeouts_total",
                "Connections closed by a deadline.",
                &counters.timeouts,
            ),
        ] {
            out.family(name, "counter", help, &[("", get(value))]);
        }
        out.labelled(
            "rate_limited_total",
            "Lines or attempts held back by a rate limit, by kind.",
            "kind",
            RATE_KINDS.iter().zip(counters.rate_limited.iter().map(get)),
        );
        let errors: Vec<(&str, u64)> = lock(&counters.protocol_errors)
            .iter()
            .map(|(reason, count)| (*reason, *count))
            .collect();
        out.labelled(
            "protocol_errors_total",
            "Lines refused with an error, by reason.",
            "reason",
            errors.iter().map(|(reason, count)| (reason, *count)),
        );
        if let Some(store) = lock(&self.store).clone() {
            out.family(
                "store_lines_kept_total",
                "counter",
                "Chat lines committed to the database.",
                &[("", get(&store.kept))],
            );
            out.family(
                "store_commits_total",
                "counter",
                "Database commits.",
                &[("", get(&store.commits))],
            );
            out.seconds(
                "store_last_commit_seconds",
                "Duration of the last commit.",
                get(&store.last_commit_micros),
            );
            out.labelled(
                "store_dropped_total",
                "Writes not stored: queue full (slow disk) or database unavailable.",
                "why",
                [
                    (&"queue-full", get(&store.dropped_queue_full)),
                    (&"store-down", get(&store.dropped_store_down)),
                ],
            );
            out.family(
                "store_pruned_total",
                "counter",
                "Lines deleted by retention.",
                &[("", get(&store.pruned))],
            );
        }
        let database = self.database_bytes();
        out.family(
            "database_bytes",
            "gauge",
            "Size of the database file.",
            &[("", database)],
        );
        let rss = resident_bytes();
        out.family(
            "memory_rss_bytes",
            "gauge",
            "Resident memory of the server.",
            &[("", rss)],
        );
        out.0
    }

    /// Writes the metrics to `path` atomically (a temporary file in the same folder, renamed).
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let text = self.render();
        let temp = path.with_extension("prom.tmp");
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, path)
    }
}

/// The text being rendered.
struct Text(String);

impl Text {
    /// One metric family: its help, its type, its samples (`labels` may be empty).
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
        let _ = writeln!(self.0, "# HELP classcord_{name} {help}");
        let _ = writeln!(self.0, "# TYPE classcord_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.0, "classcord_{name}{labels} {value}");
        }
    }

    /// A counter family with one label.
    fn labelled<'a, S: AsRef<str> + ?Sized + 'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (&'a S, u64)>,
    ) {
        let owned: Vec<(String, u64)> = samples
            .into_iter()
            .map(|(value, count)| (format!("{{{label}=\"{}\"}}", value.as_ref()), count))
            .collect();
        let borrowed: Vec<(&str, u64)> = owned.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        self.family(name, "counter", help, &borrowed);
    }

    /// A gauge in seconds, from microseconds.
    fn seconds(&mut self, name: &str, help: &str, micros: u64) {
        let _ = writeln!(self.0, "# HELP classcord_{name} {help}");
        let _ = writeln!(self.0, "# TYPE classcord_{name} gauge");
        let _ = writeln!(self.0, "classcord_{name} {:.6}", micros as f64 / 1e6);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Resident set size from `/proc/self/statm` (0 where unavailable).
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Rewrites the metrics file every `every` ([`WRITE_EVERY`] by default) on its own thread, until
/// the process ends. A failed write is logged once (then again only after a success).
pub fn spawn_writer(metrics: Arc<Metrics>, path: PathBuf, every: Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let mut failing = false;
            loop {
                match metrics.write_file(&path) {
                    Ok(()) => failing = false,
                    Err(error) if !failing => {
                        failing = true;
                        log::warn!(
                            "[METRIQUES] écriture de {} impossible : {error}",
                            path.display()
                        );
                    }
                    Err(_) => {}
                }
                std::thread::sleep(every);
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_line_is_a_name_optional_labels_and_a_number() {
        let metrics = Metrics::new();
        add(&metrics.counters.messages_relayed, 42);
        metrics.rejected("rate");
        metrics.rate_limited("login");
        metrics.protocol_error("bad-json");
        metrics.set_gauges(HubGauges {
            tcp_open: 3,
            websocket_open: 2,
            anonymous: 1,
            guests: 1,
            accounts: 1,
            channels: 2,
        });
        let text = metrics.render();
        assert!(text.contains("classcord_messages_relayed_total 42\n"));
        assert!(text.contains("classcord_connections_rejected_total{reason=\"rate\"} 1\n"));
        assert!(text.contains("classcord_rate_limited_total{kind=\"login\"} 1\n"));
        assert!(text.contains("classcord_protocol_errors_total{reason=\"bad-json\"} 1\n"));
        assert!(text.contains("classcord_sessions{kind=\"guest\"} 1\n"));
        assert!(text.contains("classcord_connections_open{transport=\"tcp\"} 3\n"));
        assert!(text.contains("classcord_connections_open{transport=\"websocket\"} 2\n"));
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            assert!(name.starts_with("classcord_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn the_file_is_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classcord.prom");
        let metrics = Metrics::new();
        metrics.write_file(&path).unwrap();
        add(&metrics.counters.logins, 1);
        metrics.write_file(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("classcord_logins_total 1\n"));
        assert!(!dir.path().join("classcord.prom.tmp").exists());
    }
}
