//! The `mcpServers` JSON documents other clients keep MCP servers in
//! (Claude Desktop, Cursor; VS Code's `servers`), read by `studio mcp
//! import` and the app's Settings page alike.

use protocol::mcp::{
    DEFAULT_CALL_TIMEOUT_SECS, DEFAULT_STARTUP_TIMEOUT_SECS, McpServerConfig, McpTransport,
};
use protocol::secret::Secret;
use serde_json::Value;

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
pub(crate) fn parse_entry(name: &str, entry: &Value) -> Result<McpServerConfig, String> {
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
