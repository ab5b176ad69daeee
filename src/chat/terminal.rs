//! Terminal mode: a line editor (rustyline) with the current channel in the prompt; server lines
//! are printed above it through rustyline's external printer, so what is being typed stays on
//! its line, also across a window resize (rustyline redraws on SIGWINCH).
//!
//! When the server closes, the editor must give the terminal back: the reader thread makes
//! `readline` return by sending the process SIGINT (rustyline turns it into `Interrupted` while
//! it edits; outside editing SIGINT is ignored, and the signal is repeated until the main thread
//! has seen the close).

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::termios::{tcgetattr, tcsetattr, SetArg};
use nix::unistd::getpid;
use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter};

use super::connection::Sender;
use super::render::Kind;
use super::session::{act, Ending, Flow, Printer, Screen, Shared};

/// A line that leaves the screen as it was: cursor up one line, then a line feed.
const NOTHING: &str = "\x1b[1A\n";
/// How often, and how many times, the reader thread nudges the editor after the server closed.
const NUDGE_EVERY: Duration = Duration::from_millis(50);
const NUDGES: u32 = 100;

/// Lines printed above the prompt.
pub struct AbovePrompt<P: ExternalPrinter + Send> {
    printer: P,
}

impl<P: ExternalPrinter + Send> Screen for AbovePrompt<P> {
    fn print(&mut self, text: &str) {
        // With the line end: rustyline adds it only while a line is being edited.
        if self.printer.print(format!("{text}\n")).is_err() {
            println!("{text}");
        }
    }

    fn flush(&mut self) {
        // The editor's thread draws the lines; its printer is a channel of one line: a print
        // returns once the line before it was taken, and a line is drawn before the next is
        // taken. So after two prints that draw nothing, every earlier line is on the screen.
        for _ in 0..2 {
            let _ = self.printer.print(NOTHING.to_owned());
        }
    }
}

/// The editor and the screen the reader thread prints to.
pub fn editor() -> rustyline::Result<(DefaultEditor, AbovePrompt<impl ExternalPrinter + Send>)> {
    let config = Config::builder().auto_add_history(true).build();
    let mut editor = DefaultEditor::with_config(config)?;
    let printer = editor.create_external_printer()?;
    // SAFETY: installs SIG_IGN, no handler code runs; rustyline installs its own handler while
    // it edits a line and puts this disposition back afterwards.
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    unsafe { sigaction(Signal::SIGINT, &ignore) }.map_err(std::io::Error::from)?;
    Ok((editor, AbovePrompt { printer }))
}

/// The server closed: interrupt the line being edited until the main thread has noticed; as a
/// last resort (it never did) put the terminal back as it was and end the process.
pub fn ending() -> Ending {
    let original = tcgetattr(std::io::stdin()).ok();
    Box::new(move |shared: &Shared| {
        for _ in 0..NUDGES {
            let _ = kill(getpid(), Signal::SIGINT);
            std::thread::sleep(NUDGE_EVERY);
        }
        if let Some(original) = &original {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, original);
        }
        println!("\r\n{}", shared.closed().unwrap_or_default());
        std::process::exit(0);
    })
}

/// Reads typed lines until `/quitter`, Ctrl-D, Ctrl-C, or the server's close.
pub fn run(
    mut editor: DefaultEditor,
    shared: &Arc<Shared>,
    sender: &mut Sender,
    printer: &Printer,
) -> std::io::Result<()> {
    printer.local(
        Kind::Info,
        "Tapez votre message, ou /aide pour les commandes (/quitter pour sortir).",
    );
    loop {
        if let Some(last_words) = shared.closed() {
            println!("{last_words}");
            return Ok(());
        }
        let prompt = format!("{}> ", shared.current());
        match editor.readline(&prompt) {
            Ok(line) => match act(&line, shared, sender, printer)? {
                Flow::Continue => {}
                Flow::Quit => break,
            },
            Err(ReadlineError::Interrupted) if shared.closed().is_some() => {}
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
            Err(error) => {
                printer.local(Kind::Error, &format!("Terminal illisible : {error}"));
                break;
            }
        }
    }
    shared.quit();
    sender.close();
    Ok(())
}
