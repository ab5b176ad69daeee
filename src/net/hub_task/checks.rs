//! Password checks after the attempt limits (`security::attempts`): refused without hashing,
//! delayed on a timer, or started; past the address's checks in flight they wait their turn in a
//! per-address queue (never refused for that: a class behind one address logs in at once). The
//! limits' verdicts (`BRUTE_FORCE`) and the shared addresses they notice are logged here.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use classcord_core::hub::{AuthOutcome, SessionId};
use smol::Timer;

use super::{HubCommand, HubTask, Later, Peer};
use crate::control::{Answer, Outcome};
use crate::logging::{audit, RateAction, RateKind, SecurityEvent};
use crate::metrics;
use crate::security::{Report, Verdict};

/// The anchor of SECURITE.md's section on a class behind one address (the log points to it).
pub const SHARED_ADDRESS_ANCHOR: &str = "adresse-partagee";

/// A password check waiting for its address's turn.
pub(super) struct QueuedCheck {
    session: SessionId,
    account: Option<String>,
    check: std::pin::Pin<Box<dyn std::future::Future<Output = AuthOutcome> + Send>>,
}

impl HubTask {
    /// Runs an account check off the hub, after the limits' verdict; its outcome comes back as
    /// a command. A refused attempt costs no hashing; a delayed one waits on a timer first. Past
    /// the address's checks in flight, it waits its turn (never refused for that: a class behind
    /// one address logs in at once).
    pub(super) fn check_account(
        &mut self,
        session: SessionId,
        account: Option<String>,
        check: impl std::future::Future<Output = AuthOutcome> + Send + 'static,
    ) {
        let ip = self
            .peers
            .get(&session)
            .map_or(IpAddr::from([0, 0, 0, 0]), Peer::ip);
        let check = QueuedCheck {
            session,
            account,
            check: Box::pin(check),
        };
        let waiting = self
            .queued_checks
            .get(&ip)
            .is_some_and(|queue| !queue.is_empty());
        if waiting || !self.attempts.may_start(ip, Instant::now()) {
            self.queued_checks.entry(ip).or_default().push_back(check);
            return;
        }
        self.start_check(ip, check);
    }

    /// Starts the checks waiting for `ip`'s turn, as far as its cap allows; those whose
    /// connection is gone are dropped.
    fn start_queued(&mut self, ip: IpAddr) {
        while self.attempts.may_start(ip, Instant::now()) {
            let Some(queue) = self.queued_checks.get_mut(&ip) else {
                return;
            };
            let Some(check) = queue.pop_front() else {
                self.queued_checks.remove(&ip);
                return;
            };
            if self.peers.contains_key(&check.session) {
                self.start_check(ip, check);
            }
        }
    }

    fn start_check(&mut self, ip: IpAddr, queued: QueuedCheck) {
        let QueuedCheck {
            session,
            account,
            check,
        } = queued;
        let now = Instant::now();
        let verdict = match &account {
            Some(account) => self.attempts.login(ip, account, now),
            None => self.attempts.register(ip, now),
        };
        self.report_attempts();
        let kind = if account.is_some() {
            RateKind::Login
        } else {
            RateKind::Register
        };
        if !matches!(verdict, Verdict::Go) {
            self.metrics.rate_limited(kind.as_str());
        }
        let limited = |action| SecurityEvent::RateLimit {
            ip,
            kind,
            action,
            conn: session.0,
            user: account.as_deref(),
        };
        let delay = match verdict {
            Verdict::Refuse(text) => {
                audit(&limited(RateAction::Refuse));
                self.later
                    .push(Later::Auth(session, AuthOutcome::Refused { text }));
                return;
            }
            Verdict::Delay(wait) => {
                audit(&limited(RateAction::Delay));
                Some(wait)
            }
            Verdict::Go => None,
        };
        self.attempts.started(ip, now);
        self.checking.insert(session, (ip, account));
        let commands = self.commands.clone();
        self.executor
            .spawn(async move {
                if let Some(wait) = delay {
                    Timer::after(wait).await;
                }
                let outcome = check.await;
                let _ = commands
                    .send(HubCommand::AuthDone { session, outcome })
                    .await;
            })
            .detach();
    }

    /// A check's outcome is back: counted by the attempt limits, and the address's next waiting
    /// check may start.
    pub(super) fn check_done(&mut self, session: SessionId, outcome: &AuthOutcome) {
        let Some((ip, account)) = self.checking.remove(&session) else {
            return;
        };
        let failed = matches!(outcome, AuthOutcome::LoginFailed);
        self.attempts
            .finished(ip, account.as_deref(), failed, Instant::now());
        // Closed before its answer: the hub drops the outcome, the log still counts it.
        if failed && !self.peers.contains_key(&session) {
            metrics::add(&self.metrics.counters.auth_failures, 1);
            let user = account.as_deref().unwrap_or_default();
            audit(&SecurityEvent::AuthFail { ip, user });
        }
        self.report_attempts();
        self.start_queued(ip);
    }

    /// A dashboard sign-in (`crate::control::signin`) asks the same limits as a chat `login`:
    /// the answer's `wait_ms`, or the refusal. Counted as in flight until [`Self::sign_in_done`].
    pub(super) fn sign_in_attempt(&mut self, ip: IpAddr, account: &str) -> Outcome {
        let now = Instant::now();
        if !self.attempts.may_start(ip, now) {
            return Err(
                "Trop de connexions en cours depuis votre adresse : réessayez dans un instant."
                    .into(),
            );
        }
        let verdict = self.attempts.login(ip, account, now);
        self.report_attempts();
        if !matches!(verdict, Verdict::Go) {
            self.metrics.rate_limited(RateKind::Login.as_str());
        }
        let limited = |action| SecurityEvent::RateLimit {
            ip,
            kind: RateKind::Login,
            action,
            conn: 0,
            user: Some(account),
        };
        let wait = match verdict {
            Verdict::Refuse(text) => {
                audit(&limited(RateAction::Refuse));
                return Err(text);
            }
            Verdict::Delay(wait) => {
                audit(&limited(RateAction::Delay));
                wait
            }
            Verdict::Go => Duration::ZERO,
        };
        self.attempts.started(ip, now);
        Ok(Answer::new(
            "",
            serde_json::json!({ "wait_ms": wait.as_millis() as u64 }),
        ))
    }

    /// A dashboard sign-in's password check ended: counted like a chat login's.
    pub(super) fn sign_in_done(&mut self, ip: IpAddr, account: &str, name: &str, failed: bool) {
        self.attempts
            .finished(ip, Some(account), failed, Instant::now());
        if failed {
            metrics::add(&self.metrics.counters.auth_failures, 1);
            audit(&SecurityEvent::AuthFail { ip, user: name });
        }
        self.report_attempts();
        self.start_queued(ip);
    }

    /// Logs the attempt limits' verdicts (`BRUTE_FORCE`) and the shared addresses they noticed.
    fn report_attempts(&mut self) {
        for report in self.attempts.take_reports() {
            match report {
                Report::BruteForce {
                    ip,
                    reason,
                    failures,
                    accounts,
                    locked_tries,
                    account,
                } => audit(&SecurityEvent::BruteForce {
                    ip,
                    reason,
                    failures,
                    accounts,
                    locked: locked_tries,
                    user: &account,
                }),
                Report::SharedAddress { ip, accounts } => log::info!(
                    "[ADRESSE] {accounts} comptes différents se sont connectés depuis {ip} : \
                     plusieurs personnes partagent cette adresse (NAT d'une machine virtuelle, \
                     conteneur, routeur). Les défenses comptent alors par compte et par \
                     connexion ; à lire avant de changer les limites ou d'installer fail2ban : \
                     SECURITE.md#{SHARED_ADDRESS_ANCHOR}"
                ),
            }
        }
    }
}
