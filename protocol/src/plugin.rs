//! A plugin's MCP server as a worker runs it ([`PluginServer`]): the
//! server, the installed plugin and version it comes from, and the
//! sandbox the permissions granted at install make ([`PluginConfinement`]),
//! which replaces the agent's own for that server's process.

use serde::{Deserialize, Serialize};

use crate::mcp::McpServerConfig;
use crate::sandbox::Network;

/// One MCP server of an installed plugin, for one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginServer {
    /// The plugin's name.
    pub plugin: String,
    /// Its version as installed (`""` when it gives none).
    pub version: String,
    /// The server (its placeholders filled for where the plugin is).
    pub server: McpServerConfig,
    /// What its process may touch.
    pub confinement: PluginConfinement,
    /// Its panels (`ui://` views of this server the plugin declares),
    /// each with its title: read once the server starts.
    pub panels: Vec<(String, String)>,
}

/// What a plugin server's process may touch: its plugin's files (read),
/// its data folder (read and write, its working directory), the paths
/// and network the plugin was granted; nothing of the agent's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginConfinement {
    /// The plugin's installed files, read-only.
    pub root: String,
    /// Its data folder, writable.
    pub data: String,
    /// Paths granted to read (absolute, or `~/...`).
    pub read: Vec<String>,
    /// Paths granted to write.
    pub write: Vec<String>,
    /// Whether it has the network: `Hosts` when it was granted named
    /// hosts, reached only through the worker's proxy.
    pub network: Network,
    /// The hosts it was granted (`name`, or `*.domain` for its
    /// subdomains), with `Network::Hosts`.
    pub hosts: Vec<String>,
    /// Whether it may start other programs (`shell`); without it, only
    /// its own program (and the interpreters that needs) may execute.
    pub shell: bool,
}

/// The name `studio mcp login` takes for server `server` of plugin
/// `plugin` (`plugin:PLUGIN/SERVER`), under which its sign-in is kept.
pub fn sign_in_name(plugin: &str, server: &str) -> String {
    format!("plugin:{plugin}/{server}")
}
