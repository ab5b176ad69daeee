//! The vocabulary: every [`Request`] an operator may make, what a request that cannot be undone
//! will do ([`Request::confirmation`]), the [`Answer`] and who asked ([`Operator`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bans;
use super::duration::{BanLength, Span, When};

/// One request (the `cmd` field names the variant on the wire, see docs/ADMIN.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Server version, database and socket (the commands use it to find the right server).
    Info,
    Who,
    Channels,
    Stats,
    Kick {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Ban {
        target: String,
        #[serde(default, skip_serializing_if = "BanLength::is_permanent")]
        duration: BanLength,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
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
        action: ChannelVerb,
        name: String,
    },
    /// The chat lines of a name (account or guest) are refused for `duration`; kept across
    /// reconnects and restarts.
    Mute {
        name: String,
        duration: Span,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Unmute {
        name: String,
    },
    Mutes,
    /// Deletes a kept line by its wire `id`: gone from `history` and exports, removed from the
    /// screens of the clients that announced `deleted`.
    Delete {
        id: u64,
    },
    /// Slow mode in a channel: one line per `seconds` per person; 0 lifts it.
    Slow {
        channel: String,
        seconds: u32,
    },
    /// The live protocol trace of a connection (`NAME`, `ADDRESS` or `#CONN`), for `duration`
    /// at most (10 min when absent). Answered with a stream, not one reply: [`Desk::trace`](super::Desk::trace).
    Trace {
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<Span>,
    },
    UserList,
    UserAdd {
        name: String,
        password: String,
    },
    UserDel {
        name: String,
    },
    UserPasswd {
        name: String,
        password: String,
    },
    /// The accounts that may sign in to the dashboard.
    Operators,
    OperatorAdd {
        name: String,
    },
    OperatorDel {
        name: String,
    },
    /// The last security lines (failed sign-ins, bans, rate limits, verdicts).
    Events,
    /// Where the dashboard is served and its certificate's SHA-256 fingerprint.
    Certificate,
    /// A consistent copy of the database into the file passed with the request.
    Backup,
    Reload,
    Shutdown {
        #[serde(default, skip_serializing_if = "When::is_now")]
        delay: When,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelVerb {
    Create,
    Close,
    Open,
    Delete,
}

impl ChannelVerb {
    pub const ALL: [ChannelVerb; 4] = [
        ChannelVerb::Create,
        ChannelVerb::Close,
        ChannelVerb::Open,
        ChannelVerb::Delete,
    ];

    pub fn word(self) -> &'static str {
        match self {
            ChannelVerb::Create => "create",
            ChannelVerb::Close => "close",
            ChannelVerb::Open => "open",
            ChannelVerb::Delete => "delete",
        }
    }
}

impl Request {
    /// Requests that only read: not written to the log.
    pub fn only_reads(&self) -> bool {
        matches!(
            self,
            Request::Info
                | Request::Who
                | Request::Channels
                | Request::Stats
                | Request::Bans
                | Request::Mutes
                | Request::UserList
                | Request::Operators
                | Request::Events
                | Request::Certificate
        )
    }

    /// Requests whose password the front end asks for (without echo) before sending them.
    pub fn needs_password(&self) -> bool {
        matches!(self, Request::UserAdd { .. } | Request::UserPasswd { .. })
    }

    /// The password slot of `user add` and `user passwd`.
    pub fn password_mut(&mut self) -> Option<&mut String> {
        match self {
            Request::UserAdd { password, .. } | Request::UserPasswd { password, .. } => {
                Some(password)
            }
            _ => None,
        }
    }

    /// For a request that cannot be undone and reaches many people (stopping the server,
    /// deleting a channel or an account, banning a whole network), what it will do, in French:
    /// every front end shows it and asks for a confirmation first.
    pub fn confirmation(&self) -> Option<String> {
        match self {
            Request::Shutdown {
                delay: When::Now, ..
            } => Some(
                "Le serveur va s'arrêter tout de suite : toutes les connexions seront fermées."
                    .into(),
            ),
            Request::Shutdown {
                delay: When::In(span),
                ..
            } => Some(format!(
                "Le serveur s'arrêtera dans {span} (les utilisateurs sont prévenus ; « shutdown \
                 annuler » l'annule) : toutes les connexions seront alors fermées."
            )),
            Request::Channel {
                action: ChannelVerb::Delete,
                name,
            } => Some(format!(
                "Le salon {} sera supprimé : ses membres en sortent et les comptes ne le \
                 retrouveront pas à leur prochaine connexion.",
                channel_display(name)
            )),
            Request::Delete { id } => Some(format!(
                "Le message n°{id} sera supprimé de l'historique et des exports ; les navigateurs \
                 l'effacent de l'écran, les clients Java le gardent affiché jusqu'à leur \
                 fermeture."
            )),
            Request::UserDel { name } => Some(format!(
                "Le compte « {name} » sera supprimé, avec ses messages en attente et ses salons \
                 mémorisés ; ses connexions seront fermées."
            )),
            Request::Ban {
                target, duration, ..
            } => {
                let size = bans::network_size(target)?;
                let length = match duration {
                    BanLength::Permanent => "définitivement".to_owned(),
                    BanLength::For(span) => format!("pour {span}"),
                };
                Some(format!(
                    "Le réseau {} ({} adresses) sera banni {length} : chaque connexion venant de \
                     ce réseau sera fermée, puis refusée.",
                    bans::parse_target(target).map_or(target.clone(), |(_, shown)| shown),
                    group_digits(size)
                ))
            }
            _ => None,
        }
    }
}

/// A channel name as the server shows it (`projet` -> `#projet`).
pub fn channel_display(name: &str) -> String {
    classcord_core::message::ChannelName::parse(name)
        .map(|channel| channel.display)
        .unwrap_or_else(|_| name.to_owned())
}

/// `16777216` -> `16 777 216`.
pub fn group_digits(value: u128) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (at, c) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A request done: a French summary for people and the same facts for scripts.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub data: Value,
}

impl Answer {
    pub fn new(text: impl Into<String>, data: Value) -> Answer {
        Answer {
            text: text.into(),
            data,
        }
    }
}

/// `Err`: the French reason the request was not done.
pub type Outcome = Result<Answer, String>;

/// Who asked, for the log line: a local user on the control socket, a signal, or a named
/// operator (a front end that knows its user's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    Uid(u32),
    Signal(&'static str),
    Named(String),
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operator::Uid(uid) => write!(f, "uid {uid}"),
            Operator::Signal(name) => write!(f, "signal {name}"),
            Operator::Named(name) => write!(f, "{}", crate::logging::Quoted(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::control::duration::Span;

    fn span(seconds: u64) -> Span {
        Span::from_secs(seconds).unwrap()
    }

    #[test]
    fn destructive_requests_say_what_they_will_do() {
        let asks = |request: Request| request.confirmation();
        let now = asks(Request::Shutdown {
            delay: When::Now,
            message: None,
        })
        .unwrap();
        assert!(now.contains("tout de suite"), "{now}");
        let later = asks(Request::Shutdown {
            delay: When::In(span(600)),
            message: None,
        })
        .unwrap();
        assert!(later.contains("dans 10 min"), "{later}");
        let channel = asks(Request::Channel {
            action: ChannelVerb::Delete,
            name: "projet".into(),
        })
        .unwrap();
        assert!(channel.contains("#projet sera supprimé"), "{channel}");
        let user = asks(Request::UserDel {
            name: "alice".into(),
        })
        .unwrap();
        assert!(user.contains("« alice » sera supprimé"), "{user}");
        let delete = asks(Request::Delete { id: 42 }).unwrap();
        assert!(
            delete.contains("Le message n°42 sera supprimé de l'historique et des exports"),
            "{delete}"
        );
        let network = asks(Request::Ban {
            target: "10.1.2.3/8".into(),
            duration: BanLength::For(span(7200)),
            reason: None,
        })
        .unwrap();
        assert!(
            network.contains("10.0.0.0/8 (16 777 216 adresses) sera banni pour 2 h"),
            "{network}"
        );
    }

    #[test]
    fn everyday_requests_need_no_confirmation() {
        for request in [
            Request::Who,
            Request::Shutdown {
                delay: When::Cancel,
                message: None,
            },
            Request::Ban {
                target: "10.0.0.5".into(),
                duration: BanLength::Permanent,
                reason: None,
            },
            Request::Ban {
                target: "mallory".into(),
                duration: BanLength::Permanent,
                reason: None,
            },
            Request::Channel {
                action: ChannelVerb::Close,
                name: "#projet".into(),
            },
            Request::Kick {
                name: "alice".into(),
                reason: None,
            },
            Request::Mute {
                name: "alice".into(),
                duration: Span::from_secs(60).unwrap(),
                reason: None,
            },
            Request::Slow {
                channel: "#général".into(),
                seconds: 30,
            },
        ] {
            assert_eq!(request.confirmation(), None, "{request:?}");
        }
    }

    #[test]
    fn operators_are_named_for_the_log() {
        assert_eq!(Operator::Uid(0).to_string(), "uid 0");
        assert_eq!(Operator::Signal("SIGHUP").to_string(), "signal SIGHUP");
        assert_eq!(
            Operator::Named("prof dupont".into()).to_string(),
            "\"prof dupont\""
        );
        assert_eq!(group_digits(1000), "1 000");
        assert_eq!(group_digits(999), "999");
    }
}
