//! A client of the AI Studio daemon, shared by the CLI (`studio`) and the
//! desktop app (`studio-ui`), which never links the daemon itself:
//!
//! - [`connection`]: [`Client`], the control socket: connect (or start
//!   the daemon), the handshake, concurrent requests and subscriptions,
//!   paging through an event log.
//! - [`data_dir`]: creating a data dir as the daemon expects it.
//! - [`export`]: a session as JSON lines (`studio export`, the
//!   Inspector's Export).
//! - [`event_fields`]: an event's fields as JSON or `key=value` pairs
//!   (`studio events`, exports, the Inspector).
//! - [`human`]: how durations, sizes, tokens, costs and ages read.
//! - [`stats`]: a session's figures from its events (`studio inspect`, the
//!   Inspector's stats bar).
//! - [`batch`]: batch files, one run per JSON line (`studio run --batch`,
//!   the app's run form).
//! - [`caps`]: the spend caps a group starts under, in words (`studio
//!   run`, the app's run form).
//! - [`gallery`]: gallery sources, git repositories or folders of
//!   templates with a checked index (`studio template source`).
//! - [`mcp_import`]: `mcpServers` documents (`studio mcp import`, the
//!   app's Settings page).
//! - [`plugin`]: plugins as published (Claude Code's and Agent Plugins'
//!   manifests) with AI Studio's own `studio-plugin.toml`: their MCP
//!   servers, permissions, panels, templates and rules; marketplaces, and
//!   installed plugins (`studio plugin install|update|...`).
//! - [`private_files`]: the private folders the gallery and plugins keep,
//!   changed under a lock and swapped in whole.
//! - [`transcript`]: a session as Markdown for people (`studio export
//!   --format md`, the Inspector's Export).

pub mod agent_file;
pub mod batch;
pub mod caps;
pub mod changes;
pub mod connection;
pub mod data_dir;
pub mod event_fields;
pub mod export;
pub mod gallery;
pub mod human;
pub mod mcp_import;
pub mod plugin;
pub mod private_files;
pub mod results;
pub mod stats;
pub mod templates;
pub mod transcript;

pub use connection::{AutoStart, Client, ClientError, Subscription};
