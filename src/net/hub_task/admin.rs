//! The part of the operator's vocabulary that needs the chat state (`crate::control::HubJob`),
//! carried out by the hub task (the one owner of that state): the hub answers what it knows
//! (sessions, channels, kicks, alerts, channel changes, notices), and this file adds what only
//! the shell knows: peers' addresses for `who`, the bans (kept in the store, enforced by the
//! access guard at accept and by the hub at login), the mutes (kept in the store, enforced by
//! the hub), deleting a kept line (the store first, then the hub tells browsers), the metrics'
//! gauges. Replies go back on the job's own channel; store writes are awaited on the executor,
//! never by the hub.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::{
    AdminCommand, AdminReply, ChannelAction, Output, SessionId, SessionKind,
};
use classcord_core::message::{fold_name, ChannelName};
use serde_json::{json, Value};
use smol::channel::Sender;

use super::HubTask;
use crate::clock;
use crate::control::accounts::longer_name_hint;
use crate::control::bans::{ban_record, now_unix, BanList};
use crate::control::desk::clean;
use crate::control::duration::describe;
use crate::control::mutes::{mute_record, MuteList};
use crate::control::{
    audit, report, stats, Answer, ChannelVerb, HubAsk, HubJob, LiveSettings, Outcome, Request,
};
use crate::metrics::{HubGauges, Metrics};
use crate::security::{AccessGuard, Cidr};
use crate::store::bans::{BanKind, BanRecord};
use crate::store::moderation::{DeletedLine, MuteRecord};

fn done(text: impl Into<String>, data: Value) -> Outcome {
    Ok(Answer::new(text, data))
}

/// What the hub task keeps for the console.
pub struct AdminState {
    pub access: Arc<AccessGuard>,
    pub bans: BanList,
    pub mutes: MuteList,
    pub metrics: Arc<Metrics>,
    /// (when, messages relayed so far), one per tick, for messages per second.
    samples: VecDeque<(Instant, u64)>,
    /// The last hour minute by minute (the dashboard's chart).
    per_minute: stats::PerMinute,
    /// Chat connections (TCP or WebSocket) opened since the start: the chart's connections
    /// (the accepted-connections counter also counts every HTTP request of the web port).
    pub(super) sessions_opened: u64,
}

/// Messages per second are measured over this window.
const RATE_WINDOW: Duration = Duration::from_secs(60);

impl AdminState {
    pub fn new(
        access: Arc<AccessGuard>,
        bans: BanList,
        mutes: MuteList,
        metrics: Arc<Metrics>,
    ) -> AdminState {
        AdminState {
            access,
            bans,
            mutes,
            metrics,
            samples: VecDeque::new(),
            per_minute: stats::PerMinute::default(),
            sessions_opened: 0,
        }
    }

    fn messages_per_second(&self, now: Instant, relayed: u64) -> f64 {
        match self.samples.front() {
            Some(&(at, count)) if now > at => {
                relayed.saturating_sub(count) as f64 / now.duration_since(at).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

impl HubTask {
    /// Carries out one job; the answer goes to its reply channel (now, or once the store has
    /// it).
    pub(super) fn admin_request(&mut self, job: HubJob, output: &mut Output) {
        let HubJob { ask, reply } = job;
        let now = clock::now();
        let answer = match ask {
            HubAsk::Request(request) => return self.request(request, reply, output),
            HubAsk::MessageDeleted(line) => self.message_deleted(*line, output),
            HubAsk::Trace {
                target,
                duration,
                feed,
            } => self.start_trace(target, duration, feed),
            HubAsk::AccountCreated { name } => {
                self.hub
                    .admin(AdminCommand::AccountCreated { name }, &now, output);
                done("", Value::Null)
            }
            HubAsk::AccountDeleted { name } => {
                let kick = AdminCommand::Kick {
                    name: name.clone(),
                    reason: Some("compte supprimé".into()),
                };
                let closed = match self.hub.admin(kick, &now, output) {
                    AdminReply::Done { affected } => affected,
                    _ => 0,
                };
                self.hub
                    .admin(AdminCommand::AccountDeleted { name }, &now, output);
                done("", json!({ "closed": closed }))
            }
            HubAsk::Reconfigure(live) => {
                let LiveSettings {
                    hub,
                    access,
                    attempts,
                } = *live;
                self.hub
                    .admin(AdminCommand::Reconfigure(Box::new(hub)), &now, output);
                self.admin.access.set_settings(access);
                self.attempts.set_settings(attempts);
                done("", Value::Null)
            }
            HubAsk::ShutdownSoon { delay, reason } => {
                let command = AdminCommand::ShutdownSoon { delay, reason };
                match self.hub.admin(command, &now, output) {
                    AdminReply::Done { affected } => done("", json!({ "reached": affected })),
                    other => refused(other),
                }
            }
            HubAsk::SignInAttempt { ip, account } => self.sign_in_attempt(ip, &account),
            HubAsk::SignInDone {
                ip,
                account,
                name,
                failed,
            } => {
                self.sign_in_done(ip, &account, &name, failed);
                done("", Value::Null)
            }
        };
        let _ = reply.try_send(answer);
    }

    /// An operator's request about the chat.
    fn request(&mut self, request: Request, reply: Sender<Outcome>, output: &mut Output) {
        let now = clock::now();
        let answer = match request {
            Request::Who => self.who(),
            Request::Channels => self.channel_list(output),
            Request::Stats => self.stats(),
            Request::Bans => done(
                report::bans(self.admin.bans.all()),
                json!(self.admin.bans.all()),
            ),
            Request::Kick { name, reason } => {
                let command = AdminCommand::Kick {
                    name: name.clone(),
                    reason: clean(reason),
                };
                match self.hub.admin(command, &now, output) {
                    AdminReply::Done { affected } => done(
                        format!("{affected} connexion(s) fermée(s)."),
                        json!({ "closed": affected }),
                    ),
                    other => self.refused_name(other, &name),
                }
            }
            Request::Ban {
                target,
                duration,
                reason,
            } => match ban_record(&target, duration, clean(reason), now_unix()) {
                Ok(ban) => return self.ban(ban, reply, output),
                Err(error) => Err(error),
            },
            Request::Unban { target } => return self.unban(&target, reply, output),
            Request::Alert { text } => match clean(Some(text)) {
                None => Err("Alerte vide : écrivez le texte à envoyer.".into()),
                Some(text) => match self.hub.admin(AdminCommand::Alert { text }, &now, output) {
                    AdminReply::Done { affected } => done(
                        format!("Alerte envoyée à {affected} personne(s)."),
                        json!({ "reached": affected }),
                    ),
                    other => refused(other),
                },
            },
            Request::Say { name, text } => match clean(Some(text)) {
                None => Err("Message vide : écrivez le texte à envoyer.".into()),
                Some(text) => {
                    let command = AdminCommand::Say {
                        name: name.clone(),
                        text,
                    };
                    match self.hub.admin(command, &now, output) {
                        AdminReply::Done { affected } => done(
                            format!("Message remis à {affected} connexion(s)."),
                            json!({ "reached": affected }),
                        ),
                        other => self.refused_name(other, &name),
                    }
                }
            },
            Request::Channel { action, name } => self.channel(action, &name, output),
            Request::Mute {
                name,
                duration,
                reason,
            } => match mute_record(&name, duration, clean(reason), now_unix()) {
                Ok(mute) => return self.mute(mute, reply, output),
                Err(error) => Err(error),
            },
            Request::Unmute { name } => return self.unmute(&name, reply, output),
            Request::Mutes => done(
                report::mutes(self.admin.mutes.all()),
                json!(self.admin.mutes.all()),
            ),
            Request::Delete { id } => return self.delete(id, reply),
            Request::Slow { channel, seconds } => self.slow(&channel, seconds, output),
            other => Err(format!(
                "« {} » ne concerne pas la discussion : demande non traitée.",
                crate::control::words::render(&other)
            )),
        };
        let _ = reply.try_send(answer);
    }

    fn channel(&mut self, verb: ChannelVerb, name: &str, output: &mut Output) -> Outcome {
        let (action, what) = match verb {
            ChannelVerb::Create => (ChannelAction::Create, "créé"),
            ChannelVerb::Close => (ChannelAction::Close, "fermé"),
            ChannelVerb::Open => (ChannelAction::Open, "rouvert"),
            ChannelVerb::Delete => (ChannelAction::Delete, "supprimé"),
        };
        // The name as the server lists it (`projet` -> `#projet`).
        let shown = ChannelName::parse(name).map_or_else(|_| name.to_owned(), |c| c.display);
        let command = AdminCommand::Channel {
            action,
            name: name.to_owned(),
        };
        match self.hub.admin(command, &clock::now(), output) {
            AdminReply::Done { affected } if verb == ChannelVerb::Create => done(
                format!("Salon {shown} créé."),
                json!({ "name": shown, "members": affected }),
            ),
            AdminReply::Done { affected } => done(
                format!("Salon {shown} {what} ({affected} membre(s) prévenu(s))."),
                json!({ "name": shown, "members": affected }),
            ),
            other => refused(other),
        }
    }

    /// A refusal about a name, pointing to connected names it may be the first word of.
    fn refused_name(&mut self, reply: AdminReply, name: &str) -> Outcome {
        let refusal = refused(reply);
        let AdminReply::Sessions(sessions) =
            self.hub
                .admin(AdminCommand::Who, &clock::now(), &mut Output::new())
        else {
            return refusal;
        };
        let names: Vec<String> = sessions.into_iter().filter_map(|info| info.name).collect();
        refusal.map_err(|text| format!("{text}{}", longer_name_hint(name, &names)))
    }

    /// Housekeeping on every tick: gauges, the message rate, expired bans.
    pub(super) fn admin_tick(&mut self, output: &mut Output) {
        self.refresh_gauges();
        let now = Instant::now();
        let relayed = self
            .admin
            .metrics
            .counters
            .messages_relayed
            .load(std::sync::atomic::Ordering::Relaxed);
        self.admin.samples.push_back((now, relayed));
        let opened = self.admin.sessions_opened;
        self.admin.per_minute.sample(now_unix(), relayed, opened);
        while self
            .admin
            .samples
            .front()
            .is_some_and(|&(at, _)| now.duration_since(at) > RATE_WINDOW)
        {
            self.admin.samples.pop_front();
        }
        self.expire_mutes(output);
        let expired = self.admin.bans.expire(now_unix());
        if expired.is_empty() {
            return;
        }
        self.apply_bans(output);
        for ban in &expired {
            audit::ban_lifted(ban, true);
        }
        let keys: Vec<String> = expired.iter().map(BanRecord::key).collect();
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                if !matches!(store.run(move |s| s.remove_bans(&keys)).await, Ok(Ok(_))) {
                    log::warn!(
                        "[ADMIN] bannissements expirés non effacés de la base (nouvel essai au \
                         prochain démarrage)"
                    );
                }
            })
            .detach();
    }

    fn refresh_gauges(&mut self) {
        let census = self.hub.census();
        let websocket_open = self
            .peers
            .values()
            .filter(|peer| peer.connection.transport == super::Transport::WebSocket)
            .count() as u64;
        self.admin.metrics.set_gauges(HubGauges {
            tcp_open: self.peers.len() as u64 - websocket_open,
            websocket_open,
            anonymous: census.anonymous as u64,
            guests: census.guests as u64,
            accounts: census.accounts as u64,
            channels: census.channels as u64,
        });
    }

    /// The bans in force, to the access guard (addresses) and the hub (names).
    pub(super) fn apply_bans(&mut self, output: &mut Output) {
        let networks = self.admin.bans.networks(now_unix(), Instant::now());
        self.admin.access.set_banned(networks);
        let names = self.admin.bans.names();
        self.hub.admin(
            AdminCommand::SetBannedNames { names },
            &clock::now(),
            output,
        );
    }

    fn who(&mut self) -> Outcome {
        let AdminReply::Sessions(mut sessions) =
            self.hub
                .admin(AdminCommand::Who, &clock::now(), &mut Output::new())
        else {
            return Err("Liste des connexions indisponible.".into());
        };
        sessions.sort_by_key(|info| info.session);
        let rows: Vec<report::WhoRow> = sessions
            .into_iter()
            .map(|info| {
                let since_unix = info.connected_micros / 1_000_000;
                let t = crate::clock::local_time(since_unix, 0);
                report::WhoRow {
                    id: info.session.0,
                    name: info.name,
                    kind: match info.kind {
                        SessionKind::Anonymous => "anonymous",
                        SessionKind::Guest => "guest",
                        SessionKind::Account => "account",
                    },
                    transport: self
                        .peers
                        .get(&info.session)
                        .map_or("tcp", |peer| peer.connection.transport.name()),
                    ip: self.ip(info.session),
                    state: info.presence,
                    channels: info.channels,
                    since: format!(
                        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                        t.year, t.month, t.day, t.hour, t.minute, t.second
                    ),
                    since_unix,
                    messages: info.messages,
                }
            })
            .collect();
        done(report::who(&rows), json!(rows))
    }

    fn channel_list(&mut self, output: &mut Output) -> Outcome {
        let AdminReply::Channels(channels) =
            self.hub
                .admin(AdminCommand::Channels, &clock::now(), output)
        else {
            return Err("Liste des salons indisponible.".into());
        };
        let rows: Vec<report::ChannelRow> = channels
            .into_iter()
            .map(|c| report::ChannelRow {
                name: c.name,
                members: c.members,
                closed: c.closed,
                permanent: c.permanent,
                slow_secs: c.slow_secs,
            })
            .collect();
        done(report::channels(&rows), json!(rows))
    }

    fn stats(&mut self) -> Outcome {
        self.refresh_gauges();
        let metrics = &self.admin.metrics;
        let relayed = metrics
            .counters
            .messages_relayed
            .load(std::sync::atomic::Ordering::Relaxed);
        let rate = self.admin.messages_per_second(Instant::now(), relayed);
        let rendered = metrics.render();
        let samples = stats::samples(&rendered);
        let text = stats::summary(&samples, rate);
        done(
            text,
            json!({
                "messages_per_second": rate,
                "metrics": samples,
                "per_minute": self.admin.per_minute.series(),
            }),
        )
    }

    fn ban(&mut self, ban: BanRecord, reply: Sender<Outcome>, output: &mut Output) {
        let sessions: Vec<SessionId> = match ban.kind {
            BanKind::Name => {
                let key = fold_name(&ban.target);
                self.peers
                    .keys()
                    .filter(|&&session| self.hub.session_key(session) == Some(key.as_str()))
                    .copied()
                    .collect()
            }
            BanKind::Address => match Cidr::parse(&ban.target) {
                Ok(net) => self
                    .peers
                    .iter()
                    .filter(|(_, peer)| net.contains(peer.ip()))
                    .map(|(&session, _)| session)
                    .collect(),
                Err(error) => {
                    let _ = reply.try_send(Err(error));
                    return;
                }
            },
        };
        self.admin.bans.add(ban.clone());
        self.apply_bans(output);
        let kick = AdminCommand::KickSessions {
            sessions,
            reason: ban.reason.clone(),
            banned: true,
        };
        let closed = match self.hub.admin(kick, &clock::now(), output) {
            AdminReply::Done { affected } => affected,
            _ => 0,
        };
        audit::ban_set(&ban);
        let until = ban.until_unix.map_or_else(
            || "définitivement".to_owned(),
            |until| {
                format!(
                    "pour {} (jusqu'au {})",
                    describe(Duration::from_secs(until.saturating_sub(ban.created_unix))),
                    report::local_minute(until)
                )
            },
        );
        let text = format!(
            "{} banni {until} ; {closed} connexion(s) fermée(s).",
            ban.target
        );
        let data = json!({ "ban": ban, "closed": closed });
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                let saved = store.run(move |s| s.put_ban(&ban)).await;
                let answer = match saved {
                    Ok(Ok(())) => done(text, data),
                    _ => Err(format!(
                        "{text} Mais la base n'a pas pu l'enregistrer : il ne survivra pas à un \
                         redémarrage."
                    )),
                };
                let _ = reply.send(answer).await;
            })
            .detach();
    }

    fn unban(&mut self, target: &str, reply: Sender<Outcome>, output: &mut Output) {
        let Some(ban) = self.admin.bans.remove(target) else {
            let _ = reply.try_send(Err(format!(
                "Aucun bannissement pour « {target} » (classcord admin bans les liste)."
            )));
            return;
        };
        self.apply_bans(output);
        audit::ban_lifted(&ban, false);
        let text = format!("{} n'est plus banni.", ban.target);
        let key = ban.key();
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                let answer = match store.run(move |s| s.remove_bans(&[key])).await {
                    Ok(Ok(_)) => done(text, json!({ "ban": ban })),
                    _ => Err(format!(
                        "{text} Mais la base n'a pas pu l'effacer : il reviendra au prochain \
                         redémarrage."
                    )),
                };
                let _ = reply.send(answer).await;
            })
            .detach();
    }
}

fn refused(reply: AdminReply) -> Outcome {
    match reply {
        AdminReply::Refused(text) => Err(text),
        _ => Err("Réponse inattendue du serveur.".into()),
    }
}

impl HubTask {
    /// `mute`: the hub refuses the name's lines and tells its sessions; the reply waits for
    /// the store (a mute must survive a restart).
    fn mute(&mut self, mute: MuteRecord, reply: Sender<Outcome>, output: &mut Output) {
        self.admin.mutes.add(mute.clone());
        let command = AdminCommand::Mute {
            name: mute.name.clone(),
            until_micros: mute.until_unix.saturating_mul(1_000_000),
            reason: mute.reason.clone(),
            notify: true,
        };
        let told = match self.hub.admin(command, &clock::now(), output) {
            AdminReply::Done { affected } => affected,
            _ => 0,
        };
        let text = format!(
            "{} ne peut plus écrire pendant {} (jusqu'au {}) ; {told} connexion(s) prévenue(s).",
            mute.name,
            describe(Duration::from_secs(
                mute.until_unix.saturating_sub(mute.created_unix)
            )),
            report::local_minute(mute.until_unix)
        );
        let data = json!({ "mute": mute, "told": told });
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                let answer = match store.run(move |s| s.put_mute(&mute)).await {
                    Ok(Ok(())) => done(text, data),
                    _ => Err(format!(
                        "{text} Mais la base n'a pas pu l'enregistrer : la parole sera rendue au \
                         prochain redémarrage."
                    )),
                };
                let _ = reply.send(answer).await;
            })
            .detach();
    }

    fn unmute(&mut self, name: &str, reply: Sender<Outcome>, output: &mut Output) {
        let Some(mute) = self.admin.mutes.remove(name) else {
            let _ = reply.try_send(Err(format!(
                "« {name} » n'est pas privé de parole (classcord admin mutes les liste)."
            )));
            return;
        };
        let command = AdminCommand::Unmute {
            name: mute.name.clone(),
            notify: true,
        };
        let told = match self.hub.admin(command, &clock::now(), output) {
            AdminReply::Done { affected } => affected,
            _ => 0,
        };
        let text = format!(
            "{} peut de nouveau écrire ; {told} connexion(s) prévenue(s).",
            mute.name
        );
        let key = mute.key();
        let data = json!({ "mute": mute, "told": told });
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                let answer = match store.run(move |s| s.remove_mutes(&[key])).await {
                    Ok(Ok(_)) => done(text, data),
                    _ => Err(format!(
                        "{text} Mais la base n'a pas pu l'effacer : la parole sera de nouveau \
                         retirée au prochain redémarrage."
                    )),
                };
                let _ = reply.send(answer).await;
            })
            .detach();
    }

    /// Mutes whose time is over: the name may write again (its sessions are told), the store
    /// forgets them.
    fn expire_mutes(&mut self, output: &mut Output) {
        let over = self.admin.mutes.expire(now_unix());
        if over.is_empty() {
            return;
        }
        for mute in &over {
            let command = AdminCommand::Unmute {
                name: mute.name.clone(),
                notify: true,
            };
            self.hub.admin(command, &clock::now(), output);
            log::info!(
                "[ADMIN] {} peut de nouveau écrire (fin de la durée)",
                crate::logging::Shown(&mute.name)
            );
        }
        let keys: Vec<String> = over.iter().map(MuteRecord::key).collect();
        let store = self.store.clone();
        self.executor
            .spawn(async move {
                if !matches!(store.run(move |s| s.remove_mutes(&keys)).await, Ok(Ok(_))) {
                    log::warn!(
                        "[ADMIN] fins de mise en sourdine non effacées de la base (nouvel essai \
                         au prochain démarrage)"
                    );
                }
            })
            .detach();
    }

    /// `delete`: the store deletes the line durably (history, exports), then the hub tells the
    /// browsers that show it (`HubAsk::MessageDeleted`, back through the hub task's queue).
    fn delete(&mut self, id: u64, reply: Sender<Outcome>) {
        let store = self.store.clone();
        let commands = self.commands.clone();
        self.executor
            .spawn(async move {
                let answer = match store.run(move |s| s.delete_message(id)).await {
                    Ok(Ok(Some(line))) => {
                        let job = crate::control::HubJob {
                            ask: HubAsk::MessageDeleted(Box::new(line)),
                            reply: reply.clone(),
                        };
                        if commands.send(super::HubCommand::Admin(job)).await.is_ok() {
                            return;
                        }
                        Err(crate::control::hub::STOPPING.to_owned())
                    }
                    Ok(Ok(None)) => Err(format!(
                        "Aucun message n°{id} dans la base (jamais gardé, déjà supprimé, effacé \
                         par la rétention, ou historique désactivé)."
                    )),
                    _ => Err(crate::control::desk::unavailable()),
                };
                let _ = reply.send(answer).await;
            })
            .detach();
    }

    fn message_deleted(&mut self, line: DeletedLine, output: &mut Output) -> Outcome {
        let DeletedLine { record, deferred } = line;
        let (place, data_place) = match &record.destination {
            classcord_core::hub::Destination::Channel { display, .. } => {
                (format!("dans {display}"), json!({ "channel": display }))
            }
            classcord_core::hub::Destination::Private { to, .. } => {
                (format!("à {to}"), json!({ "to": to }))
            }
        };
        let command = AdminCommand::MessageDeleted {
            id: record.id,
            from_key: record.from_key.clone(),
            destination: record.destination.clone(),
            deferred,
        };
        let removed = match self.hub.admin(command, &clock::now(), output) {
            AdminReply::Done { affected } => affected,
            _ => 0,
        };
        let preview: String = record.content.chars().take(40).collect();
        let cut = if preview.len() < record.content.len() {
            "…"
        } else {
            ""
        };
        done(
            format!(
                "Message n°{} supprimé ({} {place} : « {}{cut} ») ; retiré de l'écran de \
                 {removed} navigateur(s).",
                record.id,
                record.from,
                crate::logging::shown(&preview)
            ),
            json!({
                "id": record.id,
                "from": record.from,
                "where": data_place,
                "timestamp": record.timestamp,
                "removed_live": removed,
            }),
        )
    }

    fn slow(&mut self, channel: &str, seconds: u32, output: &mut Output) -> Outcome {
        let shown = ChannelName::parse(channel).map_or_else(|_| channel.to_owned(), |c| c.display);
        let command = AdminCommand::Slow {
            channel: channel.to_owned(),
            seconds,
        };
        match self.hub.admin(command, &clock::now(), output) {
            AdminReply::Done { affected } => {
                let text = if seconds == 0 {
                    format!("Mode lent arrêté dans {shown} ({affected} membre(s) prévenu(s)).")
                } else {
                    format!(
                        "Mode lent dans {shown} : un message toutes les {} par personne \
                         ({affected} membre(s) prévenu(s)).",
                        describe(Duration::from_secs(u64::from(seconds)))
                    )
                };
                done(
                    text,
                    json!({ "name": shown, "seconds": seconds, "members": affected }),
                )
            }
            other => refused(other),
        }
    }
}
