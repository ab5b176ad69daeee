//! The string literals of the Rust sources, as the program holds them (escapes and line
//! continuations resolved), and matching a text written in a document against them, where a
//! format placeholder (`{}`, `{name}`, `{:04X}`) stands for any text.

use std::path::{Path, PathBuf};

use super::repo;

/// One string literal and the file it is in.
#[derive(Debug, Clone)]
pub struct Literal {
    pub file: PathBuf,
    pub text: String,
}

impl Literal {
    /// The literal as a pattern: its text cut at each format placeholder.
    pub fn pattern(&self) -> Pattern {
        Pattern::of(&self.text)
    }

    /// Whitespace-separated words.
    pub fn words(&self) -> usize {
        self.text.split_whitespace().count()
    }
}

/// The literals of the non-test code under `dir` (test modules, `tests/` folders and `tests.rs`
/// files left out).
pub fn literals_under(dir: &str) -> Vec<Literal> {
    repo::files_with("rs")
        .into_iter()
        .filter(|path| path.starts_with(dir) && !is_test_file(path))
        .flat_map(|file| {
            let source = repo::read(&file);
            literals(without_test_module(&source))
                .into_iter()
                .map(move |text| Literal {
                    file: file.clone(),
                    text,
                })
        })
        .collect()
}

fn is_test_file(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests") || path.ends_with("tests.rs")
}

/// The source up to its inline `#[cfg(test)] mod name {` (the project keeps inline test modules
/// at the end; a `mod tests;` declaration is a separate file, left out by [`is_test_file`]).
fn without_test_module(source: &str) -> &str {
    let mut search = 0;
    while let Some(at) = source[search..].find("#[cfg(test)]") {
        let start = search + at;
        let after = source[start + "#[cfg(test)]".len()..].trim_start();
        let inline = after.strip_prefix("mod ").is_some_and(|rest| {
            let name_end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'));
            name_end.is_some_and(|end| rest[end..].trim_start().starts_with('{'))
        });
        if inline {
            return &source[..start];
        }
        search = start + 1;
    }
    source
}

/// Every string literal (plain, raw, byte) outside comments, resolved as the compiler would.
pub fn literals(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut found = Vec::new();
    let mut index = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        let before_is_ident = index > 0 && ident(chars[index - 1]);
        match c {
            '/' if next == Some('/') => {
                while index < chars.len() && chars[index] != '\n' {
                    index += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while index < chars.len() {
                    if chars[index] == '/' && chars.get(index + 1) == Some(&'*') {
                        depth += 1;
                        index += 2;
                    } else if chars[index] == '*' && chars.get(index + 1) == Some(&'/') {
                        depth -= 1;
                        index += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        index += 1;
                    }
                }
            }
            '"' => {
                let (text, end) = plain_string(&chars, index + 1);
                found.push(text);
                index = end;
            }
            'r' | 'b' if !before_is_ident => {
                // r"..", r#".."#, b"..", br"..", br#".."#
                let mut at = index + 1;
                if c == 'b' && chars.get(at) == Some(&'r') {
                    at += 1;
                }
                let raw = c == 'r' || chars.get(index + 1) == Some(&'r');
                let hashes = chars[at..].iter().take_while(|&&h| h == '#').count();
                if chars.get(at + hashes) == Some(&'"') && (raw || hashes == 0) {
                    if raw {
                        let (text, end) = raw_string(&chars, at + hashes + 1, hashes);
                        found.push(text);
                        index = end;
                    } else {
                        let (text, end) = plain_string(&chars, at + 1);
                        found.push(text);
                        index = end;
                    }
                } else {
                    index += 1;
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                if next == Some('\\') {
                    // Past the quote, the backslash and the escaped character ('\'' included).
                    index += 3;
                    while index < chars.len() && chars[index] != '\'' {
                        index += 1;
                    }
                    index += 1;
                } else if chars.get(index + 2) == Some(&'\'') {
                    index += 3;
                } else {
                    index += 1;
                }
            }
            _ => index += 1,
        }
    }
    found
}

/// A `"..."` body from `start` (after the quote): its text and the index after the closing quote.
fn plain_string(chars: &[char], start: usize) -> (String, usize) {
    let mut text = String::new();
    let mut index = start;
    while index < chars.len() {
        match chars[index] {
            '"' => return (text, index + 1),
            '\\' => {
                let escape = chars.get(index + 1).copied().unwrap_or(' ');
                index += 2;
                match escape {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '0' => text.push('\0'),
                    '\n' => {
                        while chars.get(index).is_some_and(|c| c.is_whitespace()) {
                            index += 1;
                        }
                    }
                    'u' => {
                        let close = chars[index..].iter().position(|&c| c == '}').unwrap_or(0);
                        let hex: String = chars[index + 1..index + close].iter().collect();
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            text.push(c);
                        }
                        index += close + 1;
                    }
                    'x' => {
                        let hex: String = chars[index..index + 2].iter().collect();
                        if let Ok(value) = u8::from_str_radix(&hex, 16) {
                            text.push(char::from(value));
                        }
                        index += 2;
                    }
                    other => text.push(other),
                }
            }
            c => {
                text.push(c);
                index += 1;
            }
        }
    }
    (text, index)
}

fn raw_string(chars: &[char], start: usize, hashes: usize) -> (String, usize) {
    let mut index = start;
    while index < chars.len() {
        if chars[index] == '"' && chars[index + 1..].iter().take(hashes).all(|&c| c == '#') {
            let end = index + 1 + hashes;
            if chars[index + 1..].len() >= hashes {
                return (chars[start..index].iter().collect(), end);
            }
        }
        index += 1;
    }
    (chars[start..].iter().collect(), chars.len())
}

/// A text with holes: `fragments` are literal, any text may sit between two of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub fragments: Vec<String>,
}

impl Pattern {
    /// Cuts a format string at its placeholders (`{}`, `{name}`, `{:04X}`); `{{` and `}}` are
    /// literal braces.
    pub fn of(format: &str) -> Pattern {
        let mut fragments = vec![String::new()];
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    fragments.last_mut().unwrap().push(c);
                }
                ('{', _) => {
                    for inner in chars.by_ref() {
                        if inner == '}' {
                            break;
                        }
                    }
                    fragments.push(String::new());
                }
                _ => fragments.last_mut().unwrap().push(c),
            }
        }
        Pattern { fragments }
    }

    /// Whether the whole of `text` is this pattern with its holes filled.
    pub fn matches(&self, text: &str) -> bool {
        self.holes(text).is_some()
    }

    /// What fills each hole when the whole of `text` is this pattern (leftmost fit).
    pub fn holes<'t>(&self, text: &'t str) -> Option<Vec<&'t str>> {
        let (first, rest) = self.fragments.split_first().expect("one fragment at least");
        let mut remaining = text.strip_prefix(first.as_str())?;
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty().then(Vec::new);
        };
        let mut holes = Vec::new();
        for fragment in middle {
            let at = remaining.find(fragment.as_str())?;
            holes.push(&remaining[..at]);
            remaining = &remaining[at + fragment.len()..];
        }
        let end = remaining.len().checked_sub(last.len())?;
        if !remaining.ends_with(last.as_str()) {
            return None;
        }
        holes.push(&remaining[..end]);
        Some(holes)
    }

    fn fixed_chars(&self) -> usize {
        self.fragments.iter().map(|f| f.chars().count()).sum()
    }

    /// Whether `text` is this pattern with values in its holes: each hole holds a short value
    /// (`#SIO`, `…`, a name) or a whole text of `others` (`{refused} Message non envoyé.` with
    /// `Le salon #… est fermé.` in its hole). `{}` alone, or `{} : {}`, would match anything and
    /// tells nothing: a pattern needs 8 characters of its own.
    pub fn accounts_for(&self, text: &str, others: &[Pattern]) -> bool {
        if self.fixed_chars() < 8 {
            return false;
        }
        let Some(holes) = self.holes(text) else {
            return false;
        };
        holes.iter().all(|hole| {
            hole.chars().count() <= 20
                || others.iter().any(|other| {
                    other.fixed_chars() >= 8
                        && other
                            .holes(hole)
                            .is_some_and(|inner| inner.iter().all(|h| h.chars().count() <= 20))
                })
        })
    }

    /// Whether this pattern occurs somewhere inside `text`.
    pub fn occurs_in(&self, text: &str) -> bool {
        let mut remaining = text;
        for fragment in &self.fragments {
            match remaining.find(fragment.as_str()) {
                Some(at) => remaining = &remaining[at + fragment.len()..],
                None => return false,
            }
        }
        true
    }
}

#[test]
fn literals_are_read_as_the_compiler_reads_them() {
    let source = r##"
        // "not this"
        /* nor "this" */
        let a = "Champ \"type\" manquant.";
        let b = 'x'; let c = '"'; let q = '\''; fn f<'a>(x: &'a str) {}
        let d = "sur deux \
                 lignes";
        let e = r#"{"raw":1}"#;
        let g = b"bytes";
    "##;
    assert_eq!(
        literals(source),
        [
            "Champ \"type\" manquant.",
            "sur deux lignes",
            "{\"raw\":1}",
            "bytes"
        ]
    );
    let source = "#[cfg(test)]\nmod tests;\nfn a() { \"kept\"; }\n#[cfg(test)]\nmod tests { \"dropped\"; }\n";
    assert_eq!(literals(without_test_module(source)), ["kept"]);
}

#[test]
fn placeholders_match_any_text() {
    let pattern = Pattern::of("Le salon {channel} est fermé.");
    assert!(pattern.matches("Le salon #… est fermé."));
    assert!(pattern.matches("Le salon #SIO est fermé."));
    assert!(!pattern.matches("Le salon #SIO est ouvert."));
    assert!(!pattern.matches("Le salon #SIO est fermé. En plus."));
    let pattern = Pattern::of("{refused} Message non envoyé.");
    assert!(pattern.occurs_in("Le salon #… est fermé. Message non envoyé."));
    assert!(Pattern::of("Vous êtes banni.{raison}").matches("Vous êtes banni."));
    assert_eq!(Pattern::of("a {{b}} {:04X}").fragments, ["a {b} ", ""]);
    assert!(Pattern::of("{}").matches("Compte introuvable."));
    let others = [Pattern::of("Le salon {channel} est fermé.")];
    assert!(!Pattern::of("{}").accounts_for("Compte introuvable.", &others));
    assert!(!Pattern::of("{what} {} : {}").accounts_for("Compte introuvable : x", &others));
    let composed = Pattern::of("{refused} Message non envoyé.");
    assert!(composed.accounts_for("Le salon #… est fermé. Message non envoyé.", &others));
    assert!(!composed.accounts_for(
        "Un texte inventé, bien plus long. Message non envoyé.",
        &others
    ));
}
