//! What an operator may ask of the running server: one typed vocabulary, [`Request`] in and
//! [`Answer`] (a French summary and the same facts as JSON) or a French refusal out, for every
//! front end. The control socket (`crate::admin`) reads requests as JSON lines; the console
//! (`crate::console`: `classcord admin`, one-shot or interactive) types them as words and sends
//! them through the socket; a browser dashboard can call [`Desk::run`] the same way, naming its
//! operator for the log line.
//!
//! - `request.rs`: the vocabulary (this file only names the parts);
//! - `words.rs`: a request as the console types it, and back (the admin log line is that form);
//! - `duration.rs`: `10 min`, `2 heures`, `1 j`...;
//! - `desk.rs`: requests carried out, with `accounts.rs`, `reload.rs` and `shutdown.rs`;
//! - `hub.rs`: the part the hub task carries out (it owns the chat state), and the door to it;
//! - `bans.rs`, `mutes.rs`, `report.rs`, `stats.rs`, `audit.rs`: ban and mute lists, French
//!   tables, the metrics summary, the security lines;
//! - `trace.rs`: the live protocol trace: targets, events, the bounded stream a front end reads
//!   ([`Desk::trace`]);
//! - `operators.rs`, `signin.rs`, `certificate.rs`: who may use the dashboard (`crate::web`'s
//!   `/admin`), its sign-in (the chat's own password checks and attempt limits), and its
//!   certificate's fingerprint.
//!
//! Nothing here imports the network shell: `net`'s hub task implements [`HubJob`]s, and the
//! server wiring hands the [`Desk`] a [`HubDoor`] to reach it.

pub mod accounts;
pub mod audit;
pub mod bans;
pub mod certificate;
pub mod dashboard_facts;
pub mod desk;
pub mod duration;
pub mod hub;
pub mod mutes;
pub mod operators;
pub mod reload;
pub mod report;
pub mod request;
pub mod shutdown;
pub mod signin;
pub mod stats;
pub mod trace;
pub mod words;

pub use dashboard_facts::CertificateFacts;
pub use desk::Desk;
pub use duration::{BanLength, Span, When};
pub use hub::{HubAsk, HubDoor, HubJob, LiveSettings, ToHub};
pub use request::{channel_display, Answer, ChannelVerb, Operator, Outcome, Request};
pub use signin::SignIn;
