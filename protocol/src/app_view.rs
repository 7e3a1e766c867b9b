//! MCP Apps (`io.modelcontextprotocol/ui`): the HTML views an MCP server
//! declares as `ui://` resources (`text/html;profile=mcp-app`), as the
//! worker read them ([`AppView`], recorded as `app.view`), and a view's
//! own tool call ([`AppCall`]), which runs like a model's: through the
//! approval pipeline, recorded as `tool.*` events.

use serde::{Deserialize, Serialize};

/// The MIME type of an MCP App view.
pub const APP_MIME_TYPE: &str = "text/html;profile=mcp-app";

/// The MCP Apps extension's name in capabilities.
pub const APP_EXTENSION: &str = "io.modelcontextprotocol/ui";

/// Largest view the worker records, in bytes of HTML: a view is a page,
/// not a payload, and every byte is stored in the session's log.
pub const MAX_VIEW_BYTES: usize = 512 * 1024;

/// Largest tool result kept with a view for its `tool-result`
/// notification, in bytes of JSON.
pub const MAX_VIEW_RESULT_BYTES: usize = 256 * 1024;

/// An MCP App view as read from its server: `app.view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    /// The tool call whose result it shows; `None` for a plugin's panel,
    /// read when its server started.
    pub call_id: Option<String>,
    /// The MCP server it came from (its tools are the only ones the view
    /// may call).
    pub server: String,
    /// Its `ui://` resource.
    pub uri: String,
    /// A plugin panel's title (the tool's name for a call's view).
    pub title: String,
    /// The page.
    pub html: String,
    /// The content security policy it declared.
    pub csp: AppCsp,
    /// Whether it asked to be drawn with a border.
    pub prefers_border: bool,
    /// The call's result as MCP `CallToolResult` JSON, for the view's
    /// `ui/notifications/tool-result` (empty for a panel, or when over
    /// [`MAX_VIEW_RESULT_BYTES`]).
    pub result: String,
}

/// The origins a view declared it needs (`_meta.ui.csp`); everything
/// else is refused by the policy the app draws it with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCsp {
    /// Origins it may fetch from or open sockets to.
    pub connect_domains: Vec<String>,
    /// Origins of its scripts, styles, images and fonts.
    pub resource_domains: Vec<String>,
    /// Origins it may frame.
    pub frame_domains: Vec<String>,
    /// Origins its `<base>` may name.
    pub base_uri_domains: Vec<String>,
}

impl AppCsp {
    /// The policy for a view: nothing but inline code and what it
    /// declared. Entries that are not a plain origin (`https://host[:port]`,
    /// wildcards in the host allowed) are dropped, so a server cannot
    /// widen the policy by writing a directive into a list.
    pub fn policy(&self) -> String {
        let list = |origins: &[String], otherwise: &str| {
            let kept: Vec<&str> = origins
                .iter()
                .map(String::as_str)
                .filter(|o| is_origin(o))
                .collect();
            if kept.is_empty() {
                otherwise.to_owned()
            } else {
                kept.join(" ")
            }
        };
        let resources = list(&self.resource_domains, "");
        let with = |base: &str| format!("{base} {resources}").trim_end().to_owned();
        format!(
            "default-src 'none'; script-src {}; style-src {}; img-src {}; font-src {}; \
             media-src {}; connect-src {}; frame-src {}; base-uri {}; form-action 'none'",
            with("'unsafe-inline'"),
            with("'unsafe-inline'"),
            with("data:"),
            with("data:"),
            with("data:"),
            list(&self.connect_domains, "'none'"),
            list(&self.frame_domains, "'none'"),
            list(&self.base_uri_domains, "'none'"),
        )
    }
}

/// Whether `origin` is a plain origin a policy may name.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    };
    matches!(scheme, "https" | "http" | "wss" | "ws")
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'*')
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A view's own tool call, run by the worker between turns as a turn of
/// its own: recorded as `app.call`, then asked, run and answered like
/// any call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCall {
    /// The id its `tool.*` events carry (given by the daemon).
    pub call_id: String,
    /// `SERVER.TOOL`: always a tool of the view's own server.
    pub tool: String,
    /// Arguments as a JSON object's text.
    pub arguments: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_plain_origins() {
        let csp = AppCsp {
            connect_domains: vec![
                "https://api.example.com".into(),
                "https://x.example; script-src *".into(),
                "'unsafe-eval'".into(),
            ],
            resource_domains: vec!["https://*.cdn.example:8443".into(), "javascript:".into()],
            frame_domains: vec![],
            base_uri_domains: vec!["data:text/html".into()],
        };
        let policy = csp.policy();
        assert!(policy.contains("connect-src https://api.example.com;"));
        assert!(policy.contains("script-src 'unsafe-inline' https://*.cdn.example:8443;"));
        assert!(policy.contains("frame-src 'none'"));
        assert!(policy.contains("base-uri 'none'"));
        assert!(!policy.contains("unsafe-eval"));
        assert!(!policy.contains("script-src *"));
        assert!(!policy.contains("javascript"));
        assert!(policy.starts_with("default-src 'none';"));
    }

    #[test]
    fn an_empty_declaration_allows_nothing_remote() {
        let policy = AppCsp::default().policy();
        assert!(policy.contains("connect-src 'none'"));
        assert!(policy.contains("script-src 'unsafe-inline';"));
        assert!(policy.contains("img-src data:;"));
    }
}
