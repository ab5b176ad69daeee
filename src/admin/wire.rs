//! The control socket's wire format (docs/ADMIN.md): one JSON object per line each way,
//! versioned. Request: the vocabulary's [`Request`] with `"v":1` added
//! (`{"v":1,"cmd":"kick","name":"alice","reason":"..."}`). Reply:
//! `{"v":1,"ok":true,"text":"<French summary>","data":<JSON>}` or
//! `{"v":1,"ok":false,"error":"<French reason>"}`. `backup` also carries a file descriptor
//! (SCM_RIGHTS) with its line: the empty file the copy goes into.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::control::{Outcome, Request};

/// The protocol version this build speaks.
pub const VERSION: u64 = 1;

/// Longest request line accepted, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// The request as one line (with its `\n`).
pub fn request_line(request: &Request) -> String {
    let mut value = serde_json::to_value(request).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("v".into(), VERSION.into());
    }
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// Parses one request line; the error is the French reason for the reply.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let mut value: Value = serde_json::from_str(line)
        .map_err(|_| "Requête illisible : une ligne JSON est attendue.".to_owned())?;
    let Value::Object(map) = &mut value else {
        return Err("Requête illisible : un objet JSON est attendu.".into());
    };
    match map.remove("v").and_then(|v| v.as_u64()) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!(
                "Version du protocole {other} non prise en charge (ce serveur parle la \
                 version {VERSION}) : utilisez le classcord du serveur."
            ))
        }
        None => return Err("Requête sans version (\"v\":1 attendu).".into()),
    }
    let command = map
        .get("cmd")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    serde_json::from_value(value).map_err(|error| {
        let error = error.to_string();
        if error.contains("unknown variant") {
            format!("Commande inconnue : « {command} ».")
        } else {
            let end = if error.ends_with('.') { "" } else { "." };
            format!("Requête « {command} » invalide : {error}{end}")
        }
    })
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub v: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    pub fn ok(text: impl Into<String>, data: Value) -> Reply {
        Reply {
            v: VERSION,
            ok: true,
            text: Some(text.into()),
            data: Some(data),
            error: None,
        }
    }

    pub fn error(error: impl Into<String>) -> Reply {
        Reply {
            v: VERSION,
            ok: false,
            text: None,
            data: None,
            error: Some(error.into()),
        }
    }

    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self)
            .unwrap_or_else(|_| "{\"v\":1,\"ok\":false,\"error\":\"réponse impossible\"}".into());
        line.push('\n');
        line
    }
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Reply {
        match outcome {
            Ok(answer) => Reply::ok(answer.text, answer.data),
            Err(error) => Reply::error(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{BanLength, ChannelVerb, Span, When};

    #[test]
    fn requests_round_trip_with_their_version() {
        let kick = Request::Kick {
            name: "alice".into(),
            reason: Some("trop de bruit".into()),
        };
        let line = request_line(&kick);
        assert!(
            line.contains("\"v\":1") && line.contains("\"cmd\":\"kick\""),
            "{line}"
        );
        assert_eq!(parse_request(&line).unwrap(), kick);
        assert_eq!(
            parse_request(r#"{"v":1,"cmd":"who"}"#).unwrap(),
            Request::Who
        );
        let channel = r##"{"v":1,"cmd":"channel","action":"close","name":"#tp"}"##;
        assert!(matches!(
            parse_request(channel).unwrap(),
            Request::Channel {
                action: ChannelVerb::Close,
                ..
            }
        ));
        let ban = Request::Ban {
            target: "10.0.0.0/8".into(),
            duration: BanLength::For(Span::from_secs(7200).unwrap()),
            reason: None,
        };
        let line = request_line(&ban);
        assert!(line.contains("\"duration\":\"2 h\""), "{line}");
        assert_eq!(parse_request(&line).unwrap(), ban);
        let mute = parse_request(r#"{"v":1,"cmd":"mute","name":"alice","duration":600}"#).unwrap();
        assert_eq!(
            mute,
            Request::Mute {
                name: "alice".into(),
                duration: Span::from_secs(600).unwrap(),
                reason: None
            }
        );
        assert!(request_line(&mute).contains("\"duration\":\"10 min\""));
        assert_eq!(
            parse_request(r##"{"v":1,"cmd":"trace","target":"#3"}"##).unwrap(),
            Request::Trace {
                target: "#3".into(),
                duration: None
            }
        );
        assert_eq!(
            parse_request(r#"{"v":1,"cmd":"delete","id":7}"#).unwrap(),
            Request::Delete { id: 7 }
        );
        assert!(
            parse_request(r#"{"v":1,"cmd":"mute","name":"a","duration":"10"}"#)
                .unwrap_err()
                .contains("sans unité")
        );
    }

    /// What scripts and older consoles send keeps its meaning.
    #[test]
    fn version_1_requests_from_older_clients_still_parse() {
        let old = |line: &str| parse_request(line).unwrap();
        assert_eq!(
            old(r#"{"v":1,"cmd":"shutdown","delay":"5m","message":"maj"}"#),
            Request::Shutdown {
                delay: When::In(Span::from_secs(300).unwrap()),
                message: Some("maj".into())
            }
        );
        assert_eq!(
            old(r#"{"v":1,"cmd":"shutdown","delay":"0"}"#),
            Request::Shutdown {
                delay: When::Now,
                message: None
            }
        );
        assert_eq!(
            old(r#"{"v":1,"cmd":"shutdown","delay":"annuler"}"#),
            Request::Shutdown {
                delay: When::Cancel,
                message: None
            }
        );
        assert_eq!(
            old(r#"{"v":1,"cmd":"ban","target":"eve","duration":"permanent"}"#),
            Request::Ban {
                target: "eve".into(),
                duration: BanLength::Permanent,
                reason: None
            }
        );
        assert_eq!(
            old(r#"{"v":1,"cmd":"ban","target":"eve","duration":600,"reason":null}"#),
            Request::Ban {
                target: "eve".into(),
                duration: BanLength::For(Span::from_secs(600).unwrap()),
                reason: None
            }
        );
    }

    #[test]
    fn bad_requests_get_french_reasons() {
        for (line, expected) in [
            ("nope", "illisible"),
            (r#"{"cmd":"who"}"#, "version"),
            (r#"{"v":2,"cmd":"who"}"#, "Version du protocole 2"),
            (r#"{"v":1,"cmd":"dance"}"#, "Commande inconnue : « dance »"),
            (r#"{"v":1,"cmd":"kick"}"#, "« kick » invalide"),
            (
                r#"{"v":1,"cmd":"kick","name":"a","resaon":"x"}"#,
                "« kick » invalide",
            ),
            (
                r#"{"v":1,"cmd":"ban","target":"a","duration":"10"}"#,
                "« 10 » sans unité",
            ),
        ] {
            let error = parse_request(line).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn replies_are_ok_with_text_and_data_or_an_error() {
        let ok = Reply::ok("fait", serde_json::json!({"n":1})).to_line();
        assert_eq!(
            ok,
            "{\"v\":1,\"ok\":true,\"text\":\"fait\",\"data\":{\"n\":1}}\n"
        );
        let error = Reply::error("non").to_line();
        assert_eq!(error, "{\"v\":1,\"ok\":false,\"error\":\"non\"}\n");
    }
}
