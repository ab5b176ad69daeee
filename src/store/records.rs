//! The on-disk form of a kept chat line (`messages` table values). A compact binary layout, not
//! JSON: the store thread writes every relayed line, and this costs a few hundred nanoseconds.
//!
//! Layout (version 1): `1u8`, unix micros (u64 LE), sender kind (0 guest, 1 account),
//! destination (0 channel, 1 private), then length-prefixed (u32 LE) UTF-8 strings: timestamp,
//! from, from key, content, and for a channel its key and display name, for a private line the
//! recipient, its key and the conversation key (empty: none).

use classcord_core::hub::{ChatRecord, Destination, SenderKind};

use super::StoreError;

const FORMAT: u8 = 1;

pub(super) fn encode(record: &ChatRecord, out: &mut Vec<u8>) {
    out.clear();
    out.push(FORMAT);
    out.extend_from_slice(&record.unix_micros.to_le_bytes());
    out.push(match record.kind {
        SenderKind::Guest => 0,
        SenderKind::Account => 1,
    });
    let strings: [&str; 3] = match &record.destination {
        Destination::Channel { key, display } => {
            out.push(0);
            [key, display, ""]
        }
        Destination::Private {
            to,
            to_key,
            conversation,
        } => {
            out.push(1);
            [to, to_key, conversation.as_deref().unwrap_or("")]
        }
    };
    for text in [
        record.timestamp.as_str(),
        &record.from,
        &record.from_key,
        &record.content,
    ] {
        push_str(out, text);
    }
    let count = if matches!(record.destination, Destination::Channel { .. }) {
        2
    } else {
        3
    };
    for text in &strings[..count] {
        push_str(out, text);
    }
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    // A line is capped far below 4 GiB (the line cap is at most 16 MiB).
    let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..length as usize]);
}

/// Decodes a `messages` value; `id` is its key. A value that does not decode is
/// [`StoreError::Corrupt`], never a panic.
pub(super) fn decode(id: u64, bytes: &[u8]) -> Result<ChatRecord, StoreError> {
    let corrupt = |what: &str| {
        StoreError::Corrupt(format!(
            "table \"messages\", key {id}: {what} (record of {} bytes)",
            bytes.len()
        ))
    };
    let mut reader = Reader { bytes, at: 0 };
    if reader.byte().ok_or_else(|| corrupt("empty"))? != FORMAT {
        return Err(corrupt("unknown record format"));
    }
    let unix_micros = reader.u64().ok_or_else(|| corrupt("truncated time"))?;
    let kind = match reader.byte() {
        Some(0) => SenderKind::Guest,
        Some(1) => SenderKind::Account,
        _ => return Err(corrupt("bad sender kind")),
    };
    let channel = match reader.byte() {
        Some(0) => true,
        Some(1) => false,
        _ => return Err(corrupt("bad destination")),
    };
    let mut text = || {
        reader
            .string()
            .ok_or_else(|| corrupt("truncated or invalid text"))
    };
    let timestamp = text()?;
    let from = text()?;
    let from_key = text()?;
    let content = text()?;
    let destination = if channel {
        Destination::Channel {
            key: text()?,
            display: text()?,
        }
    } else {
        let to = text()?;
        let to_key = text()?;
        let conversation = Some(text()?).filter(|key| !key.is_empty());
        Destination::Private {
            to,
            to_key,
            conversation,
        }
    };
    Ok(ChatRecord {
        id,
        unix_micros,
        timestamp,
        from,
        from_key,
        kind,
        destination,
        content,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, count: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(count)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let length = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        let bytes = self.take(usize::try_from(length).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(destination: Destination) -> ChatRecord {
        ChatRecord {
            id: 42,
            unix_micros: 1_764_000_000_123_456,
            timestamp: "2026-11-25T09:05:07.123456".into(),
            from: "Zoé".into(),
            from_key: "zoé".into(),
            kind: SenderKind::Guest,
            destination,
            content: "ligne, \"citée\"\net 🎉".into(),
        }
    }

    #[test]
    fn channel_and_private_records_round_trip() {
        let mut bytes = Vec::new();
        for record in [
            sample(Destination::Channel {
                key: "#général".into(),
                display: "#général".into(),
            }),
            sample(Destination::Private {
                to: "Bob".into(),
                to_key: "bob".into(),
                conversation: Some("bob\u{0}zoé".into()),
            }),
            sample(Destination::Private {
                to: "Bob".into(),
                to_key: "bob".into(),
                conversation: None,
            }),
        ] {
            encode(&record, &mut bytes);
            assert_eq!(decode(42, &bytes).expect("decodes"), record);
        }
    }

    #[test]
    fn every_truncation_is_corrupt_not_a_panic() {
        let mut bytes = Vec::new();
        encode(
            &sample(Destination::Channel {
                key: "k".into(),
                display: "d".into(),
            }),
            &mut bytes,
        );
        for end in 0..bytes.len() {
            assert!(matches!(
                decode(7, &bytes[..end]),
                Err(StoreError::Corrupt(_))
            ));
        }
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        assert!(decode(7, &wrong).is_err());
    }
}
