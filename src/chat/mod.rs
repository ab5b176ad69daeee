//! `classcord chat`: a terminal chat client in French, for the "two clients" test before any
//! Java client exists, for a teacher over SSH, and for scripts and tests (pipe mode). It speaks
//! only the documented protocol (docs/PROTOCOL.md) and is kept as a second implementation of it:
//!
//! - `wire.rs`: request lines out, typed events in (pure, no I/O);
//! - `input.rs`: what the user types -> requests (pure);
//! - `render.rs`: events -> French lines, coloured by kind (pure);
//! - `connection.rs`: address, TCP, bounded line reader, the opening exchange;
//! - `session.rs`: the state both threads share, the reader thread, one typed line's effect;
//! - `terminal.rs` (line editor) and `pipe.rs` (standard input and output): the two front ends.

mod connection;
pub mod input;
mod pipe;
pub mod render;
mod session;
mod terminal;
pub mod wire;

use std::io::IsTerminal;
use std::sync::Arc;

pub use connection::{parse_address, ChatError, Identity};

use connection::{LineReader, Sender};
use render::Style;
use session::{Printer, Shared};

/// What `classcord chat` was asked for.
pub struct Options {
    /// `HOST`, `HOST:PORT` or `:PORT`.
    pub address: Option<String>,
    pub identity: Identity,
    /// `--brut`: show the JSON lines both ways.
    pub raw: bool,
}

/// Connects, identifies, then chats until the user or the server ends it.
pub fn run(options: Options) -> Result<(), ChatError> {
    let (host, port) = parse_address(options.address.as_deref(), crate::config::DEFAULT_PORT)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let style = Style {
        colour: std::io::stdout().is_terminal() && !no_colour,
        one_line: !interactive,
    };
    let stream = connect_stream(&host, port)?;
    let mut sender = Sender::new(stream.try_clone().map_err(ChatError::Io)?);
    let mut reader = LineReader::new(stream);

    // The opening exchange prints on standard output; the editor starts after it.
    let opening = Printer::new(Box::new(pipe::Stdout), style, options.raw);
    connection::open(
        &mut sender,
        &mut reader,
        &options.identity,
        &mut |sent, received| {
            if let Some(request) = sent {
                opening.sent(&request.shown_line());
            }
            if let Some((line, event)) = received {
                opening.received(line, event);
            }
        },
    )?;

    let (shared, drained) = Shared::new();
    // A terminal the line editor cannot drive (TERM=dumb...) is read like a pipe.
    let editor = if interactive {
        terminal::editor().ok()
    } else {
        None
    };
    if let Some((editor, screen)) = editor {
        let printer = Arc::new(Printer::new(Box::new(screen), style, options.raw));
        session::spawn_reader(reader, shared.clone(), printer.clone(), terminal::ending());
        terminal::run(editor, &shared, &mut sender, &printer).map_err(ChatError::Io)
    } else {
        let printer = Arc::new(Printer::new(Box::new(pipe::Stdout), style, options.raw));
        session::spawn_reader(reader, shared.clone(), printer.clone(), pipe::ending());
        pipe::run(&shared, &mut sender, &printer, &drained).map_err(ChatError::Io)
    }
}

fn connect_stream(host: &str, port: u16) -> Result<std::net::TcpStream, ChatError> {
    let stream = connection::connect(host, port)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
