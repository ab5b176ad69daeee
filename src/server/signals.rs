//! Signals: blocked in every thread, taken by one (`sigwait`). SIGHUP reads the configuration
//! again (the vocabulary's `reload`); the first SIGINT/SIGTERM starts the clean shutdown, a
//! second one exits at once.

use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};
use smol::channel::Sender;

use super::startup::ServeError;
use crate::control::{Desk, Operator, Request};
use crate::net::hub_task::HubCommand;

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread it starts
/// afterwards; one dedicated thread then takes them with `sigwait`. Call it before starting any
/// thread (the log writer included), or a thread with the default action could be picked and
/// kill the process.
pub fn block_shutdown_signals() -> Result<SigSet, ServeError> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGHUP);
    signals.thread_block().map_err(ServeError::Signals)?;
    Ok(signals)
}

/// Starts the thread that takes the signals.
pub fn spawn(signals: SigSet, hub: Sender<HubCommand>, desk: Arc<Desk>) -> Result<(), ServeError> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_for_signals(signals, hub, desk))
        .map(drop)
        .map_err(ServeError::Thread)
}

fn wait_for_signals(signals: SigSet, hub: Sender<HubCommand>, desk: Arc<Desk>) {
    let mut received = 0;
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal == Signal::SIGHUP {
            let by = Operator::Signal("SIGHUP");
            if let Err(error) = smol::block_on(desk.run(Request::Reload, &by, None)) {
                log::warn!("[ADMIN] relecture : {error}");
            }
            continue;
        }
        received += 1;
        if received == 1 {
            log::info!(
                "[ARRET] signal {signal} reçu : arrêt en cours (encore une fois pour forcer)"
            );
            crate::systemd::notify_stopping();
            if hub.send_blocking(HubCommand::Shutdown).is_err() {
                return;
            }
        } else {
            log::warn!("[ARRET] second signal : arrêt immédiat");
            std::process::exit(130);
        }
    }
}
