//! Following a live protocol trace (`classcord admin trace`): each event printed as the server
//! wrote it in French (or its JSON line with `--json`) until the trace ends by itself; Ctrl-C asks
//! the server to stop it, and the console (interactive or one-shot) goes on.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::admin::client::{AdminClient, ClientError};

/// Set by Ctrl-C while a trace is followed.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Prints the events of the trace just started, until its end.
pub fn follow(client: &mut AdminClient, json: bool) -> Result<(), ClientError> {
    STOP.store(false, Ordering::Relaxed);
    let catch = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic (async-signal-safe); the previous handler is
    // put back below.
    let previous = unsafe { sigaction(Signal::SIGINT, &catch) }.ok();
    if !json {
        eprintln!("(Ctrl-C arrête la trace)");
    }
    let followed = client.follow_trace(&STOP, |event| {
        let mut out = std::io::stdout().lock();
        if json {
            let _ = writeln!(out, "{event}");
        } else if let Some(text) = event["text"].as_str() {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    });
    if let Some(previous) = previous {
        // SAFETY: restores the handler that was in place before this function.
        let _ = unsafe { sigaction(Signal::SIGINT, &previous) };
    }
    followed
}
