//! Links between the documents: every relative link leads to a file or folder of the repository,
//! every `#anchor` to a heading (GitHub's anchors, accents included); and every source file a
//! document names still exists.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::fail_with;
use super::markdown::{all_docs, link_targets, percent_decode, Doc};
use super::repo;

/// `base/relative`, with `.` and `..` resolved without touching the disk; `None` above the root.
fn join(base: &Path, relative: &str) -> Option<PathBuf> {
    let mut parts: Vec<Component> = base.components().collect();
    for component in Path::new(relative).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(_) => parts.push(component),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let docs = all_docs();
    assert!(docs.len() >= 10, "documents not found");
    let by_path: HashMap<PathBuf, &Doc> = docs.iter().map(|d| (d.path.clone(), d)).collect();
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let dir = doc.path.parent().unwrap_or(Path::new(""));
        for line in doc.lines.iter().filter(|l| !l.in_fence) {
            for target in link_targets(&line.text) {
                let external = target.contains("://") || target.starts_with("mailto:");
                if external {
                    continue;
                }
                checked += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((path, anchor)) => (path, Some(percent_decode(anchor))),
                    None => (target.as_str(), None),
                };
                let path = percent_decode(path);
                let resolved = if path.is_empty() {
                    Some(doc.path.clone())
                } else {
                    join(dir, &path)
                };
                let place = format!("{}:{}: ({target})", doc.name(), line.number);
                let Some(resolved) = resolved else {
                    broken.push(format!("{place} leaves the repository"));
                    continue;
                };
                if !repo::root().join(&resolved).exists() {
                    broken.push(format!("{place} leads to no file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                match by_path.get(&resolved) {
                    Some(target_doc) if !target_doc.has_anchor(&anchor) => {
                        broken.push(format!(
                            "{place} names no heading of {}",
                            resolved.display()
                        ));
                    }
                    Some(_) => {}
                    None if resolved.extension().is_some_and(|e| e == "md") => {
                        broken.push(format!("{place}: {} was not read", resolved.display()));
                    }
                    None => {} // an anchor into a source file (a line number)
                }
            }
        }
    }
    assert!(checked > 20, "links not found ({checked})");
    fail_with("broken links in the documentation", &broken);
}

/// Paths and file names of our sources (`src/config/mod.rs`, `hub_task/`, `outbox.rs`) written in
/// code spans and fenced blocks.
fn named_sources(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '`'))
    {
        let word = word.trim_end_matches(['.', ':']);
        let source = [".rs", ".sh", ".java"].iter().any(|e| word.ends_with(e));
        let folder = word.ends_with('/') && word.len() > 1;
        let plain = word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
        if (source || folder) && plain && !word.starts_with('/') && !word.starts_with("./") {
            names.push(word.to_owned());
        }
    }
    names
}

#[test]
fn every_source_file_a_doc_names_exists() {
    let files: Vec<String> = repo::files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let exists = |name: &str| {
        let bare = name.trim_end_matches('/');
        files.iter().any(|f| {
            f == bare
                || f.ends_with(&format!("/{bare}"))
                || f.starts_with(&format!("{bare}/"))
                || f.contains(&format!("/{bare}/"))
        })
    };
    let mut missing = Vec::new();
    for doc in all_docs() {
        let dir = doc.path.parent().unwrap_or(Path::new(""));
        for line in &doc.lines {
            let texts = line.code_texts();
            for text in texts {
                for name in named_sources(&text) {
                    let relative = join(dir, &name).is_some_and(|p| repo::root().join(p).exists());
                    let checked = !name.ends_with('/') || is_our_folder(&name);
                    if checked && !relative && !exists(&name) {
                        missing.push(format!("{}:{}: {name}", doc.name(), line.number));
                    }
                }
            }
        }
    }
    fail_with(
        "the documentation names source files or folders that do not exist",
        &missing,
    );
}

/// A folder name under one of ours (`src/...`, `core/...`, `net/...`): other folders in the docs
/// are the system's (`/var/lib/...`) or examples.
fn is_our_folder(name: &str) -> bool {
    let first = name.split('/').next().unwrap_or("");
    [
        "src", "core", "tests", "net", "hub", "hub_task", "admin", "store", "cli", "config",
        "logging", "security",
    ]
    .contains(&first)
}
