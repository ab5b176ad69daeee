//! The fan-out receivers: R plain OS threads (not async tasks), each owning a share of the
//! client sockets (client `i` goes to thread `i % R`) and running a level-triggered `epoll`
//! loop. A ready socket is read into the thread's 64 KiB buffer (one clock read per read),
//! every complete line is checked (`checks::RecvStats::on_line`) and a partial last line is
//! kept with its connection. When a burst of fan-out writes arrives, one thread wake-up serves
//! every socket that became ready meanwhile, instead of one executor wake-up per socket.
//!
//! A read that does not fill the buffer emptied the socket at that instant; with
//! level-triggered epoll any later bytes are reported again, so the loop stops there instead
//! of paying one more `read` for EAGAIN. With `--busy-poll` a thread never sleeps
//! (`epoll_wait` with a zero timeout): no wake-up at all, and the scheduler cannot move it onto
//! the writer's CPU, at the price of one busy core per thread. Waits are bounded (`WAIT`) so the stop flags are
//! honoured: after `finish`, a thread ends once all its connections saw EOF; when abandoned, it
//! ends at its next wake-up and reports the connections still open as unfinished.

use crate::checks::RecvStats;
use crate::client::timeout;
use crate::epoll::{Epoll, Events, Interest};
use crate::run::Shared;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes read per call.
const READ_BUF: usize = 64 * 1024;
/// A line longer than this is a protocol failure (the server caps lines too).
const MAX_LINE: usize = 4 << 20;
/// Longest sleep in `epoll_wait`: how quickly a thread notices the stop flags.
const WAIT: Duration = Duration::from_millis(50);
/// Reads of one socket per readiness report (fairness; level-triggered epoll reports the rest).
const MAX_READS: usize = 8;
/// Extra time given to abandoned threads to report what they have.
const ABANDON_GRACE: Duration = Duration::from_secs(1);

/// A set-up client handed to the receivers: a non-blocking descriptor of its socket and the
/// bytes the setup already read past its last handshake reply.
pub struct Handover {
    pub me: usize,
    pub stream: TcpStream,
    pub buffered: Vec<u8>,
    /// A WebSocket client's frame state (its bytes are frames, turned into lines here).
    pub ws: Option<crate::ws::Deframer>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connections waiting to be picked up by one thread.
#[derive(Default)]
struct Inbox {
    queue: Mutex<Vec<Handover>>,
    fresh: AtomicBool,
    /// Every client handed to this thread (counted as lost if the thread never reports).
    handed: Mutex<Vec<usize>>,
}

#[derive(Default)]
struct Control {
    /// Sockets are being shut down: end once every connection saw EOF.
    closing: AtomicBool,
    /// End now, whatever is still open.
    abandon: AtomicBool,
}

/// What one thread hands back.
struct ThreadReport {
    stats: Vec<RecvStats>,
    /// Clients whose connection was still open when the thread ended.
    unfinished: Vec<usize>,
}

struct Worker {
    epoll: Arc<Epoll>,
    inbox: Arc<Inbox>,
}

/// The receiver threads of one fan-out.
pub struct Receivers {
    workers: Vec<Worker>,
    control: Arc<Control>,
    results: smol::channel::Receiver<(usize, ThreadReport)>,
}

impl Receivers {
    /// Starts `threads` receiver threads for a fan-out of `clients` clients.
    /// `busy_poll`: the threads poll without ever sleeping.
    pub fn start(
        threads: usize,
        busy_poll: bool,
        clients: usize,
        shared: Arc<Shared>,
    ) -> Result<Self, String> {
        let (tx, results) = smol::channel::unbounded();
        let mut rx = Receivers {
            workers: Vec::new(),
            control: Arc::new(Control::default()),
            results,
        };
        // On an error, dropping `rx` abandons the threads already started.
        for k in 0..threads.clamp(1, clients.max(1)) {
            let epoll = Arc::new(Epoll::new().map_err(|e| format!("epoll_create1: {e}"))?);
            let inbox = Arc::new(Inbox::default());
            let mut t = Thread {
                shared: shared.clone(),
                epoll: epoll.clone(),
                inbox: inbox.clone(),
                control: rx.control.clone(),
                conns: Vec::new(),
                conns_by_me: vec![usize::MAX; clients],
                open: 0,
                busy_poll,
                done: Vec::new(),
                buf: vec![0; READ_BUF],
            };
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("bench-rx-{k}"))
                .spawn(move || {
                    let report = t.run();
                    // Unbounded channel: fails only if nobody waits for reports any more.
                    let _ = tx.try_send((k, report));
                })
                .map_err(|e| format!("cannot start receiver thread {k}: {e}"))?;
            rx.workers.push(Worker { epoll, inbox });
        }
        Ok(rx)
    }

    /// Hands a set-up client to its thread; from now on that thread reads the socket.
    pub fn add(&self, h: Handover) -> Result<(), String> {
        let w = &self.workers[h.me % self.workers.len()];
        h.stream
            .set_nonblocking(true)
            .map_err(|e| format!("set non-blocking: {e}"))?;
        // Registered before it is queued: a readiness report that arrives first finds no
        // connection and is repeated (level-triggered) until the thread has picked it up.
        w.epoll
            .add(&h.stream, h.me as u64, Interest::READ)
            .map_err(|e| format!("epoll_ctl ADD: {e}"))?;
        lock(&w.inbox.handed).push(h.me);
        lock(&w.inbox.queue).push(h);
        w.inbox.fresh.store(true, Ordering::Release);
        Ok(())
    }

    /// Call once our sockets are shut down: waits (until `deadline`, then a short grace with
    /// the threads abandoned) for every thread's statistics. Returns them and the clients
    /// whose statistics are missing.
    pub async fn finish(&self, deadline: Instant) -> (Vec<RecvStats>, Vec<usize>) {
        self.control.closing.store(true, Ordering::Release);
        let mut stats = Vec::new();
        let mut missing = Vec::new();
        let mut reported = vec![false; self.workers.len()];
        let mut pending = self.workers.len();
        let mut deadline = deadline;
        let mut abandoned = false;
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.results.recv()).await {
                Some(Ok((k, rep))) => {
                    if let Some(r) = reported.get_mut(k) {
                        *r = true;
                    }
                    stats.extend(rep.stats);
                    missing.extend(rep.unfinished);
                    pending -= 1;
                }
                Some(Err(_)) => break, // every thread is gone
                None if !abandoned => {
                    abandoned = true;
                    self.control.abandon.store(true, Ordering::Release);
                    deadline = Instant::now() + ABANDON_GRACE;
                }
                None => break,
            }
        }
        for (w, done) in self.workers.iter().zip(reported) {
            if !done {
                missing.extend(lock(&w.inbox.handed).iter().copied());
            }
        }
        missing.sort_unstable();
        (stats, missing)
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        // Threads still running (setup failed, or a report never came) end at their next
        // wake-up.
        self.control.abandon.store(true, Ordering::Release);
    }
}

/// One client connection owned by a receiver thread.
struct Conn {
    stream: TcpStream,
    /// An incomplete last line, completed by the next read.
    partial: Vec<u8>,
    stats: RecvStats,
    /// Senders whose window this client's progress bounds (`--rate 0`).
    probed: Vec<usize>,
    /// A WebSocket client's frame state, and its raw read buffer.
    ws: Option<(crate::ws::Deframer, Vec<u8>)>,
}

/// How a burst of reads ended.
enum Flow {
    Open,
    Closed(Option<String>),
}

impl Conn {
    fn new(h: Handover, shared: &Shared) -> Conn {
        let me = h.me;
        let mut c = Conn {
            stream: h.stream,
            ws: h.ws.map(|deframer| (deframer, vec![0; READ_BUF])),
            partial: Vec::new(),
            stats: RecvStats::new(me, shared.senders),
            probed: (0..shared.senders)
                .filter(|&s| s != me && shared.probe_of(s) == me)
                .collect(),
        };
        c.lines(&h.buffered, shared.now_ns(), shared);
        c
    }

    /// Checks every complete line of `data` (received at `now`); keeps the incomplete rest.
    fn lines(&mut self, data: &[u8], now: u64, shared: &Shared) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            self.stats.on_line(&data[start..end], now, shared);
            start = end + 1;
        }
        self.partial.clear();
        self.partial.extend_from_slice(&data[start..]);
    }

    /// Reads what the socket holds (see the module comment for when it stops).
    fn pump(&mut self, buf: &mut Vec<u8>, shared: &Shared) -> Flow {
        for _ in 0..MAX_READS {
            let head = self.partial.len();
            if head > MAX_LINE {
                return Flow::Closed(Some(format!(
                    "server sent a line longer than {MAX_LINE} bytes"
                )));
            }
            if buf.len() < head + READ_BUF {
                buf.resize(head + READ_BUF, 0);
            }
            buf[..head].copy_from_slice(&self.partial);
            if let Some((deframer, raw)) = self.ws.as_mut() {
                // A WebSocket client: frames read raw, their lines appended after the partial one.
                let n = match (&self.stream).read(raw) {
                    Ok(0) => return Flow::Closed(None),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Flow::Closed(Some(format!("read error: {e}"))),
                };
                buf.truncate(head);
                if let Err(e) = deframer.feed(&raw[..n], buf) {
                    return Flow::Closed(Some(e));
                }
                let full = n == raw.len();
                let end = buf.len();
                self.lines(&buf[..end], shared.now_ns(), shared);
                if !full {
                    break;
                }
                continue;
            }
            let room = buf.len() - head;
            match (&self.stream).read(&mut buf[head..]) {
                Ok(0) => return Flow::Closed(None),
                Ok(n) => {
                    self.lines(&buf[..head + n], shared.now_ns(), shared);
                    if n < room {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Flow::Closed(Some(format!("read error: {e}"))),
            }
        }
        Flow::Open
    }

    /// Makes this client's progress visible to the drain and to window-limited senders.
    fn publish(&self, shared: &Shared) {
        shared.progress[self.stats.me]
            .0
            .store(self.stats.unique, Ordering::Relaxed);
        for &s in &self.probed {
            let next = self.stats.trackers[s].next();
            if shared.probe_seen[s].swap(next, Ordering::AcqRel) != next {
                shared.probe_event[s].notify(usize::MAX);
            }
        }
    }
}

/// The state of one receiver thread.
struct Thread {
    shared: Arc<Shared>,
    epoll: Arc<Epoll>,
    inbox: Arc<Inbox>,
    control: Arc<Control>,
    /// Open connections (closed ones become None).
    conns: Vec<Option<Conn>>,
    /// Client index -> position in `conns` (usize::MAX: not here).
    conns_by_me: Vec<usize>,
    open: usize,
    busy_poll: bool,
    done: Vec<RecvStats>,
    buf: Vec<u8>,
}

impl Thread {
    fn run(&mut self) -> ThreadReport {
        let mut events = Events::with_capacity(256);
        loop {
            if self.control.abandon.load(Ordering::Acquire) {
                break;
            }
            self.pick_up();
            if self.control.closing.load(Ordering::Acquire)
                && self.open == 0
                && !self.inbox.fresh.load(Ordering::Acquire)
            {
                break;
            }
            let wait = if self.busy_poll { Duration::ZERO } else { WAIT };
            if let Err(e) = self.epoll.wait(&mut events, wait) {
                self.close_all(&format!("epoll_wait: {e}"));
                break;
            }
            for ev in events.iter() {
                self.on_ready(ev.token as usize);
            }
        }
        ThreadReport {
            unfinished: self.conns.iter().flatten().map(|c| c.stats.me).collect(),
            stats: std::mem::take(&mut self.done),
        }
    }

    /// Takes over the connections queued for this thread.
    fn pick_up(&mut self) {
        if !self.inbox.fresh.swap(false, Ordering::AcqRel) {
            return;
        }
        let new = std::mem::take(&mut *lock(&self.inbox.queue));
        for h in new {
            if let Some(slot) = self.conns_by_me.get_mut(h.me) {
                *slot = self.conns.len();
                self.conns.push(Some(Conn::new(h, &self.shared)));
                self.open += 1;
            }
        }
    }

    fn on_ready(&mut self, me: usize) {
        let mut at = self.conns_by_me.get(me).copied().unwrap_or(usize::MAX);
        if at == usize::MAX {
            // Registered but not picked up yet.
            self.pick_up();
            at = self.conns_by_me.get(me).copied().unwrap_or(usize::MAX);
        }
        let Some(Some(conn)) = self.conns.get_mut(at) else {
            return;
        };
        let flow = conn.pump(&mut self.buf, &self.shared);
        conn.publish(&self.shared);
        if let Flow::Closed(why) = flow {
            self.close(at, why);
        }
    }

    /// Ends connection `at`: `why` is None for an end of stream.
    fn close(&mut self, at: usize, why: Option<String>) {
        let Some(conn) = self.conns.get_mut(at).and_then(Option::take) else {
            return;
        };
        // Our descriptor is a duplicate: the registration would outlive it, so remove it.
        let _ = self.epoll.delete(&conn.stream);
        let mut st = conn.stats;
        if !self.shared.stopping.load(Ordering::Acquire) {
            st.disconnected = Some(why.unwrap_or_else(|| "server closed the connection".into()));
        }
        self.open -= 1;
        self.shared.receivers_done.fetch_add(1, Ordering::AcqRel);
        self.done.push(st);
    }

    fn close_all(&mut self, why: &str) {
        for at in 0..self.conns.len() {
            self.close(at, Some(why.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Lines split across the setup buffer and several reads are reassembled and checked.
    #[test]
    fn reassembles_split_lines_and_reports_at_eof() {
        let names = vec!["bench0".to_string(), "bench1".to_string()];
        let shared = Arc::new(Shared::new("r1", names, 1));
        let rx = Receivers::start(1, false, 2, shared.clone()).expect("start");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = l.accept().expect("accept");
        rx.add(Handover {
            me: 1,
            stream: client.try_clone().expect("dup"),
            ws: None,
            buffered: b"{\"type\":\"pong\"}\n{\"type\":\"sta".to_vec(),
        })
        .expect("add");
        let msg = b"tus\",\"user\":\"x\",\"state\":\"online\"}\n\
            {\"type\":\"message\",\"from\":\"bench0\",\"content\":\"b|r1|0|0|5\"}\n";
        let (a, b) = msg.split_at(40);
        server.write_all(a).expect("write");
        std::thread::sleep(Duration::from_millis(20));
        server.write_all(b).expect("write");
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.progress[1].0.load(Ordering::Relaxed) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        shared.stopping.store(true, Ordering::Release);
        client.shutdown(std::net::Shutdown::Both).expect("shutdown");
        let (stats, missing) = smol::block_on(rx.finish(Instant::now() + Duration::from_secs(5)));
        assert!(missing.is_empty());
        assert_eq!(stats.len(), 1);
        let st = &stats[0];
        assert_eq!((st.me, st.pongs, st.status_lines, st.unique), (1, 1, 1, 1));
        assert_eq!((st.bad_lines, st.echoed, st.wrong_from), (0, 0, 0));
        assert!(st.disconnected.is_none());
        assert_eq!(st.latency.count(), 1);
    }

    /// A connection closed by the peer before the end is a disconnect.
    #[test]
    fn early_eof_is_a_disconnect() {
        let names = vec!["bench0".to_string(), "bench1".to_string()];
        let shared = Arc::new(Shared::new("r1", names, 1));
        let rx = Receivers::start(2, true, 2, shared.clone()).expect("start");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (server, _) = l.accept().expect("accept");
        rx.add(Handover {
            me: 0,
            stream: client,
            ws: None,
            buffered: Vec::new(),
        })
        .expect("add");
        drop(server);
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.receivers_done.load(Ordering::Acquire) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let (stats, missing) = smol::block_on(rx.finish(Instant::now() + Duration::from_secs(5)));
        assert!(missing.is_empty());
        assert_eq!(stats.len(), 1);
        assert_eq!(
            stats[0].disconnected.as_deref(),
            Some("server closed the connection")
        );
    }
}
