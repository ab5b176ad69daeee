//! The chat hub fed arbitrary traffic: connections, lines (built from the protocol's vocabulary or
//! raw bytes, through a `LineSplitter` as the server's readers do), login/register outcomes and
//! disconnections, decoded from the input by core/tests/support/hub_model.rs, which checks after
//! every hub call: no panic, no echo, every frame one ASCII JSON object ending in exactly one
//! `\n`, reply first after login/register, nothing unsolicited to anonymous connections.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/hub_model.rs"]
mod hub_model;

fuzz_target!(|data: &[u8]| {
    let ops = hub_model::decode_ops(data);
    // The last byte decides how the scenario ends: everyone leaves, or the server shuts down.
    let shutdown = data.last().is_some_and(|byte| byte & 1 == 1);
    hub_model::run(&ops, shutdown);
});
