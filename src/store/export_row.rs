//! One exported message line, the same keys in every format: written by `export.rs` (CSV,
//! JSON) and `export_sql.rs` (SQL), which both read it from here.

use serde::Serialize;

/// One exported line (the same keys in every format).
#[derive(Serialize)]
pub(super) struct Row<'a> {
    pub(super) id: u64,
    pub(super) timestamp: &'a str,
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) channel: &'a str,
    pub(super) content: &'a str,
}
