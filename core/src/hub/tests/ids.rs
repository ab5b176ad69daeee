//! Wire ids (docs/PROTOCOL.md §4.1): increasing, and never reused after a restart: the hub asks the
//! store to reserve the next block of ids before the current one runs out.

use alloc::vec::Vec;
use serde_json::json;

use super::*;

fn reservations(delivered: &Delivered) -> Vec<u64> {
    delivered
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Store(StoreRequest::ReserveIds { until }) => Some(*until),
            _ => None,
        })
        .collect()
}

#[test]
fn ids_start_where_the_store_says_and_the_next_block_is_reserved_in_time() {
    let restored = Restored {
        next_message_id: 5_000,
        ..Restored::default()
    };
    let mut h = Harness::restored(unheld(), restored);
    assert_eq!(h.hub.reserved_ids_until(), 5_000 + ID_BLOCK);
    let alice = h.user("alice");
    let bob = h.user("bob");
    let first = h.send_json(alice, json!({"type":"message","content":"x"}));
    assert_eq!(first.chat_to(bob)[0]["id"], 5_000);
    let mut reserved = Vec::new();
    let mut last = 0;
    for _ in 0..ID_BLOCK {
        let sent = h.send_json(alice, json!({"type":"message","content":"x"}));
        last = sent.chat_to(bob)[0]["id"].as_u64().unwrap();
        reserved.extend(reservations(&sent));
    }
    assert_eq!(last, 5_000 + ID_BLOCK);
    // Asked for once half of the first block was used, long before it ran out.
    assert_eq!(reserved, [5_000 + 2 * ID_BLOCK]);
    assert!(last < h.hub.reserved_ids_until());
}
