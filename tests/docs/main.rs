//! The documentation held against the code (issue 15: docs that cannot drift). Each test reads
//! the Markdown documents and compares what they state with the code's own lists, so that a
//! token, a reason, a text, a flag, a section or a link changed on one side only fails here:
//!
//! - `links`: relative links and `#anchors` (GitHub's rules) resolve; source files named exist;
//! - `protocol`: references to docs/PROTOCOL.md and the sections every file cites; its texts
//!   against the source's string literals, both ways; its log reasons, limits and tests; shipping;
//! - `log_vocabulary`: the tokens and `reason=` values of SECURITE.md and of the journal page
//!   (docs/EXPLOITATION.md), the web port's reasons included;
//! - `statuses`: the accepted presence states (`Presence::SPELLINGS`);
//! - `cli`: subcommands and flags against the real binary's `--help` (the README names every
//!   subcommand; docs/EXPLOITATION.md holds the table of `serve` options).
//!
//! `markdown`, `rust_source` and `repo` are the small readers they share.

mod cli;
mod links;
mod log_vocabulary;
mod markdown;
mod protocol;
mod repo;
mod rust_source;
mod statuses;

/// Fails with every problem listed, one a line, so a single run shows them all.
pub fn fail_with(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what} ({}):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// A lower-case word with hyphens (`bad-json`): how log values and reasons are written.
pub fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
}
