//! `classcord export`: the kept chat lines, in id order, as CSV, JSON or JSON Lines, with the
//! columns `id,timestamp,from,to,channel,content` (`to` empty for a channel line, `channel` empty
//! for a private line), or as a SQL script for SQLite (`export_sql.rs`: the same lines, and the
//! accounts). Everything comes from one read transaction: a consistent snapshot, even
//! while the server writes.
//!
//! Dates (`--since`, `--until`) are compared with the stored `timestamp` string, the server's local
//! time as the clients saw it (`YYYY-MM-DDTHH:MM:SS.ffffff`), at the precision given: `--until
//! 2026-12-01` keeps the whole day, `--until 2026-12-01T10:30` keeps 10:30:59. Comparing the text
//! means the filter matches what the file shows, whatever the time zone of the shell running the
//! command.
//!
//! CSV is written for spreadsheets: a UTF-8 byte order mark (without it Excel reads the file as
//! Windows-1252 and shows "Ã©" for "é"; LibreOffice and the `csv` crate accept it), and a cell
//! that starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`, so
//! that a student's `=HYPERLINK(...)` stays text when the teacher opens the file (OWASP "CSV
//! injection"). Both can be turned off (`--no-bom`, `--raw`) for scripts.

use std::io::Write;
use std::path::Path;

use super::export_row::Row;
use classcord_core::hub::{ChatRecord, Destination};
use classcord_core::message::ChannelName;
use redb::{ReadTransaction, ReadableTable, TableError};

use super::access::OpsError;
use super::records;
use super::schema::{CHANNEL_LINES, CREATED_CHANNELS, MESSAGES};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    JsonLines,
    /// A script for `sqlite3` (see `export_sql.rs`).
    Sql,
}

impl std::str::FromStr for Format {
    type Err = OpsError;

    fn from_str(text: &str) -> Result<Format, OpsError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            "sql" | "sqlite" => Ok(Format::Sql),
            _ => Err(OpsError::Invalid(format!(
                "format inconnu « {text} » : choisissez csv, json, jsonl ou sql"
            ))),
        }
    }
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    /// Only this channel's lines (normalised like the server does).
    pub channel: Option<ChannelName>,
    /// Lines at or after this local time (a prefix of the stored timestamp format).
    pub since: Option<String>,
    /// Lines at or before this local time, at its precision.
    pub until: Option<String>,
    /// CSV: start with a UTF-8 byte order mark.
    pub bom: bool,
    /// CSV: prefix formula-looking cells with `'`.
    pub formula_guard: bool,
    /// CSV field separator.
    pub delimiter: u8,
    /// SQL: the accounts' password hashes too.
    pub password_hashes: bool,
}

impl ExportOptions {
    pub fn new(format: Format) -> ExportOptions {
        ExportOptions {
            format,
            channel: None,
            since: None,
            until: None,
            bom: true,
            formula_guard: true,
            delimiter: b',',
            password_hashes: false,
        }
    }
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` (a space may replace the `T`) into the prefix
/// of the stored timestamp format it stands for.
pub fn parse_date(text: &str) -> Result<String, OpsError> {
    let invalid = || {
        OpsError::Invalid(format!(
            "date invalide « {text} » : formats acceptés AAAA-MM-JJ ou AAAA-MM-JJTHH:MM[:SS] \
             (heure locale du serveur), par exemple 2026-12-01 ou 2026-12-01T08:30"
        ))
    };
    let trimmed = text.trim();
    let (date, time) = match trimmed.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (trimmed, None),
    };
    let number = |part: &str, digits: usize| -> Option<u32> {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let (year, month, day) = (
        number(y, 4).ok_or_else(invalid)?,
        number(m, 2).ok_or_else(invalid)?,
        number(d, 2).ok_or_else(invalid)?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(invalid());
    }
    let mut prefix = format!("{year:04}-{month:02}-{day:02}");
    if let Some(time) = time {
        let fields: Vec<&str> = time.split(':').collect();
        if !(2..=3).contains(&fields.len()) {
            return Err(invalid());
        }
        let limits = [23, 59, 59];
        for (field, limit) in fields.iter().zip(limits) {
            let value = number(field, 2).ok_or_else(invalid)?;
            if value > limit {
                return Err(invalid());
            }
        }
        prefix.push('T');
        prefix.push_str(&fields.join(":"));
    }
    Ok(prefix)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The channels the snapshot knows (lines kept for them, or created by the operator), as their
/// keys (`#général`, `#maths`), sorted: `export --channel` warns when its channel is not one.
pub fn known_channels(txn: &ReadTransaction, db_path: &Path) -> Result<Vec<String>, OpsError> {
    let mut known = std::collections::BTreeSet::new();
    match txn.open_table(CHANNEL_LINES) {
        Ok(lines) => {
            // One range query per channel: jump past each channel's lines to the next one.
            let mut from = String::new();
            loop {
                let next = lines
                    .range((from.as_str(), 0)..)
                    .map_err(|e| OpsError::store(db_path, e))?
                    .next();
                let Some(entry) = next else { break };
                let (key, _) = entry.map_err(|e| OpsError::store(db_path, e))?;
                let channel = key.value().0.to_owned();
                from = format!("{channel}\0");
                known.insert(channel);
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(err) => return Err(OpsError::store(db_path, err)),
    }
    match txn.open_table(CREATED_CHANNELS) {
        Ok(created) => {
            for entry in created.iter().map_err(|e| OpsError::store(db_path, e))? {
                let (key, _) = entry.map_err(|e| OpsError::store(db_path, e))?;
                known.insert(key.value().to_owned());
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(err) => return Err(OpsError::store(db_path, err)),
    }
    Ok(known.into_iter().collect())
}

const COLUMNS: [&str; 6] = ["id", "timestamp", "from", "to", "channel", "content"];

impl ExportOptions {
    fn keeps(&self, record: &ChatRecord) -> bool {
        if let Some(channel) = &self.channel {
            match &record.destination {
                Destination::Channel { key, .. } if *key == channel.key => {}
                _ => return false,
            }
        }
        let stamp = record.timestamp.as_str();
        if let Some(since) = &self.since {
            if stamp < since.as_str() {
                return false;
            }
        }
        if let Some(until) = &self.until {
            if stamp.get(..until.len()).unwrap_or(stamp) > until.as_str() {
                return false;
            }
        }
        true
    }
}

/// Writes the selected lines of the snapshot `txn` to `out`; returns how many. `out_name` names
/// the output in error messages. A database from before chat lines were kept exports nothing.
pub fn export(
    txn: &ReadTransaction,
    db_path: &Path,
    options: &ExportOptions,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<u64, OpsError> {
    let write_error = |e: std::io::Error| OpsError::io("écriture impossible dans", out_name, e);
    if options.format == Format::Sql {
        super::export_sql::begin(out, out_name, txn, db_path, options.password_hashes)?;
    }
    let mut sink = Sink::new(options, out).map_err(write_error)?;
    let messages = match txn.open_table(MESSAGES) {
        Ok(table) => Some(table),
        Err(TableError::TableDoesNotExist(_)) => None,
        Err(err) => return Err(OpsError::store(db_path, err)),
    };
    let mut count = 0;
    if let Some(messages) = messages {
        for entry in messages.iter().map_err(|e| OpsError::store(db_path, e))? {
            let (id, value) = entry.map_err(|e| OpsError::store(db_path, e))?;
            let record = records::decode(id.value(), value.value())
                .map_err(|e| OpsError::store(db_path, e))?;
            if options.keeps(&record) {
                sink.row(&record).map_err(write_error)?;
                count += 1;
            }
        }
    }
    sink.finish().map_err(write_error)?;
    Ok(count)
}

/// [`export`] into the file `out`: written under a temporary name (owner-only: it holds private
/// messages), then renamed, so a failure never leaves half a file behind.
pub fn export_to_file(
    txn: &ReadTransaction,
    db_path: &Path,
    options: &ExportOptions,
    out: &Path,
) -> Result<u64, OpsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".to_owned());
    let temp = out.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| OpsError::io("impossible de créer", &temp, e))?;
    let mut writer = std::io::BufWriter::new(file);
    let result = export(txn, db_path, options, &mut writer, out).and_then(|count| {
        let file = writer
            .into_inner()
            .map_err(|e| OpsError::io("écriture impossible dans", out, e.into_error()))?;
        file.sync_all()
            .map_err(|e| OpsError::io("écriture impossible dans", out, e))?;
        std::fs::rename(&temp, out).map_err(|e| OpsError::io("impossible d'écrire", out, e))?;
        Ok(count)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

enum Sink<'a> {
    Csv {
        writer: Box<csv::Writer<&'a mut dyn Write>>,
        guard: bool,
    },
    Json {
        out: &'a mut dyn Write,
        first: bool,
    },
    JsonLines(&'a mut dyn Write),
    Sql(&'a mut dyn Write),
}

fn csv_error(err: csv::Error) -> std::io::Error {
    match err.into_kind() {
        csv::ErrorKind::Io(err) => err,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
fn guarded(text: &str, guard: bool) -> std::borrow::Cow<'_, str> {
    if guard && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

impl<'a> Sink<'a> {
    fn new(options: &ExportOptions, out: &'a mut dyn Write) -> std::io::Result<Sink<'a>> {
        Ok(match options.format {
            Format::Csv => {
                if options.bom {
                    out.write_all("\u{feff}".as_bytes())?;
                }
                let mut writer = csv::WriterBuilder::new()
                    .delimiter(options.delimiter)
                    .from_writer(out);
                writer.write_record(COLUMNS).map_err(csv_error)?;
                Sink::Csv {
                    writer: Box::new(writer),
                    guard: options.formula_guard,
                }
            }
            Format::Json => {
                out.write_all(b"[")?;
                Sink::Json { out, first: true }
            }
            Format::JsonLines => Sink::JsonLines(out),
            Format::Sql => Sink::Sql(out),
        })
    }

    fn row(&mut self, record: &ChatRecord) -> std::io::Result<()> {
        let (to, channel) = match &record.destination {
            Destination::Channel { display, .. } => ("", display.as_str()),
            Destination::Private { to, .. } => (to.as_str(), ""),
        };
        let row = Row {
            id: record.id,
            timestamp: &record.timestamp,
            from: &record.from,
            to,
            channel,
            content: &record.content,
        };
        match self {
            Sink::Csv { writer, guard } => {
                let id = row.id.to_string();
                writer
                    .write_record([
                        id.as_str(),
                        row.timestamp,
                        &guarded(row.from, *guard),
                        &guarded(row.to, *guard),
                        &guarded(row.channel, *guard),
                        &guarded(row.content, *guard),
                    ])
                    .map_err(csv_error)
            }
            Sink::Json { out, first } => {
                out.write_all(if *first { b"\n" } else { b",\n" })?;
                *first = false;
                serde_json::to_writer(&mut **out, &row)?;
                Ok(())
            }
            Sink::JsonLines(out) => {
                serde_json::to_writer(&mut **out, &row)?;
                out.write_all(b"\n")
            }
            Sink::Sql(out) => super::export_sql::row(&mut **out, &row),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Csv { mut writer, .. } => writer.flush(),
            Sink::Json { out, first } => {
                out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
                out.flush()
            }
            Sink::JsonLines(out) => out.flush(),
            Sink::Sql(out) => super::export_sql::end(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_timestamp_prefixes() {
        assert_eq!(parse_date("2026-12-01").unwrap(), "2026-12-01");
        assert_eq!(parse_date("2026-12-01T08:30").unwrap(), "2026-12-01T08:30");
        assert_eq!(
            parse_date(" 2026-12-01 08:30:05 ").unwrap(),
            "2026-12-01T08:30:05"
        );
        assert_eq!(parse_date("2024-02-29").unwrap(), "2024-02-29");
        for bad in [
            "",
            "hier",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-1-01",
            "01/12/2026",
            "2026-12-01T24:00",
            "2026-12-01T08",
            "2026-12-01T08:60",
            "2026-12-01T08:30:61",
            "2026-12-01T08:30:00:00",
            "2026-12-01-02",
            "２０２６-12-01",
        ] {
            let err = parse_date(bad).expect_err(bad).to_string();
            assert!(err.starts_with("date invalide"), "{err}");
        }
    }

    #[test]
    fn formats_parse_in_any_case() {
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        assert_eq!("jsonl".parse::<Format>().unwrap(), Format::JsonLines);
        assert_eq!("SQL".parse::<Format>().unwrap(), Format::Sql);
        assert!("xml"
            .parse::<Format>()
            .unwrap_err()
            .to_string()
            .contains("csv, json, jsonl ou sql"));
    }

    #[test]
    fn until_is_inclusive_at_its_precision() {
        let mut options = ExportOptions::new(Format::Csv);
        options.since = Some("2026-12-01T10:30".into());
        options.until = Some("2026-12-01T10:31".into());
        let mut record = ChatRecord {
            id: 1,
            unix_micros: 0,
            timestamp: "2026-12-01T10:29:59.999999".into(),
            from: "a".into(),
            from_key: "a".into(),
            kind: classcord_core::hub::SenderKind::Guest,
            destination: Destination::Channel {
                key: "#général".into(),
                display: "#général".into(),
            },
            content: String::new(),
        };
        let mut kept = Vec::new();
        for stamp in [
            "2026-12-01T10:29:59.999999",
            "2026-12-01T10:30:00.000000",
            "2026-12-01T10:31:59.999999",
            "2026-12-01T10:32:00.000000",
        ] {
            record.timestamp = stamp.into();
            kept.push(options.keeps(&record));
        }
        assert_eq!(kept, [false, true, true, false]);
    }

    #[test]
    fn formula_cells_are_guarded() {
        assert_eq!(guarded("=1+1", true), "'=1+1");
        assert_eq!(guarded("-2+3", true), "'-2+3");
        assert_eq!(guarded("@SUM(A1)", true), "'@SUM(A1)");
        assert_eq!(guarded("bonjour = salut", true), "bonjour = salut");
        assert_eq!(guarded("=1+1", false), "=1+1");
    }
}
