//! Pipe mode: standard input is not a terminal. Each input line is handled as if typed; what the
//! server sends is printed on standard output, one line each, without colours unless standard
//! output is a terminal. At the end of input the client drains: it sends `ping` and waits (at
//! most [`DRAIN`]) for the `pong`, which the server sends only after everything sent before it
//! was handled; then it closes.

use std::io::BufRead;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use classcord_core::frame::decode_line;

use super::connection::Sender;
use super::render::Kind;
use super::session::{act, Ending, Flow, Printer, Screen, Shared};
use super::wire::Request;

/// The longest wait for the server at the end of input.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Lines on standard output, flushed one by one (a script reads them as they come).
pub struct Stdout;

impl Screen for Stdout {
    fn print(&mut self, text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn flush(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}

/// The server closed: the last words, then the process ends (the main thread may be blocked
/// reading standard input).
pub fn ending() -> Ending {
    Box::new(|shared: &Shared| {
        if let Some(text) = shared.closed() {
            Stdout.print(&text);
        }
        std::process::exit(0);
    })
}

/// Sends standard input line by line until its end (or `/quitter`), then drains and closes.
pub fn run(
    shared: &Arc<Shared>,
    sender: &mut Sender,
    printer: &Printer,
    drained: &Receiver<()>,
) -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let end = bytes
            .iter()
            .rposition(|b| !matches!(b, b'\n' | b'\r'))
            .map_or(0, |last| last + 1);
        // A script saved by a Windows editor may be in windows-1252: decoded like the server does.
        let line = decode_line(&bytes[..end]);
        match act(&line, shared, sender, printer) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => break,
            Err(error) => {
                printer.local(Kind::Error, &format!("Envoi impossible : {error}"));
                return Err(error);
            }
        }
    }
    shared.start_drain();
    printer.sent(&Request::Ping.shown_line());
    if sender.send(&Request::Ping).is_ok() {
        let _ = drained.recv_timeout(DRAIN);
    }
    shared.quit();
    sender.close();
    Ok(())
}
