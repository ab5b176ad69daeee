//! The attempt limits, pure: every instant is passed in.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A login attempt carried through: checked (unless refused) and finished as `ok` says.
fn attempt(guard: &mut AttemptGuard, from: &str, account: &str, ok: bool, now: Instant) -> Verdict {
    let verdict = guard.login(ip(from), account, now);
    if !matches!(verdict, Verdict::Refuse(_)) {
        guard.started(ip(from), now);
        guard.finished(ip(from), Some(account), !ok, now);
    }
    verdict
}

fn brute_forces(reports: &[Report]) -> Vec<BruteForceReason> {
    reports
        .iter()
        .filter_map(|report| match report {
            Report::BruteForce { reason, .. } => Some(*reason),
            Report::SharedAddress { .. } => None,
        })
        .collect()
}

#[test]
fn a_class_behind_one_address_mistyping_once_each_is_never_delayed_nor_refused() {
    let mut guard = AttemptGuard::new(AttemptSettings::default());
    let now = Instant::now();
    let class = "10.0.2.2";
    for n in 0..40 {
        assert_eq!(guard.register(ip(class), now), Verdict::Go, "register {n}");
    }
    for round in 0..2 {
        for n in 0..40 {
            let name = format!("eleve{n}");
            // A typo in the password, and one in the name (an account that does not exist).
            assert_eq!(attempt(&mut guard, class, &name, false, now), Verdict::Go);
            assert_eq!(
                attempt(&mut guard, class, &format!("elve{n}"), false, now),
                Verdict::Go
            );
            assert_eq!(
                attempt(&mut guard, class, &name, true, now),
                Verdict::Go,
                "round {round}, student {n}"
            );
        }
    }
    let reports = guard.take_reports();
    assert!(brute_forces(&reports).is_empty(), "{reports:?}");
    assert_eq!(
        reports,
        [Report::SharedAddress {
            ip: ip(class),
            accounts: SHARED_ADDRESS_ACCOUNTS
        }],
        "said once"
    );
}

#[test]
fn failures_on_one_account_delay_it_then_lock_it_from_every_address() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let mut now = Instant::now();
    let mut verdicts = Vec::new();
    for n in 0..12 {
        verdicts.push(attempt(
            &mut guard,
            &format!("10.0.1.{n}"),
            "alice",
            false,
            now,
        ));
        now += Duration::from_secs(2);
    }
    assert!(
        verdicts[..3].iter().all(|v| *v == Verdict::Go),
        "{verdicts:?}"
    );
    assert!(verdicts[3..10]
        .iter()
        .all(|v| *v == Verdict::Delay(settings.delay)));
    assert!(
        matches!(&verdicts[10], Verdict::Refuse(text) if text.contains("ce compte")),
        "{verdicts:?}"
    );
    assert_eq!(guard.login(ip("10.0.2.1"), "bob", now), Verdict::Go);
    let later = now + settings.lockout;
    assert_eq!(
        guard.login(ip("10.0.2.1"), "alice", later),
        Verdict::Go,
        "the lock-out ends"
    );
    assert!(guard.take_reports().is_empty(), "one account is no verdict");
}

#[test]
fn parallel_guesses_on_one_account_are_spaced_out() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let now = Instant::now();
    for _ in 0..settings.delay_after {
        attempt(&mut guard, "10.0.3.1", "alice", false, now);
    }
    let waits: Vec<Verdict> = (0..4)
        .map(|_| guard.login(ip("10.0.3.1"), "alice", now))
        .collect();
    let expected: Vec<Verdict> = (1..=4)
        .map(|n| Verdict::Delay(settings.delay * n))
        .collect();
    assert_eq!(waits, expected);
}

#[test]
fn a_success_clears_the_account() {
    let mut guard = AttemptGuard::new(AttemptSettings::default());
    let now = Instant::now();
    for _ in 0..9 {
        attempt(&mut guard, "10.0.4.1", "alice", false, now);
    }
    attempt(&mut guard, "10.0.4.2", "alice", true, now);
    attempt(&mut guard, "10.0.4.3", "alice", false, now);
    assert_eq!(guard.login(ip("10.0.4.4"), "alice", now), Verdict::Go);
}

#[test]
fn hammering_a_locked_account_is_a_verdict_that_locks_the_address() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let now = Instant::now();
    let attacker = "10.0.5.1";
    for _ in 0..settings.account_lockout_after {
        attempt(&mut guard, attacker, "alice", false, now);
    }
    let tries = settings.address_lockout_locked_tries;
    for n in 0..tries - 1 {
        let verdict = attempt(&mut guard, attacker, "alice", false, now);
        assert!(
            matches!(&verdict, Verdict::Refuse(t) if t.contains("ce compte")),
            "{n}"
        );
    }
    assert!(guard.take_reports().is_empty(), "not yet");
    attempt(&mut guard, attacker, "alice", false, now);
    let reports = guard.take_reports();
    assert_eq!(
        reports,
        [Report::BruteForce {
            ip: ip(attacker),
            reason: BruteForceReason::LockedAccounts,
            failures: settings.account_lockout_after,
            accounts: 1,
            locked_tries: tries,
            account: "alice".into(),
        }]
    );
    assert!(
        matches!(guard.login(ip(attacker), "bob", now), Verdict::Refuse(t) if t.contains("votre adresse")),
        "the address is locked out"
    );
    assert!(matches!(
        guard.register(ip(attacker), now),
        Verdict::Refuse(_)
    ));
    assert_eq!(guard.login(ip("10.0.5.2"), "bob", now), Verdict::Go);
    attempt(&mut guard, attacker, "alice", false, now);
    assert!(guard.take_reports().is_empty(), "judged once per lock-out");
    let later = now + settings.lockout;
    assert_eq!(guard.login(ip(attacker), "bob", later), Verdict::Go);
}

#[test]
fn many_failing_accounts_from_one_address_is_a_verdict() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let now = Instant::now();
    let accounts = settings.address_lockout_accounts;
    for n in 0..accounts {
        let verdict = attempt(&mut guard, "10.0.6.1", &format!("compte{n}"), false, now);
        assert_eq!(verdict, Verdict::Go, "{n}");
    }
    let reports = guard.take_reports();
    assert_eq!(brute_forces(&reports), [BruteForceReason::ManyAccounts]);
    assert!(matches!(
        guard.login(ip("10.0.6.1"), "encore", now),
        Verdict::Refuse(_)
    ));
}

#[test]
fn many_failures_from_one_address_is_a_verdict() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let mut now = Instant::now();
    // Each account tried just under its delay, on fewer accounts than the accounts verdict.
    let per_account = settings.delay_after;
    let mut failures = 0;
    let mut n = 0;
    while failures < settings.address_lockout_after {
        for _ in 0..per_account.min(settings.address_lockout_after - failures) {
            assert_eq!(
                attempt(&mut guard, "10.0.7.1", &format!("compte{n}"), false, now),
                Verdict::Go
            );
            failures += 1;
        }
        n += 1;
        now += Duration::from_millis(10);
    }
    assert!(n < settings.address_lockout_accounts);
    let reports = guard.take_reports();
    assert_eq!(brute_forces(&reports), [BruteForceReason::ManyFailures]);
}

#[test]
fn counts_older_than_the_window_are_forgotten() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let mut now = Instant::now();
    for n in 0..settings.address_lockout_accounts - 1 {
        attempt(&mut guard, "10.0.8.1", &format!("compte{n}"), false, now);
    }
    now += settings.window + Duration::from_secs(1);
    for n in 0..settings.address_lockout_accounts - 1 {
        attempt(&mut guard, "10.0.8.1", &format!("autre{n}"), false, now);
    }
    assert!(guard.take_reports().is_empty());
}

#[test]
fn checks_in_flight_per_address_are_capped_and_given_back() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let now = Instant::now();
    for _ in 0..settings.in_flight_per_address {
        assert!(guard.may_start(ip("10.0.9.1"), now));
        guard.started(ip("10.0.9.1"), now);
    }
    assert!(!guard.may_start(ip("10.0.9.1"), now), "the next one waits");
    assert!(guard.may_start(ip("10.0.9.2"), now), "not another address");
    guard.finished(ip("10.0.9.1"), Some("alice"), false, now);
    assert!(guard.may_start(ip("10.0.9.1"), now));
}

#[test]
fn registrations_per_address_are_rate_limited_above_two_groups() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let now = Instant::now();
    for _ in 0..settings.register_burst {
        assert_eq!(guard.register(ip("10.0.10.1"), now), Verdict::Go);
    }
    assert!(settings.register_burst >= 80, "two groups of 40");
    assert!(matches!(
        guard.register(ip("10.0.10.1"), now),
        Verdict::Refuse(_)
    ));
    assert_eq!(
        guard.register(ip("10.0.10.1"), now + settings.register_every),
        Verdict::Go
    );
}

#[test]
fn a_shared_address_is_reported_once_per_run_even_after_the_window() {
    let settings = AttemptSettings::default();
    let mut guard = AttemptGuard::new(settings.clone());
    let mut now = Instant::now();
    for _ in 0..2 {
        for n in 0..SHARED_ADDRESS_ACCOUNTS {
            attempt(&mut guard, "10.0.11.1", &format!("eleve{n}"), true, now);
        }
        now += settings.window * 2;
    }
    assert_eq!(guard.take_reports().len(), 1);
    for n in 0..SHARED_ADDRESS_ACCOUNTS - 1 {
        attempt(&mut guard, "10.0.11.2", &format!("eleve{n}"), true, now);
    }
    assert!(
        guard.take_reports().is_empty(),
        "nine accounts are not a class"
    );
}
