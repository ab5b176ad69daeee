//! `store` mode: the server's own store thread (`classcord::store::StoreThread`, default group
//! commit: 50 ms or 1,000 lines, durable) fed chat lines as fast as its bounded queue takes them.
//! Lines are built before the clock starts (building them is the hub's work, not the store's);
//! the clock stops when `stop()` returns, that is once every line is committed durably.

use std::time::{Duration, Instant};

use classcord::store::{Retention, Store, StoreSettings, StoreThread};
use classcord_core::hub::{ChatRecord, Destination, SenderKind, StoreRequest};

use crate::cli::StoreArgs;
use crate::report::{Finished, EXIT_FAILED};

pub fn run(args: &StoreArgs) -> Finished {
    match measure(args) {
        Ok(json) => Finished { json, code: 0 },
        Err(error) => {
            eprintln!("classcord-bench: store: {error}");
            Finished {
                json: String::new(),
                code: EXIT_FAILED,
            }
        }
    }
}

fn measure(args: &StoreArgs) -> Result<String, String> {
    let temp;
    let dir = match &args.dir {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("classcord.redb");
    let store = Store::open(&path, 32 << 20).map_err(|e| e.to_string())?;
    let settings = StoreSettings {
        path: path.clone(),
        cache_bytes: 32 << 20,
        commit_interval: Duration::from_millis(50),
        commit_max: 1000,
        queue_capacity: 50_000,
        retention: Retention::default(),
    };
    let content = "é".repeat(args.content / 2);
    let lines: Vec<ChatRecord> = (1..=args.lines)
        .map(|id| line(id, id % args.channels.max(1), &content))
        .collect();
    let thread = StoreThread::spawn(store, settings, |_| {}).map_err(|e| e.to_string())?;
    let handle = thread.handle();
    let started = Instant::now();
    let mut full_waits = 0u64;
    for record in lines {
        let mut request = StoreRequest::Keep(record);
        loop {
            match handle.submit(request) {
                Ok(()) => break,
                Err(back) => {
                    full_waits += 1;
                    request = *back;
                    std::thread::yield_now();
                }
            }
        }
    }
    let stats = handle.stats.clone();
    thread.stop();
    let elapsed = started.elapsed().as_secs_f64();
    let kept = stats.kept.load(std::sync::atomic::Ordering::Relaxed);
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    Ok(serde_json::json!({
        "mode": "store",
        "lines": args.lines,
        "kept": kept,
        "seconds": elapsed,
        "lines_per_sec": kept as f64 / elapsed,
        "commits": commits,
        "queue_full_waits": full_waits,
        "file_bytes": size,
        "bytes_per_line": size as f64 / args.lines.max(1) as f64,
    })
    .to_string())
}

fn line(id: u64, channel: u64, content: &str) -> ChatRecord {
    let key = format!("#salon{channel}");
    ChatRecord {
        id,
        unix_micros: 1_764_000_000_000_000 + id * 1000,
        timestamp: "2026-11-25T09:05:07.123456".into(),
        from: format!("eleve{}", id % 30),
        from_key: format!("eleve{}", id % 30),
        kind: SenderKind::Account,
        destination: Destination::Channel {
            display: key.clone(),
            key,
        },
        content: content.to_owned(),
    }
}

/// A temporary folder removed on drop (the bench has no tempfile dependency).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let path = std::env::temp_dir().join(format!(
            "classcord-bench-store-{}-{}",
            std::process::id(),
            crate::run_id()
        ));
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
