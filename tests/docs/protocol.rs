//! docs/PROTOCOL.md against the code: every reference to it, the sections cited, the texts the
//! server sends, the log reasons, the limits, the tests it names, and that it ships.

use std::collections::BTreeSet;
use std::path::Path;

use classcord::security::Refusal;
use classcord_core::frame::DEFAULT_MAX_LINE_BYTES;
use classcord_core::hub::output::reasons;
use classcord_core::hub::MAX_LINES_WHILE_CHECKING;
use classcord_core::hub::{HubConfig, LineRate, LoginHold, MAX_CHANNELS, MAX_CHANNELS_PER_SESSION};
use classcord_core::message::{
    Presence, RequestError, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MAX_CHANNEL_CHARS,
    MAX_NAME_CHARS, MAX_PASSWORD_BYTES,
};

use super::markdown::{code_spans, Doc};
use super::repo;
use super::rust_source::{literals_under, Literal};
use super::{fail_with, is_word};

pub const CONTRACT: &str = "docs/PROTOCOL.md";

/// Files that may cite the contract or a section of a document.
fn citing_files() -> Vec<std::path::PathBuf> {
    let kinds = ["rs", "md", "java", "sh", "py", "toml"];
    repo::files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| kinds.iter().any(|k| e == *k)))
        .filter(|p| p != Path::new(CONTRACT))
        // These tests name the contract to look for it.
        .filter(|p| !p.starts_with("tests/docs"))
        .collect()
}

#[test]
fn every_reference_to_the_contract_names_docs_protocol_md() {
    let mut wrong = Vec::new();
    for file in citing_files() {
        let in_docs = file.starts_with("docs");
        for (number, line) in repo::read(&file).lines().enumerate() {
            for (at, _) in line.match_indices("PROTOCOL.md") {
                let before = &line[..at];
                let bare = !before.ends_with('/');
                let ok = before.ends_with("docs/") || (in_docs && bare);
                if !ok {
                    wrong.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    fail_with(
        "these lines name the wire contract other than as docs/PROTOCOL.md",
        &wrong,
    );
}

/// The document a name on a line (`PROTOCOL.md`, `docs/STORAGE.md`, `SECURITE.md`) stands for.
fn cited_doc(token: &str) -> Option<String> {
    let name = token.trim_start_matches("../");
    let candidates = [name.to_owned(), format!("docs/{name}")];
    candidates
        .into_iter()
        .find(|candidate| repo::root().join(candidate).is_file())
}

/// `§4.2` references on a line, each with the document it refers to: the last document named
/// before it on the line, or `default` (a Markdown file cites itself).
fn section_refs(line: &str, default: Option<&str>) -> Vec<(Option<String>, String)> {
    let mut refs = Vec::new();
    let mut current = default.map(str::to_owned);
    let words =
        line.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '`' | ','));
    for word in words {
        if let Some(at) = word.find(".md") {
            // None for a document outside the repository (DESIGN.md).
            current = cited_doc(&word[..at + 3]);
        }
        for part in word.split('§').skip(1) {
            let number: String = part
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            if !number.is_empty() {
                refs.push((current.clone(), number.to_owned()));
            }
        }
    }
    refs
}

#[test]
fn every_section_a_file_cites_exists() {
    let mut docs = std::collections::HashMap::new();
    let mut missing = Vec::new();
    for file in citing_files().into_iter().chain([CONTRACT.into()]) {
        let own = file
            .extension()
            .is_some_and(|e| e == "md")
            .then(|| file.display().to_string());
        for (number, line) in repo::read(&file).lines().enumerate() {
            for (doc, section) in section_refs(line, own.as_deref()) {
                let Some(doc) = doc else { continue };
                let parsed = docs.entry(doc.clone()).or_insert_with(|| Doc::load(&doc));
                if !parsed.has_section(&section) {
                    missing.push(format!(
                        "{}:{}: {doc} §{section} does not exist",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    fail_with("these lines cite a section that does not exist", &missing);
}

/// The first code span of each row of the tables of `section` (the header row left out), with
/// the column it is taken from.
fn first_spans(doc: &Doc, section: &str, column: usize) -> Vec<(usize, String)> {
    doc.tables()
        .into_iter()
        .filter(|table| {
            table
                .section
                .as_deref()
                .is_some_and(|s| s == section || s.starts_with(&format!("{section}.")))
        })
        .flat_map(|table| {
            let first = table.first_line;
            table
                .body()
                .iter()
                .enumerate()
                .filter_map(|(row, cells)| {
                    let span = code_spans(cells.get(column)?).into_iter().next()?;
                    Some((first + 2 + row, span))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn server_literals() -> Vec<Literal> {
    let mut all = literals_under("core/src");
    all.extend(literals_under("src"));
    all
}

#[test]
fn every_text_the_docs_quote_is_the_servers_own() {
    let literals = server_literals();
    let patterns: Vec<_> = literals.iter().map(Literal::pattern).collect();
    let contract = Doc::load(CONTRACT);
    let guide = Doc::load("DOC_CONNEXION.md");
    let mut quoted: Vec<(String, usize, String)> = first_spans(&contract, "8", 0)
        .into_iter()
        .map(|(line, text)| (contract.name(), line, text))
        .collect();
    // The students' guide's table of errors: the text is the second column.
    quoted.extend(
        first_spans(&guide, "5", 1)
            .into_iter()
            .map(|(line, text)| (guide.name(), line, text)),
    );
    assert!(quoted.len() > 50, "the texts were not found: {quoted:?}");
    let unknown: Vec<String> = quoted
        .iter()
        .filter(|(_, _, text)| !patterns.iter().any(|p| p.accounts_for(text, &patterns)))
        .map(|(doc, line, text)| format!("{doc}:{line}: {text}"))
        .collect();
    fail_with(
        "these texts are not what the server writes (no string literal of core/ or src/ matches)",
        &unknown,
    );
}

/// The core's literals that are sentences a client can read (the console's replies, in
/// `hub/admin.rs`, and the presence spellings are not).
fn core_sentences() -> Vec<Literal> {
    let spellings: BTreeSet<&str> = Presence::SPELLINGS.iter().map(|(s, _)| *s).collect();
    literals_under("core/src")
        .into_iter()
        .filter(|l| !l.file.ends_with("hub/admin.rs"))
        .filter(|l| l.words() >= 3 && l.text.chars().any(char::is_lowercase))
        .filter(|l| !spellings.contains(l.text.as_str()))
        .collect()
}

#[test]
fn every_text_the_core_sends_is_in_the_contract() {
    let contract = Doc::load(CONTRACT);
    let spans: Vec<String> = contract
        .section_lines("8")
        .filter(|line| !line.in_fence)
        .flat_map(|line| code_spans(&line.text))
        .collect();
    let sentences = core_sentences();
    assert!(sentences.len() > 40, "too few texts found: {sentences:?}");
    let missing: Vec<String> = sentences
        .iter()
        .filter(|l| !spans.iter().any(|span| l.pattern().occurs_in(span)))
        .map(|l| format!("{}: {:?}", l.file.display(), l.text))
        .collect();
    fail_with(
        "these texts of the core are not in docs/PROTOCOL.md §8 (add them there)",
        &missing,
    );
}

/// Every `reason` a `PROTOCOL_ERROR` line may carry.
pub fn protocol_error_reasons() -> BTreeSet<String> {
    RequestError::REASONS
        .iter()
        .chain(reasons::REJECTED.iter())
        .map(|r| r.to_string())
        .collect()
}

pub fn register_refused_reasons() -> BTreeSet<String> {
    reasons::REGISTER_REFUSED
        .iter()
        .map(|r| r.to_string())
        .collect()
}

pub fn conn_rejected_reasons() -> BTreeSet<String> {
    Refusal::ALL.iter().map(|r| r.token().to_owned()).collect()
}

#[test]
fn the_contract_names_every_log_reason_and_only_those() {
    let contract = Doc::load(CONTRACT);
    let known: BTreeSet<String> = protocol_error_reasons()
        .into_iter()
        .chain(register_refused_reasons())
        .collect();
    // The log column of §8.1, and every `reason=X` anywhere in the contract.
    let mut named = BTreeSet::new();
    for table in contract.tables() {
        if table.section.as_deref() != Some("8.1") {
            continue;
        }
        for row in table.body() {
            let log = row.get(2).map(String::as_str).unwrap_or_default();
            named.extend(code_spans(log).into_iter().filter(|s| is_word(s)));
        }
    }
    for line in contract.lines.iter().filter(|l| !l.in_fence) {
        for span in code_spans(&line.text) {
            for (at, _) in span.match_indices("reason=") {
                let word: String = span[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if is_word(&word) {
                    named.insert(word);
                }
            }
        }
    }
    let missing: Vec<String> = known.difference(&named).cloned().collect();
    fail_with("docs/PROTOCOL.md never names these log reasons", &missing);
    let conn = conn_rejected_reasons();
    let unknown: Vec<String> = named
        .iter()
        .filter(|r| !known.contains(*r) && !conn.contains(*r))
        .cloned()
        .collect();
    fail_with(
        "docs/PROTOCOL.md names these reasons, which the code never writes",
        &unknown,
    );
    let refusals: BTreeSet<String> = first_spans(&contract, "8.3", 1)
        .into_iter()
        .map(|(_, span)| span)
        .collect();
    assert_eq!(refusals, conn, "docs/PROTOCOL.md §8.3 against Refusal::ALL");
}

#[test]
fn the_contract_limits_are_the_codes_defaults() {
    let hub = HubConfig::default();
    let hold = LoginHold::default();
    let rate = hub.line_rate.unwrap_or(LineRate::default());
    let expected = [
        ("inbound line", format!("{DEFAULT_MAX_LINE_BYTES} bytes")),
        (
            "anonymous connection",
            format!("{} s", hub.identify_timeout_secs.unwrap_or(0)),
        ),
        (
            "lines per connection",
            format!("{} per second, bursts of {}", rate.per_second, rate.burst),
        ),
        (
            "lines sent while a password is checked",
            MAX_LINES_WHILE_CHECKING.to_string(),
        ),
        ("login hold: settle delay", format!("{} ms", hold.settle_ms)),
        ("login hold: spacing", format!("{} ms", hold.spacing_ms)),
        (
            "login hold: release",
            format!("{} ms", hold.release_within_ms),
        ),
        ("user or guest name", format!("{MAX_NAME_CHARS} characters")),
        ("channel name", format!("{MAX_CHANNEL_CHARS} characters")),
        ("password", format!("{MAX_PASSWORD_BYTES} bytes")),
        (
            "`history` page",
            format!("{HISTORY_DEFAULT_LIMIT} lines, at most {HISTORY_MAX_LIMIT}"),
        ),
        (
            "channels of one connection",
            MAX_CHANNELS_PER_SESSION.to_string(),
        ),
        ("channels on the server", MAX_CHANNELS.to_string()),
        (
            "deferred lines for one account",
            hub.deferred_per_recipient.to_string(),
        ),
        (
            "deferred lines from one sender",
            hub.deferred_per_sender.to_string(),
        ),
    ];
    let contract = Doc::load(CONTRACT);
    let table = contract
        .tables()
        .into_iter()
        .find(|t| t.section.as_deref() == Some("7"))
        .expect("the limits table of §7");
    let mut wrong = Vec::new();
    for (limit, value) in &expected {
        match table.body().iter().find(|row| row[0] == *limit) {
            Some(row) if row.get(1) == Some(value) => {}
            Some(row) => wrong.push(format!(
                "{limit}: the contract says {:?}, the code {value:?}",
                row.get(1)
            )),
            None => wrong.push(format!("{limit}: no row (the code says {value:?})")),
        }
    }
    fail_with("docs/PROTOCOL.md §7 against the code's defaults", &wrong);
}

#[test]
fn tests_the_contract_names_exist() {
    let contract = Doc::load(CONTRACT);
    let mut sources = String::new();
    for file in repo::files_with("rs") {
        if file.starts_with("tests") || file.starts_with("core") {
            sources.push_str(&repo::read(&file));
        }
    }
    let named: BTreeSet<String> = contract
        .section_lines("6")
        .flat_map(|line| code_spans(&line.text))
        .filter(|span| {
            span.matches('_').count() >= 3
                && span
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(named.len() >= 12, "test names not found: {named:?}");
    let missing: Vec<String> = named
        .into_iter()
        .filter(|name| !sources.contains(&format!("fn {name}(")))
        .collect();
    fail_with(
        "docs/PROTOCOL.md §6 names tests that do not exist",
        &missing,
    );
}

#[test]
fn the_contract_ships_in_the_deb_and_the_tarballs() {
    let manifest: toml::Table = repo::read(Path::new("Cargo.toml"))
        .parse()
        .expect("Cargo.toml parses");
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("deb assets");
    let shipped = assets.iter().any(|asset| {
        asset.get(0).and_then(|a| a.as_str()) == Some(CONTRACT)
            && asset.get(1).and_then(|a| a.as_str()) == Some("usr/share/doc/classcord/")
    });
    assert!(
        shipped,
        "Cargo.toml: {CONTRACT} is not in the .deb's /usr/share/doc/classcord/"
    );
    let release = repo::read(Path::new("cross/release.sh"));
    assert!(
        release.contains(&format!("install -m 644 {CONTRACT} \"$stage/docs/\"")),
        "cross/release.sh does not put {CONTRACT} in the tarballs"
    );
}
