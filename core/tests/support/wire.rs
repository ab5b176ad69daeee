//! Invariants of the framing layer and the request parser, written once and checked by both the
//! stable property tests (core/tests/properties_*.rs) and the cargo-fuzz targets (fuzz/), which
//! include this file with `#[path]`. Public API only; every check panics with a message that says
//! which rule broke.
#![allow(dead_code)]

use classcord_core::frame::{decode_line, write_json_value, JsonLine, LineSplitter};
use classcord_core::message::{
    check_name, guest_name, parse_request, ChannelName, ChatTarget, Request, SlashCommand,
    DEFAULT_GUEST_NAME, HISTORY_MAX_LIMIT, MAX_CHANNEL_CHARS,
};
use serde_json::{Map, Value};

/// What the splitter must produce for `stream` fed in one go: the trimmed non-empty lines, and
/// whether it stops on an over-long line. Written from docs/PROTOCOL.md §1.1, not from the
/// splitter.
pub fn reference_split(cap: usize, stream: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut lines = Vec::new();
    let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    // The last piece has no '\n' after it: it is an unfinished line.
    let tail = pieces.pop().unwrap_or(&[]);
    for piece in pieces {
        let without_cr = piece.strip_suffix(b"\r").unwrap_or(piece);
        if without_cr.len() > cap {
            return (lines, true);
        }
        let trimmed = piece.trim_ascii();
        if !trimmed.is_empty() {
            lines.push(trimmed.to_vec());
        }
    }
    // An unfinished line may hold one byte more than the cap: it may be the '\r' of a CRLF.
    (lines, tail.len() > cap + 1)
}

/// Feeds `stream` to a splitter, cut at `cuts`, and returns the lines and whether it failed.
fn split_in_chunks(cap: usize, stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, bool, usize) {
    let mut bounds: Vec<usize> = cuts.iter().map(|&cut| cut.min(stream.len())).collect();
    bounds.push(0);
    bounds.push(stream.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut splitter = LineSplitter::new(cap);
    let mut lines = Vec::new();
    for pair in bounds.windows(2) {
        let chunk = &stream[pair[0]..pair[1]];
        let fed = splitter.feed(chunk, |line| lines.push(line.to_vec()));
        if let Err(too_long) = fed {
            assert_eq!(too_long.limit, cap, "LineTooLong must report the cap");
            return (lines, true, splitter.buffered());
        }
    }
    (lines, false, splitter.buffered())
}

/// The splitter on `stream` cut anywhere: every line is non-empty, trimmed, at most `cap` bytes,
/// has no '\n'; the result does not depend on where the reads were cut and matches the reference.
pub fn check_splitting(cap: usize, stream: &[u8], cuts: &[usize]) {
    let (expected, expected_error) = reference_split(cap, stream);
    let (whole, whole_error, _) = split_in_chunks(cap, stream, &[]);
    let (chunked, chunked_error, buffered) = split_in_chunks(cap, stream, cuts);
    for line in whole.iter().chain(&chunked) {
        assert!(!line.is_empty(), "empty line emitted");
        assert!(
            line.len() <= cap,
            "line of {} bytes over cap {cap}",
            line.len()
        );
        assert!(!line.contains(&b'\n'), "line contains a newline: {line:?}");
        assert_eq!(line.trim_ascii(), &line[..], "line not trimmed: {line:?}");
    }
    assert_eq!(
        (&whole, whole_error),
        (&expected, expected_error),
        "one read differs from the reference"
    );
    assert_eq!(
        (&chunked, chunked_error),
        (&expected, expected_error),
        "cut reads {cuts:?} differ from one read"
    );
    if !chunked_error {
        let tail = stream.len()
            - stream
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |at| at + 1);
        assert_eq!(buffered, tail, "buffered bytes are not the unfinished line");
    }
}

/// UTF-8 when valid, else windows-1252 one byte per character; never fails.
pub fn check_decoding(bytes: &[u8]) {
    let text = decode_line(bytes);
    match std::str::from_utf8(bytes) {
        Ok(valid) => assert_eq!(text, valid, "valid UTF-8 must pass unchanged"),
        Err(_) => {
            assert_eq!(
                text.chars().count(),
                bytes.len(),
                "windows-1252: one char per byte"
            );
            for (&byte, ch) in bytes.iter().zip(text.chars()) {
                if !(0x80..0xA0).contains(&byte) {
                    assert_eq!(
                        u32::from(ch),
                        u32::from(byte),
                        "byte {byte:#x} must be Latin-1"
                    );
                } else {
                    assert!(u32::from(ch) >= 0x80, "byte {byte:#x} gave ASCII {ch:?}");
                }
            }
        }
    }
}

/// One outbound line: ASCII only, exactly one '\n' at the end, not empty, a JSON object.
pub fn read_line(line: &[u8]) -> Result<Map<String, Value>, String> {
    let shown = || String::from_utf8_lossy(line).into_owned();
    if line.len() <= 1 {
        return Err(format!("empty line {:?}", shown()));
    }
    if !line.is_ascii() {
        return Err(format!("non-ASCII output: {:?}", shown()));
    }
    let Some(body) = line.strip_suffix(b"\n") else {
        return Err(format!("line not ending in \\n: {:?}", shown()));
    };
    if body.contains(&b'\n') || body.contains(&b'\r') {
        return Err(format!("line end inside a line: {:?}", shown()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!("output line is not an object: {other}")),
        Err(error) => Err(format!("output is not JSON ({error}): {:?}", shown())),
    }
}

/// [`read_line`], panicking on a bad line.
pub fn check_line_bytes(line: &[u8]) -> Map<String, Value> {
    read_line(line).unwrap_or_else(|problem| panic!("{problem}"))
}

/// Numbers compare by value: a float may print differently and still be the same number.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            // serde_json's default float parser is best-effort (no `float_roundtrip`): reading
            // `1.1834363748458117e-268` it lands two units in the last place away. That is the
            // reader's doing; the writer is checked exactly against std's parser instead.
            (Some(fx), Some(fy)) if x.is_f64() || y.is_f64() => {
                fx == fy || fx.to_bits().abs_diff(fy.to_bits()) <= 16
            }
            _ => x == y,
        },
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

/// `write_json_value` is ASCII-only and reads back as the same value.
pub fn check_json_value(value: &Value) {
    let mut out = Vec::new();
    write_json_value(&mut out, value);
    assert!(
        out.is_ascii(),
        "non-ASCII JSON: {:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(!out.contains(&b'\n'), "raw newline inside a JSON value");
    let back: Value = match serde_json::from_slice(&out) {
        Ok(back) => back,
        Err(error) => panic!(
            "unreadable JSON ({error}): {:?}",
            String::from_utf8_lossy(&out)
        ),
    };
    assert!(
        same_json(&back, value),
        "round trip changed {value} into {back}"
    );
    check_floats_exact(value);
}

/// Every float is written so that a correct parser (std's) reads back the very same number.
fn check_floats_exact(value: &Value) {
    match value {
        Value::Number(number) if number.is_f64() => {
            let mut out = Vec::new();
            write_json_value(&mut out, value);
            let text = String::from_utf8_lossy(&out);
            let read: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(Some(read), number.as_f64(), "float written as {text}");
        }
        Value::Array(items) => items.iter().for_each(check_floats_exact),
        Value::Object(members) => members.values().for_each(check_floats_exact),
        _ => {}
    }
}

/// A `JsonLine` with these string members (and maybe one nested value) is one valid line that
/// reads back as exactly those members (a repeated key: the last one wins, as in serde_json).
pub fn check_json_line(kind: &str, members: &[(String, String)], extra: Option<&Value>) {
    let mut line = JsonLine::new(kind);
    let mut expected = Map::new();
    expected.insert("type".to_owned(), Value::String(kind.to_owned()));
    for (key, text) in members {
        line.push_str(key, text);
        expected.insert(key.clone(), Value::String(text.clone()));
    }
    if let Some(value) = extra {
        line.push_value("extra", value);
        expected.insert("extra".to_owned(), value.clone());
    }
    let bytes = line.finish();
    let object = check_line_bytes(&bytes);
    if let Some(value) = extra {
        check_floats_exact(value);
    }
    assert!(
        same_json(
            &Value::Object(object.clone()),
            &Value::Object(expected.clone())
        ),
        "line {:?} does not read back as {expected:?}",
        String::from_utf8_lossy(&bytes)
    );
}

/// Each stable reason code with the start of its French text.
const REASONS: [(&str, &str); 10] = [
    ("bad-json", "JSON invalide : "),
    ("not-an-object", "Chaque ligne doit être un objet JSON"),
    ("missing-type", "Champ \"type\" manquant."),
    ("unknown-type", "Type inconnu : \""),
    ("missing-field", "Champ \""),
    ("wrong-field-type", "Le champ \""),
    ("bad-state", "État inconnu : \""),
    ("bad-channel", "Nom de salon invalide : \""),
    ("bad-subtype", "Sous-type inconnu : \""),
    ("bad-number", "Le champ \""),
];

/// Longest error text: fixed French words plus at most 40 echoed characters and an ellipsis.
const MAX_ERROR_CHARS: usize = 160;

/// Keys the server owns on a relayed line: never taken from the client's `extra`.
const OWNED_KEYS: [&str; 8] = [
    "type",
    "content",
    "subtype",
    "from",
    "channel",
    "timestamp",
    "id",
    "system",
];

/// A channel name the server shows names the same channel when a client sends it back.
pub fn check_channel(channel: &ChannelName) {
    assert!(
        channel.key.starts_with('#'),
        "channel key {:?} without #",
        channel.key
    );
    assert!(
        channel.display.starts_with('#'),
        "channel display {:?} without #",
        channel.display
    );
    let shown = channel.display.chars().count() - 1;
    assert!(
        (1..=MAX_CHANNEL_CHARS).contains(&shown),
        "channel {:?} length",
        channel.display
    );
    match ChannelName::parse(&channel.display) {
        Ok(again) => assert_eq!(&again, channel, "channel name not stable when sent back"),
        Err(error) => panic!(
            "shown channel {:?} refused when sent back: {error}",
            channel.display
        ),
    }
}

/// `parse_request` on one decoded line: never panics; an error has a stable reason and a short
/// French text; an accepted request is normalised.
pub fn check_request(line: &str) {
    let parsed = parse_request(line);
    assert_eq!(parsed, parse_request(line), "parsing is not deterministic");
    match parsed {
        Err(error) => {
            let text = error.to_string();
            let reason = error.reason();
            let Some((_, prefix)) = REASONS.iter().find(|(code, _)| *code == reason) else {
                panic!("unknown reason code {reason:?}");
            };
            assert!(
                text.starts_with(prefix),
                "{reason}: text {text:?} is not the French one"
            );
            assert!(
                text.chars().count() <= MAX_ERROR_CHARS,
                "{reason}: error text of {} chars",
                text.chars().count()
            );
        }
        Ok(Request::Chat(chat)) => {
            for key in OWNED_KEYS {
                assert!(
                    !chat.extra.contains_key(key),
                    "client key {key:?} kept in extra"
                );
            }
            match &chat.target {
                ChatTarget::User(to) => {
                    assert!(
                        !to.is_empty() && to.trim() == to,
                        "private `to` {to:?} not trimmed"
                    )
                }
                ChatTarget::Channel(Some(channel)) => check_channel(channel),
                ChatTarget::Channel(None) => {}
            }
        }
        Ok(Request::Who {
            channel: Some(channel),
        })
        | Ok(Request::JoinChannel { channel })
        | Ok(Request::LeaveChannel { channel }) => check_channel(&channel),
        Ok(Request::History(query)) => {
            assert!(
                (1..=HISTORY_MAX_LIMIT).contains(&query.limit),
                "history limit {}",
                query.limit
            );
            if let Some(channel) = &query.channel {
                check_channel(channel);
            }
        }
        Ok(_) => {}
    }
}

/// Name and channel helpers on any text: a guest name is always usable and stable; a slash
/// command or a channel name never panics and an accepted channel is stable.
pub fn check_names(text: &str) {
    let guest = guest_name(Some(text));
    assert!(
        guest == DEFAULT_GUEST_NAME || check_name(&guest).is_ok(),
        "guest name {guest:?} fails check_name"
    );
    assert_eq!(guest_name(Some(&guest)), guest, "guest name not stable");
    if let Ok(channel) = ChannelName::parse(text) {
        check_channel(&channel);
    }
    match SlashCommand::parse(text) {
        Some(SlashCommand::Join(Ok(channel))) | Some(SlashCommand::Leave(Ok(channel))) => {
            check_channel(&channel)
        }
        _ => {}
    }
}
