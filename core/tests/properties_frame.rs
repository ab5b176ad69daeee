//! Property tests (proptest) of the framing layer: line splitting on arbitrary byte streams cut
//! at arbitrary read boundaries, windows-1252 fallback decoding, and the ASCII-only JSON writer.
//! The checks live in support/wire.rs, shared with the `frame` fuzz target.

#[path = "support/wire.rs"]
mod wire;

use proptest::prelude::*;
use serde_json::{Number, Value};

/// Bytes that make framing interesting: line ends, spaces, UTF-8 lead bytes, anything.
fn stream_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => Just(b'\n'),
        2 => Just(b'\r'),
        2 => Just(b' '),
        1 => Just(b'\t'),
        4 => Just(b'a'),
        1 => Just(0xC3),
        1 => Just(0xA9),
        3 => any::<u8>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    // Explicit case counts: the whole file runs in well under a second in a debug build.
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn splitting_is_capped_trimmed_and_independent_of_read_boundaries(
        cap in 1usize..80,
        stream in proptest::collection::vec(stream_byte(), 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..8),
    ) {
        wire::check_splitting(cap, &stream, &cuts);
    }

    #[test]
    fn decoding_never_fails_and_falls_back_to_windows_1252(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        wire::check_decoding(&bytes);
    }

    #[test]
    fn any_string_is_written_as_ascii_and_reads_back(text in any::<String>()) {
        wire::check_json_line("message", &[("content".to_owned(), text)], None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn json_values_are_written_as_ascii_and_read_back(value in json_value()) {
        wire::check_json_value(&value);
    }

    #[test]
    fn json_lines_are_one_ascii_object_ending_in_one_newline(
        kind in any::<String>(),
        members in proptest::collection::vec((any::<String>(), any::<String>()), 0..5),
        extra in proptest::option::of(json_value()),
    ) {
        wire::check_json_line(&kind, &members, extra.as_ref());
    }
}
