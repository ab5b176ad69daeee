//! Log output: the console (a terminal, tagged French lines on stderr) or syslog (`/dev/log`, for
//! journald or rsyslog, and from there fail2ban). Chosen by `--log` / `[log] output`; by default
//! syslog when systemd started the server, the console otherwise.
//!
//! Lines are formatted on the thread that logs and written by a dedicated thread through a
//! bounded queue ([`queue`]): logging never makes the hub wait; a line that does not fit is
//! counted and the count reported later. The `[MSG]` line of every relayed message is the
//! exception: the hub hands over a [`ChatLine`] record (the names it already owns, three numbers)
//! and the writer thread formats it, in batches. Security events ([`event`]) carry stable tokens with the
//! bare peer IP and go to the security facility. Never a password; message contents only at
//! debug level.

mod console;
mod event;
mod queue;
pub mod recent;
mod syslog_sink;
#[cfg(test)]
mod tests;

use std::fmt::{self, Display, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};
pub use syslog::Facility;

pub use event::{
    audit, bare_ip, needs_escape, quoted, shown, FloodAction, Quoted, RateAction, RateKind,
    SecurityEvent, Shown, TimeoutPhase, AUDIT_TARGET,
};
use queue::{Body, Dropped, LaneLimit, LineQueue};
pub use syslog_sink::IDENTIFIER;

/// The syslog socket used unless `[log] syslog_socket` says otherwise.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Room for ordinary lines (a burst of chat at info level) and, apart, for security lines.
const NORMAL_LANE: LaneLimit = LaneLimit {
    lines: 16 * 1024,
    bytes: 8 << 20,
};
const SECURITY_LANE: LaneLimit = LaneLimit {
    lines: 4 * 1024,
    bytes: 2 << 20,
};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChoice {
    /// Syslog when started by systemd (`JOURNAL_STREAM` or `INVOCATION_ID` set), else console.
    Auto,
    Syslog,
    Console,
}

impl OutputChoice {
    pub fn parse(text: &str) -> Option<OutputChoice> {
        match text.trim() {
            "auto" => Some(OutputChoice::Auto),
            "syslog" => Some(OutputChoice::Syslog),
            "console" => Some(OutputChoice::Console),
            _ => None,
        }
    }
}

/// The `[log]` settings besides the level.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub output: OutputChoice,
    /// Facility of ordinary lines (LOCAL0 by default).
    pub facility: Facility,
    /// Facility of security lines (AUTH by default).
    pub security_facility: Facility,
    pub syslog_socket: PathBuf,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            output: OutputChoice::Auto,
            facility: Facility::LOG_LOCAL0,
            security_facility: Facility::LOG_AUTH,
            syslog_socket: PathBuf::from(DEFAULT_SYSLOG_SOCKET),
        }
    }
}

/// The output actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveOutput {
    Console,
    Syslog,
}

/// True when systemd started this process (its service manager sets these).
pub fn started_by_systemd() -> bool {
    std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some()
}

/// Where the writer thread puts lines: `text` is a whole console line (time stamp, newline) or a
/// syslog message, as formatted for the output in use.
trait Sink {
    fn write(&mut self, level: log::Level, security: bool, text: &str);
    fn report_drops(&mut self, dropped: Dropped);
    fn flush(&mut self);
}

/// The line that reports lost lines, after `prefix` (the console tag or nothing).
fn drop_report(prefix: &str, dropped: Dropped) -> String {
    format!(
        "{prefix}LOG_DROPPED lines={} security={} : file du journal pleine, lignes perdues",
        dropped.lines, dropped.security
    )
}

/// The level in force (`[log] level`; `reload` may change it while the server runs).
static LEVEL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn level_index(level: LevelFilter) -> usize {
    level as usize
}

/// Changes the log level while the server runs (`classcord admin reload`, SIGHUP).
pub fn set_level(level: LevelFilter) {
    LEVEL.store(level_index(level), std::sync::atomic::Ordering::Relaxed);
    log::set_max_level(level);
}

/// The `[MSG]` line of one chat line, as a record: formatted by the log writer, not by the hub.
#[derive(Debug)]
pub struct ChatLine {
    pub from: String,
    /// The channel or the private recipient.
    pub target: String,
    /// Length of the content, in bytes.
    pub length: usize,
    pub outcome: ChatOutcome,
    /// The sender's connection number.
    pub conn: u64,
    /// When it was relayed (seconds since the epoch; the console's time stamp).
    pub at_secs: u64,
}

/// What became of a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatOutcome {
    Relayed {
        recipients: usize,
    },
    /// Stored for an absent recipient.
    Deferred,
}

impl ChatLine {
    /// Bytes counted for it in the queue (about what the formatted line takes).
    fn weight(&self) -> usize {
        self.from.len() + self.target.len() + 64
    }
}

/// The line's message: `[MSG] zoe -> #général (9 octets, 3 destinataire(s)) (#4)`.
impl Display for ChatLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, target, length) = (Shown(&self.from), Shown(&self.target), self.length);
        match self.outcome {
            ChatOutcome::Relayed { recipients } => write!(
                f,
                "[MSG] {from} -> {target} ({length} octets, {recipients} destinataire(s)) (#{})",
                self.conn
            ),
            ChatOutcome::Deferred => write!(
                f,
                "[MSG] {from} -> {target} ({length} octets, différé : destinataire absent) (#{})",
                self.conn
            ),
        }
    }
}

/// Seconds since the epoch, for [`ChatLine::at_secs`].
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The queue of the logger [`init`] installed, and its output.
static INSTALLED: OnceLock<(ActiveOutput, Arc<LineQueue>)> = OnceLock::new();

/// True when a chat line (info level) would be written.
pub fn chat_enabled() -> bool {
    LEVEL.load(std::sync::atomic::Ordering::Relaxed) >= level_index(LevelFilter::Info)
}

/// Logs a chat line at info level. With the server's logger the record is queued as is (no
/// formatting here); under any other logger it goes through `log` as an ordinary line.
pub fn chat(line: ChatLine) {
    match INSTALLED.get() {
        Some((_, queue)) => {
            if chat_enabled() {
                queue.push_chat(line);
            }
        }
        None => log::info!("{line}"),
    }
}

/// Formats a queued record as the output wants it, into `out` (emptied first).
fn render_chat(output: ActiveOutput, chat: &ChatLine, out: &mut String) {
    out.clear();
    if output == ActiveOutput::Console {
        console::push_timestamp_at(out, chat.at_secs);
        out.push(' ');
    }
    let start = out.len();
    let _ = write!(out, "{chat}");
    escape_ascii_controls(out, start);
    match output {
        ActiveOutput::Console => out.push('\n'),
        ActiveOutput::Syslog => {
            let message = syslog_sink::message(std::mem::take(out), false);
            *out = message;
        }
    }
}

struct QueueLogger {
    output: ActiveOutput,
    queue: Arc<LineQueue>,
}

impl Log for QueueLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = LEVEL.load(std::sync::atomic::Ordering::Relaxed);
        (metadata.level() as usize) <= level && metadata.target().starts_with("classcord")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let security = record.target() == AUDIT_TARGET;
        let mut text = String::with_capacity(128);
        if self.output == ActiveOutput::Console {
            console::push_timestamp(&mut text);
            text.push(' ');
        }
        let start = text.len();
        let _ = write!(text, "{}", record.args());
        escape_ascii_controls(&mut text, start);
        let text = match self.output {
            ActiveOutput::Console => {
                text.push('\n');
                text
            }
            ActiveOutput::Syslog => syslog_sink::message(text, security),
        };
        self.queue.push(record.level(), security, text);
    }

    fn flush(&self) {
        self.queue.wait_written(Duration::from_secs(2));
    }
}

/// Last line of defence: whatever a message holds (from byte `start` on), it stays one line.
fn escape_ascii_controls(text: &mut String, start: usize) {
    if !text.as_bytes()[start..]
        .iter()
        .any(|&byte| byte < 0x20 || byte == 0x7f)
    {
        return;
    }
    let message = text.split_off(start);
    for c in message.chars() {
        if c.is_ascii_control() {
            let _ = write!(text, "\\u{{{:x}}}", u32::from(c));
        } else {
            text.push(c);
        }
    }
}

fn run_writer(
    queue: &LineQueue,
    output: ActiveOutput,
    linger: Duration,
    mut sink: Box<dyn Sink + Send>,
) {
    let mut batch = Vec::new();
    let mut chat_text = String::with_capacity(256);
    while let Some(dropped) = queue.take_batch(&mut batch) {
        for entry in &batch {
            let text = match &entry.body {
                Body::Text(text) => text,
                Body::Chat(chat) => {
                    render_chat(output, chat, &mut chat_text);
                    &chat_text
                }
            };
            sink.write(entry.level, entry.security, text);
        }
        if dropped.any() {
            sink.report_drops(dropped);
        }
        sink.flush();
        queue.mark_written(batch.len());
        batch.clear();
        queue.linger(linger);
    }
    sink.flush();
}

/// Why logging could not start (French, for the operator).
#[derive(Debug)]
pub struct LogInitError(String);

impl std::fmt::Display for LogInitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogInitError {}

/// Installs the logger (once per process; a second call changes nothing and returns the output
/// asked for). A syslog socket that cannot be opened is reported once on stderr and the console
/// is used instead.
pub fn init(settings: &LogSettings, level: LevelFilter) -> Result<ActiveOutput, LogInitError> {
    let wants_syslog = match settings.output {
        OutputChoice::Syslog => true,
        OutputChoice::Console => false,
        OutputChoice::Auto => started_by_systemd(),
    };
    let mut output = ActiveOutput::Console;
    let mut sink: Box<dyn Sink + Send> = Box::new(console::ConsoleSink::new());
    if wants_syslog {
        let path = &settings.syslog_socket;
        match syslog_sink::SyslogSink::open(path, settings.facility, settings.security_facility) {
            Ok(syslog) => {
                sink = Box::new(syslog);
                output = ActiveOutput::Syslog;
            }
            Err(error) => eprintln!(
                "classcord : journal système indisponible ({} : {error}) : journal écrit sur la \
                 console",
                path.display()
            ),
        }
    }
    let queue = Arc::new(LineQueue::new(NORMAL_LANE, SECURITY_LANE));
    let logger = QueueLogger {
        output,
        queue: queue.clone(),
    };
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return Ok(output);
    }
    let _ = INSTALLED.set((output, queue.clone()));
    set_level(level);
    std::thread::Builder::new()
        .name("log".into())
        .spawn(move || run_writer(&queue, output, queue::LINGER, sink))
        .map_err(|error| {
            LogInitError(format!(
                "impossible de démarrer l'écriture du journal : {error}"
            ))
        })?;
    Ok(output)
}

/// Writes out every queued line (call before exiting; waits two seconds at most).
pub fn flush() {
    log::logger().flush();
}
