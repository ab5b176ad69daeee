//! What a fan-out run measured ([`Outcome`]), merged from the receivers' statistics.

use crate::checks::RecvStats;
use crate::run::Shared;
use crate::stats::Histogram;
use std::collections::BTreeMap;
use std::time::Instant;

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
    pub fn merge(
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
