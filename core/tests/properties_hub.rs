//! Property tests (proptest) of the hub's wire invariants: arbitrary traffic from many
//! connections — lines, raw bytes, login/register outcomes, disconnections — checked after every
//! hub call by support/hub_model.rs (the same checker the `hub` fuzz target uses). Also replays
//! the committed fuzz seeds so they stay meaningful on stable.

#[path = "support/hub_model.rs"]
mod hub_model;

use proptest::prelude::*;
use std::path::Path;

proptest! {
    // Explicit case count: about a second in a debug build.
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_traffic_keeps_the_wire_invariants(
        data in proptest::collection::vec(any::<u8>(), 0..1200),
        shutdown in any::<bool>(),
    ) {
        let ops = hub_model::decode_ops(&data);
        hub_model::run(&ops, shutdown);
    }
}

/// A long scenario from a fixed generator: many sessions, every kind of operation.
#[test]
fn long_deterministic_traffic_keeps_the_wire_invariants() {
    let mut state: u64 = 0x5eed;
    let data: Vec<u8> = (0..40_000)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let mut total = hub_model::Stats::default();
    for chunk in data.chunks(4_000) {
        let stats = hub_model::run(&hub_model::decode_ops(chunk), chunk[0] % 2 == 0);
        total.frames += stats.frames;
        total.logins += stats.logins;
        total.loads += stats.loads;
    }
    // The scenario reaches the deep states: logins, history pages and deferred lines loaded.
    assert!(total.frames > 1_000, "too little traffic: {total:?}");
    assert!(
        total.logins > 0 && total.loads > 0,
        "no login or store load: {total:?}"
    );
}

/// Every committed seed of the `hub` fuzz target passes the same checks on stable.
#[test]
fn hub_fuzz_seeds_keep_the_wire_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/hub");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/hub is committed") {
        let path = entry.expect("readable corpus entry").path();
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue; // grown by a local fuzz run, not committed
        }
        let data = std::fs::read(&path).expect("readable seed");
        hub_model::run(&hub_model::decode_ops(&data), data.len() % 2 == 0);
        replayed += 1;
    }
    assert!(replayed > 0, "no seed in {}", dir.display());
}
