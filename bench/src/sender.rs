//! The fan-out senders (async tasks): sender `s` writes global messages with content
//! `b|<run>|<s>|<seq>|<t_ns>`, several per write when they are due together.
//!
//! - Fixed rate: R messages/s in total, R/S per sender, on one common clock with the senders'
//!   phases staggered by 1/R, so the total stream is evenly spaced (one message every 1/R s)
//!   instead of S messages at the same instant every S/R s. Writes are coalesced over at least
//!   `MIN_TICK`.
//! - Window (`--rate 0`): as fast as possible, at most `window` messages ahead of what the
//!   probe receiver has seen from this sender.

use crate::line::{json_str, push_u64};
use crate::run::Shared;
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;
use smol::Timer;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages one sender puts in one write.
const MAX_BATCH: u64 = 512;
/// Shortest sleep of a rate-limited sender (its writes are coalesced over this period).
const MIN_TICK: Duration = Duration::from_millis(1);

/// When senders stop.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    Deadline(Instant),
    Stopped,
}

/// How one sender paces itself.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// `per_sec` messages per second, the first one at `start + phase`.
    Rate {
        per_sec: f64,
        start: Instant,
        phase: Duration,
    },
    /// At most this many messages ahead of the probe receiver.
    Window(u64),
}

impl Pace {
    /// Sender `s` of `senders` at `total` messages/s in all (0 = window mode), from `start`.
    pub fn new(total: f64, window: u64, s: usize, senders: usize, start: Instant) -> Pace {
        if total > 0.0 {
            Pace::Rate {
                per_sec: total / senders as f64,
                start,
                phase: Duration::from_secs_f64(s as f64 / total),
            }
        } else {
            Pace::Window(window)
        }
    }
}

/// Messages due by `now` for a sender at `per_sec` whose first message is due at `first`.
fn due_by(now: Instant, first: Instant, per_sec: f64) -> u64 {
    match now.checked_duration_since(first) {
        Some(d) => (d.as_secs_f64() * per_sec).floor() as u64 + 1,
        None => 0,
    }
}

pub struct SenderResult {
    pub error: Option<String>,
}

/// Sender `s` until `until` (or the stop flag).
pub async fn sender_task(
    s: usize,
    mut stream: TcpStream,
    shared: Arc<Shared>,
    pace: Pace,
    channel: Option<String>,
    until: Until,
    websocket: bool,
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
    let mut framed = Vec::new();
    let mut seq: u64 = 0;
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
        let n = match pace {
            Pace::Rate {
                per_sec,
                start,
                phase,
            } => due_by(now, start + phase, per_sec)
                .saturating_sub(seq)
                .min(MAX_BATCH),
            Pace::Window(window) => {
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
            }
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
            if websocket {
                framed.clear();
                crate::ws::frame_lines(&buf, &mut framed);
                std::mem::swap(&mut buf, &mut framed);
            }
            if let Err(e) = stream.write_all(&buf).await {
                return SenderResult {
                    error: Some(format!("sender {s}: write failed: {e}")),
                };
            }
            seq += n;
            shared.sent[s].store(seq, Ordering::Release);
        }
        if let Pace::Rate {
            per_sec,
            start,
            phase,
        } = pace
        {
            if n < MAX_BATCH {
                let next_due = start + phase + Duration::from_secs_f64(seq as f64 / per_sec);
                let now = Instant::now();
                let wake = next_due.max(now + MIN_TICK).min(horizon(now));
                Timer::at(wake).await;
            } else {
                smol::future::yield_now().await;
            }
        }
    }
    SenderResult { error: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_evenly_staggered() {
        let start = Instant::now();
        // 100 msg/s over 10 senders: one message every 10 ms in total.
        let firsts: Vec<Duration> = (0..10)
            .map(|s| match Pace::new(100.0, 64, s, 10, start) {
                Pace::Rate { phase, per_sec, .. } => {
                    assert_eq!(per_sec, 10.0);
                    phase
                }
                Pace::Window(_) => panic!("rate mode expected"),
            })
            .collect();
        for (s, p) in firsts.iter().enumerate() {
            let want = 10_000_000 * s as i128;
            assert!(
                (p.as_nanos() as i128 - want).abs() <= 1,
                "sender {s}: {p:?}"
            );
        }
        assert!(matches!(Pace::new(0.0, 64, 3, 10, start), Pace::Window(64)));
    }

    #[test]
    fn due_counts() {
        let t0 = Instant::now();
        let first = t0 + Duration::from_millis(30);
        assert_eq!(due_by(t0, first, 10.0), 0);
        assert_eq!(due_by(first, first, 10.0), 1);
        assert_eq!(due_by(first + Duration::from_millis(99), first, 10.0), 1);
        assert_eq!(due_by(first + Duration::from_millis(100), first, 10.0), 2);
    }
}
