//! The store thread: the one writer of the database. The hub hands it writes through a bounded
//! queue and never waits for it; it groups them into one transaction per commit window (every
//! `commit_interval`, or `commit_max` writes), so a slow disk slows the commits, never the chat.
//!
//! Policies, all logged and counted (see [`StoreStats`]):
//! - queue full: the hub drops the write (`dropped_queue_full`); a load is answered "unavailable";
//! - disk full or any I/O error: redb refuses every later write until the file is reopened, so
//!   the thread drops the database, logs one line, keeps the failed batch (bounded), drops what
//!   arrives beyond it (`dropped_store_down`), and reopens with a backoff (1 s doubling to 30 s);
//!   once it succeeds the batch is committed and everything resumes without a restart;
//! - accounts: a registration is committed durably, with the pending batch, before its reply;
//! - stop: everything queued is committed durably before the thread ends.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use classcord_core::hub::{
    ChatRecord, Destination, HistoryPage, HistoryScope, SessionId, StoreRequest,
};

use super::retention::Retention;
use super::users::NewUser;
use super::{Store, StoreError, UserRecord};

/// Settings of the store thread (`[storage]` in the configuration).
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub path: PathBuf,
    pub cache_bytes: usize,
    /// A batch is committed this long after its first write at the latest...
    pub commit_interval: Duration,
    /// ...or as soon as it holds this many writes.
    pub commit_max: usize,
    /// Writes waiting for the store thread; beyond it the hub drops (and counts) them.
    pub queue_capacity: usize,
    pub retention: Retention,
}

/// Counters shared with the rest of the server (logs, metrics).
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Chat lines committed.
    pub kept: AtomicU64,
    pub commits: AtomicU64,
    /// Duration of the last durable commit, in microseconds.
    pub last_commit_micros: AtomicU64,
    /// Writes the hub dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Writes dropped while the database could not be written.
    pub dropped_store_down: AtomicU64,
    /// Lines removed by retention.
    pub pruned: AtomicU64,
}

/// The store could not answer (database unavailable or queue full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// A load's answer, for the hub (`None`: the store could not read it).
#[derive(Debug)]
pub enum Loaded {
    History {
        session: SessionId,
        page: HistoryPage,
        records: Option<Vec<ChatRecord>>,
    },
    Deferred {
        session: SessionId,
        records: Option<Vec<ChatRecord>>,
    },
}

type Reply<T> = smol::channel::Sender<Result<T, Unavailable>>;

/// Operator work run on the store thread once the pending batch is committed (`None`: the
/// database cannot be opened right now).
type Job = Box<dyn FnOnce(Option<&Store>) + Send>;

enum Command {
    Hub(StoreRequest),
    /// The writes and loads of one hub batch, in order (one hand-off, one wake-up).
    Batch(Vec<StoreRequest>),
    FindUser {
        name: String,
        reply: Reply<Option<UserRecord>>,
    },
    Register {
        name: String,
        password_hash: String,
        created_unix: u64,
        reply: Reply<bool>,
    },
    Run(Job),
    Stop,
}

impl Command {
    /// Its share of the queue's capacity: one per request (a batch counts each of its own).
    fn weight(&self) -> usize {
        match self {
            Command::Batch(requests) => requests.len(),
            Command::Stop => 0,
            _ => 1,
        }
    }
}

/// The other threads' handle on the store thread. Cheap to clone.
#[derive(Clone)]
pub struct StoreHandle {
    /// Unbounded as a channel (it allocates as it fills, instead of reserving `capacity` slots
    /// up front: 10 MiB of resident memory at the default), bounded by `queued`.
    commands: Sender<Command>,
    /// Requests sent and not yet taken by the store thread.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    pub stats: Arc<StoreStats>,
}

impl StoreHandle {
    /// Queues a write or a load without waiting; gives it back when the queue is full.
    pub fn submit(&self, request: StoreRequest) -> Result<(), Box<StoreRequest>> {
        match self.try_send(Command::Hub(request)) {
            Ok(()) => Ok(()),
            Err(Command::Hub(request)) => Err(Box::new(request)),
            Err(_) => Ok(()),
        }
    }

    /// Queues a hub batch's requests (in order) without waiting; gives them back when the
    /// queue holds `queue_capacity` requests already.
    pub fn submit_batch(&self, requests: Vec<StoreRequest>) -> Result<(), Vec<StoreRequest>> {
        match self.try_send(Command::Batch(requests)) {
            Ok(()) => Ok(()),
            Err(Command::Batch(requests)) => Err(requests),
            Err(_) => Ok(()),
        }
    }

    /// Sends `command` unless the queue already holds `capacity` requests (or the thread has
    /// ended); gives it back otherwise. The check and the add are not one atomic step: handles
    /// racing on other threads may overshoot by a request or two, which is harmless.
    // Given back by value: boxing it would allocate on the refusal path only to unbox it.
    #[allow(clippy::result_large_err)]
    fn try_send(&self, command: Command) -> Result<(), Command> {
        let weight = command.weight();
        if self.queued.load(Ordering::Relaxed) + weight > self.capacity {
            return Err(command);
        }
        self.queued.fetch_add(weight, Ordering::Relaxed);
        self.commands.send(command).map_err(|refused| {
            self.queued.fetch_sub(weight, Ordering::Relaxed);
            refused.0
        })
    }

    /// Looks an account up.
    pub async fn find_user(&self, name: String) -> Result<Option<UserRecord>, Unavailable> {
        let (reply, answer) = smol::channel::bounded(1);
        self.request(Command::FindUser { name, reply }, answer)
            .await
    }

    /// Registers an account, committed durably (with every write queued before it) before the
    /// answer; `Ok(false)`: the name is taken.
    pub async fn register(
        &self,
        name: String,
        password_hash: String,
        created_unix: u64,
    ) -> Result<bool, Unavailable> {
        let (reply, answer) = smol::channel::bounded(1);
        let command = Command::Register {
            name,
            password_hash,
            created_unix,
            reply,
        };
        self.request(command, answer).await
    }

    /// Runs `work` on the store thread, after everything queued before it is committed (the
    /// console's bans, accounts and backups); `Unavailable` if the queue is full or the database
    /// cannot be opened.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<Result<T, StoreError>, Unavailable> {
        let (reply, answer) = smol::channel::bounded(1);
        let job: Job = Box::new(move |store| {
            let _ = reply.try_send(store.map(work).ok_or(Unavailable));
        });
        self.request(Command::Run(job), answer).await
    }

    async fn request<T>(
        &self,
        command: Command,
        answer: smol::channel::Receiver<Result<T, Unavailable>>,
    ) -> Result<T, Unavailable> {
        // A full queue means the disk is far behind: answer "unavailable" rather than wait.
        self.try_send(command).map_err(|_| Unavailable)?;
        answer.recv().await.unwrap_or(Err(Unavailable))
    }
}

/// The running store thread.
pub struct StoreThread {
    handle: StoreHandle,
    thread: JoinHandle<()>,
}

impl StoreThread {
    /// Starts the thread on an open store. `on_loaded` carries load answers to the hub; it may
    /// block briefly (the hub drains its queue quickly and never waits for the store).
    pub fn spawn(
        store: Store,
        settings: StoreSettings,
        on_loaded: impl FnMut(Loaded) + Send + 'static,
    ) -> std::io::Result<StoreThread> {
        let writer_capacity = settings.queue_capacity;
        let (commands, inbox) = channel();
        let stats = Arc::new(StoreStats::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            store: Some(store),
            batch: Vec::new(),
            batch_since: None,
            broken: None,
            next_retention: Instant::now() + Duration::from_secs(5),
            queued: queued.clone(),
            settings,
            stats: stats.clone(),
            on_loaded: Box::new(on_loaded),
        };
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer.run(inbox))?;
        Ok(StoreThread {
            handle: StoreHandle {
                commands,
                queued,
                capacity: writer_capacity,
                stats,
            },
            thread,
        })
    }

    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// Commits everything queued (durably) and ends the thread.
    pub fn stop(self) {
        let _ = self.handle.commands.send(Command::Stop);
        let _ = self.thread.join();
    }
}

/// The database cannot be written: when to try reopening it, and what was lost meanwhile.
struct Broken {
    retry_at: Instant,
    backoff: Duration,
    lost_before: u64,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often retention runs (each run deletes in small transactions).
const RETENTION_EVERY: Duration = Duration::from_secs(60);

struct Writer {
    /// `None` while broken (dropped, to be reopened).
    store: Option<Store>,
    batch: Vec<StoreRequest>,
    batch_since: Option<Instant>,
    broken: Option<Broken>,
    next_retention: Instant,
    settings: StoreSettings,
    stats: Arc<StoreStats>,
    /// Shared with the handles: requests sent and not taken yet.
    queued: Arc<AtomicUsize>,
    on_loaded: Box<dyn FnMut(Loaded) + Send>,
}

/// How long the thread lets writes gather while a batch is open (see [`Writer::run`]).
const GATHER: Duration = Duration::from_millis(2);

/// Nothing is waiting in the queue (so the thread would block on the next receive).
fn inbox_is_quiet(queued: &AtomicUsize) -> bool {
    queued.load(Ordering::Relaxed) == 0
}

impl Writer {
    fn run(mut self, inbox: Receiver<Command>) {
        loop {
            let wait = self
                .next_deadline()
                .saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(command) => self.take(command),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick();
            // A batch waits for its commit anyway: let the next writes gather for a moment
            // instead of being woken by each (a blocked receiver costs the hub a wake-up per
            // chat line). Loads and registrations wait at most this long more.
            if !self.batch.is_empty() && inbox_is_quiet(&self.queued) {
                std::thread::sleep(GATHER.min(wait));
            }
        }
        // Stop: everything still queued, then one durable commit.
        while let Ok(command) = inbox.try_recv() {
            if !matches!(command, Command::Stop) {
                self.take(command);
            }
        }
        if self.broken.is_some() {
            self.try_reopen();
        }
        self.flush();
        if !self.batch.is_empty() {
            log::error!(
                "[STOCKAGE] arrêt : {} écriture(s) n'ont pas pu être enregistrées",
                self.batch.len()
            );
        }
    }

    /// When something is due: the batch's commit, a reopen attempt, or retention.
    fn next_deadline(&self) -> Instant {
        let mut deadline = self.next_retention;
        if let Some(since) = self.batch_since {
            deadline = deadline.min(since + self.settings.commit_interval);
        }
        if let Some(broken) = &self.broken {
            deadline = deadline.min(broken.retry_at);
        }
        deadline
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if self.broken.as_ref().is_some_and(|b| now >= b.retry_at) {
            self.try_reopen();
        }
        let due = self
            .batch_since
            .is_some_and(|since| now >= since + self.settings.commit_interval);
        if due || self.batch.len() >= self.settings.commit_max {
            self.flush();
        }
        if now >= self.next_retention {
            self.next_retention = now + RETENTION_EVERY;
            self.retention();
        }
    }

    /// A command leaves the queue.
    fn take(&mut self, command: Command) {
        self.queued.fetch_sub(command.weight(), Ordering::Relaxed);
        self.handle(command);
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Batch(requests) => {
                for request in requests {
                    self.handle(Command::Hub(request));
                }
            }
            Command::Hub(StoreRequest::LoadHistory { session, page }) => {
                let records = self
                    .read(|store| store.history(&page))
                    .map(|stored| with_batch_history(stored, &self.batch, &page));
                (self.on_loaded)(Loaded::History {
                    session,
                    page,
                    records,
                });
            }
            Command::Hub(StoreRequest::LoadDeferred { session, account }) => {
                let records = self
                    .read(|store| store.deferred_for(&account))
                    .map(|stored| with_batch_deferred(stored, &self.batch, &account));
                (self.on_loaded)(Loaded::Deferred { session, records });
            }
            Command::Hub(write) => self.queue_write(write),
            Command::FindUser { name, reply } => {
                if self.broken.is_some() {
                    self.try_reopen();
                }
                let found = match &self.store {
                    Some(store) => store.find_user(&name).map_err(|error| {
                        log::error!("[STOCKAGE] lecture du compte {name:?} impossible : {error}");
                        Unavailable
                    }),
                    None => Err(Unavailable),
                };
                let _ = reply.try_send(found);
            }
            Command::Register {
                name,
                password_hash,
                created_unix,
                reply,
            } => {
                let user = NewUser {
                    name: &name,
                    password_hash: &password_hash,
                    created_unix,
                };
                let _ = reply.try_send(self.register(user));
            }
            Command::Run(job) => {
                if self.broken.is_some() {
                    self.try_reopen();
                }
                self.flush();
                job(self.store.as_ref().filter(|_| self.broken.is_none()));
            }
            Command::Stop => {}
        }
    }

    fn queue_write(&mut self, write: StoreRequest) {
        // While broken the failed batch is kept for the retry, bounded; the rest is dropped.
        if self.broken.is_some() && self.batch.len() >= self.settings.commit_max {
            self.stats
                .dropped_store_down
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.batch.is_empty() {
            self.batch_since = Some(Instant::now());
        }
        self.batch.push(write);
        if self.broken.is_none() && self.batch.len() >= self.settings.commit_max {
            self.flush();
        }
    }

    /// Reads what is committed (the caller adds what the batch holds: redb allows no cheap
    /// non-durable commit while other processes may open the file).
    fn read<T>(&mut self, read: impl FnOnce(&Store) -> Result<T, StoreError>) -> Option<T> {
        let store = self.store.as_ref()?;
        match read(store) {
            Ok(value) => Some(value),
            Err(error) => {
                log::error!("[STOCKAGE] lecture impossible : {error}");
                None
            }
        }
    }

    fn register(&mut self, user: NewUser<'_>) -> Result<bool, Unavailable> {
        if self.broken.is_some() {
            self.try_reopen();
        }
        let store = self.store.as_ref().ok_or(Unavailable)?;
        let started = Instant::now();
        match store.commit(&self.batch, Some(user), true) {
            Ok(inserted) => {
                self.committed(started);
                Ok(inserted)
            }
            Err(error) => {
                self.failed(&error);
                Err(Unavailable)
            }
        }
    }

    /// Commits the batch durably; on failure keeps it and goes into the broken state.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let Some(store) = &self.store else { return };
        let started = Instant::now();
        match store.commit(&self.batch, None, true) {
            Ok(_) => self.committed(started),
            Err(error) => self.failed(&error),
        }
    }

    fn committed(&mut self, started: Instant) {
        let kept = self
            .batch
            .iter()
            .filter(|w| matches!(w, StoreRequest::Keep(_) | StoreRequest::Defer(_)))
            .count() as u64;
        self.stats.kept.fetch_add(kept, Ordering::Relaxed);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats
            .last_commit_micros
            .store(micros, Ordering::Relaxed);
        self.batch.clear();
        self.batch_since = None;
    }

    fn failed(&mut self, error: &StoreError) {
        if self.broken.is_none() {
            log::error!(
                "[STOCKAGE] écriture dans la base impossible ({error}) : disque plein ou en lecture \
                 seule ? Le chat continue sans enregistrer les messages ; nouvel essai \
                 automatique dans {} s",
                FIRST_BACKOFF.as_secs()
            );
            self.broken = Some(Broken {
                retry_at: Instant::now() + FIRST_BACKOFF,
                backoff: FIRST_BACKOFF,
                lost_before: self.stats.dropped_store_down.load(Ordering::Relaxed),
            });
        }
        // redb refuses every write after an I/O error until the file is reopened.
        self.store = None;
    }

    fn try_reopen(&mut self) {
        let Some(broken) = &mut self.broken else {
            return;
        };
        match Store::open(&self.settings.path, self.settings.cache_bytes) {
            Ok(store) => {
                let lost =
                    self.stats.dropped_store_down.load(Ordering::Relaxed) - broken.lost_before;
                self.store = Some(store);
                self.broken = None;
                self.flush();
                if self.broken.is_none() {
                    log::warn!(
                        "[STOCKAGE] base de nouveau accessible : enregistrement repris \
                         ({lost} écriture(s) perdue(s) pendant la panne)"
                    );
                }
            }
            Err(error) => {
                broken.backoff = (broken.backoff * 2).min(MAX_BACKOFF);
                broken.retry_at = Instant::now() + broken.backoff;
                log::debug!(
                    "[STOCKAGE] réouverture impossible ({error}) ; nouvel essai dans {} s",
                    broken.backoff.as_secs()
                );
            }
        }
    }

    fn retention(&mut self) {
        if self.broken.is_some() || !self.settings.retention.is_active() {
            return;
        }
        self.flush();
        let Some(store) = &self.store else { return };
        let now_micros = crate::clock::now().unix_micros;
        match self.settings.retention.apply(store, now_micros) {
            Ok(pruned) => {
                if pruned.deleted > 0 {
                    self.stats
                        .pruned
                        .fetch_add(pruned.deleted, Ordering::Relaxed);
                    log::info!(
                        "[STOCKAGE] rétention : {} ancien(s) message(s) supprimé(s)",
                        pruned.deleted
                    );
                }
                if pruned.more {
                    self.next_retention = Instant::now() + Duration::from_secs(1);
                }
            }
            Err(error) => self.failed(&error),
        }
    }
}

/// A committed history page completed with the lines of the current batch (same scope, before
/// `before`), still the newest `limit`, oldest first.
fn with_batch_history(
    mut records: Vec<ChatRecord>,
    batch: &[StoreRequest],
    page: &HistoryPage,
) -> Vec<ChatRecord> {
    let before = page.before.unwrap_or(u64::MAX);
    let mut added = false;
    for write in batch {
        let (StoreRequest::Keep(record) | StoreRequest::Defer(record)) = write else {
            continue;
        };
        let in_scope = match (&page.scope, &record.destination) {
            (HistoryScope::Channel { key, .. }, Destination::Channel { key: line, .. }) => {
                key == line
            }
            (
                HistoryScope::Conversation { key, .. },
                Destination::Private {
                    conversation: Some(line),
                    ..
                },
            ) => key == line,
            _ => false,
        };
        if in_scope && record.id < before {
            records.push(record.clone());
            added = true;
        }
    }
    if added {
        records.sort_by_key(|record| record.id);
        records.dedup_by_key(|record| record.id);
        let excess = records.len().saturating_sub(page.limit as usize);
        records.drain(..excess);
    }
    records
}

/// Committed deferred lines of `account` completed with the batch's (and minus those the batch
/// marks delivered), oldest first.
fn with_batch_deferred(
    mut records: Vec<ChatRecord>,
    batch: &[StoreRequest],
    account: &str,
) -> Vec<ChatRecord> {
    for write in batch {
        match write {
            StoreRequest::Defer(record) if matches!(&record.destination, Destination::Private { to_key, .. } if to_key == account) =>
            {
                records.push(record.clone());
            }
            StoreRequest::Delivered { account: to, up_to } if to == account => {
                records.retain(|record| record.id > *up_to);
            }
            _ => {}
        }
    }
    records.sort_by_key(|record| record.id);
    records.dedup_by_key(|record| record.id);
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use classcord_core::hub::{Destination, HistoryScope, SenderKind};
    use std::sync::mpsc::channel;

    fn line(id: u64) -> ChatRecord {
        ChatRecord {
            id,
            unix_micros: id,
            timestamp: String::new(),
            from: "a".into(),
            from_key: "a".into(),
            kind: SenderKind::Guest,
            destination: Destination::Channel {
                key: "#a".into(),
                display: "#a".into(),
            },
            content: format!("{id}"),
        }
    }

    fn settings(path: PathBuf, interval: Duration) -> StoreSettings {
        StoreSettings {
            path,
            cache_bytes: 1 << 20,
            commit_interval: interval,
            commit_max: 100_000,
            queue_capacity: 1000,
            retention: Retention::default(),
        }
    }

    #[test]
    fn a_load_sees_the_uncommitted_batch_and_stop_commits_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path, 1 << 20).unwrap();
        let (loads, loaded) = channel();
        // A long window: nothing is committed before the load or the stop.
        let thread = StoreThread::spawn(
            store,
            settings(path.clone(), Duration::from_secs(60)),
            move |l| {
                let _ = loads.send(l);
            },
        )
        .unwrap();
        let handle = thread.handle();
        for id in 1..=5 {
            handle.submit(StoreRequest::Keep(line(id))).unwrap();
        }
        let page = HistoryPage {
            scope: HistoryScope::Channel {
                key: "#a".into(),
                display: "#a".into(),
            },
            limit: 3,
            before: None,
        };
        handle
            .submit(StoreRequest::LoadHistory {
                session: SessionId(1),
                page,
            })
            .unwrap();
        match loaded.recv_timeout(Duration::from_secs(5)).unwrap() {
            Loaded::History { records, .. } => {
                let ids: Vec<u64> = records.unwrap().iter().map(|r| r.id).collect();
                assert_eq!(ids, [3, 4, 5]);
            }
            other => panic!("{other:?}"),
        }
        let registered = smol::block_on(handle.register("Bob".into(), "$h".into(), 1));
        assert_eq!(registered, Ok(true));
        assert_eq!(
            smol::block_on(handle.register("bob".into(), "$h".into(), 2)),
            Ok(false)
        );
        handle.submit(StoreRequest::Keep(line(6))).unwrap();
        thread.stop();
        let store = Store::open(&path, 1 << 20).unwrap();
        assert_eq!(store.message_counts().unwrap(), (6, 0));
        assert!(store.find_user("BOB").unwrap().is_some());
    }

    #[test]
    fn a_full_queue_gives_the_write_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path, 1 << 20).unwrap();
        let (gate, wait) = channel::<()>();
        // The first load blocks the thread until the test lets it go: the queue then fills.
        let thread = StoreThread::spawn(
            store,
            settings(path, Duration::from_millis(10)),
            move |_| {
                let _ = wait.recv();
            },
        )
        .unwrap();
        let handle = thread.handle();
        handle
            .submit(StoreRequest::LoadDeferred {
                session: SessionId(1),
                account: "x".into(),
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut refused = 0;
        for id in 1..=2000 {
            if handle.submit(StoreRequest::Keep(line(id))).is_err() {
                refused += 1;
            }
        }
        assert!(refused >= 1000 - 16, "bounded queue: {refused} refused");
        drop(gate);
        thread.stop();
    }
}
