//! A running chat, whatever the front end: the state both threads share (the current channel,
//! why the server is closing), the printer, the reader thread (server lines -> events -> French
//! lines), and what one typed line does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender as Notify};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use classcord_core::message::ChannelName;

use super::connection::{LineReader, Read1, Sender};
use super::input::{self, Action};
use super::render::{render, Kind, Shown, Style};
use super::wire::{Event, Request};

/// Where printed lines go: standard output, or above the prompt being edited.
pub trait Screen: Send {
    fn print(&mut self, text: &str);
    /// Returns once every line printed so far is on the screen.
    fn flush(&mut self);
}

/// Prints events and local messages through a [`Screen`], shared by both threads.
pub struct Printer {
    screen: Mutex<Box<dyn Screen>>,
    pub style: Style,
    /// `--brut`: the JSON lines both ways.
    pub raw: bool,
}

impl Printer {
    pub fn new(screen: Box<dyn Screen>, style: Style, raw: bool) -> Printer {
        Printer {
            screen: Mutex::new(screen),
            style,
            raw,
        }
    }

    fn print(&self, text: &str) {
        self.screen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .print(text);
    }

    /// A line from the server: raw first with `--brut`, then its French form, with the time.
    pub fn received(&self, line: &str, event: &Event) {
        self.received_raw(line);
        let clock = clock();
        for shown in render(event, &self.style) {
            self.print(&self.style.paint(&shown, &clock));
        }
    }

    /// A line from the server as it came (shown with `--brut` only).
    pub fn received_raw(&self, line: &str) {
        if self.raw {
            self.local(Kind::Raw, &format!("S>C {}", self.style.clean(line)));
        }
    }

    /// A request about to be sent (shown with `--brut` only).
    pub fn sent(&self, line: &str) {
        if self.raw {
            self.local(Kind::Raw, &format!("C>S {}", self.style.clean(line)));
        }
    }

    /// A message of the client itself (help, a mistake), without the time.
    pub fn local(&self, kind: Kind, text: &str) {
        let shown = Shown {
            kind,
            text: text.to_owned(),
            timed: false,
        };
        self.print(&self.style.paint(&shown, ""));
    }

    pub fn flush(&self) {
        self.screen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush();
    }
}

/// `HH:MM`, local time.
fn clock() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let local = crate::clock::local_time(seconds, 0);
    format!("{:02}:{:02}", local.hour, local.minute)
}

/// Why the server is about to close the connection (its typed extension line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Kicked,
    Shutdown,
}

/// What both threads know.
pub struct Shared {
    current: Mutex<String>,
    closing: Mutex<Option<Closing>>,
    /// Set once the server closed the connection: the last words to show.
    closed: Mutex<Option<String>>,
    /// The user quit: the close that follows is expected, nothing more is printed.
    quitting: AtomicBool,
    /// Waiting for the `pong` that ends the drain (pipe mode, at the end of input).
    draining: AtomicBool,
    pong: Mutex<Notify<()>>,
}

impl Shared {
    /// The state, and where the drain's `pong` (or the end of the connection) is signalled.
    pub fn new() -> (Arc<Shared>, Receiver<()>) {
        let (notify, wait) = channel();
        let shared = Shared {
            current: Mutex::new(input::default_channel()),
            closing: Mutex::new(None),
            closed: Mutex::new(None),
            quitting: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            pong: Mutex::new(notify),
        };
        (Arc::new(shared), wait)
    }

    /// The current channel's display name.
    pub fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_current(&self, channel: String) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = channel;
    }

    /// The last words, once the server has closed the connection.
    pub fn closed(&self) -> Option<String> {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn quit(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    pub fn start_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    fn notify_drained(&self) {
        let _ = self
            .pong
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(());
    }

    /// Follows what the server says about the current channel and the coming close.
    fn apply(&self, event: &Event) {
        match event {
            Event::Joined { channel } => self.set_current(channel.clone()),
            Event::Left { channel } if same_channel(channel, &self.current()) => {
                self.set_current(input::default_channel());
            }
            Event::Kicked(_) => self.set_closing(Closing::Kicked),
            Event::ShuttingDown(_) => self.set_closing(Closing::Shutdown),
            _ => {}
        }
    }

    fn set_closing(&self, why: Closing) {
        *self.closing.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
    }

    fn closing_text(&self) -> &'static str {
        match *self.closing.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(Closing::Kicked) => "Connexion fermée : l'administrateur vous a exclu(e).",
            Some(Closing::Shutdown) => "Connexion fermée : le serveur s'arrête.",
            None => "Connexion fermée par le serveur.",
        }
    }
}

fn same_channel(a: &str, b: &str) -> bool {
    match (ChannelName::parse(a), ChannelName::parse(b)) {
        (Ok(a), Ok(b)) => a.key == b.key,
        _ => a == b,
    }
}

/// How a front end ends when the server closes (its thread may be blocked reading the keyboard):
/// it gets the last words to show.
pub type Ending = Box<dyn FnOnce(&Shared) + Send>;

/// Reads the server until it closes: each line printed; then, once they are all on the screen,
/// the front end's `ending` (unless the user quit: then the close was expected).
pub fn spawn_reader(
    mut reader: LineReader,
    shared: Arc<Shared>,
    printer: Arc<Printer>,
    ending: Ending,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let failure = loop {
            match reader.next_line() {
                Ok(Read1::Line(line)) => {
                    let event = Event::parse(&line);
                    shared.apply(&event);
                    if event == Event::Pong && shared.draining.load(Ordering::SeqCst) {
                        printer.received_raw(&line);
                        shared.notify_drained();
                        continue;
                    }
                    printer.received(&line, &event);
                }
                Ok(Read1::TooLong) => printer.local(Kind::Error, "(ligne trop longue ignorée)"),
                Ok(Read1::Closed) => break None,
                Err(error) => break Some(error),
            }
        };
        if shared.quitting.load(Ordering::SeqCst) {
            shared.notify_drained();
            return;
        }
        let text = match failure {
            Some(error) if error.kind() != std::io::ErrorKind::ConnectionReset => {
                format!("Connexion interrompue : {error}")
            }
            _ => shared.closing_text().to_owned(),
        };
        printer.flush();
        *shared.closed.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
        ending(&shared);
    })
}

/// What to do after a typed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Carries out one typed line.
pub fn act(
    line: &str,
    shared: &Shared,
    sender: &mut Sender,
    printer: &Printer,
) -> std::io::Result<Flow> {
    match input::parse(line, &shared.current(), printer.raw) {
        Action::Send(request) => {
            // Follow the user at once: the next line typed goes to the channel just joined,
            // even before the server's reply arrives (the reply then gives its spelling).
            match &request {
                Request::Join { channel } => shared.set_current(channel.clone()),
                Request::Leave { channel } if same_channel(channel, &shared.current()) => {
                    shared.set_current(input::default_channel());
                }
                _ => {}
            }
            printer.sent(&request.shown_line());
            sender.send(&request)?;
        }
        Action::Raw(line) => {
            printer.sent(&line);
            sender.send_line(&line)?;
        }
        Action::Help => printer.local(Kind::Info, &input::help(printer.raw)),
        Action::Quit => return Ok(Flow::Quit),
        Action::Nothing => {}
        Action::Mistake(text) => printer.local(Kind::Error, &text),
    }
    Ok(Flow::Continue)
}
