//! Dashboard sessions: after a sign-in, a random token (32 bytes from the system's generator) in
//! an `HttpOnly; Secure; SameSite=Strict; Path=/admin` cookie. Only its SHA-256 is kept, in
//! memory (a restart signs everyone out), so a lookup compares digests, never the secret itself.
//! Bounded: [`MAX_SESSIONS`] at once (the oldest goes first), each ends after [`IDLE`] unused or
//! [`LIFETIME`] in all; signing out ends it at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;

/// The cookie's name.
pub const COOKIE: &str = "classcord_admin";
/// Sessions open at once; signing in past it ends the least recently used.
pub const MAX_SESSIONS: usize = 32;
/// A session unused this long ends (an open dashboard uses it every refresh).
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its sign-in, used or not (a school day).
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

type Digest = [u8; 32];

struct Session {
    name: String,
    ip: IpAddr,
    started: Instant,
    used: Instant,
}

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness;

/// The open sessions.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<Digest, Session>>,
}

fn digest(token: &str) -> Digest {
    let sum = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(sum.as_ref());
    out
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Session>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a session for the operator `name` signed in from `ip`; returns its token.
    pub fn open(&self, name: &str, ip: IpAddr, now: Instant) -> Result<String, NoRandomness> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| NoRandomness)?;
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let mut open = self.lock();
        open.retain(|_, session| alive(session, now));
        while open.len() >= MAX_SESSIONS {
            let Some(oldest) = open
                .iter()
                .min_by_key(|(_, session)| session.used)
                .map(|(key, _)| *key)
            else {
                break;
            };
            open.remove(&oldest);
        }
        open.insert(
            digest(&token),
            Session {
                name: name.to_owned(),
                ip,
                started: now,
                used: now,
            },
        );
        Ok(token)
    }

    /// The operator of a live session (and marks it used); `None`: unknown or ended.
    pub fn find(&self, token: &str, now: Instant) -> Option<String> {
        let key = digest(token);
        let mut open = self.lock();
        let session = open.get_mut(&key)?;
        if !alive(session, now) {
            open.remove(&key);
            return None;
        }
        session.used = now;
        Some(session.name.clone())
    }

    /// Ends a session; returns its operator and where they signed in from.
    pub fn close(&self, token: &str) -> Option<(String, IpAddr)> {
        self.lock()
            .remove(&digest(token))
            .map(|session| (session.name, session.ip))
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn alive(session: &Session, now: Instant) -> bool {
    now.saturating_duration_since(session.used) < IDLE
        && now.saturating_duration_since(session.started) < LIFETIME
}

/// The session token in a `Cookie` header, if it has a well-formed one.
pub fn token_in(cookie_header: Option<&str>) -> Option<&str> {
    cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .find(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` header line of a new session.
pub fn set_cookie(token: &str) -> String {
    format!(
        "Set-Cookie: {COOKIE}={token}; Path=/admin; Max-Age={}; HttpOnly; Secure; \
         SameSite=Strict\r\n",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` header line that removes it (signing out).
pub fn clear_cookie() -> String {
    format!("Set-Cookie: {COOKIE}=; Path=/admin; Max-Age=0; HttpOnly; Secure; SameSite=Strict\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_token_finds_its_operator_until_it_ends() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let token = sessions.open("prof", HERE, start).unwrap();
        assert_eq!(token.len(), 64);
        let cookie = format!("theme=sombre; {COOKIE}={token}");
        assert_eq!(token_in(Some(&cookie)), Some(token.as_str()));
        assert_eq!(sessions.find(&token, start), Some("prof".into()));
        let other = sessions.open("prof", HERE, start).unwrap();
        assert_ne!(other, token);
        // Used within the idle time, it lives on; past its lifetime it ends anyway.
        let later = start + IDLE - Duration::from_secs(1);
        assert!(sessions.find(&token, later).is_some());
        assert!(sessions.find(&token, start + LIFETIME).is_none());
        // Unused for the idle time, it ends.
        assert!(sessions.find(&other, start + IDLE).is_none());
        assert_eq!(sessions.len(), 0);
    }

    #[test]
    fn sessions_are_bounded_and_signing_out_ends_one() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let first = sessions.open("a", HERE, start).unwrap();
        for n in 1..=MAX_SESSIONS {
            sessions
                .open("b", HERE, start + Duration::from_millis(n as u64))
                .unwrap();
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.find(&first, start).is_none(), "the oldest went");
        let token = sessions.open("c", HERE, start).unwrap();
        assert_eq!(sessions.close(&token), Some(("c".into(), HERE)));
        assert!(sessions.find(&token, start).is_none());
        assert_eq!(token_in(Some("classcord_admin=../../etc")), None);
        assert!(set_cookie(&token).contains("HttpOnly; Secure; SameSite=Strict"));
    }
}
