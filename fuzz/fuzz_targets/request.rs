//! The request parser on arbitrary bytes: as the reader hands them over (`decode_line`, UTF-8 or
//! windows-1252) and, when valid UTF-8, as they are. No panic; an error has a stable reason code
//! and a short French text; accepted requests are normalised; name helpers are stable. Checks in
//! core/tests/support/wire.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/wire.rs"]
mod wire;

fuzz_target!(|data: &[u8]| {
    let text = classcord_core::frame::decode_line(data);
    wire::check_request(&text);
    wire::check_names(&text);
    // The same text with surrounding whitespace, as a line before trimming might look.
    wire::check_request(&format!(" {text}\r"));
});
