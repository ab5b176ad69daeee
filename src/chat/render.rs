//! How events look, in French: one text per event (a `history` reply gives several), tagged with
//! its kind so the terminal can colour it. Text from the network is made safe to print: control
//! and invisible characters become `�` (a message cannot move the cursor or recolour the screen).

use classcord_core::message::is_hidden_char;

use super::wire::{ChatLine, Event, SERVER_NAME};

/// What an output line is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Notice,
    Private,
    Presence,
    Error,
    Info,
    /// A raw JSON line (`--brut`).
    Raw,
}

/// One line (or block) to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub kind: Kind,
    pub text: String,
    /// Prefixed with the time of reception (not the items of a history, which carry their own).
    pub timed: bool,
}

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours (a terminal without NO_COLOR).
    pub colour: bool,
    /// One output line per event (pipe mode): a newline inside a message is shown as ` ⏎ `.
    pub one_line: bool,
}

impl Style {
    /// The line as printed: `HH:MM ` (local time) before the text, coloured by kind.
    pub fn paint(&self, shown: &Shown, clock: &str) -> String {
        let text = if clock.is_empty() || !shown.timed {
            shown.text.clone()
        } else {
            format!("{clock} {}", shown.text)
        };
        let code = match shown.kind {
            Kind::Chat | Kind::Info => None,
            Kind::Notice => Some("33"),
            Kind::Private => Some("35"),
            Kind::Presence => Some("32"),
            Kind::Error => Some("31"),
            Kind::Raw => Some("2"),
        };
        match code {
            Some(code) if self.colour => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text,
        }
    }

    /// Network text made safe to print (see the module doc); newlines kept or shown as ` ⏎ `.
    pub fn clean(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '\n' if self.one_line => out.push_str(" ⏎ "),
                '\n' => out.push_str("\n      "),
                '\r' => {}
                c if c.is_control() || is_hidden_char(c) => out.push('\u{FFFD}'),
                c => out.push(c),
            }
        }
        out
    }
}

/// The French lines for one event; empty when nothing needs showing.
pub fn render(event: &Event, style: &Style) -> Vec<Shown> {
    let shown = |kind, text: String| {
        vec![Shown {
            kind,
            text,
            timed: true,
        }]
    };
    let clean = |text: &str| style.clean(text);
    match event {
        Event::Hello { .. } | Event::Kicked(_) | Event::ShuttingDown(_) => Vec::new(),
        Event::LoggedIn { username } => shown(
            Kind::Info,
            format!("Connecté(e) avec le compte « {} ».", clean(username)),
        ),
        Event::Registered => shown(Kind::Info, "Compte créé.".into()),
        Event::Chat(line) => {
            let kind = if line.notice {
                Kind::Notice
            } else if line.private {
                Kind::Private
            } else {
                Kind::Chat
            };
            shown(kind, chat_text(line, style))
        }
        Event::Presence { user, state } => shown(Kind::Presence, presence(&clean(user), state)),
        Event::Users(users) => shown(
            Kind::Info,
            format!("En ligne ({}) : {}", users.len(), list(users, style)),
        ),
        Event::Who { channel, users } => shown(
            Kind::Info,
            format!(
                "Dans {} ({}) : {}",
                clean(channel),
                users.len(),
                list(users, style)
            ),
        ),
        Event::Channels(channels) => {
            let items: Vec<String> = channels
                .iter()
                .map(|c| {
                    let closed = if c.closed { ", fermé" } else { "" };
                    format!("{} ({}{closed})", clean(&c.name), c.members)
                })
                .collect();
            shown(Kind::Info, format!("Salons : {}", items.join(", ")))
        }
        Event::Joined { channel } => shown(
            Kind::Info,
            format!("Vous avez rejoint {} (salon courant).", clean(channel)),
        ),
        Event::Left { channel } => {
            shown(Kind::Info, format!("Vous avez quitté {}.", clean(channel)))
        }
        Event::History {
            channel,
            with,
            messages,
        } => {
            let whose = match (channel, with) {
                (_, Some(with)) => format!("avec {}", clean(with)),
                (Some(channel), None) => format!("de {}", clean(channel)),
                (None, None) => String::new(),
            };
            if messages.is_empty() {
                return shown(Kind::Info, format!("Historique {whose} : aucun message."));
            }
            let mut lines = shown(
                Kind::Info,
                format!("Historique {whose} ({} message(s)) :", messages.len()),
            );
            for item in messages {
                let when = item.timestamp.as_deref().map(stamp).unwrap_or_default();
                lines.push(Shown {
                    kind: if item.private {
                        Kind::Private
                    } else {
                        Kind::Chat
                    },
                    text: format!("  {when} {}", chat_text(item, style)),
                    timed: false,
                });
            }
            lines
        }
        Event::Pong => shown(Kind::Info, "pong".into()),
        Event::Error(text) => shown(Kind::Error, format!("Erreur : {}", clean(text))),
        Event::Other(line) => shown(Kind::Raw, format!("(ligne non reconnue) {}", clean(line))),
    }
}

fn chat_text(line: &ChatLine, style: &Style) -> String {
    let content = style.clean(&line.content);
    let from = style.clean(&line.from);
    let place = match &line.channel {
        Some(channel) if !is_default_channel(channel) => format!("{} ", style.clean(channel)),
        _ => String::new(),
    };
    if line.notice {
        return format!("{place}*** {content}");
    }
    if line.private {
        let to = line
            .to
            .as_deref()
            .map(|to| style.clean(to))
            .unwrap_or_default();
        let late = match (&line.deferred, &line.timestamp) {
            (true, Some(when)) => format!(", gardé pour vous depuis le {}", stamp(when)),
            (true, None) => ", gardé pour vous".into(),
            _ => String::new(),
        };
        return format!("[privé] {from} → {to}{late} : {content}");
    }
    if line.from == SERVER_NAME {
        return format!("*** {content}");
    }
    format!("{place}<{from}> {content}")
}

/// `2026-12-07T10:02:03.000001` -> `07/12 10:02` (the server's local time).
fn stamp(timestamp: &str) -> String {
    let part = |range: std::ops::Range<usize>| timestamp.get(range).unwrap_or("");
    let (day, month, time) = (part(8..10), part(5..7), part(11..16));
    if day.is_empty() || time.is_empty() {
        return timestamp.chars().filter(|c| !c.is_control()).collect();
    }
    format!("{day}/{month} {time}")
}

fn presence(user: &str, state: &str) -> String {
    match state {
        "online" => format!("{user} est en ligne"),
        "offline" => format!("{user} s'est déconnecté(e)"),
        "away" => format!("{user} est absent(e)"),
        "dnd" => format!("{user} ne veut pas être dérangé(e)"),
        "invisible" => format!("{user} est invisible"),
        other => format!("{user} : état « {} »", other.escape_debug()),
    }
}

fn list(names: &[String], style: &Style) -> String {
    let names: Vec<String> = names.iter().map(|name| style.clean(name)).collect();
    names.join(", ")
}

fn is_default_channel(channel: &str) -> bool {
    classcord_core::message::ChannelName::parse(channel).is_ok_and(|name| name.is_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style {
        colour: false,
        one_line: true,
    };

    fn one(line: &str) -> Shown {
        let mut shown = render(&Event::parse(line), &PLAIN);
        assert_eq!(shown.len(), 1, "{line}: {shown:?}");
        shown.remove(0)
    }

    #[test]
    fn each_kind_reads_in_french() {
        let chat = one(
            r##"{"type":"message","subtype":"global","from":"bob","content":"salut","channel":"#projet"}"##,
        );
        assert_eq!(
            (chat.kind, chat.text.as_str()),
            (Kind::Chat, "#projet <bob> salut")
        );
        let general = one(
            r##"{"type":"message","subtype":"global","from":"bob","content":"yo","channel":"#général"}"##,
        );
        assert_eq!(general.text, "<bob> yo");
        let private = one(
            r#"{"type":"message","subtype":"private","from":"amy","to":"ynes","content":"psst"}"#,
        );
        assert_eq!(
            (private.kind, private.text.as_str()),
            (Kind::Private, "[privé] amy → ynes : psst")
        );
        let kept = one(
            r#"{"type":"message","subtype":"private","from":"amy","to":"ynes","content":"psst","deferred":true,"timestamp":"2026-12-07T10:02:03.000001"}"#,
        );
        assert!(
            kept.text.contains("gardé pour vous depuis le 07/12 10:02"),
            "{}",
            kept.text
        );
        let notice = one(
            r#"{"type":"message","subtype":"global","from":"Serveur","content":"Bienvenue","system":true}"#,
        );
        assert_eq!(
            (notice.kind, notice.text.as_str()),
            (Kind::Notice, "*** Bienvenue")
        );
        let away = one(r#"{"type":"status","user":"bob","state":"away"}"#);
        assert_eq!(
            (away.kind, away.text.as_str()),
            (Kind::Presence, "bob est absent(e)")
        );
        assert_eq!(
            one(r#"{"type":"status","user":"bob","state":"offline"}"#).text,
            "bob s'est déconnecté(e)"
        );
        assert_eq!(
            one(r#"{"type":"users","users":["a","b"]}"#).text,
            "En ligne (2) : a, b"
        );
        let error = one(r#"{"type":"error","message":"JSON invalide","error":"JSON invalide"}"#);
        assert_eq!(
            (error.kind, error.text.as_str()),
            (Kind::Error, "Erreur : JSON invalide")
        );
        assert!(render(&Event::parse(r#"{"type":"hello","features":[]}"#), &PLAIN).is_empty());
    }

    #[test]
    fn history_lists_each_message_with_its_date() {
        let shown = render(
            &Event::parse(
                r##"{"type":"history","channel":"#p","messages":[{"id":1,"from":"a","content":"x","timestamp":"2026-12-07T09:05:00.000000","subtype":"global","channel":"#p"}]}"##,
            ),
            &PLAIN,
        );
        assert_eq!(shown[0].text, "Historique de #p (1 message(s)) :");
        assert_eq!(shown[1].text, "  07/12 09:05 #p <a> x");
        assert_eq!(PLAIN.paint(&shown[1], "10:00"), "  07/12 09:05 #p <a> x");
        assert_eq!(
            PLAIN.paint(&shown[0], "10:00"),
            "10:00 Historique de #p (1 message(s)) :"
        );
    }

    #[test]
    fn network_text_cannot_drive_the_terminal() {
        let line = r#"{"type":"message","subtype":"global","from":"e\u001b[2Jvil","content":"a\u001b[31mb\u202ec\nd"}"#;
        let shown = one(line);
        assert!(
            !shown.text.chars().any(|c| c.is_control()),
            "{:?}",
            shown.text
        );
        assert_eq!(shown.text, "<e�[2Jvil> a�[31mb�c ⏎ d");
        let multi = render(
            &Event::parse(line),
            &Style {
                colour: false,
                one_line: false,
            },
        );
        assert!(multi[0].text.contains("c\n      d"));
    }

    #[test]
    fn colours_only_when_asked() {
        let notice = Shown {
            kind: Kind::Notice,
            text: "x".into(),
            timed: true,
        };
        assert_eq!(PLAIN.paint(&notice, "10:00"), "10:00 x");
        let coloured = Style {
            colour: true,
            one_line: false,
        };
        assert_eq!(coloured.paint(&notice, "10:00"), "\x1b[33m10:00 x\x1b[0m");
        let chat = Shown {
            kind: Kind::Chat,
            text: "x".into(),
            timed: true,
        };
        assert_eq!(coloured.paint(&chat, ""), "x");
    }
}
