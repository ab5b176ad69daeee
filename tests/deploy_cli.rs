//! The command line pieces packagers and containers rely on: `--version`, the usage shown
//! without a subcommand, and `healthcheck` against a real server and a closed port.

mod common;

use std::process::Command;

use common::TestServer;

fn classcord(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_classcord"))
        .args(args)
        .output()
        .expect("run classcord")
}

#[test]
fn version_names_the_version_target_and_revision() {
    for flag in ["--version", "-V"] {
        let output = classcord(&[flag]);
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        let expected = format!("classcord {} (", env!("CARGO_PKG_VERSION"));
        assert!(text.starts_with(&expected), "{text}");
        assert!(text.contains("-linux-"), "no target triple: {text}");
        assert!(text.contains(", git "), "no revision: {text}");
        assert_eq!(text.lines().count(), 1);
    }
}

#[test]
fn no_subcommand_prints_the_usage_and_fails() {
    let output = classcord(&[]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("serve"), "{text}");
    assert!(text.contains("healthcheck"), "{text}");
    assert!(text.contains("indiquez une commande"), "{text}");
    assert!(text.contains("Utilisation : classcord"), "{text}");
    assert!(!text.contains("Usage:"), "{text}");
}

/// Regression: argh printed its own English (`Unrecognized argument`, `Required options not
/// provided: --out`, `display usage information`).
#[test]
fn argument_mistakes_and_help_are_in_french() {
    for (args, expected) in [
        (&["serve", "--bogus"][..], "argument inconnu : --bogus"),
        (&["backup"][..], "option(s) obligatoire(s) absente(s) :"),
        (
            &["user", "add"][..],
            "argument(s) obligatoire(s) absent(s) :",
        ),
    ] {
        let output = classcord(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let text = String::from_utf8(output.stderr).unwrap();
        assert!(text.starts_with("classcord : erreur : "), "{text}");
        assert!(text.contains(expected), "{args:?}: {text}");
        assert!(text.contains("Aide : classcord "), "{text}");
        assert!(
            !text.contains("Run ") && !text.contains("Unrecognized"),
            "{text}"
        );
    }
    let help = classcord(&["user", "--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("affiche cette aide"), "{text}");
    assert!(!text.contains("display usage information"), "{text}");
    // The account commands go through a running server: no "server stopped" left in the help.
    for action in ["add", "del", "passwd"] {
        let help = classcord(&["user", action, "--help"]);
        let text = String::from_utf8(help.stdout).unwrap();
        assert!(!text.contains("serveur arrêté"), "{action}: {text}");
    }
}

#[test]
fn healthcheck_succeeds_against_a_live_server() {
    let server = TestServer::start();
    let addr = server.addr.to_string();
    let output = classcord(&["healthcheck", "--addr", &addr]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("bonne santé"), "{text}");
    let quiet = classcord(&["healthcheck", "--addr", &addr, "-q"]);
    assert!(quiet.status.success());
    assert!(quiet.stdout.is_empty());
    assert!(server.stop().success());
}

#[test]
fn healthcheck_fails_in_french_when_nothing_listens() {
    // A port that was free a moment ago: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = classcord(&["healthcheck", "--addr", &format!("127.0.0.1:{port}")]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("connexion à 127.0.0.1"), "{text}");
}

#[test]
fn healthcheck_fails_when_the_peer_is_not_a_classcord_server() {
    // A listener that answers something else and closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH\r\n");
        }
    });
    let output = classcord(&["healthcheck", "--addr", &addr.to_string()]);
    fake.join().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("réponse inattendue"), "{text}");
}
