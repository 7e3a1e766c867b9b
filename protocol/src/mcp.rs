//! MCP servers as the daemon keeps them and a worker connects to them,
//! and the `mcpServers` JSON documents other clients keep them in (read
//! by `studio mcp import` and the app's Settings page alike).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;

/// One configured MCP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// Name agents refer to it by; its tools are offered as `NAME.TOOL`.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Seconds allowed to start and answer `initialize` and `tools/list`.
    pub startup_timeout_secs: u32,
    /// Seconds one `tools/call` may take.
    pub call_timeout_secs: u32,
}

/// Default [`McpServerConfig::startup_timeout_secs`]: `npx` may download first.
pub const DEFAULT_STARTUP_TIMEOUT_SECS: u32 = 60;
/// Default [`McpServerConfig::call_timeout_secs`].
pub const DEFAULT_CALL_TIMEOUT_SECS: u32 = 120;

/// How a worker reaches an MCP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpTransport {
    /// A child process of the worker speaking MCP on stdin/stdout; it is in
    /// the worker's process group, so it dies with the session.
    Stdio {
        /// Program to run.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Environment it gets, besides `PATH` and `HOME` (values may be
        /// tokens: never printed).
        env: Vec<(String, Secret)>,
    },
    /// A streamable-HTTP MCP endpoint.
    Http {
        /// The endpoint URL.
        url: String,
        /// Extra request headers (e.g. `Authorization`; values never printed).
        headers: Vec<(String, Secret)>,
    },
}

impl McpServerConfig {
    /// Checks the name (it becomes a tool-name prefix) and the transport.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !name_ok {
            return Err(format!(
                "invalid MCP server name {:?}: use 1-32 letters, digits, '-' or '_'",
                self.name
            ));
        }
        // Its tools arrive as `NAME.TOOL`: a built-in group's name would
        // pass them off as built-in tools (and match rules meant for those).
        if crate::agent::BUILTIN_TOOLS.contains(&self.name.as_str()) {
            return Err(format!(
                "invalid MCP server name {:?}: shell, fs and fetch are the built-in tools' names",
                self.name
            ));
        }
        if self.startup_timeout_secs == 0 || self.call_timeout_secs == 0 {
            return Err("timeouts must be at least one second".to_owned());
        }
        match &self.transport {
            McpTransport::Stdio { command, .. } if command.is_empty() => {
                Err("the command is empty".to_owned())
            }
            McpTransport::Http { url, .. }
                if !(url.starts_with("http://") || url.starts_with("https://")) =>
            {
                Err(format!("{url:?} is not an http(s) URL"))
            }
            _ => Ok(()),
        }
    }

    /// `npx -y server` or the URL, for listings (no secret).
    pub fn describe(&self) -> String {
        match &self.transport {
            McpTransport::Stdio { command, args, env } => {
                let mut text = std::iter::once(command.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                if !env.is_empty() {
                    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                    text.push_str(&format!(" (env: {})", names.join(", ")));
                }
                text
            }
            McpTransport::Http { url, headers } => {
                if headers.is_empty() {
                    url.clone()
                } else {
                    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
                    format!("{url} (headers: {})", names.join(", "))
                }
            }
        }
    }
}

/// One entry of an `mcpServers` document: its name, and the server or why
/// that entry cannot be used.
pub type ImportedEntry = (String, Result<McpServerConfig, String>);

/// Each server of an `mcpServers` document (Claude Desktop, Cursor; VS
/// Code's `servers` too), in the document's key order (sorted by name),
/// with the default timeouts. Entries are `{command, args?, env?}` or
/// `{url, headers?, type?}`; a bad entry is an `Err` naming what is wrong
/// with it, so the good ones can still be added. Fails as a whole only
/// when the text is not JSON or holds no server object.
pub fn parse_mcp_servers_json(text: &str) -> Result<Vec<ImportedEntry>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // Claude Desktop and Cursor say `mcpServers`; VS Code says `servers`.
    let servers = doc
        .get("mcpServers")
        .or_else(|| doc.get("servers"))
        .and_then(Value::as_object)
        .ok_or("no \"mcpServers\" object")?;
    Ok(servers
        .iter()
        .map(|(name, entry)| (name.clone(), parse_entry(name, entry)))
        .collect())
}

/// One entry of an `mcpServers` object.
fn parse_entry(name: &str, entry: &Value) -> Result<McpServerConfig, String> {
    let strings = |key: &str| -> Result<Vec<(String, Secret)>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(v) => Ok((k.clone(), Secret::new(v.as_str()))),
                    _ => Err(format!("{key}.{k} is not a string")),
                })
                .collect(),
            Some(_) => Err(format!("{key} is not an object")),
        }
    };
    let kind = entry.get("type").and_then(Value::as_str);
    let transport = if let Some(url) = entry.get("url").and_then(Value::as_str) {
        if kind == Some("sse") {
            return Err(
                "the legacy SSE transport is not supported; use streamable HTTP".to_owned(),
            );
        }
        McpTransport::Http {
            url: url.to_owned(),
            headers: strings("headers")?,
        }
    } else if let Some(command) = entry.get("command").and_then(Value::as_str) {
        let args = match entry.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| {
                    a.as_str()
                        .map(str::to_owned)
                        .ok_or("args holds a non-string")
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("args is not an array".to_owned()),
        };
        McpTransport::Stdio {
            command: command.to_owned(),
            args,
            env: strings("env")?,
        }
    } else {
        return Err("neither \"command\" nor \"url\" is given".to_owned());
    };
    let server = McpServerConfig {
        name: name.to_owned(),
        transport,
        startup_timeout_secs: DEFAULT_STARTUP_TIMEOUT_SECS,
        call_timeout_secs: DEFAULT_CALL_TIMEOUT_SECS,
    };
    server.validate()?;
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_show_secret_values() {
        let server = McpServerConfig {
            name: "github".into(),
            transport: McpTransport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "server-github".into()],
                env: vec![("GITHUB_TOKEN".into(), Secret::new("ghp_secret"))],
            },
            startup_timeout_secs: DEFAULT_STARTUP_TIMEOUT_SECS,
            call_timeout_secs: DEFAULT_CALL_TIMEOUT_SECS,
        };
        assert_eq!(
            server.describe(),
            "npx -y server-github (env: GITHUB_TOKEN)"
        );
        assert!(!format!("{server:?}").contains("ghp_secret"));
        assert!(server.validate().is_ok());
        let bad = McpServerConfig {
            name: "has.dot".into(),
            ..server.clone()
        };
        assert!(
            bad.validate().is_err(),
            "a dot would break the tool namespace"
        );
        // Its tools would arrive as fs.*, shell.* or fetch.*, where rules
        // for the built-in tools would approve them.
        for builtin in ["fs", "shell", "fetch"] {
            let shadow = McpServerConfig {
                name: builtin.into(),
                ..server.clone()
            };
            let err = shadow.validate().unwrap_err();
            assert!(err.contains("built-in tools' names"), "{err}");
        }
    }

    #[test]
    fn claude_desktop_files_import_and_bad_entries_say_why() {
        let text = r#"{
          "mcpServers": {
            "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
            "github": {"command": "npx", "args": ["-y", "server-github"], "env": {"GITHUB_TOKEN": "ghp_x"}},
            "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer t"}},
            "legacy": {"type": "sse", "url": "https://example.com/sse"},
            "bad name": {"command": "x"},
            "empty": {}
          }
        }"#;
        let parsed = parse_mcp_servers_json(text).unwrap_or_else(|e| panic!("{e}"));
        let get = |name: &str| {
            parsed
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, server)| server.clone())
                .unwrap_or_else(|| panic!("{name} is missing"))
        };
        let fs = get("filesystem").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fs.describe(),
            "npx -y @modelcontextprotocol/server-filesystem /tmp"
        );
        assert_eq!(fs.startup_timeout_secs, DEFAULT_STARTUP_TIMEOUT_SECS);
        assert_eq!(fs.call_timeout_secs, DEFAULT_CALL_TIMEOUT_SECS);
        let github = get("github").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            github.describe(),
            "npx -y server-github (env: GITHUB_TOKEN)"
        );
        assert_eq!(
            get("remote").map(|s| s.describe()),
            Ok("https://example.com/mcp (headers: Authorization)".to_owned())
        );
        let why = |name: &str| get(name).err().unwrap_or_default();
        assert!(why("legacy").contains("SSE"));
        assert!(why("bad name").contains("invalid MCP server name"));
        assert!(why("empty").contains("neither"));
        assert!(
            parse_mcp_servers_json("{}")
                .err()
                .unwrap_or_default()
                .contains("mcpServers")
        );
        assert!(
            parse_mcp_servers_json("nope")
                .err()
                .unwrap_or_default()
                .contains("not JSON")
        );
    }

    #[test]
    fn vs_code_servers_documents_import_and_malformed_fields_are_named() {
        let text = r#"{"servers": {
            "files": {"command": "npx", "args": ["-y", 3]},
            "remote": {"url": "https://example.com/mcp", "headers": {"X-Key": 1}},
            "env": {"command": "x", "env": ["A=1"]},
            "ok": {"type": "stdio", "command": "node", "args": null, "env": null}
        }}"#;
        let parsed = parse_mcp_servers_json(text).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["env", "files", "ok", "remote"]);
        let results: Vec<Result<String, String>> = parsed
            .iter()
            .map(|(_, r)| {
                r.as_ref()
                    .map(McpServerConfig::describe)
                    .map_err(Clone::clone)
            })
            .collect();
        assert_eq!(
            results,
            [
                Err("env is not an object".to_owned()),
                Err("args holds a non-string".to_owned()),
                Ok("node".to_owned()),
                Err("headers.X-Key is not a string".to_owned()),
            ]
        );
    }
}
