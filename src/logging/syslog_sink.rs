//! Syslog output through the `syslog` crate: RFC 3164 datagrams on the local syslog socket
//! (`/dev/log`: journald under systemd, or rsyslog), identifier `classcord` with the PID, real
//! severities, chat and connection lines on one facility (LOCAL0 by default), security lines on
//! another (AUTH by default).
//!
//! The writer thread owns the socket. A send that fails (the daemon restarted, or is stuck for
//! more than a second) is retried once on a fresh connection; if that fails too, the line goes to
//! stderr (the journal's stream under systemd) instead of being lost, stderr says once that the
//! socket is unreachable, and the socket is tried again two seconds later.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::Level;
use syslog::{Facility, Formatter3164, LoggerBackend};

use super::console::ConsoleSink;
use super::queue::Dropped;
use super::Sink;

/// The identifier every line carries (`classcord[PID]: ...`).
pub const IDENTIFIER: &str = "classcord";

/// How long one send may wait on a busy syslog daemon before the line goes to stderr.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// How long after a failed send the syslog socket is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Longest message sent, in bytes (rsyslog's default limit is 8 KiB; longer debug lines are cut).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

type Logger = syslog::Logger<LoggerBackend, Formatter3164>;

pub struct SyslogSink {
    logger: Option<Logger>,
    path: PathBuf,
    facility: Facility,
    security_facility: Facility,
    /// When the socket was last tried while down.
    last_attempt: Instant,
    /// Set from the first failed line of an outage to the next line sent: stderr hears about
    /// an outage once, however long it lasts.
    outage: bool,
    fallback: ConsoleSink,
}

/// Opens the socket; the error is for a French message at start-up.
fn connect(path: &Path, facility: Facility) -> io::Result<Logger> {
    let formatter = Formatter3164 {
        facility,
        hostname: None,
        process: IDENTIFIER.into(),
        pid: std::process::id(),
    };
    let logger =
        syslog::unix_custom(formatter, path).map_err(|error| io::Error::other(describe(&error)))?;
    match &logger.backend {
        LoggerBackend::Unix(socket) => socket.set_write_timeout(Some(SEND_TIMEOUT))?,
        LoggerBackend::UnixStream(stream) => {
            stream.get_ref().set_write_timeout(Some(SEND_TIMEOUT))?
        }
        _ => {}
    }
    Ok(logger)
}

impl SyslogSink {
    pub fn open(
        path: &Path,
        facility: Facility,
        security_facility: Facility,
    ) -> io::Result<SyslogSink> {
        Ok(SyslogSink {
            logger: Some(connect(path, facility)?),
            path: path.to_owned(),
            facility,
            security_facility,
            last_attempt: Instant::now(),
            outage: false,
            fallback: ConsoleSink::new(),
        })
    }

    fn send(&mut self, level: Level, security: bool, text: &str) -> Result<(), syslog::Error> {
        let Some(logger) = self.logger.as_mut() else {
            return Err(syslog::Error::Io(io::ErrorKind::NotConnected.into()));
        };
        logger.formatter.facility = if security {
            self.security_facility
        } else {
            self.facility
        };
        match level {
            Level::Error => logger.err(text),
            Level::Warn => logger.warning(text),
            Level::Info => logger.info(text),
            Level::Debug | Level::Trace => logger.debug(text),
        }
    }

    fn reconnect(&mut self) -> bool {
        self.last_attempt = Instant::now();
        match connect(&self.path, self.facility) {
            Ok(logger) => {
                self.logger = Some(logger);
                true
            }
            Err(_) => false,
        }
    }

    /// Sends a line, reconnecting once if needed; false when it could not be sent.
    fn deliver(&mut self, level: Level, security: bool, text: &str) -> bool {
        if self.logger.is_none() && (self.last_attempt.elapsed() < RETRY_EVERY || !self.reconnect())
        {
            return false;
        }
        let sent = match self.send(level, security, text) {
            Ok(()) => Ok(()),
            // A daemon that is alive but busy: a new connection would not help.
            Err(first) if timed_out(&first) => Err(first),
            Err(first) if self.reconnect() => self.send(level, security, text).map_err(|_| first),
            Err(first) => Err(first),
        };
        match sent {
            Ok(()) => {
                if self.outage {
                    self.outage = false;
                    eprintln!(
                        "classcord : journal système de nouveau joignable ({})",
                        self.path.display()
                    );
                }
                true
            }
            Err(error) => {
                self.logger = None;
                // Counted from the failure: a stuck daemon costs one timed-out send per retry.
                self.last_attempt = Instant::now();
                if !self.outage {
                    self.outage = true;
                    eprintln!(
                        "classcord : journal système injoignable ({} : {}) : lignes écrites sur \
                         la console en attendant",
                        self.path.display(),
                        describe(&error)
                    );
                }
                false
            }
        }
    }
}

impl Sink for SyslogSink {
    fn write(&mut self, level: Level, security: bool, text: &str) {
        if !self.deliver(level, security, text) {
            self.fallback.write_untimed(text);
        }
    }

    fn report_drops(&mut self, dropped: Dropped) {
        let text = super::drop_report("", dropped);
        if !self.deliver(Level::Warn, dropped.security > 0, &text) {
            self.fallback.write_untimed(&text);
        }
    }

    fn flush(&mut self) {
        self.fallback.flush();
    }
}

/// The operating system's words for a syslog error, without the crate's wrappers.
fn describe(error: &syslog::Error) -> String {
    match error {
        syslog::Error::Write(error) | syslog::Error::Io(error) => error.to_string(),
        syslog::Error::Initialization(inner) => match inner.downcast_ref::<syslog::Error>() {
            Some(inner) => describe(inner),
            None => inner.to_string(),
        },
    }
}

fn timed_out(error: &syslog::Error) -> bool {
    match error {
        syslog::Error::Write(error) | syslog::Error::Io(error) => matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        syslog::Error::Initialization(_) => false,
    }
}

/// The message of a syslog line: the record's text without the console tag of security lines
/// (there the facility says what they are), cut to [`MAX_MESSAGE_BYTES`].
///
/// Only security lines start with their token: every other line starts with a `[TAG]` (one is
/// added if a call forgot it), so no user-chosen name placed early in an ordinary line can pass
/// for a security event in a filter anchored on the token.
pub fn message(mut text: String, security: bool) -> String {
    if security {
        if text.starts_with('[') {
            if let Some(end) = text.find("] ") {
                text.drain(..end + 2);
            }
        }
    } else if !text.starts_with('[') {
        text.insert_str(0, "[-] ");
    }
    if text.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
