//! The administration's security lines, in the format of `logging::event` (token, `ip=` first
//! when there is an address, fixed keys, the name last and quoted), under the audit target so
//! they reach the security facility (SECURITE.md §3):
//! - `ADMIN_REFUSED uid= pid=`: someone not allowed tried the control socket;
//! - `ADMIN_BAN ip= kind= duration= [user=]` and `ADMIN_UNBAN ip= kind= why= [user=]`: a ban
//!   set or lifted (`ip=-` for a name; a network is written in CIDR form);
//! - `BANNED ip= conn= [user=]`: a connection closed, or a login refused, because of a ban;
//! - `ADMIN_WEB_REFUSED ip= reason= [user=]`: the dashboard refused someone (see
//!   [`WebRefusal`]); a wrong password there is an ordinary `AUTH_FAIL`.

use std::net::IpAddr;

use crate::logging::{bare_ip, Quoted, AUDIT_TARGET};
use crate::store::bans::{BanKind, BanRecord};

fn log_line(tag: &'static str, line: &str) {
    log::warn!(target: AUDIT_TARGET, "{tag} {line}");
    crate::logging::recent::remember(tag, line.to_owned());
}

pub fn refused(uid: u32, pid: i32) {
    log_line("[ADMIN]", &format!("ADMIN_REFUSED uid={uid} pid={pid}"));
}

/// `ip=` value and `kind=` of a ban: a single address bare, a network in CIDR form, `-` for a name.
fn subject(ban: &BanRecord) -> (String, &'static str, String) {
    match ban.kind {
        BanKind::Name => ("-".into(), "name", format!(" user={}", Quoted(&ban.target))),
        BanKind::Address if ban.target.contains('/') => {
            (ban.target.clone(), "network", String::new())
        }
        BanKind::Address => (ban.target.clone(), "address", String::new()),
    }
}

pub fn ban_set(ban: &BanRecord) {
    let (ip, kind, user) = subject(ban);
    let duration = match ban.until_unix {
        Some(until) => (until.saturating_sub(ban.created_unix)).to_string(),
        None => "permanent".into(),
    };
    log_line(
        "[ADMIN]",
        &format!("ADMIN_BAN ip={ip} kind={kind} duration={duration}{user}"),
    );
}

pub fn ban_lifted(ban: &BanRecord, expired: bool) {
    let (ip, kind, user) = subject(ban);
    let why = if expired { "expired" } else { "operator" };
    log_line(
        "[ADMIN]",
        &format!("ADMIN_UNBAN ip={ip} kind={kind} why={why}{user}"),
    );
}

pub fn banned(ip: IpAddr, conn: u64, name: Option<&str>) {
    let user = name.map_or_else(String::new, |name| format!(" user={}", Quoted(name)));
    log_line(
        "[REFUS]",
        &format!("BANNED ip={} conn={conn}{user}", bare_ip(ip)),
    );
}

/// Why the dashboard refused a request (the `reason=` of `ADMIN_WEB_REFUSED`, stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRefusal {
    /// The right password of an account that is not an operator.
    NotOperator,
    /// A page of another site tried the dashboard's sign-in or its WebSocket.
    ForeignOrigin,
    /// The dashboard's WebSocket without a valid session.
    NoSession,
}

impl WebRefusal {
    /// Every reason, for the documentation's tests.
    pub const ALL: [WebRefusal; 3] = [
        WebRefusal::NotOperator,
        WebRefusal::ForeignOrigin,
        WebRefusal::NoSession,
    ];

    pub fn token(self) -> &'static str {
        match self {
            WebRefusal::NotOperator => "not-operator",
            WebRefusal::ForeignOrigin => "foreign-origin",
            WebRefusal::NoSession => "no-session",
        }
    }
}

pub fn web_refused(ip: IpAddr, reason: WebRefusal, name: Option<&str>) {
    let user = name.map_or_else(String::new, |name| format!(" user={}", Quoted(name)));
    log_line(
        "[ADMIN]",
        &format!(
            "ADMIN_WEB_REFUSED ip={} reason={}{user}",
            bare_ip(ip),
            reason.token()
        ),
    );
}
