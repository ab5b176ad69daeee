//! `[clients]`: how the server paces lines for the students' clients. Today: the hold after a
//! login reply (`core::hub::LoginHold`, whose `Default` is the one home of the defaults).

use super::*;
use classcord_core::hub::LoginHold;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClients {
    pub(super) login_settle_ms: Option<u32>,
    pub(super) login_spacing_ms: Option<u32>,
}

/// Upper bounds: a hold longer than this would look like a dead server to the student.
const MAX_SETTLE_MS: u32 = 10_000;
const MAX_SPACING_MS: u32 = 2_000;

pub(super) fn login_hold(raw: &RawClients) -> Result<LoginHold, ConfigError> {
    let defaults = LoginHold::default();
    let settle_ms = raw.login_settle_ms.unwrap_or(defaults.settle_ms);
    check_range(
        "clients.login_settle_ms",
        settle_ms as usize,
        0,
        MAX_SETTLE_MS as usize,
    )?;
    let spacing_ms = raw.login_spacing_ms.unwrap_or(defaults.spacing_ms);
    check_range(
        "clients.login_spacing_ms",
        spacing_ms as usize,
        0,
        MAX_SPACING_MS as usize,
    )?;
    Ok(LoginHold {
        settle_ms,
        spacing_ms,
        release_within_ms: defaults.release_within_ms,
    })
}
