//! Integration tests: the real `studio` daemon and `studio-worker`
//! processes, real sockets and a real redb file in a temp dir.
//!
//! One test binary (ripgrep style) with a module per area; `support` holds
//! the fixtures.

// A panic is how a test fails; fixtures unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the tests start the binaries under test, as a person would"
)]

mod app_views;
mod approvals;
mod attacks;
mod bad_input;
mod base_urls;
mod caps;
mod chat;
mod checks;
mod cli;
mod cli_harness;
mod compare;
mod containment;
mod corrupt_store;
mod daemon_crash;
mod doctor;
mod escapes;
mod fetch;
mod gallery;
mod git_hooks;
mod groups;
mod limits;
mod mcp;
mod mcp_oauth;
#[cfg(feature = "os-keyring")]
mod oauth_refresh;
mod os_keyring;
mod otlp;
mod plugin_install;
mod plugin_network;
mod plugin_sessions;
mod plugin_sign_in;
mod plugins;
mod privacy;
mod provider_round_trips;
mod providers;
mod replay;
mod retention;
mod run_workspaces;
mod sandbox;
mod secrets_at_rest;
mod slurm;
mod support;
mod tape;
mod templates;
mod terminal;
mod tools;
mod watch_lists;
mod workspace_sweep;
