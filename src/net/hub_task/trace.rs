//! The protocol traces the hub task feeds (`crate::control::trace` holds the vocabulary): which
//! connections each trace watches, each incoming line with the verdict the hub reached, each
//! line sent, and the ends (duration, line count, the traced connection gone, the reader gone,
//! shutdown).
//!
//! Free when no trace runs: `HubTask::traces` is `None`, and each hook is one branch on it (per
//! read command, per line, per delivery batch, per connection and naming). A watched connection's
//! reader keeps its lines' text ([`ReadGate::set_traced`](crate::net::flood::ReadGate)); those
//! texts wait here, in order, until the hub handles their lines.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use classcord_core::hub::{Effect, Event, Handled, Moderation, Output, SessionId};
use serde_json::json;

use super::{HubTask, Peer};
use crate::clock;
use crate::control::trace::{
    cut, TraceEnd, TraceEvent, TraceFeed, TraceTarget, TraceWhat, Verdict, MAX_LINES, MAX_TRACES,
};
use crate::control::{Answer, Outcome};

/// The traces running (at least one: the hub task holds `None` otherwise).
pub(super) struct Traces {
    list: Vec<Trace>,
    /// Sessions any trace watches.
    watched: Vec<SessionId>,
    /// Texts of lines read from watched sessions and not handled yet, in order; `None` for a
    /// line read before the trace began.
    pending: HashMap<SessionId, VecDeque<Option<String>>>,
    /// Sessions named during the current command, attached to the name traces once it is done
    /// (the rest of their read is then parked or handled, and the texts stay in step).
    named: Vec<SessionId>,
}

struct Trace {
    target: TraceTarget,
    sessions: Vec<SessionId>,
    until: Instant,
    lines: u64,
    feed: TraceFeed,
    /// Set once it must end (its reason), removed at the end of the current step.
    ending: Option<TraceEnd>,
}

impl Trace {
    fn push(&mut self, event: TraceEvent, counts: bool) {
        if self.ending.is_some() {
            return;
        }
        if !self.feed.push(event) {
            self.ending = Some(TraceEnd::Stopped);
            return;
        }
        if counts {
            self.lines += 1;
            if self.lines >= MAX_LINES {
                self.ending = Some(TraceEnd::Lines);
            }
        }
    }
}

/// A counted event to every trace watching `session` (moved into the last one: usually the only).
fn push_to_watchers(list: &mut [Trace], session: SessionId, event: TraceEvent) {
    let mut watchers = list
        .iter_mut()
        .filter(|trace| trace.sessions.contains(&session))
        .peekable();
    while let Some(trace) = watchers.next() {
        if watchers.peek().is_some() {
            trace.push(event.clone(), true);
        } else {
            trace.push(event, true);
            return;
        }
    }
}

/// Whether `target` names connection `session` (`name_key`: its folded name, from the hub).
fn matches(target: &TraceTarget, session: SessionId, peer: &Peer, name_key: Option<&str>) -> bool {
    match target {
        TraceTarget::Conn(number) => session.0 == *number,
        TraceTarget::Address(ip) => peer.ip() == *ip,
        TraceTarget::Name { key, .. } => name_key == Some(key.as_str()),
    }
}

/// An outgoing frame as shown: its JSON without the final newline.
fn shown_frame(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    cut(text.trim_end().to_owned())
}

/// The text of an error line or notice (`message`, else `content`).
fn said_in(frame: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(frame).ok()?;
    value
        .get("message")
        .or_else(|| value.get("content"))
        .and_then(|text| text.as_str())
        .map(str::to_owned)
}

/// The final verdict on one line: what it was read as, and what the hub did with it.
fn verdict(session: SessionId, first: Verdict, handled: Handled, output: &Output) -> Verdict {
    let reply = output
        .deliveries()
        .find(|(_, recipients)| recipients.contains(&session))
        .map(|(frame, _)| frame.clone());
    let refused = |reason: String, code| Verdict::Refused {
        reason,
        code,
        reply: reply.as_deref().map(shown_frame),
    };
    match (first, handled) {
        (Verdict::Refused { reason, code, .. }, _) => refused(reason, code),
        (Verdict::Understood { .. }, Handled::Dropped) => refused(
            "ignorée : plus de lignes par seconde que la limite (la première reçoit un \
             avertissement), ou connexion en cours de fermeture"
                .into(),
            None,
        ),
        (Verdict::Understood { request, .. }, Handled::Waiting) => Verdict::Understood {
            request,
            note: Some(
                "en attente : la réponse à la requête précédente (mot de passe, historique) \
                 passe d'abord"
                    .into(),
            ),
        },
        (understood, Handled::Processed) => {
            for effect in &output.effects {
                match effect {
                    Effect::Log(Event::Moderated {
                        session: s, rule, ..
                    }) if *s == session => {
                        let reason = match rule {
                            Moderation::Muted => "parole retirée par l'administrateur".into(),
                            Moderation::SlowMode { channel } => format!("mode lent dans {channel}"),
                        };
                        return refused(reason, None);
                    }
                    Effect::Log(Event::Rejected { session: s, reason }) if *s == session => {
                        let said = reply.as_deref().and_then(said_in);
                        return refused(said.unwrap_or_else(|| "refusée".into()), Some(reason));
                    }
                    _ => {}
                }
            }
            understood
        }
    }
}

impl Traces {
    /// Whether any trace watches `session`.
    pub(super) fn watches(&self, session: SessionId) -> bool {
        self.watched.contains(&session)
    }

    /// Lines read from `session` arrive (with their texts if the reader kept them).
    pub(super) fn arrived(&mut self, session: SessionId, count: usize, texts: Option<Vec<String>>) {
        if !self.watches(session) {
            return;
        }
        let queue = self.pending.entry(session).or_default();
        match texts {
            Some(texts) if texts.len() == count => queue.extend(texts.into_iter().map(Some)),
            _ => queue.extend(std::iter::repeat_n(None, count)),
        }
    }
}

impl HubTask {
    /// Starts a trace: the connections it watches now, and its answer.
    pub(super) fn start_trace(
        &mut self,
        target: TraceTarget,
        duration: Duration,
        feed: TraceFeed,
    ) -> Outcome {
        let running = self.traces.as_ref().map_or(0, |traces| traces.list.len());
        if running >= MAX_TRACES {
            return Err(format!(
                "Déjà {running} traces en cours : attendez qu'une se termine."
            ));
        }
        let mut sessions: Vec<SessionId> = self
            .peers
            .iter()
            .filter(|(&session, peer)| {
                matches(&target, session, peer, self.hub.session_key(session))
            })
            .map(|(&session, _)| session)
            .collect();
        sessions.sort();
        if let TraceTarget::Conn(number) = target {
            if sessions.is_empty() {
                return Err(format!(
                    "Aucune connexion #{number} (classcord admin who les liste)."
                ));
            }
        }
        let what = target.describe();
        let listed: Vec<String> = sessions.iter().map(|s| format!("#{}", s.0)).collect();
        let lines = crate::control::request::group_digits(MAX_LINES.into());
        let text = if sessions.is_empty() {
            format!(
                "Trace de {what} : aucune connexion pour l'instant, les prochaines seront \
                 suivies. Elle s'arrête seule dans {} ou après {lines} lignes.",
                crate::control::duration::describe(duration)
            )
        } else {
            format!(
                "Trace de {what} : {} connexion(s) suivie(s) ({}). Elle s'arrête seule dans {} \
                 ou après {lines} lignes.",
                sessions.len(),
                listed.join(", "),
                crate::control::duration::describe(duration)
            )
        };
        let data = json!({
            "target": what,
            "connections": sessions.iter().map(|s| s.0).collect::<Vec<_>>(),
            "seconds": duration.as_secs(),
            "max_lines": MAX_LINES,
        });
        let traces = self.traces.get_or_insert_with(|| {
            Box::new(Traces {
                list: Vec::new(),
                watched: Vec::new(),
                pending: HashMap::new(),
                named: Vec::new(),
            })
        });
        traces.list.push(Trace {
            target,
            sessions: Vec::new(),
            until: Instant::now() + duration,
            lines: 0,
            feed,
            ending: None,
        });
        let index = traces.list.len() - 1;
        for session in sessions {
            self.attach(index, session);
        }
        Ok(Answer::new(text, data))
    }

    /// Trace `index` watches `session` from now on.
    fn attach(&mut self, index: usize, session: SessionId) {
        let Some(peer) = self.peers.get(&session) else {
            return;
        };
        let event = TraceEvent {
            unix_micros: clock::now().unix_micros,
            conn: Some(session.0),
            what: TraceWhat::Attached {
                ip: peer.ip().to_string(),
                transport: peer.connection.transport.name(),
                name: self.hub.session_name(session).map(str::to_owned),
            },
        };
        peer.connection.gate.set_traced(true);
        // Lines read before, parked by the flood control, have no text.
        let parked = self.parked.get(&session).map_or(0, VecDeque::len);
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        let Some(trace) = traces.list.get_mut(index) else {
            return;
        };
        if trace.sessions.contains(&session) {
            return;
        }
        trace.sessions.push(session);
        trace.push(event, false);
        if !traces.watched.contains(&session) {
            traces.watched.push(session);
            traces
                .pending
                .insert(session, std::iter::repeat_n(None, parked).collect());
        }
    }

    /// One line of a watched session was handled: its text and verdict go to its traces.
    pub(super) fn trace_line(
        &mut self,
        session: SessionId,
        first: Verdict,
        handled: Handled,
        output: &Output,
    ) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        let text = traces
            .pending
            .get_mut(&session)
            .and_then(VecDeque::pop_front)
            .flatten()
            .unwrap_or_else(|| "(ligne lue avant le début de la trace)".to_owned());
        let event = TraceEvent {
            unix_micros: clock::now().unix_micros,
            conn: Some(session.0),
            what: TraceWhat::In {
                line: text,
                verdict: verdict(session, first, handled, output),
            },
        };
        push_to_watchers(&mut traces.list, session, event);
        self.end_traces_due();
    }

    /// The lines about to be delivered to watched sessions.
    pub(super) fn trace_output(&mut self, output: &Output) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        let mut now = None;
        for (frame, recipients) in output.deliveries() {
            for &session in recipients {
                if !traces.watched.contains(&session) {
                    continue;
                }
                let at = *now.get_or_insert_with(|| clock::now().unix_micros);
                let event = TraceEvent {
                    unix_micros: at,
                    conn: Some(session.0),
                    what: TraceWhat::Out {
                        line: shown_frame(frame),
                    },
                };
                push_to_watchers(&mut traces.list, session, event);
            }
        }
        if now.is_some() {
            self.end_traces_due();
        }
    }

    /// A new connection: the address traces watch it from its first line.
    pub(super) fn trace_connected(&mut self, session: SessionId) {
        self.attach_matching(session, |target| matches!(target, TraceTarget::Address(_)));
    }

    /// A connection took a name: the name traces watch it once the current command is done.
    pub(super) fn trace_named(&mut self, session: SessionId) {
        if let Some(traces) = self.traces.as_deref_mut() {
            traces.named.push(session);
        }
    }

    /// After each command: the connections named during it join the name traces.
    pub(super) fn trace_settle(&mut self) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        for session in std::mem::take(&mut traces.named) {
            self.attach_named(session);
        }
    }

    fn attach_named(&mut self, session: SessionId) {
        self.attach_matching(session, |target| matches!(target, TraceTarget::Name { .. }));
    }

    /// Attaches `session` to every trace whose target is of the kind `of_kind` accepts and that
    /// names this connection.
    fn attach_matching(&mut self, session: SessionId, of_kind: fn(&TraceTarget) -> bool) {
        let (Some(peer), Some(traces)) = (self.peers.get(&session), self.traces.as_deref()) else {
            return;
        };
        let wanted: Vec<usize> = traces
            .list
            .iter()
            .enumerate()
            .filter(|(_, trace)| {
                of_kind(&trace.target)
                    && matches(&trace.target, session, peer, self.hub.session_key(session))
            })
            .map(|(index, _)| index)
            .collect();
        for index in wanted {
            self.attach(index, session);
        }
    }

    /// A watched connection closed: its traces say so; a trace of that one connection ends.
    pub(super) fn trace_closed(&mut self, session: SessionId) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        if !traces.watches(session) {
            return;
        }
        let event = TraceEvent {
            unix_micros: clock::now().unix_micros,
            conn: Some(session.0),
            what: TraceWhat::Closed,
        };
        for trace in &mut traces.list {
            if let Some(at) = trace.sessions.iter().position(|&s| s == session) {
                trace.sessions.remove(at);
                trace.push(event.clone(), false);
                if matches!(trace.target, TraceTarget::Conn(_)) && trace.ending.is_none() {
                    trace.ending = Some(TraceEnd::Closed);
                }
            }
        }
        traces.watched.retain(|&s| s != session);
        traces.pending.remove(&session);
        self.end_traces_due();
    }

    /// On every tick: traces past their time, or whose reader is gone, end.
    pub(super) fn trace_tick(&mut self) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        let now = Instant::now();
        for trace in &mut traces.list {
            if trace.ending.is_none() {
                if trace.feed.is_closed() {
                    trace.ending = Some(TraceEnd::Stopped);
                } else if now >= trace.until {
                    trace.ending = Some(TraceEnd::Elapsed);
                }
            }
        }
        self.end_traces_due();
    }

    /// The server stops: every trace ends, saying so.
    pub(super) fn trace_shutdown(&mut self) {
        if let Some(traces) = self.traces.as_deref_mut() {
            for trace in &mut traces.list {
                trace.ending.get_or_insert(TraceEnd::Shutdown);
            }
        }
        self.end_traces_due();
    }

    /// Ends the traces marked as ending; the connections no trace watches any more stop keeping
    /// their lines' text; with no trace left, tracing costs nothing again.
    fn end_traces_due(&mut self) {
        let Some(traces) = self.traces.as_deref_mut() else {
            return;
        };
        if traces.list.iter().all(|trace| trace.ending.is_none()) {
            return;
        }
        let now = clock::now().unix_micros;
        let (ended, kept): (Vec<Trace>, Vec<Trace>) = std::mem::take(&mut traces.list)
            .into_iter()
            .partition(|trace| trace.ending.is_some());
        traces.list = kept;
        for trace in ended {
            let reason = trace.ending.unwrap_or(TraceEnd::Stopped);
            trace.feed.end(reason, now);
        }
        let still: Vec<SessionId> = traces
            .list
            .iter()
            .flat_map(|trace| trace.sessions.iter().copied())
            .collect();
        let released: Vec<SessionId> = traces
            .watched
            .iter()
            .copied()
            .filter(|session| !still.contains(session))
            .collect();
        traces.watched.retain(|session| still.contains(session));
        for session in &released {
            traces.pending.remove(session);
        }
        if traces.list.is_empty() {
            self.traces = None;
        }
        for session in released {
            if let Some(peer) = self.peers.get(&session) {
                peer.connection.gate.set_traced(false);
            }
        }
    }
}
