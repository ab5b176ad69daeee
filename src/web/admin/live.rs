//! The dashboard's WebSocket (`wss://…/admin/ws`): for a page of the dashboard itself (its
//! `Origin`) with a live session (its cookie), else refused and logged (`ADMIN_WEB_REFUSED`).
//! The server sends JSON text messages:
//! - `{"type":"hello","operator":NAME,"commands":[...]}` once: who is signed in, and the
//!   vocabulary's commands the page may send ([`COMMANDS`]);
//! - `{"type":"snapshot","who":…,"channels":…,"stats":…,"bans":…,"mutes":…,"events":…}` at once, every
//!   [`REFRESH`] and after each action: the `data` of the console's read requests;
//! - `{"type":"reply","id":N,"ok":BOOL,"text":…}` for each action;
//! - `{"type":"confirm","id":N,"text":…,"request":{…}}` instead, for a request the console
//!   confirms first ([`Request::confirmation`]: deleting a message, banning a network): nothing
//!   is done until the page sends the same request again with `"confirmed":true`;
//! - `{"type":"trace","events":[…]}` while a live protocol trace runs: its events as
//!   `classcord admin --json trace` gives them (`kind`, `conn`, `line`, `verdict`…), each with
//!   its French `text`; the last one is of kind `end`, with its `reason`;
//! - `{"type":"closed","text":…}` before closing (session ended, grant withdrawn).
//!
//! The page sends `{"id":N,"request":{…}}` (and `"confirmed":true` once the operator confirmed),
//! `request` being a control request exactly as the
//! control socket takes it (docs/ADMIN.md), carried out by [`Desk::run`] for the signed-in
//! operator (so logged with their name). Only the requests [`allowed`] are taken: adding a new
//! word of the vocabulary to the dashboard is one line there and a control in the page.
//!
//! A `trace` request starts a live protocol trace ([`Desk::trace`]), one per page (a new one
//! replaces it): the loop forwards its events as they come, batched, and `{"id":N,"stop":"trace"}`
//! stops it. The hub never waits on the page: the trace's pipe is bounded and loses lines
//! (counted) when the page does not keep up; closing the page drops the trace.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite};
use serde_json::{json, Value};
use smol::Timer;

use super::exchange::{answer, page, send};
use super::Dashboard;
use crate::control::audit::{web_refused, WebRefusal};
use crate::control::trace::{TraceEnd, TraceEvent, TraceStream, TraceWhat};
use crate::control::{ChannelVerb, Desk, Operator, Request};
use crate::net::websocket::{
    accept_key, close_frame, pong_frame, text_frame, WsDecoder, WsEvent, CLOSE_NORMAL,
};
use crate::web::http::{switching_protocols, Request as HttpRequest};

/// How often the page is refreshed.
pub const REFRESH: Duration = Duration::from_secs(2);
/// Largest message the page may send.
const MAX_MESSAGE: usize = 16 * 1024;
/// Security lines sent with each refresh (the newest).
const EVENTS_SENT: usize = 50;
/// Trace events sent to the page in one message, at most (what piled up meanwhile).
const TRACE_BATCH: usize = 256;

/// The commands the page may send besides the read requests of the refresh.
pub const COMMANDS: [&str; 11] = [
    "kick", "ban", "unban", "alert", "say", "channel", "mute", "unmute", "delete", "slow", "trace",
];

/// Whether the dashboard may send `request`: the refresh's reads and the actions it offers
/// (deleting a channel, accounts, backups, reload and shutdown stay with the console).
pub fn allowed(request: &Request) -> bool {
    match request {
        Request::Who
        | Request::Channels
        | Request::Stats
        | Request::Bans
        | Request::Events
        | Request::Mutes
        | Request::Kick { .. }
        | Request::Ban { .. }
        | Request::Unban { .. }
        | Request::Alert { .. }
        | Request::Say { .. }
        | Request::Mute { .. }
        | Request::Unmute { .. }
        | Request::Delete { .. }
        | Request::Slow { .. }
        | Request::Trace { .. } => true,
        Request::Channel { action, .. } => *action != ChannelVerb::Delete,
        _ => false,
    }
}

/// Answers the upgrade, if it comes from the dashboard's page with a live session, then runs.
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    ip: IpAddr,
    request: HttpRequest,
    session: Option<(String, String)>,
    dashboard: &Arc<Dashboard>,
) {
    let key = request.websocket_key.as_deref().unwrap_or_default();
    if !request.wants_websocket()
        || request.websocket_version.as_deref() != Some("13")
        || !crate::web::http::valid_key(key)
    {
        let refusal = page(
            "400 Bad Request",
            "Cette adresse attend une connexion WebSocket.",
        );
        return answer(stream, &refusal).await;
    }
    if request.dashboard_origin() != Some(true) {
        web_refused(ip, WebRefusal::ForeignOrigin, None);
        return answer(stream, &page("403 Forbidden", "Origine refusée.")).await;
    }
    let Some((token, name)) = session else {
        web_refused(ip, WebRefusal::NoSession, None);
        let refusal = page(
            "401 Unauthorized",
            "Connectez-vous d'abord au tableau de bord.",
        );
        return answer(stream, &refusal).await;
    };
    if send(stream, &switching_protocols(&accept_key(key)))
        .await
        .is_err()
    {
        return;
    }
    let live = Live {
        dashboard: dashboard.clone(),
        operator: Operator::Named(name.clone()),
        name,
        token,
    };
    live.run(stream).await;
}

/// One open dashboard page.
struct Live {
    dashboard: Arc<Dashboard>,
    name: String,
    operator: Operator,
    token: String,
}

/// What woke the loop.
enum Wake {
    Read(std::io::Result<usize>),
    Refresh,
    Trace(Option<TraceEvent>),
}

impl Live {
    fn desk(&self) -> &Desk {
        &self.dashboard.desk
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(self, stream: &mut S) {
        let hello = json!({
            "type": "hello",
            "operator": self.name,
            "commands": COMMANDS,
        });
        if self.send(stream, &hello).await.is_err() {
            return;
        }
        let mut decoder = WsDecoder::new(MAX_MESSAGE);
        let mut buffer = vec![0u8; 4096];
        let mut next_refresh = Instant::now();
        // The page's live protocol trace, if one runs (dropped with the page).
        let mut trace: Option<TraceStream> = None;
        loop {
            let wake = future::or(
                async { Wake::Read(stream.read(&mut buffer).await) },
                future::or(
                    async {
                        Timer::at(next_refresh).await;
                        Wake::Refresh
                    },
                    async {
                        match trace.as_mut() {
                            Some(events) => Wake::Trace(events.next().await),
                            None => future::pending().await,
                        }
                    },
                ),
            )
            .await;
            let keep_going = match wake {
                Wake::Read(Ok(0)) | Wake::Read(Err(_)) => false,
                Wake::Read(Ok(read)) => {
                    let mut events = Vec::new();
                    let decoded = decoder.feed(&buffer[..read], |event| events.push(event));
                    let mut keep = decoded.is_ok();
                    for event in events {
                        if !keep {
                            break;
                        }
                        keep = self.event(stream, event, &mut trace).await;
                    }
                    if decoded.is_err() {
                        let _ = send(stream, &close_frame(1002)).await;
                    }
                    keep
                }
                Wake::Refresh => {
                    next_refresh = Instant::now() + REFRESH;
                    self.refresh(stream).await
                }
                Wake::Trace(Some(event)) => self.forward(stream, event, &mut trace).await,
                Wake::Trace(None) => {
                    trace = None;
                    true
                }
            };
            if !keep_going {
                break;
            }
        }
        let _ = futures_lite::AsyncWriteExt::close(stream).await;
    }

    /// One message from the page; false to stop.
    async fn event<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        event: WsEvent,
        trace: &mut Option<TraceStream>,
    ) -> bool {
        match event {
            WsEvent::Text(text) => self.action(stream, &text, trace).await,
            WsEvent::Ping(payload) => send(stream, &pong_frame(&payload)).await.is_ok(),
            WsEvent::Close => {
                let _ = send(stream, &close_frame(CLOSE_NORMAL)).await;
                false
            }
            WsEvent::Binary => {
                let _ = send(stream, &close_frame(1003)).await;
                false
            }
        }
    }

    /// Whether the session and the grant still hold; if not, tells the page and stops.
    async fn still_signed_in<S: AsyncWrite + Unpin>(&self, stream: &mut S) -> bool {
        let live = self
            .dashboard
            .sessions
            .find(&self.token, Instant::now())
            .is_some();
        let granted = self.desk().is_operator(&self.name);
        if live && granted {
            return true;
        }
        if !granted {
            self.dashboard.sessions.close(&self.token);
        }
        let text = if granted {
            "Session terminée : reconnectez-vous."
        } else {
            "Ce compte n'a plus accès au tableau de bord."
        };
        let _ = self
            .send(stream, &json!({"type": "closed", "text": text}))
            .await;
        let _ = send(stream, &close_frame(CLOSE_NORMAL)).await;
        false
    }

    async fn refresh<S: AsyncWrite + Unpin>(&self, stream: &mut S) -> bool {
        if !self.still_signed_in(stream).await {
            return false;
        }
        let snapshot = self.snapshot().await;
        self.send(stream, &snapshot).await.is_ok()
    }

    /// What the page shows: the `data` of the console's read requests.
    async fn snapshot(&self) -> Value {
        let mut snapshot = json!({ "type": "snapshot" });
        for (key, request) in [
            ("who", Request::Who),
            ("channels", Request::Channels),
            ("stats", Request::Stats),
            ("bans", Request::Bans),
            ("mutes", Request::Mutes),
            ("events", Request::Events),
        ] {
            let data = match self.desk().run(request, &self.operator, None).await {
                Ok(answer) => answer.data,
                Err(_) => Value::Null,
            };
            snapshot[key] = data;
        }
        if let Some(events) = snapshot["events"].as_array_mut() {
            let skip = events.len().saturating_sub(EVENTS_SENT);
            events.drain(..skip);
        }
        snapshot
    }

    /// An action from the page, answered, then a fresh snapshot.
    async fn action<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        text: &[u8],
        trace: &mut Option<TraceStream>,
    ) -> bool {
        let message: Value = serde_json::from_slice(text).unwrap_or(Value::Null);
        let id = message["id"].clone();
        if message["stop"] == "trace" {
            let (ok, text) = if self.stop_trace(stream, trace).await {
                (true, "Trace arrêtée.")
            } else {
                (false, "Aucune trace en cours.")
            };
            let reply = json!({ "type": "reply", "id": id, "ok": ok, "text": text });
            return self.send(stream, &reply).await.is_ok();
        }
        let confirmed = message["confirmed"] == Value::Bool(true);
        let request = serde_json::from_value::<Request>(message["request"].clone());
        let (ok, text) = match request {
            Err(error) => (false, format!("Demande illisible : {error}.")),
            Ok(request) if !allowed(&request) => (
                false,
                "Cette commande n'est pas disponible dans le tableau de bord : utilisez \
                 classcord admin sur le serveur."
                    .to_owned(),
            ),
            Ok(request) => {
                if !self.still_signed_in(stream).await {
                    return false;
                }
                if let Some(what) = request.confirmation().filter(|_| !confirmed) {
                    let ask = json!({
                        "type": "confirm",
                        "id": id,
                        "text": what,
                        "request": request,
                    });
                    return self.send(stream, &ask).await.is_ok();
                }
                if let request @ Request::Trace { .. } = request {
                    // One trace per page: a new one replaces the running one.
                    self.stop_trace(stream, trace).await;
                    let (ok, text) = match self.desk().trace(request, &self.operator).await {
                        Ok((answer, events)) => {
                            *trace = Some(events);
                            (true, answer.text)
                        }
                        Err(refusal) => (false, refusal),
                    };
                    let reply = json!({ "type": "reply", "id": id, "ok": ok, "text": text });
                    return self.send(stream, &reply).await.is_ok();
                }
                match self.desk().run(request, &self.operator, None).await {
                    Ok(answer) => (true, answer.text),
                    Err(refusal) => (false, refusal),
                }
            }
        };
        let reply = json!({ "type": "reply", "id": id, "ok": ok, "text": text });
        if self.send(stream, &reply).await.is_err() {
            return false;
        }
        let snapshot = self.snapshot().await;
        self.send(stream, &snapshot).await.is_ok()
    }

    /// Sends a trace's event and whatever piled up behind it, in one message; forgets the
    /// trace after its end.
    async fn forward<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        first: TraceEvent,
        trace: &mut Option<TraceStream>,
    ) -> bool {
        let mut ended = first.is_end();
        let mut events = vec![shown_event(&first)];
        while !ended && events.len() < TRACE_BATCH {
            let Some(next) = trace.as_mut().and_then(TraceStream::try_next) else {
                break;
            };
            ended = next.is_end();
            events.push(shown_event(&next));
        }
        if ended {
            *trace = None;
        }
        let message = json!({ "type": "trace", "events": events });
        self.send(stream, &message).await.is_ok()
    }

    /// Stops the page's trace, if one runs (dropping its stream ends it in the hub) and tells
    /// the page with the trace's last event; false when none ran.
    async fn stop_trace<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        trace: &mut Option<TraceStream>,
    ) -> bool {
        if trace.take().is_none() {
            return false;
        }
        let end = TraceEvent {
            unix_micros: crate::clock::now().unix_micros,
            conn: None,
            what: TraceWhat::End {
                reason: TraceEnd::Stopped,
            },
        };
        let message = json!({ "type": "trace", "events": [shown_event(&end)] });
        let _ = self.send(stream, &message).await;
        true
    }

    async fn send<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        value: &Value,
    ) -> std::io::Result<()> {
        let mut frame = Vec::new();
        text_frame(value.to_string().as_bytes(), &mut frame);
        send(stream, &frame).await
    }
}

/// A trace event for the page: its JSON with its French text.
fn shown_event(event: &TraceEvent) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    value["text"] = Value::String(event.text());
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_takes_its_actions_and_nothing_that_stays_with_the_console() {
        let kick = Request::Kick {
            name: "alice".into(),
            reason: None,
        };
        assert!(allowed(&kick));
        for moderation in [
            Request::Mute {
                name: "alice".into(),
                duration: crate::control::Span::from_secs(600).unwrap(),
                reason: None,
            },
            Request::Unmute {
                name: "alice".into(),
            },
            Request::Mutes,
            Request::Delete { id: 3 },
            Request::Slow {
                channel: "#général".into(),
                seconds: 30,
            },
        ] {
            assert!(allowed(&moderation), "{moderation:?}");
        }
        assert!(allowed(&Request::Channel {
            action: ChannelVerb::Close,
            name: "#projet".into()
        }));
        for refused in [
            Request::Channel {
                action: ChannelVerb::Delete,
                name: "#projet".into(),
            },
            Request::Reload,
            Request::Backup,
            Request::UserDel { name: "a".into() },
            Request::OperatorAdd { name: "a".into() },
            Request::Shutdown {
                delay: crate::control::When::Now,
                message: None,
            },
        ] {
            assert!(!allowed(&refused), "{refused:?}");
        }
    }
}
