//! MCP Apps views: the `ui://` page a tool names in `_meta.ui.resourceUri`
//! (or a plugin declares as a panel), read from its server and recorded as
//! `app.view` for the app to draw. The worker only reads and records: it
//! never renders, and a view that cannot be read, is not an MCP App page
//! or is too large is `app.view.refused`; the call itself is unaffected.

use std::time::Duration;

use protocol::app_view::{APP_MIME_TYPE, AppCsp, AppView, MAX_VIEW_BYTES, MAX_VIEW_RESULT_BYTES};
use protocol::event::EventKind;
use rmcp::model::{ReadResourceRequestParams, ResourceContents, Tool};

use crate::connection::Outbox;

/// Longest wait for a view's `resources/read`.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The view a tool declares, if any: `_meta.ui.resourceUri` (or the
/// older flat `_meta["ui/resourceUri"]`), when it is a `ui://` URI.
pub(super) fn declared(tool: &Tool) -> Option<String> {
    let meta = &tool.meta.as_ref()?.0;
    let uri = meta
        .get("ui")
        .and_then(|ui| ui.get("resourceUri"))
        .or_else(|| meta.get("ui/resourceUri"))?
        .as_str()?;
    uri.starts_with("ui://").then(|| uri.to_owned())
}

/// What a view is for: a tool call (with its result) or a panel.
pub(super) struct Purpose {
    /// The call; `None` for a panel.
    pub call_id: Option<String>,
    /// The tool's name, or the panel's title.
    pub title: String,
    /// The call's result as JSON (empty for a panel).
    pub result: String,
}

/// Reads `uri` from `server` and records it (`app.view`), or records why
/// not (`app.view.refused`). `Err` only when the daemon is gone.
pub(super) async fn record<H: rmcp::ClientHandler>(
    client: &rmcp::service::RunningService<rmcp::RoleClient, H>,
    server: &str,
    uri: &str,
    purpose: Purpose,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        client.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await;
    let kind = match read {
        Err(_) => Err(format!(
            "no answer to resources/read within {}s",
            READ_TIMEOUT.as_secs()
        )),
        Ok(Err(err)) => Err(format!("resources/read failed: {err}")),
        Ok(Ok(result)) => page(&result.contents, uri),
    };
    let kind = match kind {
        Ok((html, csp, prefers_border)) => EventKind::AppView(Box::new(AppView {
            call_id: purpose.call_id,
            server: server.to_owned(),
            uri: uri.to_owned(),
            title: purpose.title,
            html,
            csp,
            prefers_border,
            result: if purpose.result.len() > MAX_VIEW_RESULT_BYTES {
                String::new()
            } else {
                purpose.result
            },
        })),
        Err(reason) => {
            tracing::warn!(server, uri, "MCP App view refused: {reason}");
            EventKind::AppViewRefused {
                call_id: purpose.call_id,
                server: server.to_owned(),
                uri: uri.to_owned(),
                reason,
            }
        }
    };
    outbox.event(kind).await
}

/// The page in a `resources/read` answer: its HTML, declared policy and
/// border wish; `Err` says why it is not one.
fn page(contents: &[ResourceContents], uri: &str) -> Result<(String, AppCsp, bool), String> {
    let found = contents.iter().find_map(|content| match content {
        ResourceContents::TextResourceContents {
            uri: at,
            mime_type,
            text,
            meta,
        } if at == uri => Some((mime_type.as_deref(), text, meta.as_ref())),
        _ => None,
    });
    let Some((mime_type, html, meta)) = found else {
        return Err("the server's answer holds no text contents for this URI".to_owned());
    };
    if mime_type != Some(APP_MIME_TYPE) {
        return Err(format!(
            "its type is {:?}, not {APP_MIME_TYPE}",
            mime_type.unwrap_or("(none)")
        ));
    }
    if html.len() > MAX_VIEW_BYTES {
        return Err(format!(
            "it is {} bytes, over the {MAX_VIEW_BYTES} a view may have",
            html.len()
        ));
    }
    let ui = meta.and_then(|m| m.0.get("ui"));
    let origins = |key: &str| -> Vec<String> {
        ui.and_then(|ui| ui.get("csp"))
            .and_then(|csp| csp.get(key))
            .and_then(|list| list.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|o| o.as_str().map(str::to_owned))
                    .take(32)
                    .collect()
            })
            .unwrap_or_default()
    };
    let csp = AppCsp {
        connect_domains: origins("connectDomains"),
        resource_domains: origins("resourceDomains"),
        frame_domains: origins("frameDomains"),
        base_uri_domains: origins("baseUriDomains"),
    };
    let prefers_border = ui
        .and_then(|ui| ui.get("prefersBorder"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    Ok((html.clone(), csp, prefers_border))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(meta: serde_json::Value) -> Tool {
        serde_json::from_value(serde_json::json!({
            "name": "list_issues",
            "inputSchema": {"type": "object"},
            "_meta": meta,
        }))
        .unwrap()
    }

    #[test]
    fn a_tool_names_its_view_in_either_spelling() {
        let nested = tool(serde_json::json!({"ui": {"resourceUri": "ui://t/issues"}}));
        assert_eq!(declared(&nested).as_deref(), Some("ui://t/issues"));
        let flat = tool(serde_json::json!({"ui/resourceUri": "ui://t/flat"}));
        assert_eq!(declared(&flat).as_deref(), Some("ui://t/flat"));
        let web = tool(serde_json::json!({"ui": {"resourceUri": "https://evil.example/"}}));
        assert_eq!(declared(&web), None);
    }

    fn text(uri: &str, mime: &str, html: &str, meta: serde_json::Value) -> ResourceContents {
        serde_json::from_value(serde_json::json!({
            "uri": uri, "mimeType": mime, "text": html, "_meta": meta,
        }))
        .unwrap()
    }

    #[test]
    fn a_page_is_taken_only_as_an_mcp_app_of_bounded_size() {
        let meta = serde_json::json!({"ui": {"csp": {"connectDomains": ["https://a.example"]},
            "prefersBorder": true}});
        let good = [text("ui://t/v", APP_MIME_TYPE, "<p>hi</p>", meta.clone())];
        let (html, csp, border) = page(&good, "ui://t/v").unwrap();
        assert_eq!(html, "<p>hi</p>");
        assert_eq!(csp.connect_domains, ["https://a.example"]);
        assert!(border);
        let plain = [text("ui://t/v", "text/html", "<p>hi</p>", meta.clone())];
        assert!(page(&plain, "ui://t/v").unwrap_err().contains("text/html"));
        let other = [text(
            "ui://t/other",
            APP_MIME_TYPE,
            "<p>hi</p>",
            meta.clone(),
        )];
        assert!(page(&other, "ui://t/v").is_err());
        let big = "x".repeat(MAX_VIEW_BYTES + 1);
        let large = [text("ui://t/v", APP_MIME_TYPE, &big, meta)];
        assert!(page(&large, "ui://t/v").unwrap_err().contains("bytes"));
    }
}
