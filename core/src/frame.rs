//! Framing: turns a byte stream into lines and lines back into bytes.
//!
//! Inbound, [`LineSplitter`] splits on `\n` *in bytes* (a multi-byte character may straddle two
//! reads), strips the `\r` and surrounding whitespace, skips empty lines and enforces the line cap;
//! [`decode_line`] decodes UTF-8 with a windows-1252 fallback (Java 17 on Windows sends its platform
//! charset). Outbound, [`JsonLine`] and [`write_json_value`] write ASCII-only JSON (`\uXXXX`, surrogate
//! pairs for astral characters, like Python's `json.dumps`) terminated by a single `\n`.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::BorrowMut;
use serde_json::Value;

/// Default cap on one inbound line, in bytes (without its line end).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// A partial line longer than this keeps its buffer between reads; below it the buffer is released
/// once empty, so an idle connection holds no read buffer.
const RETAINED_BUFFER_BYTES: usize = 4 * 1024;

/// The peer sent a line longer than the configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong {
    pub limit: usize,
}

/// Incremental line splitter. Feed it whatever the socket returned; it calls back once per complete,
/// trimmed, non-empty line. Only an unfinished line is buffered.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            max_line,
        }
    }

    /// Bytes of an unfinished line currently buffered.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Splits `bytes` into lines, calling `on_line` for each. Stops at the first over-long line:
    /// after an error the splitter must not be fed again (the connection is closed).
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        mut on_line: impl FnMut(&[u8]),
    ) -> Result<(), LineTooLong> {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            let (head, rest) = bytes.split_at(pos);
            bytes = &rest[1..];
            if self.partial.is_empty() {
                self.check_len(head.len() - usize::from(head.ends_with(b"\r")))?;
                emit(head, &mut on_line);
            } else {
                self.partial.extend_from_slice(head);
                self.check_len(self.partial.len() - usize::from(self.partial.ends_with(b"\r")))?;
                emit(&self.partial, &mut on_line);
                self.partial.clear();
            }
        }
        if !bytes.is_empty() {
            // A trailing '\r' of a CRLF split across reads is counted, hence the +1 slack.
            self.check_len((self.partial.len() + bytes.len()).saturating_sub(1))?;
            self.partial.extend_from_slice(bytes);
        } else if self.partial.is_empty() && self.partial.capacity() > RETAINED_BUFFER_BYTES {
            self.partial = Vec::new();
        }
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), LineTooLong> {
        if len > self.max_line {
            Err(LineTooLong {
                limit: self.max_line,
            })
        } else {
            Ok(())
        }
    }
}

fn emit(line: &[u8], on_line: &mut impl FnMut(&[u8])) {
    let line = line.trim_ascii();
    if !line.is_empty() {
        on_line(line);
    }
}

/// Decodes one line: UTF-8 when valid, windows-1252 otherwise. Never fails.
pub fn decode_line(bytes: &[u8]) -> Cow<'_, str> {
    match core::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| windows_1252_char(b)).collect()),
    }
}

/// windows-1252 as the WHATWG Encoding Standard defines it: 0x80..=0x9F hold typographic characters,
/// the five unassigned bytes map to the C1 controls of the same value, the rest is Latin-1.
fn windows_1252_char(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// Appends `text` as a JSON string literal, escaping everything outside printable ASCII.
pub fn write_json_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn unicode_escape(out: &mut Vec<u8>, unit: u16) {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            HEX[usize::from(unit >> 12)],
            HEX[usize::from((unit >> 8) & 0xF)],
            HEX[usize::from((unit >> 4) & 0xF)],
            HEX[usize::from(unit & 0xF)],
        ]);
    }

    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if (0x20..0x7F).contains(&byte) && byte != b'"' && byte != b'\\' {
            index += 1;
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..index]);
        if byte < 0x80 {
            match byte {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                _ => unicode_escape(out, u16::from(byte)),
            }
            index += 1;
        } else {
            // `text` is a str, so a char starts here; decode it and escape as UTF-16 units.
            let ch = text[index..].chars().next().unwrap_or('\u{FFFD}');
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                unicode_escape(out, *unit);
            }
            index += ch.len_utf8();
        }
        plain_from = index;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Appends `[item,item,...]`, each item written by `write_item`.
fn write_json_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (position, item) in items.into_iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}

/// Appends any JSON value, ASCII-escaped, without whitespace.
pub fn write_json_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_display(out, number),
        Value::String(text) => write_json_str(out, text),
        Value::Array(items) => write_json_array(out, items, write_json_value),
        Value::Object(map) => {
            out.push(b'{');
            for (position, (key, item)) in map.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_json_str(out, key);
                out.push(b':');
                write_json_value(out, item);
            }
            out.push(b'}');
        }
    }
}

fn write_display(out: &mut Vec<u8>, value: &impl core::fmt::Display) {
    use core::fmt::Write;
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = write!(text, "{value}");
    out.extend_from_slice(text.as_bytes());
}

/// Writes the members of a JSON object into a buffer it owns ([`JsonLine`]) or borrows (a nested
/// object, see [`JsonLine::push_object_array`]).
#[derive(Debug)]
pub struct ObjectWriter<B: BorrowMut<Vec<u8>>> {
    buf: B,
    empty: bool,
}

/// Builder for one outbound JSON object line: `{"k":v,...}\n`, ASCII-only.
pub type JsonLine = ObjectWriter<Vec<u8>>;

impl JsonLine {
    /// Starts an object whose first key is `type`.
    pub fn new(kind: &str) -> Self {
        let mut buf = Vec::with_capacity(96);
        buf.push(b'{');
        let mut line = ObjectWriter { buf, empty: true };
        line.push_str("type", kind);
        line
    }

    /// Closes the object and the line.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"}\n");
        self.buf
    }
}

impl<B: BorrowMut<Vec<u8>>> ObjectWriter<B> {
    fn out(&mut self) -> &mut Vec<u8> {
        self.buf.borrow_mut()
    }

    fn key(&mut self, key: &str) {
        let first = core::mem::replace(&mut self.empty, false);
        let out = self.out();
        if !first {
            out.push(b',');
        }
        write_json_str(out, key);
        out.push(b':');
    }

    pub fn push_str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_json_str(self.out(), value);
        self
    }

    pub fn push_u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        write_display(self.out(), &value);
        self
    }

    pub fn push_bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out()
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    pub fn push_value(&mut self, key: &str, value: &Value) -> &mut Self {
        self.key(key);
        write_json_value(self.out(), value);
        self
    }

    /// An array of strings.
    pub fn push_str_array<'a>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = &'a str>,
    ) -> &mut Self {
        self.key(key);
        write_json_array(self.out(), items, write_json_str);
        self
    }

    /// An array of objects, each written by `write_item` into a nested writer.
    pub fn push_object_array<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut write_item: impl FnMut(&mut ObjectWriter<&mut Vec<u8>>, T),
    ) -> &mut Self {
        self.key(key);
        write_json_array(self.out(), items, |out, item| {
            out.push(b'{');
            let mut nested = ObjectWriter {
                buf: &mut *out,
                empty: true,
            };
            write_item(&mut nested, item);
            out.push(b'}');
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn split_all(
        splitter: &mut LineSplitter,
        chunks: &[&[u8]],
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |line| lines.push(line.to_vec()))?;
        }
        Ok(lines)
    }

    #[test]
    fn splits_on_lf_and_crlf() {
        let mut splitter = LineSplitter::new(100);
        let lines = split_all(&mut splitter, &[b"{\"a\":1}\r\n{\"b\":2}\n"]).unwrap();
        assert_eq!(lines, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
    }

    #[test]
    fn skips_empty_and_blank_lines() {
        let mut splitter = LineSplitter::new(100);
        let lines = split_all(&mut splitter, &[b"\n\r\n   \r\n{}\n\n"]).unwrap();
        assert_eq!(lines, vec![b"{}".to_vec()]);
    }

    #[test]
    fn strips_surrounding_whitespace() {
        let mut splitter = LineSplitter::new(100);
        let lines = split_all(&mut splitter, &[b"  \t{}  \r\n"]).unwrap();
        assert_eq!(lines, vec![b"{}".to_vec()]);
    }

    #[test]
    fn joins_a_multibyte_char_split_across_reads() {
        let mut splitter = LineSplitter::new(100);
        let text = "{\"content\":\"é\"}\n".as_bytes();
        let cut = text.iter().position(|&b| b == 0xC3).unwrap() + 1;
        let lines = split_all(&mut splitter, &[&text[..cut], &text[cut..]]).unwrap();
        assert_eq!(decode_line(&lines[0]), "{\"content\":\"é\"}");
    }

    #[test]
    fn crlf_split_between_reads() {
        let mut splitter = LineSplitter::new(4);
        let lines = split_all(&mut splitter, &[b"abcd\r", b"\nxy\n"]).unwrap();
        assert_eq!(lines, vec![b"abcd".to_vec(), b"xy".to_vec()]);
    }

    #[test]
    fn line_at_cap_is_accepted_and_one_more_byte_is_refused() {
        let mut splitter = LineSplitter::new(8);
        assert_eq!(split_all(&mut splitter, &[b"12345678\n"]).unwrap().len(), 1);
        let mut splitter = LineSplitter::new(8);
        assert_eq!(
            split_all(&mut splitter, &[b"123456789\n"]),
            Err(LineTooLong { limit: 8 })
        );
    }

    #[test]
    fn unterminated_overlong_line_is_refused_before_its_end() {
        let mut splitter = LineSplitter::new(8);
        assert!(split_all(&mut splitter, &[b"12345", b"67890"]).is_err());
    }

    #[test]
    fn releases_a_large_buffer_once_the_line_is_done() {
        let mut splitter = LineSplitter::new(64 * 1024);
        let big = vec![b'x'; 10_000];
        splitter.feed(&big, |_| {}).unwrap();
        assert_eq!(splitter.buffered(), 10_000);
        splitter.feed(b"\n", |_| {}).unwrap();
        assert_eq!(splitter.buffered(), 0);
        assert_eq!(splitter.partial.capacity(), 0);
    }

    #[test]
    fn decodes_utf8_first() {
        assert_eq!(decode_line("ça €".as_bytes()), "ça €");
    }

    #[test]
    fn falls_back_to_windows_1252() {
        assert_eq!(decode_line(&[0x63, 0xE9, 0x20, 0x80, 0x9C]), "cé €œ");
        assert_eq!(decode_line(&[0x81, 0xFF]), "\u{81}ÿ");
    }

    #[test]
    fn escapes_non_ascii_like_python() {
        let mut out = Vec::new();
        write_json_str(&mut out, "é\"\\\n\u{1}🎉a");
        assert_eq!(out, br#""\u00e9\"\\\n\u0001\ud83c\udf89a""#.to_vec());
    }

    #[test]
    fn json_line_is_ascii_and_newline_terminated() {
        let mut line = JsonLine::new("status");
        line.push_str("user", "Élodie").push_str("state", "online");
        let bytes = line.finish();
        assert!(bytes.is_ascii());
        assert_eq!(
            bytes,
            b"{\"type\":\"status\",\"user\":\"\\u00c9lodie\",\"state\":\"online\"}\n"
        );
    }

    #[test]
    fn encodes_values_round_trip() {
        let value: Value =
            serde_json::from_str(r#"{"a":[1,-2.5,true,null,"x\u00e9"],"b":{"c":"🎉"}}"#).unwrap();
        let mut out = Vec::new();
        write_json_value(&mut out, &value);
        assert!(out.is_ascii());
        let back: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn object_arrays() {
        let mut line = JsonLine::new("channels");
        line.push_object_array("channels", [("#a", 2u64)], |object, (name, members)| {
            object.push_str("name", name).push_u64("members", members);
        });
        assert_eq!(
            line.finish(),
            b"{\"type\":\"channels\",\"channels\":[{\"name\":\"#a\",\"members\":2}]}\n".to_vec()
        );
    }
}
