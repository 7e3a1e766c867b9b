//! What the workspace's tests share, written once: [`fake_provider`], a
//! loopback HTTP server standing in for a model provider, and [`events`],
//! event logs built for a test, [`sessions`], a session's summary for a
//! test, and [`daemon`], starting a real daemon
//! for a test, a benchmark or the chaos suite. A dev-dependency
//! only; nothing here is in a shipped binary.

// A panic is how a test fails; fixtures unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod daemon;
pub mod events;
pub mod fake_provider;
pub mod sessions;
