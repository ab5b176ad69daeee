//! The web port: the browser chat page and its WebSocket, served by the same process on its own
//! port (`[web]`). A browser speaks exactly the TCP clients' JSON protocol, one object per text
//! frame, through the same hub, limits, bans and logs: this module is a transport shell, the
//! hub never knows which transport a session uses.
//!
//! - `http.rs`: the request head and the responses (security headers, French error pages);
//! - WebSocket framing itself is `crate::net::websocket` (the hub task writes the frames).
//! - `assets.rs`: the chat page's files, embedded in the binary;
//! - `server.rs`: the accept loop and one task per HTTP request or WebSocket;
//! - `admin/`: the teacher's dashboard, over HTTPS on the same port (a TLS ClientHello's first
//!   byte tells it apart), and `tls.rs` its certificate.

pub mod admin;
pub mod assets;
pub mod http;
pub mod server;
pub mod tls;
