//! The console's requests that need the chat state, carried out by the hub task (the one owner
//! of that state): the hub answers what it knows (sessions, channels, kicks, alerts, channel
//! changes, notices), and this file adds what only the shell knows: peers' addresses for `who`,
//! the bans (kept in the store, enforced by the access guard at accept and by the hub at login),
//! the metrics' gauges. Replies go back on the request's own channel; store writes are awaited on
//! the executor, never by the hub.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classcord_core::hub::{
    AdminCommand, AdminReply, ChannelAction, HubConfig, Output, SessionId, SessionKind,
};
use classcord_core::message::fold_name;
use serde_json::{json, Value};
use smol::channel::Sender;

use super::HubTask;
use crate::admin::bans::{describe_duration, now_unix, BanList};
use crate::admin::{audit, report};
use crate::clock;
use crate::metrics::{HubGauges, Metrics};
use crate::security::{AccessGuard, AccessSettings, AttemptSettings, Cidr};
use crate::store::bans::{BanKind, BanRecord};

/// What the console asks of the hub task.
#[derive(Debug)]
pub enum AdminAsk {
    Who,
    Channels,
    Stats,
    Kick {
        name: String,
        reason: Option<String>,
    },
    Ban(BanRecord),
    Unban {
        target: String,
    },
    Bans,
    Alert {
        text: String,
    },
    Say {
        name: String,
        text: String,
    },
    Channel {
        action: ChannelAction,
        name: String,
    },
    AccountCreated {
        name: String,
    },
    /// Closes the account's sessions and forgets it.
    AccountDeleted {
        name: String,
    },
    Reconfigure(Box<LiveSettings>),
    ShutdownSoon {
        delay: String,
        reason: Option<String>,
    },
}

/// What `reload` changes while the server runs.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub hub: HubConfig,
    pub access: AccessSettings,
    pub attempts: AttemptSettings,
}

/// A reply: a French summary and the same facts for scripts.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub data: Value,
}

/// `Err`: the French reason it was not done.
pub type AdminResult = Result<Answer, String>;

fn done(text: impl Into<String>, data: Value) -> AdminResult {
    Ok(Answer {
        text: text.into(),
        data,
    })
}

/// What the hub task keeps for the console.
pub struct AdminState {
    pub access: Arc<AccessGuard>,
    pub bans: BanList,
    pub metrics: Arc<Metrics>,
    /// (when, messages relayed so far), one per tick, for messages per second.
    samples: VecDeque<(Instant, u64)>,
}

/// Messages per second are measured over this window.
const RATE_WINDOW: Duration = Duration::from_secs(60);

impl AdminState {
    pub fn new(access: Arc<AccessGuard>, bans: BanList, metrics: Arc<Metrics>) -> AdminState {
        AdminState {
            access,
            bans,
            metrics,
            samples: VecDeque::new(),
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
    /// Carries out one request; the reply goes to `reply` (now, or once the store has it).
    pub(super) fn admin_request(
        &mut self,
        ask: AdminAsk,
        reply: Sender<AdminResult>,
        output: &mut Output,
    ) {
        let now = clock::now();
        let answer = match ask {
            AdminAsk::Who => self.who(),
            AdminAsk::Channels => self.channel_list(output),
            AdminAsk::Stats => self.stats(),
            AdminAsk::Kick { name, reason } => {
                let command = AdminCommand::Kick { name, reason };
                match self.hub.admin(command, &now, output) {
                    AdminReply::Done { affected } => done(
                        format!("{affected} connexion(s) fermée(s)."),
                        json!({ "closed": affected }),
                    ),
                    other => refused(other),
                }
            }
            AdminAsk::Ban(ban) => return self.ban(ban, reply, output),
            AdminAsk::Unban { target } => return self.unban(&target, reply, output),
            AdminAsk::Bans => done(
                report::bans(self.admin.bans.all()),
                json!(self.admin.bans.all()),
            ),
            AdminAsk::Alert { text } => {
                match self.hub.admin(AdminCommand::Alert { text }, &now, output) {
                    AdminReply::Done { affected } => done(
                        format!("Alerte envoyée à {affected} personne(s)."),
                        json!({ "reached": affected }),
                    ),
                    other => refused(other),
                }
            }
            AdminAsk::Say { name, text } => {
                match self
                    .hub
                    .admin(AdminCommand::Say { name, text }, &now, output)
                {
                    AdminReply::Done { affected } => done(
                        format!("Message remis à {affected} connexion(s)."),
                        json!({ "reached": affected }),
                    ),
                    other => refused(other),
                }
            }
            AdminAsk::Channel { action, name } => {
                let command = AdminCommand::Channel {
                    action,
                    name: name.clone(),
                };
                match self.hub.admin(command, &now, output) {
                    AdminReply::Done { affected } => {
                        let what = match action {
                            ChannelAction::Create => "créé",
                            ChannelAction::Close => "fermé",
                            ChannelAction::Open => "rouvert",
                            ChannelAction::Delete => "supprimé",
                        };
                        done(
                            format!("Salon {name} {what} ({affected} membre(s) prévenu(s))."),
                            json!({ "members": affected }),
                        )
                    }
                    other => refused(other),
                }
            }
            AdminAsk::AccountCreated { name } => {
                self.hub
                    .admin(AdminCommand::AccountCreated { name }, &now, output);
                done("", Value::Null)
            }
            AdminAsk::AccountDeleted { name } => {
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
            AdminAsk::Reconfigure(live) => {
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
            AdminAsk::ShutdownSoon { delay, reason } => {
                let command = AdminCommand::ShutdownSoon { delay, reason };
                match self.hub.admin(command, &now, output) {
                    AdminReply::Done { affected } => done("", json!({ "reached": affected })),
                    other => refused(other),
                }
            }
        };
        let _ = reply.try_send(answer);
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
        while self
            .admin
            .samples
            .front()
            .is_some_and(|&(at, _)| now.duration_since(at) > RATE_WINDOW)
        {
            self.admin.samples.pop_front();
        }
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
        self.admin.metrics.set_gauges(HubGauges {
            connections_open: self.peers.len() as u64,
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

    fn who(&mut self) -> AdminResult {
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

    fn channel_list(&mut self, output: &mut Output) -> AdminResult {
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
            })
            .collect();
        done(report::channels(&rows), json!(rows))
    }

    fn stats(&mut self) -> AdminResult {
        self.refresh_gauges();
        let metrics = &self.admin.metrics;
        let relayed = metrics
            .counters
            .messages_relayed
            .load(std::sync::atomic::Ordering::Relaxed);
        let rate = self.admin.messages_per_second(Instant::now(), relayed);
        let rendered = metrics.render();
        let samples = crate::admin::stats::samples(&rendered);
        let text = crate::admin::stats::summary(&samples, rate);
        done(
            text,
            json!({ "messages_per_second": rate, "metrics": samples }),
        )
    }

    fn ban(&mut self, ban: BanRecord, reply: Sender<AdminResult>, output: &mut Output) {
        let sessions: Vec<SessionId> = match ban.kind {
            BanKind::Name => {
                let key = fold_name(&ban.target);
                self.peers
                    .iter()
                    .filter(|(_, peer)| peer.name.as_deref().map(fold_name) == Some(key.clone()))
                    .map(|(&session, _)| session)
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
                    describe_duration(Duration::from_secs(until.saturating_sub(ban.created_unix))),
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

    fn unban(&mut self, target: &str, reply: Sender<AdminResult>, output: &mut Output) {
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

fn refused(reply: AdminReply) -> AdminResult {
    match reply {
        AdminReply::Refused(text) => Err(text),
        _ => Err("Réponse inattendue du serveur.".into()),
    }
}
