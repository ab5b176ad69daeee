//! Just enough Markdown for the checks: fenced blocks, ATX headings with GitHub's anchors, inline
//! code spans, links and tables. Written for the project's own documents, not for any Markdown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::repo;

/// One line of a document, with where it sits.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based, for messages.
    pub number: usize,
    pub text: String,
    /// Inside a fenced code block (the fence lines themselves included).
    pub in_fence: bool,
    /// The number of the closest heading above (`3.2`), if it has one.
    pub section: Option<String>,
}

impl Line {
    /// Where a line writes code: the whole line inside a fenced block, its code spans elsewhere.
    pub fn code_texts(&self) -> Vec<String> {
        if self.in_fence {
            vec![self.text.clone()]
        } else {
            code_spans(&self.text)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Heading {
    /// `3.2` for `### 3.2 Les jetons`.
    pub number: Option<String>,
    /// GitHub's anchor for it (duplicates get `-1`, `-2`...).
    pub anchor: String,
}

/// A parsed document.
#[derive(Debug)]
pub struct Doc {
    pub path: PathBuf,
    pub lines: Vec<Line>,
    pub headings: Vec<Heading>,
    /// Explicit anchors, `<a id="..."></a>` (a stable name for a section a log line points to).
    pub ids: Vec<String>,
}

impl Doc {
    /// Reads a document given relative to the repository root.
    pub fn load(path: impl AsRef<Path>) -> Doc {
        let path = path.as_ref().to_path_buf();
        let text = repo::read(&path);
        assert!(!text.is_empty(), "{} is missing or empty", path.display());
        Doc::parse(path, &text)
    }

    pub fn parse(path: PathBuf, text: &str) -> Doc {
        let mut lines = Vec::new();
        let mut headings = Vec::new();
        let mut fence: Option<String> = None;
        let mut section = None;
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ids = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            let marker = ["```", "~~~"]
                .into_iter()
                .find(|marker| trimmed.starts_with(marker));
            let mut in_fence = fence.is_some();
            match (&fence, marker) {
                (None, Some(marker)) => {
                    fence = Some(marker.to_owned());
                    in_fence = true;
                }
                (Some(open), Some(marker)) if open == marker && trimmed.trim() == marker => {
                    fence = None;
                }
                _ => {}
            }
            if !in_fence {
                ids.extend(explicit_ids(raw));
                if let Some(heading) = parse_heading(raw, &mut seen) {
                    section = heading.number.clone();
                    headings.push(heading);
                }
            }
            lines.push(Line {
                number: index + 1,
                text: raw.to_owned(),
                in_fence,
                section: section.clone(),
            });
        }
        Doc {
            path,
            lines,
            headings,
            ids,
        }
    }

    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// Whether `anchor` names a heading of this document.
    pub fn has_anchor(&self, anchor: &str) -> bool {
        self.headings.iter().any(|h| h.anchor == anchor) || self.ids.iter().any(|id| id == anchor)
    }

    /// Whether a heading is numbered `number` (`2.4`).
    pub fn has_section(&self, number: &str) -> bool {
        self.headings
            .iter()
            .any(|h| h.number.as_deref() == Some(number))
    }

    /// The lines of section `number` and its subsections (`8` takes in `8.1`, `8.2`...).
    pub fn section_lines<'a>(&'a self, number: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines.iter().filter(move |line| {
            line.section
                .as_deref()
                .is_some_and(|s| s == number || s.starts_with(&format!("{number}.")))
        })
    }

    /// Every table outside fences, as rows of cells (the header row first, the `|---|` row left
    /// out), with the section it sits in.
    pub fn tables(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        let mut current: Option<Table> = None;
        for line in &self.lines {
            let text = line.text.trim();
            let is_row = !line.in_fence && text.starts_with('|');
            if !is_row {
                tables.extend(current.take());
                continue;
            }
            let cells = split_row(text);
            let separator = cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
            let table = current.get_or_insert_with(|| Table {
                section: line.section.clone(),
                first_line: line.number,
                rows: Vec::new(),
            });
            if !separator {
                table.rows.push(cells);
            }
        }
        tables.extend(current);
        tables
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub section: Option<String>,
    pub first_line: usize,
    /// The header first.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The header's first cell, as text.
    pub fn first_header(&self) -> String {
        self.rows
            .first()
            .and_then(|row| row.first())
            .map(|cell| cell.trim().to_lowercase())
            .unwrap_or_default()
    }

    /// The rows after the header.
    pub fn body(&self) -> &[Vec<String>] {
        self.rows.get(1..).unwrap_or_default()
    }
}

/// Cells of a table row; `\|` inside a cell is a literal bar.
fn split_row(text: &str) -> Vec<String> {
    let inner = text.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The `id`s of the `<a id="...">` tags on a line.
fn explicit_ids(raw: &str) -> Vec<String> {
    raw.split("<a id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn parse_heading(raw: &str, seen: &mut HashMap<String, usize>) -> Option<Heading> {
    let level = raw.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) || !raw[level..].starts_with(' ') {
        return None;
    }
    let content = raw[level..].trim().trim_end_matches('#').trim();
    let text = rendered(content);
    let number = text
        .split_whitespace()
        .next()
        .map(|first| first.trim_end_matches('.'))
        .filter(|first| {
            !first.is_empty()
                && first
                    .split('.')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned);
    let base = slug(&text);
    let count = seen.entry(base.clone()).or_insert(0);
    let anchor = if *count == 0 {
        base.clone()
    } else {
        format!("{base}-{count}")
    };
    *count += 1;
    Some(Heading { number, anchor })
}

/// Inline markup removed: code spans keep their text, links their label, emphasis stars go.
pub fn rendered(content: &str) -> String {
    let mut out = String::new();
    let mut rest = content;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](") else {
            break;
        };
        let Some(end) = rest[open + close..].find(')') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..open + close]);
        rest = &rest[open + close + end + 1..];
    }
    out.push_str(rest);
    out.replace(['`', '*'], "")
}

/// GitHub's heading anchor: lower case; letters, digits, marks, `_`, `-` and spaces kept (accents
/// included), every other character dropped; each space becomes `-`.
pub fn slug(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|&c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' ') || is_mark(c))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Combining marks (a decomposed accent stays in the anchor, as on GitHub).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36F}')
}

/// The inline code spans of a line, outside fences: their content, trimmed of one space each side
/// when both are there (CommonMark).
pub fn code_spans(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'`' {
            index += 1;
            continue;
        }
        let run = bytes[index..].iter().take_while(|&&b| b == b'`').count();
        let start = index + run;
        let mut search = start;
        let mut found = None;
        while let Some(offset) = text[search..].find('`') {
            let at = search + offset;
            let closing = bytes[at..].iter().take_while(|&&b| b == b'`').count();
            if closing == run {
                found = Some(at);
                break;
            }
            search = at + closing;
        }
        let Some(end) = found else {
            break;
        };
        let content = &text[start..end];
        let content = match content.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
            Some(inner) if !inner.trim().is_empty() => inner,
            _ => content,
        };
        spans.push(content.to_owned());
        index = end + run;
    }
    spans
}

/// The line with every code span blanked (so links and words inside code are not seen).
pub fn without_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside: Option<usize> = None;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'`' {
            let run = bytes[index..].iter().take_while(|&&b| b == b'`').count();
            match inside {
                None if text[index + run..].contains(&"`".repeat(run)) => inside = Some(run),
                Some(open) if open == run => inside = None,
                _ => {}
            }
            out.push_str(&" ".repeat(run));
            index += run;
            continue;
        }
        let c = text[index..].chars().next().unwrap_or(' ');
        out.push(if inside.is_some() { ' ' } else { c });
        index += c.len_utf8();
    }
    out
}

/// The targets of the inline links and images of a line (outside code), and of a reference
/// definition (`[label]: target`).
pub fn link_targets(text: &str) -> Vec<String> {
    let plain = without_code(text);
    let mut targets = Vec::new();
    let trimmed = plain.trim_start();
    if trimmed.starts_with('[') {
        if let Some(colon) = trimmed.find("]: ") {
            targets.push(
                trimmed[colon + 3..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            );
            return targets;
        }
    }
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        let target = target.trim_start_matches('<').trim_end_matches('>');
        if !target.is_empty() {
            targets.push(target.to_owned());
        }
        rest = &after[end..];
    }
    targets
}

/// `%C3%A9` back to `é`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(value)) => {
                out.push(value);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every Markdown document of the repository.
pub fn all_docs() -> Vec<Doc> {
    repo::files_with("md").into_iter().map(Doc::load).collect()
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(
        slug("6. Pare-feu : le port 12345 réservé au réseau local"),
        "6-pare-feu--le-port-12345-réservé-au-réseau-local"
    );
    assert_eq!(
        slug(&rendered("Se connecter : `login`")),
        "se-connecter--login"
    );
    assert_eq!(slug("3.5 `users`, `userlist`"), "35-users-userlist");
    assert_eq!(
        slug(&rendered("3.5 `users`, `userlist`, `list_users`")),
        "35-users-userlist-list_users"
    );
    let doc = Doc::parse(
        PathBuf::from("x.md"),
        "# A\n## A\n```\n# not a heading\n```\n## A\n",
    );
    let anchors: Vec<&str> = doc.headings.iter().map(|h| h.anchor.as_str()).collect();
    assert_eq!(anchors, ["a", "a-1", "a-2"]);
}

#[test]
fn code_spans_and_links_are_found_outside_code() {
    assert_eq!(
        code_spans("a `b` and ``c ` d`` then ` e `"),
        ["b", "c ` d", "e"]
    );
    assert_eq!(
        link_targets("see [x](a.md#b) and `[y](not-a-link)` [z](c.md \"t\")"),
        ["a.md#b", "c.md"]
    );
    assert_eq!(percent_decode("r%C3%A9seau"), "réseau");
}
