//! Account checks for the hub: password verification and registration. Hashing (argon2id: tens
//! of milliseconds and ~19 MiB each) runs on a small pool of dedicated, lower-priority threads,
//! one hash per thread, so a login storm uses the spare CPU without delaying chat lines.
//! Account reads and commits go through the store thread (the one writer).

use std::sync::Arc;

use classcord_core::hub::AuthOutcome;
use classcord_core::message::Secret;
use smol::channel::{self, Receiver, Sender};

use crate::store::{PasswordHasher, StoreHandle};

/// Nice value of the hashing threads: chat (default priority) goes first when both want a core.
const HASHING_NICENESS: libc::c_int = 10;

type Job = Box<dyn FnOnce() + Send>;

/// N threads taking hashing jobs: at most N hashes (and N × the argon2 memory) at once.
struct HashPool {
    jobs: Sender<Job>,
}

impl HashPool {
    fn new(threads: usize) -> std::io::Result<HashPool> {
        let (jobs, queue) = channel::unbounded::<Job>();
        for index in 0..threads.max(1) {
            let queue: Receiver<Job> = queue.clone();
            std::thread::Builder::new()
                .name(format!("hash-{index}"))
                .spawn(move || {
                    lower_thread_priority();
                    while let Ok(job) = queue.recv_blocking() {
                        job();
                    }
                })?;
        }
        Ok(HashPool { jobs })
    }

    /// Runs `work` on a hashing thread and waits for its result.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = channel::bounded(1);
        let job: Job = Box::new(move || {
            let _ = done.try_send(work());
        });
        self.jobs.send(job).await.ok()?;
        result.recv().await.ok()
    }
}

/// Lowers the calling thread's scheduling priority (Linux applies `setpriority` per thread).
fn lower_thread_priority() {
    // SAFETY: gettid and setpriority have no memory effects; a failure only keeps the priority.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, HASHING_NICENESS);
    }
}

/// Verifies and registers accounts off the executor.
#[derive(Clone)]
pub struct Accounts {
    store: StoreHandle,
    hasher: PasswordHasher,
    pool: Arc<HashPool>,
}

impl Accounts {
    pub fn new(
        store: StoreHandle,
        hasher: PasswordHasher,
        max_concurrent_hashes: usize,
    ) -> std::io::Result<Self> {
        Ok(Accounts {
            store,
            hasher,
            pool: Arc::new(HashPool::new(max_concurrent_hashes)?),
        })
    }

    /// Checks a login; an unknown user costs the same hash time as a known one.
    pub async fn login(&self, username: String, password: Secret) -> AuthOutcome {
        let record = match self.store.find_user(username.clone()).await {
            Ok(record) => record,
            Err(_) => return AuthOutcome::Unavailable,
        };
        let hasher = self.hasher.clone();
        let checked = self.pool.run(move || match record {
            Some(record) => match hasher.verify(password.expose(), &record.password_hash) {
                Ok(true) => AuthOutcome::LoggedIn { name: record.name },
                Ok(false) => AuthOutcome::LoginFailed,
                Err(error) => {
                    log::error!("[ERREUR] hachage illisible pour le compte {username:?} : {error}");
                    AuthOutcome::Unavailable
                }
            },
            None => {
                hasher.verify_dummy(password.expose());
                AuthOutcome::LoginFailed
            }
        });
        checked.await.unwrap_or(AuthOutcome::Unavailable)
    }

    /// Hashes and durably stores a new account; the outcome is known only after the commit.
    pub async fn register(
        &self,
        username: String,
        password: Secret,
        created_unix: u64,
    ) -> AuthOutcome {
        // Cheap refusal first: no hash for a name that is already taken.
        match self.store.find_user(username.clone()).await {
            Ok(Some(_)) => return AuthOutcome::RegisterTaken,
            Ok(None) => {}
            Err(_) => return AuthOutcome::Unavailable,
        }
        let hasher = self.hasher.clone();
        let hash = match self.pool.run(move || hasher.hash(password.expose())).await {
            Some(Ok(hash)) => hash,
            Some(Err(error)) => {
                log::error!("[ERREUR] hachage du mot de passe impossible : {error}");
                return AuthOutcome::Unavailable;
            }
            None => return AuthOutcome::Unavailable,
        };
        // The durable commit (an fsync) runs on the store thread, not on a hashing thread.
        match self
            .store
            .register(username.clone(), hash, created_unix)
            .await
        {
            Ok(true) => AuthOutcome::Registered { name: username },
            Ok(false) => AuthOutcome::RegisterTaken,
            Err(_) => AuthOutcome::Unavailable,
        }
    }
}
