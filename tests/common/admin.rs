//! Running the real `classcord admin` against a test server's control socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::TestServer;

impl TestServer {
    /// The server's control socket (in its data folder).
    pub fn admin_socket(&self) -> PathBuf {
        self.data.join("admin.sock")
    }

    /// `classcord admin --data DATA ARGS...`.
    pub fn admin(&self, args: &[&str]) -> Output {
        run_admin(&self.data, args)
    }

    /// Runs a command that must succeed; returns its French text.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let output = self.admin(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "classcord admin {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs a command with `--json`; returns the reply.
    pub fn admin_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.admin(&all);
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "not a JSON reply ({e}): {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }
}

pub fn run_admin(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_classcord"))
        .arg("admin")
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run classcord admin")
}
