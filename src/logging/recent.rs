//! The last security lines, kept in memory for the dashboard (`classcord admin events`): a bounded
//! ring fed by the two places that write them (`audit` for [`SecurityEvent`](super::SecurityEvent)s,
//! and the administration's own lines). Kept whatever the log level or output, so the teacher
//! sees failed sign-ins, bans and rate limits even with the log in syslog. Never a password: the
//! lines are the log's own, already escaped.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Lines kept; older ones are forgotten.
pub const RECENT_EVENTS: usize = 200;

/// One security line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentEvent {
    /// Seconds since the Unix epoch.
    pub unix: u64,
    /// The console tag (`[AUTH]`, `[VERDICT]`...).
    pub tag: &'static str,
    /// The stable token the line starts with (`AUTH_FAIL`...).
    pub token: String,
    /// The line after the tag, as logged.
    pub line: String,
}

static RECENT: Mutex<VecDeque<RecentEvent>> = Mutex::new(VecDeque::new());

/// Keeps one security line (`line` starts with its token).
pub fn remember(tag: &'static str, line: String) {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let token = line.split(' ').next().unwrap_or_default().to_owned();
    let mut recent = RECENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if recent.len() == RECENT_EVENTS {
        recent.pop_front();
    }
    recent.push_back(RecentEvent {
        unix,
        tag,
        token,
        line,
    });
}

/// The lines kept, oldest first.
pub fn recent() -> Vec<RecentEvent> {
    let recent = RECENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    recent.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_lines_with_their_token() {
        for n in 0..RECENT_EVENTS + 5 {
            remember(
                "[AUTH]",
                format!("AUTH_FAIL ip=10.0.0.{} user=\"x\"", n % 250),
            );
        }
        let kept = recent();
        assert_eq!(kept.len(), RECENT_EVENTS);
        let last = kept.last().unwrap();
        assert_eq!(last.token, "AUTH_FAIL");
        assert!(last.line.ends_with("user=\"x\""), "{}", last.line);
        assert!(kept.first().unwrap().unix <= last.unix);
    }
}
