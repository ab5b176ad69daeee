//! The command line in the docs against the real binary's help: every `classcord SUB ... --flag`
//! a document writes exists, every subcommand and flag is written somewhere (each subcommand in
//! the README's table of commands), and the table of `serve` options ([`SERVE_OPTIONS`]) is
//! exactly `classcord serve --help`'s. Only names are compared: the help's words may be
//! translated.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use super::fail_with;
use super::markdown::{all_docs, code_spans, Doc};

/// The page that holds the table of `classcord serve` options (the README links it).
const SERVE_OPTIONS: &str = "docs/EXPLOITATION.md";

/// One command's help: its flags and its subcommands (by name).
#[derive(Debug, Default)]
struct Help {
    flags: BTreeSet<String>,
    /// The names of one flag (`-q`, `--quiet`).
    aliases: Vec<Vec<String>>,
    subcommands: BTreeSet<String>,
}

fn help_of(path: &[&str]) -> Help {
    let output = Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(path)
        .arg("--help")
        .output()
        .expect("run classcord --help");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && text.contains("classcord"),
        "classcord {} --help: {text}{}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    parse_help(&text)
}

/// argh's help: the usage line first, then sections whose entries start with two spaces, a name
/// (`--listen`, `-q, --quiet`, `serve`, `file`) and two spaces or more before its description. A
/// name without a dash is a positional argument when the usage line shows it as `<name>`, a
/// subcommand otherwise.
fn parse_help(text: &str) -> Help {
    let usage = text.lines().next().unwrap_or_default();
    let mut help = Help::default();
    for line in text.lines().skip(1) {
        let Some(entry) = line.strip_prefix("  ") else {
            continue;
        };
        if entry.starts_with(' ') || entry.is_empty() {
            continue; // a description's continuation
        }
        let name = entry.split("  ").next().unwrap_or_default().trim();
        if name.starts_with('-') {
            // `-q, --quiet`; a long name may be followed by its description after one space.
            let names: Vec<String> = name
                .split_whitespace()
                .map(|part| part.trim_end_matches(','))
                .take_while(|part| part.starts_with('-'))
                .map(str::to_owned)
                .collect();
            help.flags.extend(names.iter().cloned());
            help.aliases.push(names);
        } else if name.contains(char::is_whitespace) {
            continue; // a paragraph of the help, not a name
        } else if !usage.contains(&format!("<{name}>")) {
            help.subcommands.insert(name.to_owned());
        }
    }
    help
}

/// `classcord --help` and every subcommand's help, by path (`""`, `"serve"`, `"user add"`).
fn all_helps() -> BTreeMap<String, Help> {
    let mut helps = BTreeMap::new();
    let top = help_of(&[]);
    for sub in &top.subcommands {
        let help = help_of(&[sub]);
        for nested in &help.subcommands {
            helps.insert(format!("{sub} {nested}"), help_of(&[sub, nested]));
        }
        helps.insert(sub.clone(), help);
    }
    helps.insert(String::new(), top);
    helps
}

/// Where the docs write commands: code spans, and the lines of fenced blocks.
fn command_texts(doc: &Doc) -> Vec<(usize, String)> {
    doc.lines
        .iter()
        .flat_map(|line| {
            let texts = line.code_texts();
            texts.into_iter().map(move |t| (line.number, t))
        })
        .collect()
}

/// A command written in a doc: its subcommand path and the flags given to it.
#[derive(Debug, PartialEq)]
struct Written {
    path: Vec<String>,
    flags: Vec<String>,
}

/// The `classcord ...` commands in a text. `classcord` counts where a command starts: first, after
/// `$`, `sudo`, `exec`, `&&`, `|`, `;`, or as a path (`target/release/classcord`); so
/// `journalctl -t classcord -f` is not one. In `docker exec classcord classcord admin`, the first
/// is the container.
fn commands_in(text: &str) -> Vec<Written> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut found = Vec::new();
    for (index, &word) in words.iter().enumerate() {
        let program = word == "classcord" || word.ends_with("/classcord");
        let starts = index == 0
            || matches!(words[index - 1], "$" | "sudo" | "exec" | "&&" | "|" | ";")
            || (words[index - 1] == "classcord" && index >= 2 && words[index - 2] == "exec");
        if !program || !starts || words.get(index + 1) == Some(&"classcord") {
            continue;
        }
        let mut path: Vec<String> = Vec::new();
        let mut flags = Vec::new();
        let mut positionals = 0;
        for &arg in &words[index + 1..] {
            if arg.starts_with('#')
                || matches!(
                    arg,
                    "|" | "&&" | ";" | ">" | "<" | "2>" | "2>>" | ">>" | "&"
                )
            {
                break;
            }
            let arg = arg
                .trim_start_matches(['[', '('])
                .trim_end_matches([']', ')', ',']);
            let flag = arg.len() >= 2
                && arg.starts_with('-')
                && arg[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '-')
                && arg != "--";
            if flag {
                flags.push(arg.split('=').next().unwrap_or(arg).to_owned());
            } else if path.first().is_some_and(|p| p == "admin") {
                // The console's own words follow: only `admin`'s flags before them are argh's.
                break;
            } else {
                positionals += 1;
                // The subcommand is the first word, a nested one (`user add`) the second, right
                // after it; a first word that is not a command (`classcord : erreur`) ends it.
                let nested = positionals == 2 && path.len() == 1 && flags.is_empty();
                if (positionals == 1 || nested) && is_command_word(arg) {
                    path.push(arg.to_owned());
                } else if positionals == 1 {
                    break;
                }
            }
        }
        found.push(Written { path, flags });
    }
    found
}

fn is_command_word(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '|' | '\\'))
}

#[test]
fn every_command_and_flag_the_docs_write_exists() {
    let helps = all_helps();
    assert!(
        helps.len() > 10,
        "subcommands not found: {:?}",
        helps.keys()
    );
    let mut problems = Vec::new();
    let mut seen = 0;
    for doc in all_docs() {
        for (line, text) in command_texts(&doc) {
            for written in commands_in(&text) {
                seen += 1;
                let place = format!("{}:{line}: {}", doc.name(), text.trim());
                // The subcommand, then (for `user`) the nested one; `a|b` names alternatives.
                let mut key = String::new();
                for (depth, word) in written.path.iter().enumerate() {
                    let parent = helps.get(&key).expect("known path");
                    let mut next = None;
                    for alternative in word.split(['|', '\\']).filter(|w| !w.is_empty()) {
                        if parent.subcommands.contains(alternative) {
                            next = Some(alternative.to_owned());
                        } else if depth == 0 || !parent.subcommands.is_empty() {
                            problems.push(format!("{place}: no subcommand `{alternative}`"));
                        }
                    }
                    let Some(next) = next else { break };
                    key = if key.is_empty() {
                        next
                    } else {
                        format!("{key} {next}")
                    };
                    if helps.get(&key).is_none_or(|h| h.subcommands.is_empty()) {
                        break;
                    }
                }
                let Some(help) = helps.get(&key) else {
                    continue;
                };
                for flag in &written.flags {
                    if !help.flags.contains(flag) {
                        problems.push(format!("{place}: `classcord {key}` has no flag `{flag}`"));
                    }
                }
            }
        }
    }
    assert!(seen > 40, "commands not found in the docs ({seen})");
    fail_with("commands in the docs against `classcord --help`", &problems);
}

#[test]
fn every_subcommand_and_flag_is_documented() {
    let helps = all_helps();
    let readme = Doc::load("README.md");
    let readme_commands: Vec<Written> = command_texts(&readme)
        .into_iter()
        .flat_map(|(_, text)| commands_in(&text))
        .collect();
    let readme_spans: BTreeSet<String> = readme
        .lines
        .iter()
        .filter(|l| !l.in_fence)
        .flat_map(|l| code_spans(&l.text))
        .flat_map(|span| {
            span.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let written_anywhere: BTreeSet<String> = all_docs()
        .iter()
        .flat_map(command_texts)
        .flat_map(|(_, text)| {
            text.split_whitespace()
                .map(|w| w.split('=').next().unwrap_or(w).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut problems = Vec::new();
    for (path, help) in &helps {
        let mut words = path.split(' ');
        let first = words.next().unwrap_or_default();
        if let Some(nested) = words.next() {
            // `user add`: named in the README (`user add`, or `add` in a `user` row).
            if !readme_spans.contains(nested) {
                problems.push(format!("README.md never names `{path}`"));
            }
        } else if !first.is_empty()
            && !readme_commands
                .iter()
                .any(|w| w.path.first().is_some_and(|p| p == first))
        {
            problems.push(format!("README.md never writes `classcord {first}`"));
        }
        for names in &help.aliases {
            if names.iter().any(|n| n == "--help") {
                continue;
            }
            if !names.iter().any(|name| written_anywhere.contains(name)) {
                problems.push(format!(
                    "no document writes `{}` (`classcord {path}`)",
                    names.join("` or `")
                ));
            }
        }
    }
    fail_with("subcommands and flags missing from the docs", &problems);
}

#[test]
fn the_table_of_serve_options_is_serve_help() {
    let helps = all_helps();
    let doc = Doc::load(SERVE_OPTIONS);
    let table = doc
        .tables()
        .into_iter()
        .find(|t| t.first_header() == "option")
        .unwrap_or_else(|| panic!("{SERVE_OPTIONS}: the table of `classcord serve` options"));
    let listed: BTreeSet<String> = table
        .body()
        .iter()
        .filter_map(|row| code_spans(&row[0]).into_iter().next())
        .filter_map(|span| span.split_whitespace().next().map(str::to_owned))
        .collect();
    let mut flags = helps["serve"].flags.clone();
    flags.remove("--help");
    assert_eq!(
        listed, flags,
        "{SERVE_OPTIONS}'s options table against `classcord serve --help`"
    );
}

#[test]
fn commands_are_read_like_a_shell() {
    // The console's words (and whatever flags they take) are not argh's.
    let written = commands_in("sudo classcord admin --json kick alice --yes");
    assert_eq!(
        written,
        [Written {
            path: vec!["admin".into()],
            flags: vec!["--json".into()],
        }]
    );
    let written = commands_in("classcord user add alice --data /var/lib/classcord");
    assert_eq!(written[0].path, ["user", "add"]);
    assert_eq!(written[0].flags, ["--data"]);
    assert!(commands_in("journalctl -t classcord -f").is_empty());
    let written = commands_in("classcord : erreur : indiquez une commande");
    assert!(written[0].path.is_empty(), "{written:?}");
    let written = commands_in("docker exec classcord classcord healthcheck -q # ok");
    assert_eq!(written[0].path, ["healthcheck"]);
    assert_eq!(written[0].flags, ["-q"]);
    let written = commands_in("target/release/classcord serve --listen=0.0.0.0:1 2>> log");
    assert_eq!(written[0].flags, ["--listen"]);
    let help = parse_help(
        "Usage: classcord user add [--data <data>] [--] <name>\n\nCrée.\n\nPositional Arguments:\n  name              nom\n\nOptions:\n  --data            dossier\n                    suite\n  -q, --quiet       rien\n  --help, help      aide\n\nCommands:\n  list              Liste.\n",
    );
    assert_eq!(
        help.flags,
        BTreeSet::from([
            "--data".into(),
            "-q".into(),
            "--quiet".into(),
            "--help".into()
        ])
    );
    assert_eq!(help.subcommands, BTreeSet::from(["list".to_owned()]));
}
