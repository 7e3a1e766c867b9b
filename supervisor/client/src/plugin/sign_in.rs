//! Which HTTP server of an installed plugin a sign-in names: `studio mcp
//! login plugin:PLUGIN/SERVER` (or `plugin:PLUGIN` when it has one HTTP
//! server). Its tokens are kept under that name
//! (`protocol::plugin::sign_in_name`) and sent by the sessions that use
//! the plugin.

use protocol::mcp::{McpServerConfig, McpTransport};

use super::store::{Plugins, StoreError};

/// How an agent, and a sign-in, name an installed plugin.
pub const PREFIX: &str = "plugin:";

/// Why a sign-in name names no HTTP server of a plugin.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The plugin is not installed, or its files do not read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Its files do not read.
    #[error("plugin {0}: {1}")]
    Unreadable(String, String),
    /// It has no such HTTP server.
    #[error("plugin {plugin} has no HTTP server {server:?}{}", choices(.http))]
    NoSuchServer {
        /// The plugin.
        plugin: String,
        /// The server asked for.
        server: String,
        /// Its HTTP servers.
        http: Vec<String>,
    },
    /// It has none (a command server takes no sign-in).
    #[error("plugin {0} has no HTTP server: only HTTP servers sign in")]
    NoHttpServer(String),
    /// It has more than one, and none was named.
    #[error("plugin {plugin} has more than one HTTP server: say which{}", choices(.http))]
    WhichServer {
        /// The plugin.
        plugin: String,
        /// Its HTTP servers.
        http: Vec<String>,
    },
}

fn choices(http: &[String]) -> String {
    if http.is_empty() {
        " (it has none: only HTTP servers sign in)".to_owned()
    } else {
        format!(": {}", http.join(", "))
    }
}

impl Plugins {
    /// The HTTP server `name` (`plugin:PLUGIN/SERVER` or `plugin:PLUGIN`)
    /// names, with its full sign-in name; `None` when `name` is not a
    /// plugin's. Only servers it was granted at install count.
    pub fn http_server(
        &self,
        name: &str,
    ) -> Option<Result<(String, McpServerConfig), SignInError>> {
        let rest = name.strip_prefix(PREFIX)?;
        let (plugin, server) = match rest.split_once('/') {
            Some((plugin, server)) => (plugin, Some(server)),
            None => (rest, None),
        };
        Some(self.find_http_server(plugin, server))
    }

    fn find_http_server(
        &self,
        plugin: &str,
        server: Option<&str>,
    ) -> Result<(String, McpServerConfig), SignInError> {
        let installed = self.get(plugin)?;
        let read = self
            .read_installed(plugin)
            .map_err(|err| SignInError::Unreadable(plugin.to_owned(), err.to_string()))?;
        let http: Vec<McpServerConfig> = read
            .servers
            .into_iter()
            .filter(|s| installed.servers.contains(&s.name))
            .filter(|s| matches!(s.transport, McpTransport::Http { .. }))
            .collect();
        let names = || {
            http.iter()
                .map(|s| protocol::plugin::sign_in_name(plugin, &s.name))
                .collect()
        };
        let found =
            match server {
                Some(server) => http.iter().find(|s| s.name == server).ok_or_else(|| {
                    SignInError::NoSuchServer {
                        plugin: plugin.to_owned(),
                        server: server.to_owned(),
                        http: names(),
                    }
                })?,
                None => match &http[..] {
                    [only] => only,
                    [] => return Err(SignInError::NoHttpServer(plugin.to_owned())),
                    _ => {
                        return Err(SignInError::WhichServer {
                            plugin: plugin.to_owned(),
                            http: names(),
                        });
                    }
                },
            };
        Ok((
            protocol::plugin::sign_in_name(plugin, &found.name),
            found.clone(),
        ))
    }
}
