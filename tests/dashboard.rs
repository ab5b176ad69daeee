//! The teacher's dashboard (`/admin`) over the real binary: HTTPS on the web port with its
//! self-signed certificate (rustls client), operator accounts, the sign-in with the chat's own
//! attempt limits, the session cookie, the WebSocket's origin and session checks, actions through
//! the console's vocabulary logged with the operator's name.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::https::{self, admin_ws, session_cookie, sign_in};
use common::{TestServer, TIMEOUT};
use serde_json::json;

/// Three wrong passwords lock an account, without the one-second delays before.
const QUICK_LOCKOUT: &str =
    "[security]\nlogin_failures_before_delay = 0\naccount_lockout_after = 3\n";

/// A server with the accounts `prof` (operator) and `eleve`.
fn class(config: &str) -> (TestServer, SocketAddr) {
    let server = TestServer::start_with_config(config);
    for name in ["prof", "eleve"] {
        let mut client = server.client();
        client.account_with(name, &format!("secret-{name}"));
    }
    server.admin_ok(&["operator", "add", "prof"]);
    let web = server.web_addr();
    (server, web)
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> https::Answer {
    https::request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n"),
    )
}

#[test]
fn plain_http_to_the_dashboard_never_serves_the_form() {
    let server = TestServer::start();
    let web = server.web_addr();
    let body = "name=prof&password=secret-prof";
    for request in [
        format!("GET /admin HTTP/1.1\r\nHost: {web}\r\n\r\n"),
        format!("GET /admin/ HTTP/1.1\r\nHost: {web}\r\n\r\n"),
        format!("GET /admin/admin.js HTTP/1.1\r\nHost: {web}\r\n\r\n"),
        // A client that claims a proxy's HTTPS without being a trusted proxy.
        format!("GET /admin HTTP/1.1\r\nHost: {web}\r\nX-Forwarded-Proto: https\r\n\r\n"),
        format!(
            "POST /admin/login HTTP/1.1\r\nHost: {web}\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    ] {
        let answer = https::plain_request(web, &request);
        assert_eq!(answer.status, 301, "{request}: {answer:?}");
        assert_eq!(
            answer.header("Location").as_deref(),
            Some(format!("https://{web}/admin").as_str())
        );
        assert!(!answer.body.contains("<form") && !answer.body.contains("password"));
        assert!(answer.header("Set-Cookie").is_none());
    }
    // The chat page itself stays plain HTTP.
    let chat = https::plain_request(web, &format!("GET / HTTP/1.1\r\nHost: {web}\r\n\r\n"));
    assert_eq!(chat.status, 200);
    assert!(!server.log().contains("connecté au tableau de bord"));
}

#[test]
fn the_fingerprint_shown_by_the_console_is_the_served_certificates() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_in(&data, &[]);
    let web = server.web_addr();
    let served = https::fingerprint(&https::connect(web));
    let reply = server.admin_json(&["certificate"]);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["data"]["fingerprint_sha256"], served.as_str());
    assert_eq!(reply["data"]["self_signed"], true);
    assert_eq!(reply["data"]["urls"][0], format!("https://{web}/admin"));
    let text = server.admin_ok(&["certificat"]);
    assert!(
        text.contains(&format!("Empreinte SHA-256 : {served}")),
        "{text}"
    );
    server.wait_for_log(&format!("empreinte SHA-256 du certificat : {served}"));
    // Kept in the data folder, the key readable by the server's user alone.
    use std::os::unix::fs::PermissionsExt;
    let key = server.data.join("tls").join("dashboard.key");
    let mode = std::fs::metadata(&key)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The same certificate after a restart: the browser's exception still holds.
    assert!(server.stop().success());
    let again = TestServer::start_in(&data, &[]);
    let served_again = https::fingerprint(&https::connect(again.web_addr()));
    assert_eq!(served_again, served);
}

#[test]
fn a_wrong_password_is_refused_then_the_account_is_locked_out_for_the_chat_too() {
    let (server, web) = class(QUICK_LOCKOUT);
    for attempt in 1..=3 {
        let answer = sign_in(web, "prof", &format!("faux{attempt}"));
        assert_eq!(answer.status, 401, "{answer:?}");
        assert!(answer.body.contains("Nom ou mot de passe incorrect."));
        assert!(answer.header("Set-Cookie").is_none());
    }
    let locked = sign_in(web, "prof", "secret-prof");
    assert_eq!(locked.status, 429, "{locked:?}");
    assert!(
        locked
            .body
            .contains("Trop d&#39;échecs de connexion pour ce compte"),
        "{}",
        locked.body
    );
    let log = server.wait_for_log("action=refuse");
    assert_eq!(
        log.matches("AUTH_FAIL ip=127.0.0.1 user=\"prof\"").count(),
        3,
        "{log}"
    );
    assert!(log.contains("RATE_LIMIT ip=127.0.0.1 kind=login action=refuse conn=0 user=\"prof\""));
    // The same limits as the chat's: the account is locked on the chat port as well.
    let mut client = server.client();
    let reply = client.login("prof", "secret-prof");
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(reply["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Trop d'échecs"));
    // The failures are among the recent security events.
    let events = server.admin_json(&["events"]);
    let tokens: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["token"].as_str())
        .collect();
    assert!(
        tokens.iter().filter(|t| **t == "AUTH_FAIL").count() >= 3,
        "{events}"
    );
}

#[test]
fn a_non_operator_is_refused_and_an_operator_gets_a_strict_session_cookie() {
    let (server, web) = class("");
    let refused = sign_in(web, "eleve", "secret-eleve");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused
        .body
        .contains("n&#39;a pas accès au tableau de bord"));
    assert!(refused.header("Set-Cookie").is_none());
    server.wait_for_log("ADMIN_WEB_REFUSED ip=127.0.0.1 reason=not-operator user=\"eleve\"");

    let signed = sign_in(web, "prof", "secret-prof");
    assert_eq!(signed.status, 303, "{signed:?}");
    assert_eq!(signed.header("Location").as_deref(), Some("/admin"));
    let set = signed.header("Set-Cookie").unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    server.wait_for_log("[ADMIN] \"prof\" connecté au tableau de bord depuis 127.0.0.1");
    let cookie = session_cookie(&signed);
    let board = get(web, "/admin", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(board.status, 200);
    assert!(
        board.body.contains("/admin/admin.js"),
        "the dashboard itself"
    );
    let csp = board.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!board.body.contains("<script>"), "no inline script");
    let form = get(web, "/admin", "Cookie: classcord_admin=00\r\n");
    assert!(
        form.body.contains("name=\"password\""),
        "no session: the form"
    );

    // Signing out ends the session.
    let out = https::request(
        web,
        &format!(
            "POST /admin/logout HTTP/1.1\r\nHost: {web}\r\nOrigin: https://{web}\r\nCookie: \
             {cookie}\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert_eq!(out.status, 303);
    assert!(out.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    let after = get(web, "/admin/session", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(after.status, 401);
}

#[test]
fn a_sign_in_form_posted_from_another_site_is_refused() {
    let (server, web) = class("");
    let body = "name=prof&password=secret-prof";
    let answer = https::request(
        web,
        &format!(
            "POST /admin/login HTTP/1.1\r\nHost: {web}\r\nOrigin: https://evil.example\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.header("Set-Cookie").is_none());
    server.wait_for_log("ADMIN_WEB_REFUSED ip=127.0.0.1 reason=foreign-origin");
}

#[test]
fn a_foreign_origin_or_no_session_on_the_admin_websocket_is_refused_and_logged() {
    let (server, web) = class("");
    let cookie = session_cookie(&sign_in(web, "prof", "secret-prof"));
    let foreign = admin_ws(
        web,
        &format!("Origin: https://evil.example\r\nCookie: {cookie}\r\n"),
    )
    .err()
    .expect("a foreign origin is refused");
    assert_eq!(foreign.status, 403);
    server.wait_for_log("ADMIN_WEB_REFUSED ip=127.0.0.1 reason=foreign-origin");
    // The plain-HTTP origin of the same host is another origin too.
    let plain = admin_ws(
        web,
        &format!("Origin: http://{web}\r\nCookie: {cookie}\r\n"),
    );
    assert_eq!(plain.err().expect("refused").status, 403);
    let anonymous = admin_ws(web, &format!("Origin: https://{web}\r\n"))
        .err()
        .expect("no session is refused");
    assert_eq!(anonymous.status, 401);
    server.wait_for_log("ADMIN_WEB_REFUSED ip=127.0.0.1 reason=no-session");

    let mut ws = admin_ws(
        web,
        &format!("Origin: https://{web}\r\nCookie: {cookie}\r\n"),
    )
    .unwrap_or_else(|answer| panic!("refused: {answer:?}"));
    let hello = ws.recv().expect("hello");
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["operator"], "prof");
    let snapshot = ws.recv_until("a snapshot", |m| m["type"] == "snapshot");
    assert!(snapshot["who"].is_array() && snapshot["stats"]["per_minute"].is_array());
}

#[test]
fn actions_from_the_dashboard_go_through_the_vocabulary_and_are_logged_with_the_operator() {
    let (server, web) = class("");
    let mut alice = server.client();
    alice.account_with("alice", "secret-alice");
    let mut bob = server.client();
    bob.guest("bob");
    let cookie = session_cookie(&sign_in(web, "prof", "secret-prof"));
    let mut ws = admin_ws(
        web,
        &format!("Origin: https://{web}\r\nCookie: {cookie}\r\n"),
    )
    .unwrap_or_else(|answer| panic!("refused: {answer:?}"));
    let snapshot = ws.recv_until("a snapshot", |m| m["type"] == "snapshot");
    let alice_row = snapshot["who"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "alice")
        .cloned()
        .expect("alice listed");
    assert_eq!(alice_row["transport"], "tcp");
    assert_eq!(alice_row["kind"], "account");

    ws.send(json!({"id": 7, "request": {"cmd": "kick", "name": "alice", "reason": "bavardage"}}));
    let reply = ws.recv_until("the kick's reply", |m| m["type"] == "reply");
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["ok"], true, "{reply}");
    alice.recv_until("the kick notice with its reason", |l| {
        l["from"] == "Serveur" && l["content"].as_str().unwrap_or("").contains("bavardage")
    });
    assert!(alice.closed_by_server());
    bob.sync();
    server.wait_for_log("[ADMIN] \"prof\" : kick alice bavardage");

    // What stays with the console is refused, not done.
    ws.send(json!({"id": 8, "request": {"cmd": "user_del", "name": "eleve"}}));
    let reply = ws.recv_until("the refusal", |m| m["type"] == "reply" && m["id"] == 8);
    assert_eq!(reply["ok"], false);
    assert!(server.admin_ok(&["user", "list"]).contains("eleve"));

    // The grant withdrawn: the open dashboard is told and closed at its next refresh.
    server.admin_ok(&["operator", "del", "prof"]);
    let deadline = Instant::now() + *TIMEOUT;
    let closed = loop {
        match ws.recv() {
            Some(message) if message["type"] == "closed" => break true,
            Some(_) if Instant::now() < deadline => continue,
            _ => break false,
        }
    };
    assert!(
        closed,
        "the dashboard is closed once the grant is withdrawn"
    );
    assert!(ws.recv().is_none());
    let after = get(web, "/admin/session", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(after.status, 401);
}

#[test]
fn operator_grants_need_an_account_and_go_with_it() {
    let server = TestServer::start_with_config("[admin]\noperators = [\"directrice\"]\n");
    let unknown = server.admin(&["operator", "add", "personne"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("Aucun compte « personne »"));
    let mut client = server.client();
    client.account_with("Zoé", "secret-zoe");
    assert!(server
        .admin_ok(&["operator", "add", "zoé"])
        .contains("« Zoé » est opérateur"));
    let listed = server.admin_json(&["operators"]);
    assert_eq!(
        listed["data"],
        json!([{"name": "Zoé", "source": "store"}, {"name": "directrice", "source": "config"}])
    );
    let configured = server.admin(&["operator", "del", "directrice"]);
    assert!(String::from_utf8_lossy(&configured.stderr).contains("[admin] operators"));
    server.admin_ok(&["--yes", "user", "del", "Zoé"]);
    let listed = server.admin_json(&["operators"]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert!(server
        .wait_for_log(": operator add zoé")
        .contains("[ADMIN] uid "));
}

/// Signs `prof` in and opens the dashboard's WebSocket.
fn dashboard(web: SocketAddr) -> https::AdminWs {
    let cookie = session_cookie(&sign_in(web, "prof", "secret-prof"));
    admin_ws(
        web,
        &format!("Origin: https://{web}\r\nCookie: {cookie}\r\n"),
    )
    .unwrap_or_else(|answer| panic!("refused: {answer:?}"))
}

/// Sends one request from the page and returns the server's reply to it.
fn act(ws: &mut https::AdminWs, id: u64, request: serde_json::Value) -> serde_json::Value {
    ws.send(json!({ "id": id, "request": request }));
    ws.recv_until("the reply", |m| m["type"] == "reply" && m["id"] == id)
}

fn said(line: &serde_json::Value) -> &str {
    line["content"].as_str().unwrap_or_default()
}

#[test]
fn moderation_from_the_dashboard_mutes_a_student_deletes_a_message_and_slows_a_channel() {
    let (server, web) = class("");
    let mut eleve = server.client();
    eleve.hello(&["no-hold"]);
    assert_eq!(eleve.login("eleve", "secret-eleve")["status"], "ok");
    eleve.recv_until("the welcome", |l| l["from"] == "Serveur");
    let mut bob = server.client();
    bob.hello(&["no-hold"]);
    bob.account("bob");
    bob.recv_until("the welcome", |l| l["from"] == "Serveur");
    let mut ws = dashboard(web);
    let hello = ws.recv_until("hello", |m| m["type"] == "hello");
    for command in ["mute", "unmute", "delete", "slow"] {
        assert!(
            hello["commands"]
                .as_array()
                .unwrap()
                .contains(&json!(command)),
            "{hello}"
        );
    }

    // A mute sent over the dashboard's WebSocket refuses the student's next message.
    let reply = act(
        &mut ws,
        1,
        json!({"cmd": "mute", "name": "eleve", "duration": "10 min", "reason": "bavardage"}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .contains("eleve ne peut plus écrire pendant 10 min"),
        "{reply}"
    );
    let told = eleve.recv_until("the mute notice", |l| l["from"] == "Serveur");
    assert!(
        said(&told).contains("retiré la parole pour 10 min"),
        "{told}"
    );
    eleve.send(json!({"type": "message", "content": "je parle quand même"}));
    let refused = eleve.recv_until("the refusal", |l| l["from"] == "Serveur");
    assert!(
        said(&refused).starts_with("Message non envoyé : l'administrateur vous a retiré la parole"),
        "{refused}"
    );
    bob.sync();
    let snapshot = ws.recv_until("a snapshot with the mute", |m| {
        m["type"] == "snapshot" && m["mutes"][0]["name"] == "eleve"
    });
    assert_eq!(snapshot["mutes"][0]["reason"], "bavardage");
    server.wait_for_log("[ADMIN] \"prof\" : mute eleve 10 min bavardage");

    let reply = act(&mut ws, 2, json!({"cmd": "unmute", "name": "eleve"}));
    assert_eq!(reply["ok"], true, "{reply}");
    eleve.recv_until("the unmute notice", |l| {
        said(l) == "Vous pouvez de nouveau envoyer des messages."
    });
    server.wait_for_log("[ADMIN] \"prof\" : unmute eleve");

    // Deleting a message is confirmed first, in the console's words; nothing is done before.
    eleve.send(json!({"type": "message", "content": "oups, pas ici"}));
    let line = bob.recv_chat();
    assert_eq!(said(&line), "oups, pas ici");
    let id = line["id"].as_u64().expect("a message id");
    let request = json!({"cmd": "delete", "id": id});
    ws.send(json!({ "id": 3, "request": request }));
    let ask = ws.recv_until("the confirmation", |m| m["id"] == 3);
    assert_eq!(ask["type"], "confirm", "{ask}");
    assert!(
        ask["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("Le message n°{id} sera supprimé")),
        "{ask}"
    );
    assert_eq!(ask["request"], request);
    assert!(!server.log().contains(&format!(": delete {id}")));
    ws.send(json!({ "id": 4, "request": request, "confirmed": true }));
    let reply = ws.recv_until("the delete's reply", |m| m["id"] == 4);
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("Message n°{id} supprimé")),
        "{reply}"
    );
    server.wait_for_log(&format!("[ADMIN] \"prof\" : delete {id}"));

    // Slow mode in #général: a second message too soon is refused with a notice.
    let reply = act(
        &mut ws,
        5,
        json!({"cmd": "slow", "channel": "#général", "seconds": 30}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    let snapshot = ws.recv_until("a snapshot", |m| m["type"] == "snapshot");
    let general = snapshot["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "#général")
        .cloned()
        .expect("#général listed");
    assert_eq!(general["slow_secs"], 30, "{snapshot}");
    server.wait_for_log("[ADMIN] \"prof\" : slow #général 30");
    eleve.send(json!({"type": "message", "content": "un"}));
    eleve.send(json!({"type": "message", "content": "deux"}));
    assert_eq!(said(&bob.recv_chat()), "un");
    let notice = eleve.recv_until("the slow-mode refusal", |l| {
        said(l).starts_with("Message non envoyé : mode lent")
    });
    assert!(said(&notice).contains("toutes les 30 s"), "{notice}");
}

/// The trace events the page receives until one matches (each `trace` message may carry many).
fn trace_until(
    ws: &mut https::AdminWs,
    seen: &mut Vec<serde_json::Value>,
    what: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    if let Some(found) = seen.iter().find(|e| matches(e)) {
        return found.clone();
    }
    let deadline = Instant::now() + *TIMEOUT;
    while Instant::now() < deadline {
        let Some(message) = ws.recv() else { break };
        if message["type"] != "trace" {
            continue;
        }
        for event in message["events"].as_array().cloned().unwrap_or_default() {
            seen.push(event);
        }
        if let Some(found) = seen.iter().find(|e| matches(e)) {
            return found.clone();
        }
    }
    panic!("the page never got {what}: {seen:?}");
}

#[test]
fn the_dashboard_traces_a_connection_live_with_verdicts_and_masked_passwords() {
    let (server, web) = class("");
    let mut student = server.client();
    student.hello(&["no-hold"]);
    student.sync();
    let who = server.admin_json(&["who"]);
    let conn = who["data"][0]["id"]
        .as_u64()
        .expect("the student's connection");
    let mut ws = dashboard(web);
    let reply = act(
        &mut ws,
        1,
        json!({"cmd": "trace", "target": format!("#{conn}"), "duration": "5 min"}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("la connexion #{conn}")),
        "{reply}"
    );
    server.wait_for_log(&format!("[ADMIN] \"prof\" : trace #{conn} 5 min"));

    let mut seen = Vec::new();
    student.send_raw(b"{pas du json\n");
    student.recv_type("error");
    let refused = trace_until(&mut ws, &mut seen, "the refused line", |e| {
        e["kind"] == "in" && e["line"] == "{pas du json"
    });
    assert_eq!(refused["conn"], conn);
    assert_eq!(refused["verdict"]["verdict"], "refused", "{refused}");
    assert_eq!(refused["verdict"]["code"], "bad-json");
    assert!(
        refused["text"]
            .as_str()
            .unwrap_or_default()
            .contains("REFUSÉ [bad-json]"),
        "{refused}"
    );
    trace_until(&mut ws, &mut seen, "the error sent back", |e| {
        e["kind"] == "out" && e["line"].as_str().unwrap_or("").contains("\"error\"")
    });
    student.account_with("zoé", "motdepasse-secret");
    let login = trace_until(&mut ws, &mut seen, "the login", |e| {
        e["kind"] == "in" && e["verdict"]["request"] == "login (compte « zoé »)"
    });
    assert!(
        login["line"]
            .as_str()
            .unwrap_or_default()
            .contains("\"password\":\"********\""),
        "{login}"
    );
    assert!(
        !serde_json::to_string(&seen)
            .unwrap()
            .contains("motdepasse-secret"),
        "passwords are masked"
    );

    // Stopped from the page: told at once, with the trace's end.
    ws.send(json!({"id": 2, "stop": "trace"}));
    let end = trace_until(&mut ws, &mut seen, "the end", |e| e["kind"] == "end");
    assert_eq!(end["reason"], "stopped");
    let reply = ws.recv_until("the stop's reply", |m| m["id"] == 2);
    assert_eq!(reply["ok"], true, "{reply}");
    let again = act(&mut ws, 3, json!({"cmd": "trace", "target": "#99999"}));
    assert_eq!(again["ok"], false, "{again}");

    // A trace of one connection ends by itself when it closes, and says why.
    let reply = act(
        &mut ws,
        4,
        json!({"cmd": "trace", "target": format!("#{conn}")}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    let mut seen = Vec::new();
    student.shutdown();
    let end = trace_until(&mut ws, &mut seen, "the end", |e| e["kind"] == "end");
    assert_eq!(end["reason"], "closed", "{seen:?}");
    assert!(
        end["text"]
            .as_str()
            .unwrap_or_default()
            .contains("fin de la trace : la connexion est fermée."),
        "{end}"
    );
}
