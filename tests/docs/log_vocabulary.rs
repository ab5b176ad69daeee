//! The security log's words in SECURITE.md and in the journal page ([`JOURNAL`]) against the
//! code: every token a line can start with, and every `reason=` value.

use std::collections::{BTreeMap, BTreeSet};

use classcord::control::audit::WebRefusal;
use classcord::logging::SecurityEvent;

use super::markdown::{code_spans, Doc};
use super::protocol::{conn_rejected_reasons, protocol_error_reasons, register_refused_reasons};
use super::repo;
use super::rust_source::literals_under;
use super::{fail_with, is_word};

/// The operators' page whose « Journal » section lists each line's reasons.
const JOURNAL: &str = "docs/EXPLOITATION.md";

/// The `[A-Z_]+` word that starts `text` at `at`, if it is a token (3 characters at least).
fn token_at(text: &str, at: usize) -> Option<&str> {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..end];
    (word.len() >= 3 && word.starts_with(|c: char| c.is_ascii_uppercase())).then_some(word)
}

/// Tokens written as `TOKEN key=` in `text` (a log line's head).
fn tokens_before_keys(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, c) in text.char_indices() {
        // At the start, or after a space or a closing bracket (`[ERREUR] `, `{prefix}`): not a
        // value (`ip=ADRESSE_DU_POSTE user=...`).
        let starts_word = at == 0 || text[..at].ends_with([' ', ']', '}']);
        if !starts_word || !c.is_ascii_uppercase() {
            continue;
        }
        let Some(token) = token_at(text, at) else {
            continue;
        };
        let after = &text[at + token.len()..];
        let key: String = after
            .strip_prefix(' ')
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !key.is_empty() && after[1 + key.len()..].starts_with('=') {
            found.push(token.to_owned());
        }
    }
    found
}

/// Every token the server's security lines can start with: [`SecurityEvent::TOKENS`], and the
/// lines written by hand (the administration's, `LOG_DROPPED`), found as `TOKEN key=` in the
/// shell's string literals.
fn code_tokens() -> BTreeSet<String> {
    let mut tokens: BTreeSet<String> = SecurityEvent::TOKENS
        .iter()
        .map(|t| t.to_string())
        .collect();
    for literal in literals_under("src") {
        tokens.extend(tokens_before_keys(&literal.text));
    }
    tokens
}

/// The `PROTOCOL_ERROR` reasons of the web port, written in the shell rather than in a list: the
/// WebSocket frames no browser sends (`WsStop::Protocol("unmasked")`) and the upgrade's refusals
/// (`SecurityEvent::ProtocolError { .., reason: "foreign-origin", .. }`). Test code is skipped.
fn web_reasons() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for path in repo::files_with("rs") {
        let tests_file = path.file_name().is_some_and(|n| n == "tests.rs");
        if !path.starts_with("src") || tests_file {
            continue;
        }
        let text = repo::read(&path);
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        found.extend(quoted_after(code, "WsStop::Protocol(\""));
        for (at, _) in code.match_indices("SecurityEvent::ProtocolError {") {
            // The event's fields: up to its closing brace.
            let fields = &code[at..];
            let fields = &fields[..fields.find('}').unwrap_or(fields.len())];
            found.extend(quoted_after(fields, "reason: \""));
        }
    }
    found
}

/// The string literal that follows each `marker` (which ends with the opening quote).
fn quoted_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// The `reason=` values of each token that has one.
fn code_reasons() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        (
            "PROTOCOL_ERROR",
            protocol_error_reasons()
                .into_iter()
                .chain(web_reasons())
                .collect(),
        ),
        ("REGISTER_REFUSED", register_refused_reasons()),
        ("CONN_REJECTED", conn_rejected_reasons()),
        (
            "ADMIN_WEB_REFUSED",
            WebRefusal::ALL
                .iter()
                .map(|reason| reason.token().to_owned())
                .collect(),
        ),
    ])
}

#[test]
fn securite_md_documents_every_token_and_reason_and_no_other() {
    let doc = Doc::load("SECURITE.md");
    let code = code_tokens();
    assert!(code.len() >= 12, "tokens not found in the code: {code:?}");
    let reasons = code_reasons();
    let mut problems = Vec::new();
    let mut tabled = BTreeSet::new();
    for table in doc.tables() {
        if !table.first_header().starts_with("jeton") {
            continue;
        }
        for (row, cells) in table.body().iter().enumerate() {
            let line = table.first_line + 2 + row;
            let Some(token) = code_spans(&cells[0]).into_iter().next() else {
                problems.push(format!("SECURITE.md:{line}: a row without a token"));
                continue;
            };
            if !code.contains(&token) {
                problems.push(format!(
                    "SECURITE.md:{line}: `{token}` is not a token the server writes"
                ));
            }
            tabled.insert(token.clone());
            // The row's `reason` values: the bare words of its third column, but its key names.
            let keys: BTreeSet<String> = code_spans(cells.get(1).map_or("", |c| c))
                .into_iter()
                .collect();
            if let Some(expected) = reasons.get(token.as_str()) {
                let listed: BTreeSet<String> = code_spans(cells.get(2).map_or("", |c| c))
                    .into_iter()
                    .filter(|s| is_word(s) && !keys.contains(s))
                    .collect();
                if &listed != expected {
                    problems.push(format!(
                        "SECURITE.md:{line}: `{token}` reasons: {}",
                        difference(&listed, expected)
                    ));
                }
            }
        }
    }
    // Every token of the code is in a table, or at least named in a code span (`LOG_DROPPED`).
    let spans: Vec<String> = doc
        .lines
        .iter()
        .filter(|l| !l.in_fence)
        .flat_map(|l| code_spans(&l.text))
        .collect();
    for token in &code {
        let named = tabled.contains(token)
            || spans
                .iter()
                .any(|s| s == token || s.starts_with(&format!("{token} ")));
        if !named {
            problems.push(format!("SECURITE.md never names the token `{token}`"));
        }
    }
    problems.extend(stale_mentions(&doc, &code));
    fail_with(
        "SECURITE.md against the security log of the code",
        &problems,
    );
}

/// What a document's list lacks and what it has too many, against the code's.
fn difference(listed: &BTreeSet<String>, code: &BTreeSet<String>) -> String {
    let missing: Vec<&String> = code.difference(listed).collect();
    let extra: Vec<&String> = listed.difference(code).collect();
    format!("the doc lacks {missing:?} and has {extra:?}, which the code does not write")
}

/// `TOKEN key=...` written anywhere in a document (code spans and fenced examples) with a token
/// the code does not write.
fn stale_mentions(doc: &Doc, code: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for line in &doc.lines {
        let texts = line.code_texts();
        for text in texts {
            for token in tokens_before_keys(&text) {
                // Placeholders of the format description.
                if token == "JETON" || token == "TOKEN" {
                    continue;
                }
                if !code.contains(&token) {
                    problems.push(format!(
                        "{}:{}: `{token}` is not a token the server writes",
                        doc.name(),
                        line.number
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn the_journal_page_lists_the_reasons_of_its_lines() {
    let doc = Doc::load(JOURNAL);
    let reasons = code_reasons();
    let mut problems = stale_mentions(&doc, &code_tokens());
    // A list item that starts with `... TOKEN ... reason=...` lists that token's reasons.
    let mut items: Vec<(usize, String)> = Vec::new();
    for line in doc.lines.iter().filter(|l| !l.in_fence) {
        let text = line.text.trim_start();
        if text.starts_with("- ") {
            items.push((line.number, text.to_owned()));
        } else if !text.is_empty() && line.text.starts_with("  ") {
            if let Some((_, item)) = items.last_mut() {
                item.push(' ');
                item.push_str(text);
            }
        } else if text.is_empty() {
            items.push((line.number, String::new()));
        }
    }
    let mut seen = BTreeSet::new();
    for (line, item) in &items {
        let spans = code_spans(item);
        let Some(head) = spans.first() else { continue };
        if !head.contains("reason=") {
            continue;
        }
        let Some(token) = reasons.keys().find(|t| head.contains(*t)) else {
            problems.push(format!(
                "{JOURNAL}:{line}: `{head}` names no token with reasons"
            ));
            continue;
        };
        seen.insert(*token);
        let listed: BTreeSet<String> = spans
            .iter()
            .skip(1)
            .filter(|s| is_word(s) && s.as_str() != "reason")
            .cloned()
            .collect();
        if &listed != reasons.get(token).unwrap() {
            problems.push(format!(
                "{JOURNAL}:{line}: `{token}` reasons: {}",
                difference(&listed, &reasons[token])
            ));
        }
    }
    for token in ["PROTOCOL_ERROR", "REGISTER_REFUSED"] {
        if !seen.contains(token) {
            problems.push(format!(
                "{JOURNAL}: no list item gives the reasons of `{token}`"
            ));
        }
    }
    fail_with(
        &format!("{JOURNAL}'s journal section against the code"),
        &problems,
    );
}

#[test]
fn the_web_ports_reasons_are_found_in_the_source() {
    let reasons = web_reasons();
    for reason in ["foreign-origin", "unmasked", "bad-control-frame"] {
        assert!(reasons.contains(reason), "{reason} not found: {reasons:?}");
    }
    // src/logging/tests.rs builds a `ProtocolError` with `reason: "bad json\" ip=1.2.3.4"`: test
    // code is skipped.
    assert!(reasons.iter().all(|r| is_word(r)), "{reasons:?}");
}

#[test]
fn tokens_are_found_before_their_keys() {
    assert_eq!(
        tokens_before_keys("{prefix}LOG_DROPPED lines={} security={}"),
        ["LOG_DROPPED"]
    );
    assert_eq!(
        tokens_before_keys("[ERREUR] PROTOCOL_ERROR ip=… reason=…"),
        ["PROTOCOL_ERROR"]
    );
    assert!(tokens_before_keys("AUTH_FAIL").is_empty());
    assert!(tokens_before_keys("SIGHUP reçu").is_empty());
    assert_eq!(
        tokens_before_keys("AUTH_FAIL ip=ADRESSE_DU_POSTE user=\"x\""),
        ["AUTH_FAIL"]
    );
}
