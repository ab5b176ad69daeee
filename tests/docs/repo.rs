//! The repository as the tests see it: its root, its files (build output and VCS data left out),
//! and reading them.

use std::path::{Path, PathBuf};

/// The repository root (this package's directory).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Folders that hold no source of ours: build output, VCS data, fuzzing runs.
const SKIPPED: [&str; 6] = [
    "target",
    ".git",
    "node_modules",
    "fuzz/target",
    "fuzz/corpus",
    "fuzz/artifacts",
];

/// Every file under the root, as paths relative to it, sorted.
pub fn files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(root().join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = dir.join(entry.file_name());
            // Installed packages are skipped wherever they are (tests/browser/node_modules).
            let skipped = SKIPPED.iter().any(|s| relative == Path::new(s))
                || entry.file_name() == "node_modules";
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && !skipped {
                pending.push(relative);
            } else if kind.is_file() {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// Every file ending in `extension` (without the dot).
pub fn files_with(extension: &str) -> Vec<PathBuf> {
    files()
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect()
}

/// A file's text; a file that is not UTF-8 (a binary fixture) reads as empty.
pub fn read(relative: &Path) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_default()
}
