//! Back-pressure on floods: while a sender's lines leave recipients with deep queues, the hub
//! stops reading that sender (its [`ReadGate`] closes; TCP then pushes back on the client) and
//! parks the rest of what it already read, instead of letting honest readers overflow and be cut
//! off as slow. The hub checks after every line, so a single read of many lines cannot overflow a
//! reader before the pause. Reading resumes once no
//! queue is deep any more. A recipient that makes no progress at all for [`STALLED_AFTER`] is not
//! waited for: it stalls nobody, and is cut as a slow client when its own queue overflows.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::SessionId;
use event_listener::Event;

/// A recipient that has not drained a byte for this long is stalled, not slow.
pub const STALLED_AFTER: Duration = Duration::from_secs(1);

/// How often the hub looks again while senders are paused.
pub const RECHECK_EVERY: Duration = Duration::from_millis(10);

/// Closed while the hub wants a connection's reader to stop reading. It also carries the one
/// other thing the hub tells a reader: that a protocol trace watches the connection (the reader
/// then keeps each line's text for it).
#[derive(Debug, Default)]
pub struct ReadGate {
    closed: AtomicBool,
    traced: AtomicBool,
    opened: Event,
}

impl ReadGate {
    pub fn new() -> Arc<ReadGate> {
        Arc::new(ReadGate::default())
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn open(&self) {
        self.closed.store(false, Ordering::Release);
        self.opened.notify(usize::MAX);
    }

    /// Set by the hub while a protocol trace watches the connection.
    pub fn set_traced(&self, traced: bool) {
        self.traced.store(traced, Ordering::Relaxed);
    }

    /// Whether the reader keeps the lines' text for a trace (checked once per read).
    pub fn traced(&self) -> bool {
        self.traced.load(Ordering::Relaxed)
    }

    /// For the reader: returns at once while open, else when the hub opens it. True when it
    /// had to wait (time held back is not the client's: deadlines restart).
    pub async fn wait_open(&self) -> bool {
        let mut waited = false;
        loop {
            if !self.closed.load(Ordering::Acquire) {
                return waited;
            }
            let listener = self.opened.listen();
            if !self.closed.load(Ordering::Acquire) {
                return waited;
            }
            listener.await;
            waited = true;
        }
    }
}

#[derive(Debug)]
struct Deep {
    depth: usize,
    /// Bytes the peer had taken from this queue when last seen (its progress).
    consumed: u64,
    progressed: Instant,
}

/// Owned by the hub task.
#[derive(Debug)]
pub struct FloodControl {
    /// Queues above this many bytes are deep...
    high_water: usize,
    /// ...until they drain below this.
    low_water: usize,
    deep: HashMap<SessionId, Deep>,
    /// Recipients found stalled: not waited for again until their queue drains.
    stalled: HashSet<SessionId>,
    paused: HashMap<SessionId, Arc<ReadGate>>,
    /// Set when the current command made a queue deep.
    deepened: bool,
}

/// What a recheck decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recheck {
    /// Senders whose reading resumed.
    pub resumed: Vec<SessionId>,
    /// Recipients found stalled (no progress for [`STALLED_AFTER`]).
    pub stalled: Vec<SessionId>,
}

impl FloodControl {
    /// `limit`: the byte cap of a connection's queue (past it the connection is cut).
    pub fn new(limit: usize) -> FloodControl {
        FloodControl {
            high_water: limit / 4,
            low_water: limit / 16,
            deep: HashMap::new(),
            stalled: HashSet::new(),
            paused: HashMap::new(),
            deepened: false,
        }
    }

    /// A frame went to `session`'s backlog, which now holds `depth` bytes.
    pub fn queued(&mut self, session: SessionId, depth: usize, now: Instant) {
        if depth < self.high_water || self.stalled.contains(&session) {
            return;
        }
        self.deepened = true;
        self.deep.entry(session).or_insert(Deep {
            depth,
            consumed: 0,
            progressed: now,
        });
    }

    /// Before a sender's lines are handled.
    pub fn start_command(&mut self) {
        self.deepened = false;
    }

    /// After a sender's lines were handled: pause it if they deepened a queue. True when the
    /// sender was not paused before (worth a log line).
    pub fn after_lines(&mut self, sender: SessionId, gate: &Arc<ReadGate>) -> bool {
        if !self.deepened {
            return false;
        }
        gate.close();
        self.paused.insert(sender, gate.clone()).is_none()
    }

    /// Whether the lines handled since [`FloodControl::start_command`] deepened a queue.
    pub fn deepened(&self) -> bool {
        self.deepened
    }

    pub fn any_paused(&self) -> bool {
        !self.paused.is_empty()
    }

    /// Looks at the deep queues again (`depth_of` gives a session's queued bytes and how many
    /// bytes its peer has taken so far, `None` when it is gone); resumes every paused sender once
    /// none is deep.
    pub fn recheck(
        &mut self,
        depth_of: impl Fn(SessionId) -> Option<(usize, u64)>,
        now: Instant,
    ) -> Recheck {
        let mut outcome = Recheck::default();
        let low_water = self.low_water;
        let stalled = &mut self.stalled;
        // A stalled recipient counts again once it has drained (or is gone).
        stalled.retain(|&session| depth_of(session).is_some_and(|(depth, _)| depth > low_water));
        self.deep.retain(|&session, deep| {
            let Some((depth, consumed)) = depth_of(session) else {
                return false;
            };
            if depth < deep.depth || consumed != deep.consumed {
                deep.progressed = now;
            }
            deep.depth = depth;
            deep.consumed = consumed;
            if depth <= low_water {
                return false;
            }
            if now.saturating_duration_since(deep.progressed) >= STALLED_AFTER {
                outcome.stalled.push(session);
                stalled.insert(session);
                return false;
            }
            true
        });
        if self.deep.is_empty() {
            for (session, gate) in self.paused.drain() {
                gate.open();
                outcome.resumed.push(session);
            }
        }
        outcome
    }

    /// The session is gone: forget it (and let its reader go, if paused).
    pub fn forget(&mut self, session: SessionId) {
        self.deep.remove(&session);
        self.stalled.remove(&session);
        if let Some(gate) = self.paused.remove(&session) {
            gate.open();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_deepening_a_queue_is_paused_until_it_drains() {
        let mut flood = FloodControl::new(256 * 1024);
        let gate = ReadGate::new();
        let now = Instant::now();
        flood.start_command();
        flood.queued(SessionId(2), 1000, now);
        assert!(!flood.after_lines(SessionId(1), &gate), "shallow: no pause");
        flood.start_command();
        flood.queued(SessionId(2), 100 * 1024, now);
        assert!(flood.after_lines(SessionId(1), &gate));
        assert!(gate.closed.load(Ordering::Acquire));
        let still = flood.recheck(|_| Some((80 * 1024, 0)), now + Duration::from_millis(10));
        assert!(still.resumed.is_empty(), "draining but still deep");
        let done = flood.recheck(|_| Some((1024, 0)), now + Duration::from_millis(20));
        assert_eq!(done.resumed, [SessionId(1)]);
        assert!(!gate.closed.load(Ordering::Acquire));
    }

    #[test]
    fn a_stalled_recipient_does_not_hold_senders_for_ever() {
        let mut flood = FloodControl::new(256 * 1024);
        let gate = ReadGate::new();
        let now = Instant::now();
        flood.start_command();
        flood.queued(SessionId(2), 100 * 1024, now);
        flood.after_lines(SessionId(1), &gate);
        let later = flood.recheck(|_| Some((100 * 1024, 0)), now + STALLED_AFTER);
        assert_eq!(later.stalled, [SessionId(2)]);
        assert_eq!(later.resumed, [SessionId(1)]);
        // Still stuck: more lines to it pause nobody.
        flood.start_command();
        flood.queued(SessionId(2), 120 * 1024, now + STALLED_AFTER);
        assert!(!flood.after_lines(SessionId(1), &gate));
    }

    #[test]
    fn the_gate_opens_waiting_readers() {
        let gate = ReadGate::new();
        gate.close();
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || smol::block_on(gate.wait_open()))
        };
        std::thread::sleep(Duration::from_millis(20));
        gate.open();
        waiter.join().unwrap();
    }
}
