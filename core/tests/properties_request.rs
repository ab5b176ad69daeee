//! Property tests (proptest) of the request parser and the name helpers: any text gets a typed
//! request or an error with a stable reason code and a short French text; accepted channel and
//! guest names are stable when sent back. Checks shared with the `request` fuzz target.

#[path = "support/wire.rs"]
mod wire;

use proptest::prelude::*;
use serde_json::{Map, Value};

const TYPES: [&str; 18] = [
    "register",
    "login",
    "message",
    "private",
    "status",
    "users",
    "userlist",
    "list_users",
    "who",
    "join_channel",
    "leave_channel",
    "channels",
    "history",
    "ping",
    "dance",
    "",
    "MESSAGE",
    "system",
];
const FIELDS: [&str; 16] = [
    "username",
    "password",
    "content",
    "subtype",
    "to",
    "from",
    "channel",
    "state",
    "user",
    "limit",
    "before",
    "with",
    "timestamp",
    "id",
    "system",
    "type",
];

/// A field value: mostly strings from the protocol's vocabulary, sometimes the wrong type.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop_oneof![
            Just("global"), Just("private"), Just("online"), Just("ne pas déranger"),
            Just("#général"), Just("Java"), Just("/join #sio"), Just("alice"), Just(""),
            Just(" 12 "), Just("-1"),
        ].prop_map(Value::from),
        3 => any::<String>().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(serde_json::json!([1, "x", {"a": null}])),
    ]
}

fn request_object() -> impl Strategy<Value = String> {
    (
        proptest::option::of(prop_oneof![
            4 => proptest::sample::select(&TYPES[..]).prop_map(Value::from),
            1 => field_value(),
        ]),
        proptest::collection::vec((proptest::sample::select(&FIELDS[..]), field_value()), 0..6),
    )
        .prop_map(|(kind, fields)| {
            let mut object = Map::new();
            if let Some(kind) = kind {
                object.insert("type".to_owned(), kind);
            }
            for (key, value) in fields {
                object.insert(key.to_owned(), value);
            }
            Value::Object(object).to_string()
        })
}

proptest! {
    // Explicit case counts: about a second in a debug build.
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn structured_requests_parse_or_fail_with_a_french_reason(line in request_object()) {
        wire::check_request(&line);
    }

    #[test]
    fn any_text_parses_or_fails_with_a_french_reason(text in any::<String>()) {
        wire::check_request(&text);
        wire::check_names(&text);
    }

    #[test]
    fn any_bytes_decode_then_parse_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let text = classcord_core::frame::decode_line(&bytes);
        wire::check_request(&text);
        wire::check_names(&text);
    }
}
