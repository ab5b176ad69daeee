//! Framing: `LineSplitter` on an arbitrary byte stream cut into arbitrary reads, `decode_line` on
//! every line, and the ASCII-only JSON writer on whatever the stream holds (as a JSON value when it
//! parses, as strings otherwise). Checks in core/tests/support/wire.rs.
//!
//! Input: byte 0 picks the line cap, byte 1 the number of read cuts, then one byte per cut
//! position (scaled), then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "../../core/tests/support/wire.rs"]
mod wire;

fuzz_target!(|data: &[u8]| {
    let [cap_choice, cut_count, rest @ ..] = data else {
        return;
    };
    // Mostly small caps (the interesting edges), sometimes the server's default.
    let cap = if *cap_choice == 255 {
        classcord_core::frame::DEFAULT_MAX_LINE_BYTES
    } else {
        1 + usize::from(*cap_choice % 96)
    };
    let cut_count = usize::from(*cut_count % 8).min(rest.len());
    let (cut_bytes, stream) = rest.split_at(cut_count);
    let cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&b| usize::from(b) * stream.len() / 255)
        .collect();
    wire::check_splitting(cap, stream, &cuts);

    let mut lines = Vec::new();
    let mut splitter = classcord_core::frame::LineSplitter::new(cap);
    let _ = splitter.feed(stream, |line| lines.push(line.to_vec()));
    for line in &lines {
        wire::check_decoding(line);
    }
    wire::check_decoding(stream);

    let text = classcord_core::frame::decode_line(stream);
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        wire::check_json_value(&value);
        wire::check_json_line("message", &[], Some(&value));
    }
    let mut words = text.split('|');
    let kind = words.next().unwrap_or_default().to_owned();
    let members: Vec<(String, String)> = words
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|pair| {
            (
                pair[0].to_owned(),
                pair.get(1).copied().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    wire::check_json_line(&kind, &members, None);
});
