//! Allocation-free parsing of server lines on the hot path: a validating scanner for one JSON
//! object that extracts the top-level `type`, `from` and `content` (skipping every other value
//! with full JSON grammar checks), plus the bench's own message content format
//! `b|<run>|<sender>|<seq>|<t_ns>`.
//!
//! The wire contract says server output is ASCII-only JSON, so any byte >= 0x80 is rejected
//! (that also spares UTF-8 validation). Strings with escapes are decoded with serde_json
//! (rare: the bench's own names and contents never need escaping).

use std::borrow::Cow;

/// A JSON string value as found on the wire (between the quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> JStr<'a> {
    /// The decoded string bytes (borrowed unless the string contains escapes).
    #[inline]
    pub fn decoded(&self) -> Cow<'a, [u8]> {
        if !self.escaped {
            return Cow::Borrowed(self.raw);
        }
        self.decode_escaped()
    }

    #[cold]
    fn decode_escaped(&self) -> Cow<'a, [u8]> {
        let mut quoted = Vec::with_capacity(self.raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(self.raw);
        quoted.push(b'"');
        // The scanner already validated the escapes; lone surrogates are the only way to fail.
        match serde_json::from_slice::<String>(&quoted) {
            Ok(s) => Cow::Owned(s.into_bytes()),
            Err(_) => Cow::Owned(Vec::new()),
        }
    }

    #[inline]
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        if self.escaped {
            *self.decoded() == *s
        } else {
            self.raw == s
        }
    }
}

/// A top-level value we care about: a string, or something else (number, object, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val<'a> {
    Str(JStr<'a>),
    NotString,
}

impl<'a> Val<'a> {
    #[cfg(test)]
    pub fn as_str(&self) -> Option<JStr<'a>> {
        match self {
            Val::Str(s) => Some(*s),
            Val::NotString => None,
        }
    }
}

/// The fields of a server line the bench looks at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub ty: Option<Val<'a>>,
    pub from: Option<Val<'a>>,
    pub content: Option<Val<'a>>,
}

/// Why a line is not an acceptable JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    Syntax(usize),
    NonAscii(usize),
    DuplicateKey,
    TooDeep,
}

const MAX_DEPTH: u32 = 64;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// The whole line is printable ASCII (0x20..=0x7f): strings can be skipped with memchr.
    clean: bool,
}

/// True when every byte is in 0x20..=0x7f (no control character, nothing non-ASCII). Written
/// branch-free so it vectorises.
fn printable_ascii(b: &[u8]) -> bool {
    b.iter().fold(0u8, |acc, &c| {
        acc | (c.wrapping_sub(0x20) & 0x80) | (c & 0x80)
    }) == 0
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self) -> ScanError {
        match self.peek() {
            Some(c) if c >= 0x80 => ScanError::NonAscii(self.i),
            _ => ScanError::Syntax(self.i),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), ScanError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), ScanError> {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn string(&mut self) -> Result<JStr<'a>, ScanError> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            if self.clean {
                match memchr::memchr2(b'"', b'\\', &self.b[self.i..]) {
                    Some(off) => self.i += off,
                    None => return Err(ScanError::Syntax(self.b.len())),
                }
            }
            let Some(c) = self.peek() else {
                return Err(ScanError::Syntax(self.i));
            };
            match c {
                b'"' => {
                    let raw = &self.b[start..self.i];
                    self.i += 1;
                    return Ok(JStr { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(h) if h.is_ascii_hexdigit() => self.i += 1,
                                    _ => return Err(self.err()),
                                }
                            }
                        }
                        _ => return Err(self.err()),
                    }
                }
                0x00..=0x1f | 0x80..=0xff => return Err(self.err()),
                _ => self.i += 1,
            }
        }
    }

    fn digits(&mut self) -> Result<(), ScanError> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        if self.i == start {
            Err(self.err())
        } else {
            Ok(())
        }
    }

    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(self.err()),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digits()?;
        }
        Ok(())
    }

    fn skip_value(&mut self, depth: u32) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }
}

fn set<'a>(slot: &mut Option<Val<'a>>, v: Val<'a>) -> Result<(), ScanError> {
    if slot.is_some() {
        return Err(ScanError::DuplicateKey);
    }
    *slot = Some(v);
    Ok(())
}

/// Scans one line that must be exactly one JSON object (surrounding whitespace allowed).
pub fn scan(line: &[u8]) -> Result<Fields<'_>, ScanError> {
    let mut s = Scanner {
        b: line,
        i: 0,
        clean: printable_ascii(line),
    };
    let mut f = Fields::default();
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let key = s.string()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let val = if s.peek() == Some(b'"') {
                Val::Str(s.string()?)
            } else {
                s.skip_value(1)?;
                Val::NotString
            };
            let key = key.decoded();
            match &*key {
                b"type" => set(&mut f.ty, val)?,
                b"from" => set(&mut f.from, val)?,
                b"content" => set(&mut f.content, val)?,
                _ => {}
            }
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    break;
                }
                _ => return Err(s.err()),
            }
        }
    }
    s.ws();
    if s.i != line.len() {
        return Err(s.err());
    }
    Ok(f)
}

/// A message content, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// Not produced by a bench (does not start with `b|`).
    Other,
    /// Starts with `b|` but does not follow the format.
    Malformed,
    Bench {
        run: &'a [u8],
        sender: u32,
        seq: u64,
        t_ns: u64,
    },
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Parses `b|<run>|<sender>|<seq>|<t_ns>`.
pub fn parse_content(c: &[u8]) -> Content<'_> {
    let Some(rest) = c.strip_prefix(b"b|") else {
        return Content::Other;
    };
    let mut parts = rest.split(|&b| b == b'|');
    let (Some(run), Some(sender), Some(seq), Some(t), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Content::Malformed;
    };
    if run.is_empty() || !run.iter().all(u8::is_ascii_alphanumeric) {
        return Content::Malformed;
    }
    match (
        parse_u64(sender).and_then(|s| u32::try_from(s).ok()),
        parse_u64(seq),
        parse_u64(t),
    ) {
        (Some(sender), Some(seq), Some(t_ns)) => Content::Bench {
            run,
            sender,
            seq,
            t_ns,
        },
        _ => Content::Malformed,
    }
}

/// Appends the decimal form of `v` (no allocation).
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// `s` as a JSON string literal (quotes included), ASCII-only like the server's own output.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Option<Val<'_>>) -> Option<Vec<u8>> {
        v.and_then(|v| v.as_str()).map(|j| j.decoded().into_owned())
    }

    #[test]
    fn relayed_message_line() {
        let line = br##"{"type":"message","from":"bench3","content":"b|ab12|3|17|123456","subtype":"global","timestamp":"2026-01-02T03:04:05.000006","id":42,"channel":"#g\u00e9n\u00e9ral"}"##;
        let f = scan(line).expect("valid");
        assert_eq!(s(f.ty).as_deref(), Some(&b"message"[..]));
        assert_eq!(s(f.from).as_deref(), Some(&b"bench3"[..]));
        let content = f.content.and_then(|v| v.as_str()).expect("content");
        assert!(!content.escaped);
        assert_eq!(
            parse_content(&content.decoded()),
            Content::Bench {
                run: b"ab12",
                sender: 3,
                seq: 17,
                t_ns: 123456
            }
        );
    }

    #[test]
    fn escapes_are_decoded() {
        let f = scan(br#"{"type":"message","from":"\u00e9l\u00e8ve","content":"a\"b\\c"}"#)
            .expect("valid");
        assert_eq!(s(f.from).as_deref(), Some("élève".as_bytes()));
        assert_eq!(s(f.content).as_deref(), Some(&br#"a"b\c"#[..]));
        let from = f.from.and_then(|v| v.as_str()).expect("from");
        assert!(from.eq_bytes("élève".as_bytes()));
        // An escaped key still counts.
        let f = scan(br#"{"typ\u0065":"pong"}"#).expect("valid");
        assert_eq!(s(f.ty).as_deref(), Some(&b"pong"[..]));
    }

    #[test]
    fn non_string_fields_are_flagged() {
        let f = scan(br#"{"type":"message","from":5,"content":null}"#).expect("valid");
        assert_eq!(f.from, Some(Val::NotString));
        assert_eq!(f.content, Some(Val::NotString));
    }

    #[test]
    fn agrees_with_serde_json() {
        let cases: &[&[u8]] = &[
            br#"{}"#,
            br#" { "type" : "pong" } "#,
            br#"{"type":"users","users":["a","b"],"n":[1,-2.5e3,0,{"x":[]}],"t":true,"f":false,"z":null}"#,
            br#"{"a":{"b":{"c":[[[]]]}}}"#,
            br#"{"type":"status","user":"x","state":"online"}"#,
            br#"{"n":-0.0e+1}"#,
            b"",
            b"   ",
            b"[]",
            b"\"x\"",
            br#"{"type":"pong"}x"#,
            br#"{"type":"pong",}"#,
            br#"{"type" "pong"}"#,
            br#"{"type":pong}"#,
            br#"{"n":01}"#,
            br#"{"n":1.}"#,
            br#"{"n":.5}"#,
            br#"{"n":1e}"#,
            br#"{"n":-}"#,
            br#"{"s":"\x"}"#,
            br#"{"s":"\u12g4"}"#,
            br#"{"s":"unterminated}"#,
            br#"{"a":[1,2,]}"#,
            br#"{"a":tru}"#,
            b"{\"s\":\"tab\there\"}",
            br#"{"a":1"#,
            br#"{"a":1}}"#,
        ];
        for case in cases {
            let ours = scan(case).is_ok();
            let theirs =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(case).is_ok();
            assert_eq!(
                ours,
                theirs,
                "disagree on {:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn protocol_violations_are_rejected() {
        // Non-ASCII output is forbidden by the wire contract.
        assert!(matches!(
            scan("{\"content\":\"é\"}".as_bytes()),
            Err(ScanError::NonAscii(_))
        ));
        assert_eq!(
            scan(br#"{"type":"a","type":"b"}"#),
            Err(ScanError::DuplicateKey)
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(scan(deep.as_bytes()), Err(ScanError::TooDeep));
    }

    #[test]
    fn printable_ascii_check() {
        assert!(printable_ascii(b""));
        assert!(printable_ascii(b" ~\x7f{\"a\":1}"));
        for bad in [&b"\x1f"[..], b"\t", b"\x80", b"\xff", b"ok\x00"] {
            assert!(!printable_ascii(bad), "{bad:?}");
        }
        // Tab is valid whitespace between tokens (slow path), never inside a string.
        assert!(scan(b"{\t\"type\":\t\"pong\"}").is_ok());
        assert!(scan(b"{\"type\":\"po\tng\"}").is_err());
    }

    #[test]
    fn content_format() {
        assert_eq!(parse_content(b"hello"), Content::Other);
        assert_eq!(parse_content(b""), Content::Other);
        assert_eq!(parse_content(b"b|"), Content::Malformed);
        assert_eq!(parse_content(b"b|r|1|2"), Content::Malformed);
        assert_eq!(parse_content(b"b|r|1|2|3|4"), Content::Malformed);
        assert_eq!(parse_content(b"b|r|x|2|3"), Content::Malformed);
        assert_eq!(parse_content(b"b||1|2|3"), Content::Malformed);
        assert_eq!(
            parse_content(b"b|r|1|2|99999999999999999999"),
            Content::Malformed
        );
        assert_eq!(parse_content(b"b|r|4294967296|2|3"), Content::Malformed);
        assert_eq!(
            parse_content(b"b|r|4294967295|0|18446744073709551615"),
            Content::Bench {
                run: b"r",
                sender: u32::MAX,
                seq: 0,
                t_ns: u64::MAX
            }
        );
    }

    #[test]
    fn decimal_and_json_string_output() {
        let mut v = Vec::new();
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            v.clear();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().into_bytes());
        }
        let j = json_str("a\"b\\c\né😀");
        assert_eq!(j, r#""a\"b\\c\u000a\u00e9\ud83d\ude00""#);
        assert_eq!(
            serde_json::from_str::<String>(&j).ok().as_deref(),
            Some("a\"b\\c\né😀")
        );
    }
}
