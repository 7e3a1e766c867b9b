//! The add-server form's draft: what was typed, and the server it makes
//! once every field checks, or each field's problem.
//!
//! Environment variables and headers are secrets: the draft never prints
//! their values (`Debug` names their keys), nor quotes one in an error.

use std::fmt;

use protocol::Secret;
use protocol::mcp::{
    DEFAULT_CALL_TIMEOUT_SECS, DEFAULT_STARTUP_TIMEOUT_SECS, McpServerConfig, McpTransport,
    validate_server_name, validate_url,
};

use crate::problems::Problems;

/// How the server of an [`McpDraft`] is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum McpKind {
    /// A command the worker starts, speaking MCP on stdin/stdout.
    #[default]
    Stdio,
    /// A streamable-HTTP endpoint.
    Http,
}

/// What the add form holds; [`McpDraft::config`] builds the server from it.
#[derive(Clone, PartialEq)]
pub struct McpDraft {
    /// Name agents use; its tools are offered as `NAME.TOOL`.
    pub name: String,
    /// Command or URL.
    pub kind: McpKind,
    /// The program (stdio).
    pub command: String,
    /// Its arguments, split at spaces; quotes keep spaces in one argument.
    pub args: String,
    /// The endpoint (HTTP).
    pub url: String,
    /// `KEY=VALUE` lines: environment variables (stdio) or request headers
    /// (HTTP). Secret: never in `Debug` output.
    pub secrets: String,
    /// Seconds to start and list tools.
    pub startup_timeout: String,
    /// Seconds one tool call may take.
    pub call_timeout: String,
    /// Replace a server of that name rather than be refused.
    pub replace: bool,
}

impl Default for McpDraft {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: McpKind::Stdio,
            command: String::new(),
            args: String::new(),
            url: String::new(),
            secrets: String::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT_SECS.to_string(),
            call_timeout: DEFAULT_CALL_TIMEOUT_SECS.to_string(),
            replace: false,
        }
    }
}

/// Names the secret lines' keys, never their values.
impl fmt::Debug for McpDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .secrets
            .lines()
            .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim()))
            .collect();
        f.debug_struct("McpDraft")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("url", &self.url)
            .field("secrets", &keys)
            .field("startup_timeout", &self.startup_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("replace", &self.replace)
            .finish()
    }
}

impl McpDraft {
    /// The server, checked as the daemon will check it, or everything
    /// wrong in one line (never quoting a secret value).
    pub fn config(&self) -> Result<McpServerConfig, String> {
        self.check().map_err(|problems| {
            let all: Vec<String> = problems.all().map(|(_, why)| why.clone()).collect();
            all.join("; ")
        })
    }

    /// The server, or every problem under the name of its field
    /// (`mcp_name`, `mcp_command`, `mcp_args`, `mcp_url`, `mcp_secrets`,
    /// `mcp_startup_timeout`, `mcp_call_timeout`), never quoting a secret.
    pub fn check(&self) -> Result<McpServerConfig, Problems> {
        let mut problems = Problems::default();
        let name = self.name.trim();
        if name.is_empty() {
            problems.add("mcp_name", "give the server a name");
        } else {
            problems.check("mcp_name", validate_server_name(name));
        }
        let transport = match self.kind {
            McpKind::Stdio => {
                let command = self.command.trim();
                if command.is_empty() {
                    problems.add("mcp_command", "give the command that starts the server");
                }
                let args = problems.check("mcp_args", split_args(&self.args));
                let env = problems.check("mcp_secrets", pairs(&self.secrets, "environment"));
                args.zip(env).map(|(args, env)| McpTransport::Stdio {
                    command: command.to_owned(),
                    args,
                    env,
                })
            }
            McpKind::Http => {
                let url = self.url.trim();
                if url.is_empty() {
                    problems.add("mcp_url", "give the server's URL");
                } else {
                    problems.check("mcp_url", validate_url(url));
                }
                let headers = problems.check("mcp_secrets", pairs(&self.secrets, "header"));
                headers.map(|headers| McpTransport::Http {
                    url: url.to_owned(),
                    headers,
                })
            }
        };
        let startup = problems.check(
            "mcp_startup_timeout",
            seconds(
                "startup timeout",
                &self.startup_timeout,
                DEFAULT_STARTUP_TIMEOUT_SECS,
            ),
        );
        let call = problems.check(
            "mcp_call_timeout",
            seconds(
                "call timeout",
                &self.call_timeout,
                DEFAULT_CALL_TIMEOUT_SECS,
            ),
        );
        match (transport, startup, call) {
            (Some(transport), Some(startup_timeout_secs), Some(call_timeout_secs))
                if problems.is_empty() =>
            {
                let server = McpServerConfig {
                    name: name.to_owned(),
                    transport,
                    startup_timeout_secs,
                    call_timeout_secs,
                };
                // What the daemon checks, should it check more than the fields.
                problems.check(Problems::FORM, server.validate());
                if problems.is_empty() {
                    Ok(server)
                } else {
                    Err(problems)
                }
            }
            _ => Err(problems),
        }
    }
}

/// `KEY=VALUE` lines (blank lines skipped); errors name the line and the
/// key, never the value.
fn pairs(text: &str, what: &str) -> Result<Vec<(String, Secret)>, String> {
    let mut out: Vec<(String, Secret)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("{what} line {number}: use KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!(
                "{what} line {number}: the name before '=' must be one word"
            ));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("{what} {key} is given twice"));
        }
        out.push((key.to_owned(), Secret::new(value.trim())));
    }
    Ok(out)
}

/// Arguments split at whitespace; `'…'` or `"…"` keep spaces in one.
fn split_args(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.get_or_insert_with(String::new).push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                current.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => args.extend(current.take()),
            None => current.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("arguments: a quote is not closed".into());
    }
    args.extend(current);
    Ok(args)
}

/// Whole seconds, at least one; empty means `default`.
fn seconds(what: &str, text: &str, default: u32) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse()
        .ok()
        .filter(|secs| *secs >= 1)
        .ok_or_else(|| format!("{what}: a whole number of seconds, at least 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> McpDraft {
        McpDraft {
            name: "files".into(),
            command: "npx".into(),
            args: r#"-y server-fs "/my docs" '' x"#.into(),
            secrets: "API_TOKEN = tok-secret-1\n\nOTHER=a=b\n".into(),
            startup_timeout: "5".into(),
            call_timeout: String::new(),
            ..McpDraft::default()
        }
    }

    #[test]
    fn a_stdio_draft_becomes_its_server_with_quoted_args_and_env_secrets() {
        let server = stdio().config().unwrap_or_else(|e| panic!("{e}"));
        let McpTransport::Stdio { command, args, env } = &server.transport else {
            panic!("not stdio: {server:?}");
        };
        assert_eq!(command, "npx");
        assert_eq!(args, &["-y", "server-fs", "/my docs", "", "x"]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(env, [("API_TOKEN", "tok-secret-1"), ("OTHER", "a=b")]);
        assert_eq!(server.startup_timeout_secs, 5);
        assert_eq!(
            server.call_timeout_secs, DEFAULT_CALL_TIMEOUT_SECS,
            "an empty timeout is the default"
        );
        assert_eq!(McpDraft::default().startup_timeout, "60");
        assert!(
            !format!("{:?}", stdio()).contains("tok-secret"),
            "Debug hides values"
        );
    }

    #[test]
    fn an_http_draft_sends_its_lines_as_headers() {
        let draft = McpDraft {
            kind: McpKind::Http,
            url: " https://host/mcp ".into(),
            secrets: "Authorization=Bearer t".into(),
            ..stdio()
        };
        let server = draft.config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            server.describe(),
            "https://host/mcp (headers: Authorization)"
        );
    }

    #[test]
    fn every_bad_field_is_reported_under_its_name_at_once() {
        let draft = McpDraft {
            name: "fs".into(),
            command: " ".into(),
            args: "'open".into(),
            secrets: "TOKEN tok-secret-9".into(),
            startup_timeout: "0".into(),
            call_timeout: "x".into(),
            ..McpDraft::default()
        };
        let Err(problems) = draft.check() else {
            panic!("{draft:?} passed");
        };
        let fields: Vec<&str> = problems.all().map(|(field, _)| *field).collect();
        assert_eq!(
            fields,
            [
                "mcp_name",
                "mcp_command",
                "mcp_args",
                "mcp_secrets",
                "mcp_startup_timeout",
                "mcp_call_timeout"
            ]
        );
        assert_eq!(
            problems.of("mcp_name").as_deref(),
            Some(
                "invalid MCP server name \"fs\": shell, fs and fetch are the built-in tools' names"
            )
        );
        assert!(
            problems.all().all(|(_, why)| !why.contains("tok-secret")),
            "{problems:?}"
        );
        // An HTTP draft's URL is its own field.
        let http = McpDraft {
            kind: McpKind::Http,
            url: "ftp://x".into(),
            ..McpDraft::default()
        };
        let Err(problems) = http.check() else {
            panic!("{http:?} passed");
        };
        assert_eq!(
            problems.of("mcp_url").as_deref(),
            Some("\"ftp://x\" is not an http(s) URL")
        );
    }

    #[test]
    fn a_bad_draft_says_why_without_quoting_a_secret() {
        let cases = [
            (
                McpDraft {
                    name: " ".into(),
                    ..stdio()
                },
                "give the server a name",
            ),
            (
                McpDraft {
                    name: "a.b".into(),
                    ..stdio()
                },
                "invalid MCP server name \"a.b\": use 1-32 letters, digits, '-' or '_'",
            ),
            (
                McpDraft {
                    command: String::new(),
                    ..stdio()
                },
                "give the command that starts the server",
            ),
            (
                McpDraft {
                    args: "\"open".into(),
                    ..stdio()
                },
                "arguments: a quote is not closed",
            ),
            (
                McpDraft {
                    secrets: "ok=1\nghp_pasted_alone".into(),
                    ..stdio()
                },
                "environment line 2: use KEY=VALUE",
            ),
            (
                McpDraft {
                    secrets: "MY KEY=v".into(),
                    ..stdio()
                },
                "environment line 1: the name before '=' must be one word",
            ),
            (
                McpDraft {
                    secrets: "A=1\nA=2".into(),
                    ..stdio()
                },
                "environment A is given twice",
            ),
            (
                McpDraft {
                    call_timeout: "0".into(),
                    ..stdio()
                },
                "call timeout: a whole number of seconds, at least 1",
            ),
            (
                McpDraft {
                    startup_timeout: "soon".into(),
                    ..stdio()
                },
                "startup timeout: a whole number of seconds, at least 1",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    ..stdio()
                },
                "give the server's URL",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    url: "ftp://x".into(),
                    ..stdio()
                },
                "\"ftp://x\" is not an http(s) URL",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    url: "https://x".into(),
                    secrets: "=v".into(),
                    ..stdio()
                },
                "header line 1: the name before '=' must be one word",
            ),
        ];
        for (draft, why) in cases {
            assert_eq!(draft.config().err().as_deref(), Some(why), "{draft:?}");
        }
    }
}
