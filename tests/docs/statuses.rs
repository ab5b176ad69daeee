//! The presence states the docs promise against `Presence::SPELLINGS`, the table
//! `Presence::parse` reads.

use std::collections::BTreeSet;

use classcord_core::message::Presence;

use super::fail_with;
use super::markdown::{code_spans, Doc};

/// Each document that tells clients which states they may send, and the header of its table.
const DOCS: [(&str, &str); 3] = [
    ("docs/PROTOCOL.md", "sent"),
    ("DOC_CONNEXION.md", "envoyé"),
    ("FONCTIONNALITES.md", "envoyé"),
];

#[test]
fn every_status_table_is_presence_spellings() {
    let code: BTreeSet<(String, String)> = Presence::SPELLINGS
        .iter()
        .map(|(spelling, state)| (spelling.to_string(), state.as_str().to_owned()))
        .collect();
    let mut problems = Vec::new();
    for (path, header) in DOCS {
        let doc = Doc::load(path);
        let tables: Vec<_> = doc
            .tables()
            .into_iter()
            .filter(|t| t.first_header() == header)
            .collect();
        let [table] = tables.as_slice() else {
            problems.push(format!(
                "{path}: expected one table whose first column is « {header} », found {}",
                tables.len()
            ));
            continue;
        };
        let mut listed = BTreeSet::new();
        for row in table.body() {
            let states = code_spans(row.get(1).map_or("", |c| c));
            let [state] = states.as_slice() else {
                problems.push(format!("{path}: a row without one state: {row:?}"));
                continue;
            };
            for spelling in code_spans(&row[0]) {
                listed.insert((spelling, state.clone()));
            }
        }
        for (spelling, state) in listed.difference(&code) {
            problems.push(format!(
                "{path}: says `{spelling}` gives `{state}`; Presence::parse gives {:?}",
                Presence::parse(spelling).map(Presence::as_str)
            ));
        }
        for (spelling, state) in code.difference(&listed) {
            problems.push(format!(
                "{path}: does not list `{spelling}` (accepted as `{state}`)"
            ));
        }
    }
    fail_with(
        "the accepted states in the docs against the code",
        &problems,
    );
}
