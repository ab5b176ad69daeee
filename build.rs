//! Build script: records what `classcord --version` prints besides the crate version, namely the
//! target triple and the git revision. Builds from a tarball (no `.git`, or no `git` program) fall
//! back to `CLASSCORD_GIT_REV` when set, otherwise to "inconnue", and never fail.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "inconnue".into());
    println!("cargo:rustc-env=CLASSCORD_TARGET={target}");

    println!("cargo:rerun-if-env-changed=CLASSCORD_GIT_REV");
    let revision = std::env::var("CLASSCORD_GIT_REV")
        .ok()
        .filter(|rev| !rev.trim().is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "inconnue".into());
    println!("cargo:rustc-env=CLASSCORD_GIT_REV={}", revision.trim());
}

/// The short hash of HEAD, and rerun hints so a new commit rebuilds the version string.
fn git_revision() -> Option<String> {
    // Sources unpacked inside some other repository must not report that repository's HEAD.
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    if top.canonicalize().ok()? != manifest.canonicalize().ok()? {
        return None;
    }
    let revision = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD names the branch; the branch's ref file (or packed-refs) changes on each commit.
    // In a worktree the per-worktree HEAD and the shared refs live in different directories.
    // Only existing paths are watched: cargo reruns the script on every build for a missing one.
    let mut watched = Vec::new();
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        watched.push(PathBuf::from(git_dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        let common = PathBuf::from(common);
        watched.push(common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(branch));
        }
    }
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(revision)
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}
