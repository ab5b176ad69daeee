//! Terminal mode: a line editor (rustyline) with the current channel in the prompt; server lines
//! are printed above it through rustyline's external printer, so what is being typed stays on
//! its line, also across a window resize (rustyline redraws on SIGWINCH).
//!
//! When the server closes, the reader thread must end the process while rustyline holds the
//! terminal in raw mode: the terminal settings read before the editor started are put back first.

use std::io::Write;
use std::sync::Arc;

use nix::sys::termios::{tcgetattr, tcsetattr, SetArg, Termios};
use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter};

use super::connection::Sender;
use super::render::Kind;
use super::session::{act, Flow, Printer, Screen, Shared};

/// A line that leaves the screen as it was: cursor up one line, then a line feed.
const NOTHING: &str = "\x1b[1A\n";

/// Lines printed above the prompt.
pub struct AbovePrompt<P: ExternalPrinter + Send> {
    printer: P,
    /// The terminal as it was before the editor switched it to raw mode.
    original: Option<Termios>,
}

impl<P: ExternalPrinter + Send> Screen for AbovePrompt<P> {
    fn print(&mut self, text: &str) {
        // With the line end: rustyline adds it only while a line is being edited.
        if self.printer.print(format!("{text}\n")).is_err() {
            println!("{text}");
        }
    }

    fn close(&mut self, text: &str) {
        // The last lines (the server's closing notice above all) are drawn by the editor's
        // thread. Its printer is a channel of one line: each print returns once the line before
        // it was taken, and a line is drawn before the next is taken. So after two more prints
        // (which draw nothing: up one line, then down) every real line is on the screen.
        self.print(text);
        for _ in 0..2 {
            let _ = self.printer.print(NOTHING.to_owned());
        }
        if let Some(original) = &self.original {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, original);
        }
        // Erase the prompt the editor drew again below the last line.
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[2K");
        let _ = out.flush();
    }
}

/// The editor and the screen the reader thread prints to.
pub fn editor() -> rustyline::Result<(DefaultEditor, AbovePrompt<impl ExternalPrinter + Send>)> {
    let original = tcgetattr(std::io::stdin()).ok();
    let config = Config::builder().auto_add_history(true).build();
    let mut editor = DefaultEditor::with_config(config)?;
    let printer = editor.create_external_printer()?;
    Ok((editor, AbovePrompt { printer, original }))
}

/// Reads typed lines until `/quitter`, Ctrl-D or Ctrl-C.
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
        let prompt = format!("{}> ", shared.current());
        match editor.readline(&prompt) {
            Ok(line) => match act(&line, shared, sender, printer)? {
                Flow::Continue => {}
                Flow::Quit => break,
            },
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
