//! The French summaries the console prints (`text` of a reply); the same facts go in `data` for
//! scripts. Tables are padded by characters, so accented names line up.

use serde::Serialize;

use crate::store::bans::{BanKind, BanRecord};
use crate::store::moderation::MuteRecord;

/// One connection in `who`.
#[derive(Debug, Clone, Serialize)]
pub struct WhoRow {
    pub id: u64,
    pub name: Option<String>,
    /// `anonymous`, `guest` or `account`.
    pub kind: &'static str,
    /// `tcp` (the students' clients) or `websocket` (the browser page).
    pub transport: &'static str,
    pub ip: String,
    pub state: &'static str,
    pub channels: Vec<String>,
    /// Local time, `AAAA-MM-JJ HH:MM:SS`.
    pub since: String,
    pub since_unix: u64,
    pub messages: u64,
}

/// One channel in `channels`.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelRow {
    pub name: String,
    pub members: usize,
    pub closed: bool,
    pub permanent: bool,
    /// Slow mode: seconds between two lines of one person (0: none).
    pub slow_secs: u32,
}

/// A presence state as a French reader says it (`data` keeps the protocol's word).
fn state_fr(state: &str) -> &str {
    match state {
        "online" => "en ligne",
        "away" => "absent",
        "dnd" => "ne pas déranger",
        "invisible" => "invisible",
        other => other,
    }
}

fn kind_fr(kind: &str) -> &'static str {
    match kind {
        "guest" => "invité",
        "account" => "compte",
        _ => "anonyme",
    }
}

fn transport_fr(transport: &str) -> &'static str {
    match transport {
        "websocket" => "navigateur",
        _ => "tcp",
    }
}

/// Security lines shown by `events` (the JSON reply has every line kept).
const EVENTS_SHOWN: usize = 30;

pub fn events(events: &[crate::logging::recent::RecentEvent]) -> String {
    if events.is_empty() {
        return "Aucun événement de sécurité depuis le démarrage.".into();
    }
    let skipped = events.len().saturating_sub(EVENTS_SHOWN);
    let mut lines = vec![if skipped > 0 {
        format!(
            "{} derniers événements de sécurité (sur {} gardés ; --json pour tous) :",
            EVENTS_SHOWN,
            events.len()
        )
    } else {
        format!("{} événement(s) de sécurité :", events.len())
    }];
    for event in &events[skipped..] {
        let t = crate::clock::local_time(event.unix, 0);
        lines.push(format!(
            "  {:04}-{:02}-{:02} {:02}:{:02}:{:02}  {} {}",
            t.year, t.month, t.day, t.hour, t.minute, t.second, event.tag, event.line
        ));
    }
    lines.join("\n")
}

/// Lines of cells as a table with a header, each column padded to its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (at, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(at) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from(" ");
        for (at, cell) in cells.iter().enumerate() {
            out.push(' ');
            out.push_str(cell);
            if at + 1 < cells.len() {
                let pad = widths[at].saturating_sub(cell.chars().count());
                out.push_str(&" ".repeat(pad + 1));
            }
        }
        out.trim_end().to_owned()
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push('\n');
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

pub fn who(rows: &[WhoRow]) -> String {
    if rows.is_empty() {
        return "Aucune connexion.".into();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                format!("#{}", row.id),
                row.name.clone().unwrap_or_else(|| "-".into()),
                kind_fr(row.kind).into(),
                transport_fr(row.transport).into(),
                row.ip.clone(),
                state_fr(row.state).into(),
                row.channels.join(", "),
                row.since.clone(),
                row.messages.to_string(),
            ]
        })
        .collect();
    let header = [
        "n°", "nom", "type", "accès", "adresse", "état", "salons", "depuis", "messages",
    ];
    format!("{} connexion(s) :\n{}", rows.len(), table(&header, &cells))
}

pub fn channels(rows: &[ChannelRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut notes = Vec::new();
            if row.closed {
                notes.push("fermé".to_owned());
            }
            if row.permanent {
                notes.push("créé par l'administrateur".to_owned());
            }
            if row.slow_secs > 0 {
                notes.push(format!(
                    "mode lent : {}",
                    classcord_core::hub::describe_secs(u64::from(row.slow_secs))
                ));
            }
            vec![row.name.clone(), row.members.to_string(), notes.join(", ")]
        })
        .collect();
    format!(
        "{} salon(s) :\n{}",
        rows.len(),
        table(&["salon", "membres", "remarques"], &cells)
    )
}

/// `AAAA-MM-JJ HH:MM` in local time.
pub fn local_minute(unix: u64) -> String {
    let t = crate::clock::local_time(unix, 0);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

pub fn bans(bans: &[BanRecord]) -> String {
    if bans.is_empty() {
        return "Aucun bannissement en cours.".into();
    }
    let cells: Vec<Vec<String>> = bans
        .iter()
        .map(|ban| {
            vec![
                ban.target.clone(),
                match ban.kind {
                    BanKind::Name => "nom".into(),
                    BanKind::Address => "adresse".into(),
                },
                local_minute(ban.created_unix),
                ban.until_unix
                    .map_or_else(|| "définitif".into(), local_minute),
                ban.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "{} bannissement(s) :\n{}",
        bans.len(),
        table(&["cible", "type", "depuis", "jusqu'à", "raison"], &cells)
    )
}

pub fn mutes(mutes: &[MuteRecord]) -> String {
    if mutes.is_empty() {
        return "Personne n'est privé de parole.".into();
    }
    let cells: Vec<Vec<String>> = mutes
        .iter()
        .map(|mute| {
            vec![
                mute.name.clone(),
                local_minute(mute.created_unix),
                local_minute(mute.until_unix),
                mute.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "{} personne(s) privée(s) de parole :\n{}",
        mutes.len(),
        table(&["nom", "depuis", "jusqu'à", "raison"], &cells)
    )
}

/// Bytes as `12,3 Mio`.
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 4] = ["o", "Kio", "Mio", "Gio"];
    let mut amount = value as f64;
    let mut unit = 0;
    while amount >= 1024.0 && unit + 1 < UNITS.len() {
        amount /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} o")
    } else {
        format!("{amount:.1} {}", UNITS[unit]).replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up_accented_cells() {
        let text = table(
            &["nom", "n"],
            &[
                vec!["zoé".into(), "1".into()],
                vec!["bob".into(), "22".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        let column = |line: &str, c: char| line.chars().position(|x| x == c);
        assert_eq!(column(lines[1], '1'), column(lines[2], '2'));
        assert_eq!(bytes(1536), "1,5 Kio");
        assert_eq!(bytes(12), "12 o");
        assert_eq!(state_fr("online"), "en ligne");
        assert_eq!(state_fr("dnd"), "ne pas déranger");
    }
}
