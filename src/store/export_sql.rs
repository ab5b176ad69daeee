//! `classcord export --format sql`: a script the real `sqlite3` loads as is
//! (`sqlite3 classe.db < export.sql`), in one transaction, with two tables:
//!
//! - `users (name, created, last_seen)`: every account (the filters apply to messages only);
//!   `created` is the registration time, `last_seen` the time of its last kept message (NULL if
//!   none: the server keeps no login times); `password_hash` (argon2id) only with
//!   `--avec-empreintes`;
//! - `messages (id, timestamp, sender, recipient, channel, content)`: the lines the other formats
//!   export, with NULL for the recipient of a channel line and the channel of a private line.
//!
//! Times are ISO 8601 in the server's local time, like the wire's `timestamp`, so SQLite's
//! `date()` and `strftime()` work on them. Every text is a SQL string literal with `'` doubled.
//! Line feeds stay as they are (legal inside a literal); the other control characters, which
//! `sqlite3` would mangle (it drops a `\r` before a line end and stops a string at NUL), are
//! written as `char(N)` joined with `||`, or, for a text full of them, as UTF-8 bytes in hex
//! (`CAST(X'..' AS TEXT)`), so every text loads byte for byte. The script drops and recreates its
//! two tables, so loading it again gives the same base.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use classcord_core::hub::SenderKind;
use redb::{ReadTransaction, ReadableTable, TableError};

use super::access::OpsError;
use super::export_row::Row;
use super::records;
use super::schema::MESSAGES;
use super::user_admin::list_users;
use super::user_key;

/// At most this many `||` pieces in one literal (SQLite limits expression depth to 1000).
const MAX_PIECES: usize = 64;

/// The header, the tables and every account, before the messages.
pub(super) fn begin(
    out: &mut dyn Write,
    out_name: &Path,
    txn: &ReadTransaction,
    db_path: &Path,
    password_hashes: bool,
) -> Result<(), OpsError> {
    let users = list_users(txn, db_path)?;
    let last_seen = last_messages(txn, db_path)?;
    let mut text = String::new();
    text.push_str(&format!(
        "-- ClassCord {} : export SQL pour SQLite.\n\
         -- Chargement : sqlite3 classe.db < export.sql\n\
         -- Heures : ISO 8601, heure locale du serveur. Recharger ce script recrée les deux tables.\n\
         BEGIN TRANSACTION;\n\
         DROP TABLE IF EXISTS messages;\n\
         DROP TABLE IF EXISTS users;\n\
         CREATE TABLE users (\n  \
           name TEXT PRIMARY KEY,\n  \
           created TEXT NOT NULL,\n  \
           last_seen TEXT{}\n);\n\
         CREATE TABLE messages (\n  \
           id INTEGER PRIMARY KEY,\n  \
           timestamp TEXT NOT NULL,\n  \
           sender TEXT NOT NULL,\n  \
           recipient TEXT,\n  \
           channel TEXT,\n  \
           content TEXT NOT NULL\n);\n",
        env!("CARGO_PKG_VERSION"),
        if password_hashes {
            ",\n  password_hash TEXT"
        } else {
            ""
        }
    ));
    for user in &users {
        let created = local_iso(user.created_unix);
        let last = last_seen.get(&user_key(&user.name));
        text.push_str("INSERT INTO users VALUES (");
        literal(&mut text, &user.name);
        text.push_str(", ");
        literal(&mut text, &created);
        text.push_str(", ");
        match last {
            Some(stamp) => literal(&mut text, stamp),
            None => text.push_str("NULL"),
        }
        if password_hashes {
            text.push_str(", ");
            literal(&mut text, &user.password_hash);
        }
        text.push_str(");\n");
    }
    out.write_all(text.as_bytes())
        .map_err(|e| OpsError::io("écriture impossible dans", out_name, e))
}

/// One `INSERT` for a kept line.
pub(super) fn row(out: &mut dyn Write, row: &Row<'_>) -> std::io::Result<()> {
    let mut text = format!("INSERT INTO messages VALUES ({}, ", row.id);
    literal(&mut text, row.timestamp);
    text.push_str(", ");
    literal(&mut text, row.from);
    for optional in [row.to, row.channel] {
        text.push_str(", ");
        if optional.is_empty() {
            text.push_str("NULL");
        } else {
            literal(&mut text, optional);
        }
    }
    text.push_str(", ");
    literal(&mut text, row.content);
    text.push_str(");\n");
    out.write_all(text.as_bytes())
}

/// Indexes for the usual questions (per channel, per sender, per day), then the commit.
pub(super) fn end(out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(
        b"CREATE INDEX messages_channel ON messages (channel);\n\
          CREATE INDEX messages_sender ON messages (sender);\n\
          CREATE INDEX messages_timestamp ON messages (timestamp);\n\
          COMMIT;\n",
    )?;
    out.flush()
}

/// The timestamp of each account's last kept line, by account key.
fn last_messages(
    txn: &ReadTransaction,
    db_path: &Path,
) -> Result<HashMap<String, String>, OpsError> {
    let mut last = HashMap::new();
    let messages = match txn.open_table(MESSAGES) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(last),
        Err(err) => return Err(OpsError::store(db_path, err)),
    };
    // In id order: the last one seen is the latest.
    for entry in messages.iter().map_err(|e| OpsError::store(db_path, e))? {
        let (id, value) = entry.map_err(|e| OpsError::store(db_path, e))?;
        let record =
            records::decode(id.value(), value.value()).map_err(|e| OpsError::store(db_path, e))?;
        if record.kind == SenderKind::Account {
            last.insert(record.from_key, record.timestamp);
        }
    }
    Ok(last)
}

/// `YYYY-MM-DDTHH:MM:SS`, the server's local time.
fn local_iso(unix: u64) -> String {
    let t = crate::clock::local_time(unix, 0);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Characters written as `char(N)`: the controls but the line feed and the tab, and DEL.
fn needs_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || c == '\u{7f}'
}

/// `text` as a SQL expression that evaluates to exactly `text` (see the module doc).
pub fn literal(out: &mut String, text: &str) {
    let pieces = text
        .chars()
        .zip(text.chars().skip(1).chain([' ']))
        .filter(|(c, next)| needs_char(*c) && !needs_char(*next))
        .count();
    if pieces > MAX_PIECES {
        out.push_str("CAST(X'");
        for byte in text.as_bytes() {
            out.push_str(&format!("{byte:02X}"));
        }
        out.push_str("' AS TEXT)");
        return;
    }
    let mut in_quote = false;
    let mut in_char = false;
    let mut first = true;
    for c in text.chars() {
        if needs_char(c) {
            if in_quote {
                out.push('\'');
                in_quote = false;
            }
            if in_char {
                out.push_str(&format!(",{}", u32::from(c)));
            } else {
                if !first {
                    out.push_str(" || ");
                }
                out.push_str(&format!("char({}", u32::from(c)));
                in_char = true;
            }
        } else {
            if in_char {
                out.push(')');
                in_char = false;
            }
            if !in_quote {
                if !first {
                    out.push_str(" || ");
                }
                out.push('\'');
                in_quote = true;
            }
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        first = false;
    }
    if in_char {
        out.push(')');
    }
    if in_quote || first {
        if first {
            out.push('\'');
        }
        out.push('\'');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> String {
        let mut out = String::new();
        literal(&mut out, text);
        out
    }

    #[test]
    fn texts_become_literals_that_mean_exactly_them() {
        assert_eq!(sql(""), "''");
        assert_eq!(sql("bonjour"), "'bonjour'");
        assert_eq!(sql("l'été"), "'l''été'");
        assert_eq!(
            sql("'); DROP TABLE users; --"),
            "'''); DROP TABLE users; --'"
        );
        assert_eq!(sql("a\nb\tc"), "'a\nb\tc'");
        assert_eq!(sql("a\r\nb"), "'a' || char(13) || '\nb'");
        assert_eq!(sql("\0"), "char(0)");
        assert_eq!(sql("x\u{1}\u{2}"), "'x' || char(1,2)");
        assert_eq!(sql("\u{1b}[31m"), "char(27) || '[31m'");
        assert_eq!(sql("😀 é"), "'😀 é'");
    }

    #[test]
    fn a_text_full_of_controls_is_written_in_hex() {
        let text = "a\u{1}".repeat(MAX_PIECES + 1);
        let out = sql(&text);
        assert!(out.starts_with("CAST(X'6101"), "{out}");
        assert!(out.ends_with("' AS TEXT)"));
        assert_eq!(
            sql(&"a\u{1}".repeat(MAX_PIECES)).matches("char(").count(),
            MAX_PIECES
        );
    }
}
