//! The client's side of the wire contract (docs/PROTOCOL.md), written apart from `core` on
//! purpose: `classcord chat` is a second implementation of the protocol, so the tests that drive
//! it check the server against what the document says, not against the server's own code.
//!
//! Two directions, both pure: [`Request::to_line`] formats what the user asked for as one JSON
//! line; [`Event::parse`] turns one server line into a typed event (anything it does not know
//! becomes [`Event::Other`], never an error: a newer server may send more).

use serde_json::{json, Map, Value};

/// Extensions this client understands: it reads the socket continuously (no need for the login
/// hold) and knows the typed `kick` and `shutdown` lines.
pub const FEATURES: [&str; 3] = ["no-hold", "kick", "shutdown"];

/// One request line, as the user's command or the login asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello,
    Register {
        username: String,
        password: String,
    },
    Login {
        username: String,
        password: String,
    },
    /// An empty message carrying `from`: names and announces a guest without relaying anything.
    Name {
        guest: String,
    },
    /// A chat line to a channel; `None`: the default channel.
    Message {
        content: String,
        channel: Option<String>,
    },
    Private {
        to: String,
        content: String,
    },
    Join {
        channel: String,
    },
    Leave {
        channel: String,
    },
    Channels,
    Users,
    Who {
        channel: Option<String>,
    },
    History {
        channel: Option<String>,
        limit: Option<u32>,
    },
    Status {
        state: String,
    },
    Ping,
}

impl Request {
    /// The JSON object, without the final newline; `type` first, as people write it.
    pub fn to_line(&self) -> String {
        object(&self.fields(false))
    }

    /// The line as `--brut` shows it: the same, with any password masked.
    pub fn shown_line(&self) -> String {
        object(&self.fields(true))
    }

    fn fields(&self, mask: bool) -> Vec<(&'static str, Value)> {
        let secret = |password: &str| json!(if mask { "********" } else { password });
        let kind = |name: &str| ("type", json!(name));
        match self {
            Request::Hello => vec![kind("hello"), ("features", json!(FEATURES))],
            Request::Register { username, password } => vec![
                kind("register"),
                ("username", json!(username)),
                ("password", secret(password)),
            ],
            Request::Login { username, password } => vec![
                kind("login"),
                ("username", json!(username)),
                ("password", secret(password)),
            ],
            Request::Name { guest } => vec![
                kind("message"),
                ("subtype", json!("global")),
                ("from", json!(guest)),
                ("content", json!("")),
            ],
            Request::Message { content, channel } => {
                let mut fields = vec![
                    kind("message"),
                    ("subtype", json!("global")),
                    ("content", json!(content)),
                ];
                if let Some(channel) = channel {
                    fields.push(("channel", json!(channel)));
                }
                fields
            }
            Request::Private { to, content } => vec![
                kind("message"),
                ("subtype", json!("private")),
                ("to", json!(to)),
                ("content", json!(content)),
            ],
            Request::Join { channel } => vec![kind("join_channel"), ("channel", json!(channel))],
            Request::Leave { channel } => vec![kind("leave_channel"), ("channel", json!(channel))],
            Request::Channels => vec![kind("channels")],
            Request::Users => vec![kind("users")],
            Request::Who { channel } => {
                let mut fields = vec![kind("who")];
                if let Some(channel) = channel {
                    fields.push(("channel", json!(channel)));
                }
                fields
            }
            Request::History { channel, limit } => {
                let mut fields = vec![kind("history")];
                if let Some(channel) = channel {
                    fields.push(("channel", json!(channel)));
                }
                if let Some(limit) = limit {
                    fields.push(("limit", json!(limit)));
                }
                fields
            }
            Request::Status { state } => vec![kind("status"), ("state", json!(state))],
            Request::Ping => vec![kind("ping")],
        }
    }
}

/// `{"k":v,...}` in the given order (serde_json's map would sort the keys).
fn object(fields: &[(&str, Value)]) -> String {
    let mut line = String::from("{");
    for (at, (key, value)) in fields.iter().enumerate() {
        if at > 0 {
            line.push(',');
        }
        line.push_str(&Value::from(*key).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    }
    line.push('}');
    line
}

/// A chat line: relayed by the server, a server notice, or an item of a `history` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: String,
    pub content: String,
    /// The recipient of a private line.
    pub to: Option<String>,
    /// The channel of a channel line (absent on some servers for the default channel).
    pub channel: Option<String>,
    pub private: bool,
    /// A server notice (`system: true`, or from `Serveur`).
    pub notice: bool,
    /// A private line kept while its recipient was away, delivered at login.
    pub deferred: bool,
    /// The server's local time, `YYYY-MM-DDTHH:MM:SS.ffffff`.
    pub timestamp: Option<String>,
    pub id: Option<u64>,
}

/// One channel of a `channels` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: String,
    pub members: u64,
    pub closed: bool,
}

/// One server line, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Hello {
        features: Vec<String>,
    },
    LoggedIn {
        username: String,
    },
    Registered,
    Chat(ChatLine),
    Presence {
        user: String,
        state: String,
    },
    Users(Vec<String>),
    Who {
        channel: String,
        users: Vec<String>,
    },
    Channels(Vec<ChannelInfo>),
    Joined {
        channel: String,
    },
    Left {
        channel: String,
    },
    History {
        channel: Option<String>,
        with: Option<String>,
        messages: Vec<ChatLine>,
    },
    Pong,
    Error(String),
    /// The typed kick line (feature `kick`); the French notice and the close follow.
    Kicked(String),
    /// The typed shutdown line (feature `shutdown`); the notice and the close follow.
    ShuttingDown(String),
    /// A line this client does not know (kept as received).
    Other(String),
}

/// The name the server uses for its notices (docs/PROTOCOL.md §4).
pub const SERVER_NAME: &str = "Serveur";

impl Event {
    /// Types one server line; never fails (see [`Event::Other`]).
    pub fn parse(line: &str) -> Event {
        let other = || Event::Other(line.to_owned());
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
            return other();
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let ok = text("status").as_deref() == Some("ok");
        let event = match object.get("type").and_then(Value::as_str) {
            Some("hello") => Some(Event::Hello {
                features: strings(object.get("features")).unwrap_or_default(),
            }),
            Some("login") if ok => text("username").map(|username| Event::LoggedIn { username }),
            Some("register") if ok => Some(Event::Registered),
            Some("message") => chat_line(&object).map(Event::Chat),
            Some("status") => match (text("user"), text("state")) {
                (Some(user), Some(state)) => Some(Event::Presence { user, state }),
                _ => None,
            },
            Some("users" | "userlist" | "list_users") => {
                strings(object.get("users")).map(Event::Users)
            }
            Some("who") => strings(object.get("users")).map(|users| Event::Who {
                channel: text("channel").unwrap_or_default(),
                users,
            }),
            Some("channels") => channels(object.get("channels")).map(Event::Channels),
            Some("join_channel") if ok => text("channel").map(|channel| Event::Joined { channel }),
            Some("leave_channel") if ok => text("channel").map(|channel| Event::Left { channel }),
            Some("history") => {
                let items = object.get("messages").and_then(Value::as_array);
                items.map(|items| Event::History {
                    channel: text("channel"),
                    with: text("with"),
                    messages: items
                        .iter()
                        .filter_map(Value::as_object)
                        .filter_map(chat_line)
                        .collect(),
                })
            }
            Some("pong") => Some(Event::Pong),
            Some("error") => text("message").or_else(|| text("error")).map(Event::Error),
            Some("kick") => Some(Event::Kicked(text("message").unwrap_or_default())),
            Some("shutdown") => Some(Event::ShuttingDown(text("message").unwrap_or_default())),
            _ => None,
        };
        event.unwrap_or_else(other)
    }
}

fn chat_line(object: &Map<String, Value>) -> Option<ChatLine> {
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
    let from = text("from")?;
    let content = text("content")?;
    Some(ChatLine {
        notice: flag("system") || from == SERVER_NAME,
        private: text("subtype").as_deref() == Some("private"),
        deferred: flag("deferred"),
        to: text("to"),
        channel: text("channel"),
        timestamp: text("timestamp"),
        id: object.get("id").and_then(Value::as_u64),
        from,
        content,
    })
}

/// A list of strings; `None` if it is not one (the whole line is then unknown).
fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn channels(value: Option<&Value>) -> Option<Vec<ChannelInfo>> {
    value?
        .as_array()?
        .iter()
        .map(|item| {
            Some(ChannelInfo {
                name: item.get("name")?.as_str()?.to_owned(),
                members: item.get("members").and_then(Value::as_u64).unwrap_or(0),
                closed: item.get("closed").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_object_each() {
        let cases = [
            (
                Request::Hello,
                r#"{"type":"hello","features":["no-hold","kick","shutdown"]}"#,
            ),
            (
                Request::Name {
                    guest: "zoé".into(),
                },
                r#"{"type":"message","subtype":"global","from":"zoé","content":""}"#,
            ),
            (
                Request::Message {
                    content: "a \"b\"\nc".into(),
                    channel: None,
                },
                r#"{"type":"message","subtype":"global","content":"a \"b\"\nc"}"#,
            ),
            (
                Request::Message {
                    content: "x".into(),
                    channel: Some("#projet".into()),
                },
                r##"{"type":"message","subtype":"global","content":"x","channel":"#projet"}"##,
            ),
            (
                Request::Private {
                    to: "bob".into(),
                    content: "salut".into(),
                },
                r#"{"type":"message","subtype":"private","to":"bob","content":"salut"}"#,
            ),
            (
                Request::History {
                    channel: Some("#p".into()),
                    limit: Some(5),
                },
                r##"{"type":"history","channel":"#p","limit":5}"##,
            ),
            (Request::Who { channel: None }, r#"{"type":"who"}"#),
            (
                Request::Status {
                    state: "absent".into(),
                },
                r#"{"type":"status","state":"absent"}"#,
            ),
        ];
        for (request, line) in cases {
            assert_eq!(request.to_line(), line);
            assert!(!request.to_line().contains('\n'));
        }
    }

    #[test]
    fn the_password_is_masked_only_where_it_is_shown() {
        let login = Request::Login {
            username: "alice".into(),
            password: "s3cret".into(),
        };
        assert!(login.to_line().contains("s3cret"));
        assert!(!login.shown_line().contains("s3cret"));
        assert!(login.shown_line().contains("\"username\":\"alice\""));
    }

    #[test]
    fn server_lines_become_typed_events() {
        let relayed = Event::parse(
            r##"{"type":"message","subtype":"global","from":"bob","content":"salut","channel":"#projet","timestamp":"2026-12-07T10:02:03.000001","id":7}"##,
        );
        let Event::Chat(line) = relayed else {
            panic!("{relayed:?}")
        };
        assert_eq!(
            (line.from.as_str(), line.channel.as_deref(), line.id),
            ("bob", Some("#projet"), Some(7))
        );
        assert!(!line.private && !line.notice);

        let notice = Event::parse(
            r#"{"type":"message","subtype":"private","from":"Serveur","content":"Bienvenue","to":"zoe","system":true}"#,
        );
        assert!(matches!(
            notice,
            Event::Chat(ChatLine {
                notice: true,
                private: true,
                ..
            })
        ));

        let deferred = Event::parse(
            r#"{"type":"message","subtype":"private","from":"amy","content":"hi","to":"ynes","deferred":true}"#,
        );
        assert!(matches!(
            deferred,
            Event::Chat(ChatLine { deferred: true, .. })
        ));

        assert_eq!(
            Event::parse(r#"{"type":"status","user":"bob","state":"away"}"#),
            Event::Presence {
                user: "bob".into(),
                state: "away".into()
            }
        );
        assert_eq!(
            Event::parse(r#"{"type":"list_users","users":["a","b"]}"#),
            Event::Users(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            Event::parse(r#"{"type":"login","status":"ok","username":"alice"}"#),
            Event::LoggedIn {
                username: "alice".into()
            }
        );
        assert_eq!(
            Event::parse(r#"{"type":"error","message":"Login failed.","error":"Login failed."}"#),
            Event::Error("Login failed.".into())
        );
        assert_eq!(
            Event::parse(
                r##"{"type":"channels","channels":[{"name":"#général","members":2},{"name":"#p","members":0,"closed":true}]}"##
            ),
            Event::Channels(vec![
                ChannelInfo {
                    name: "#général".into(),
                    members: 2,
                    closed: false
                },
                ChannelInfo {
                    name: "#p".into(),
                    members: 0,
                    closed: true
                },
            ])
        );
        let history = Event::parse(
            r##"{"type":"history","channel":"#g","messages":[{"id":1,"from":"a","content":"x","timestamp":"t","subtype":"global","channel":"#g"}]}"##,
        );
        assert!(matches!(history, Event::History { ref messages, .. } if messages.len() == 1));
        assert_eq!(
            Event::parse(r#"{"type":"kick","message":"dehors"}"#),
            Event::Kicked("dehors".into())
        );
    }

    #[test]
    fn unknown_or_malformed_lines_are_kept_as_they_came() {
        for line in [
            "pas du json",
            "[1,2]",
            r#"{"type":"nouveau"}"#,
            r#"{"type":"users","users":[1,2]}"#,
            r#"{"type":"message","from":"a"}"#,
            r#"{"type":"status","user":"a"}"#,
        ] {
            assert_eq!(Event::parse(line), Event::Other(line.to_owned()), "{line}");
        }
    }
}
