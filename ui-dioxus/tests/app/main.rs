//! The desktop app's tests, one binary: every page rendered through
//! `dioxus-ssr` against snapshots (`pages`), the connection task against a
//! real daemon (`connection`), the real window under Xvfb (`window`), the
//! web view's guard (`web_guard`), the app in Chromium (`browser`), and
//! typing at human speed while runs stream, in both (`typing`), and the
//! first-run setup wizard in Chromium (`wizard`).
//! `common` starts daemons and cleans up after them.

// A panic is how a test fails; fixtures unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the tests start the binaries under test, as a person would"
)]

mod app_views;
mod browser;
mod common;
mod connection;
mod daemon_stop;
mod live_lists;
mod pages;
mod plugins;
mod sign_in;
mod typing;
mod web_guard;
mod window;
mod wizard;
