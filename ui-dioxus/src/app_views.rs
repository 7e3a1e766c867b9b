//! MCP Apps views in the app: a recorded `app.view` drawn in a sandboxed
//! iframe ([`AppFrame`]), next to its tool call in the chat or as a
//! plugin's panel, with the host side of the MCP Apps protocol
//! (`app_host.js`) speaking to it over postMessage.
//!
//! The frame is `sandbox="allow-scripts"` without `allow-same-origin`: the
//! view runs as an opaque origin that can reach neither the app's page
//! nor its connection, and the policy it declared (`AppCsp::policy`) is
//! the first thing in its document. Its `tools/call` requests become
//! `AppToolCall`s to the daemon, which runs them through the approvals
//! like any call; the answer goes back once the call's events arrive.

use std::sync::atomic::{AtomicU64, Ordering};

use dioxus::prelude::*;
use protocol::SessionId;
use protocol::app_view::AppView;
use protocol::event::{Event, EventKind};
use serde_json::{Value, json};

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::AppState;

/// The host script: a function of the frame's id, the tool's input and
/// result (or `null`) and the app's version.
const HOST: &str = include_str!("app_host.js");

/// Numbers each view's call the app asks for, so its answer finds it.
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// Numbers each mount of a frame's host script, so a frame mounted again
/// is answered by its newest host alone.
static NEXT_HOST: AtomicU64 = AtomicU64::new(1);

/// What the host script tells the app.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum FromView {
    /// The view asks to call a tool of its server.
    Call {
        /// Its JSON-RPC id, for the answer.
        id: Value,
        /// The tool's name on the view's server.
        name: String,
        /// Its arguments.
        arguments: Value,
    },
    /// The view had its teardown.
    Closed,
}

/// The view's page as the frame gets it: its declared policy first (after
/// a doctype, so the page keeps its mode), then the page.
pub fn document(view: &AppView) -> String {
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        view.csp.policy()
    );
    let html = &view.html;
    let trimmed = html.trim_start();
    let doctype_end = trimmed
        .get(..9)
        .filter(|start| start.eq_ignore_ascii_case("<!doctype"))
        .and_then(|_| trimmed.find('>'))
        .map(|end| html.len() - trimmed.len() + end + 1);
    match doctype_end {
        Some(end) => format!("{}{meta}{}", &html[..end], &html[end..]),
        None => format!("{meta}{html}"),
    }
}

/// How the call `call_id` a view asked for came out, as the MCP
/// `CallToolResult` the view gets (`isError` for a failure, a denial or
/// a refusal); `None` until its turn is over (`session.idle`), so the
/// view's next call finds the chat idle. The result the worker recorded
/// with the tool's own view is preferred: it keeps `structuredContent`.
pub fn outcome(events: &[Event], call_id: &str) -> Option<Value> {
    let text = |text: &str, error: bool| json!({ "content": [{ "type": "text", "text": text }], "isError": error });
    let mut asked = false;
    let mut requested = false;
    let mut full = None;
    let mut came = None;
    for event in events {
        match &event.kind {
            EventKind::AppCallAsked { call_id: id, .. } if id == call_id => asked = true,
            EventKind::ToolRequested { call_id: id, .. } if id == call_id => requested = true,
            EventKind::AppView(view) if view.call_id.as_deref() == Some(call_id) => {
                full = serde_json::from_str::<Value>(&view.result).ok();
            }
            EventKind::ToolCompleted {
                call_id: id,
                output,
                ..
            } if id == call_id => came = Some(full.take().unwrap_or_else(|| text(output, false))),
            EventKind::ToolError {
                call_id: id,
                message,
            } if id == call_id => {
                came = Some(text(message, true));
            }
            EventKind::ToolDenied {
                call_id: id,
                reason,
                ..
            } if id == call_id => {
                came = Some(text(&format!("The tool call was denied: {reason}"), true));
            }
            EventKind::SessionIdle { error } if asked => {
                return match (came, error) {
                    (Some(result), _) => Some(result),
                    // The worker refused it before asking.
                    (None, Some(error)) if !requested => Some(text(error, true)),
                    (None, _) => Some(text("the call ended without a result", true)),
                };
            }
            kind if asked && kind.is_terminal() => {
                return Some(
                    came.unwrap_or_else(|| {
                        text("the session ended before the call finished", true)
                    }),
                );
            }
            _ => {}
        }
    }
    None
}

/// Hands `command` to the host script of `frame` (a script of its own:
/// the browser view's `dioxus.recv` spins while nothing is queued).
fn deliver(frame: &str, command: &Value) {
    document::eval(&format!(
        "window.__studioViews?.[{}]?.deliver({command});",
        json!(frame)
    ));
}

/// The answer for the view's call numbered `ticket`, once there is one:
/// the daemon's refusal, or how the call came out.
fn answer(state: &AppState, session: SessionId, ticket: u64) -> Option<Result<Value, String>> {
    match state.app_calls.get(&ticket)? {
        Err(refused) => Some(Err(refused.clone())),
        Ok(call_id) => {
            let (open, events) = state.inspected.as_ref()?;
            (*open == session)
                .then(|| outcome(events, call_id))
                .flatten()
                .map(Ok)
        }
    }
}

/// One view in its sandboxed frame, speaking MCP Apps with the page.
/// `frame` names it uniquely on the page; `input` is its tool call's
/// arguments (JSON text; `None` for a panel). With `closing` set, the
/// view gets its teardown and then `on_closed`.
#[component]
pub fn AppFrame(
    session: SessionId,
    view: Box<AppView>,
    frame: String,
    input: Option<String>,
    closing: bool,
    on_closed: EventHandler<()>,
) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut asked = use_signal(Vec::<(Value, u64)>::new);
    let instance = use_hook(|| NEXT_HOST.fetch_add(1, Ordering::Relaxed));
    let frame_for_drop = frame.clone();
    use_drop(move || {
        document::eval(&format!(
            "window.__studioViews?.[{}]?.dispose({instance});",
            json!(frame_for_drop)
        ));
    });
    let script = {
        let input = input
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .unwrap_or(Value::Null);
        let result = serde_json::from_str::<Value>(&view.result).unwrap_or(Value::Null);
        format!(
            "({HOST})({}, {instance}, {input}, {result}, {}); await new Promise(() => {{}});",
            json!(frame),
            json!(env!("CARGO_PKG_VERSION")),
        )
    };
    let (uri, server) = (view.uri.clone(), view.server.clone());
    use_future(move || {
        let (script, uri, server) = (script.clone(), uri.clone(), server.clone());
        async move {
            let mut host = document::eval(&script);
            while let Ok(said) = host.recv::<FromView>().await {
                match said {
                    FromView::Call {
                        id,
                        name,
                        arguments,
                    } => {
                        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
                        asked.write().push((id, ticket));
                        commands.send(Command::AppToolCall {
                            ticket,
                            session,
                            uri: uri.clone(),
                            server: server.clone(),
                            tool: name,
                            arguments: arguments.to_string(),
                        });
                    }
                    FromView::Closed => on_closed.call(()),
                }
            }
        }
    });
    // Answers go back as the calls' events arrive.
    let frame_for_replies = frame.clone();
    use_effect(move || {
        let state = state.read();
        let resolved: Vec<(Value, u64, Result<Value, String>)> = asked
            .peek()
            .iter()
            .filter_map(|(id, ticket)| {
                Some((id.clone(), *ticket, answer(&state, session, *ticket)?))
            })
            .collect();
        if resolved.is_empty() {
            return;
        }
        asked
            .write()
            .retain(|(_, ticket)| !resolved.iter().any(|(_, done, _)| done == ticket));
        for (id, _, answer) in resolved {
            deliver(
                &frame_for_replies,
                &match answer {
                    Ok(result) => json!({ "type": "reply", "id": id, "result": result }),
                    Err(message) => json!({ "type": "error", "id": id, "message": message }),
                },
            );
        }
    });
    let frame_for_teardown = frame.clone();
    use_effect(use_reactive(&closing, move |closing| {
        if closing {
            deliver(&frame_for_teardown, &json!({ "type": "teardown" }));
        }
    }));
    let class = if view.prefers_border {
        "app-view bordered"
    } else {
        "app-view"
    };
    let page = document(&view);
    rsx! {
        div { class: "{class}",
            iframe {
                "sandbox": "allow-scripts",
                "data-view": "{frame}",
                title: "{view.title} ({view.server})",
                srcdoc: "{page}",
            }
        }
    }
}

/// A plugin's panel in a chat: its title as a button that opens it; once
/// open, the view and a Close that gives it its teardown first.
#[component]
pub fn PanelView(session: SessionId, view: Box<AppView>) -> Element {
    let mut open = use_signal(|| false);
    let mut closing = use_signal(|| false);
    let frame = format!("panel-{}-{}", view.server, view.uri);
    rsx! {
        div { class: "panel",
            div { class: "panel-head",
                button {
                    r#type: "button",
                    class: "panel-toggle",
                    disabled: open() && closing(),
                    onclick: move |_| {
                        if open() {
                            closing.set(true);
                        } else {
                            open.set(true);
                        }
                    },
                    if open() { "Close {view.title}" } else { "Open {view.title}" }
                }
                span { class: "muted", " panel of {view.server}" }
            }
            if open() {
                AppFrame {
                    session,
                    view: view.clone(),
                    frame,
                    input: None,
                    closing: closing(),
                    on_closed: move |()| {
                        closing.set(false);
                        open.set(false);
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::Timestamp;
    use protocol::app_view::AppCsp;

    use super::*;

    fn view(html: &str) -> AppView {
        AppView {
            call_id: Some("c1".into()),
            server: "tracker".into(),
            uri: "ui://tracker/issues".into(),
            title: "list_issues".into(),
            html: html.into(),
            csp: AppCsp::default(),
            prefers_border: false,
            result: r#"{"content":[],"structuredContent":{"issues":[]}}"#.into(),
        }
    }

    #[test]
    fn the_policy_comes_first_and_after_a_doctype() {
        let page = document(&view("  <!DOCTYPE html><html><p>hi</p></html>"));
        assert!(page.starts_with("  <!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\""));
        assert!(page.ends_with("<html><p>hi</p></html>"));
        let bare = document(&view("<p>hi</p>"));
        assert!(bare.starts_with(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
        ));
        assert!(bare.contains("connect-src 'none'"));
    }

    fn log(kinds: Vec<EventKind>) -> Vec<Event> {
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Event {
                session: SessionId::from_u128(1),
                seq: i as u64 + 1,
                at: Timestamp(0),
                kind,
            })
            .collect()
    }

    fn asked(id: &str) -> EventKind {
        EventKind::AppCallAsked {
            call_id: id.into(),
            tool: "tracker.create_issue".into(),
            uri: "ui://tracker/issues".into(),
        }
    }

    #[test]
    fn a_views_call_answers_with_its_full_result_or_why_not() {
        let requested = |id: &str| EventKind::ToolRequested {
            call_id: id.into(),
            tool: "tracker.list_issues".into(),
            arguments: "{}".into(),
        };
        let mut shown = view("<p></p>");
        shown.call_id = Some("a1".into());
        let events = log(vec![
            asked("a1"),
            requested("a1"),
            EventKind::AppView(Box::new(shown)),
            EventKind::ToolCompleted {
                call_id: "a1".into(),
                output: "no issues".into(),
                truncated: false,
            },
            EventKind::SessionIdle { error: None },
        ]);
        assert_eq!(outcome(&events[..4], "a1"), None, "its turn is not over");
        assert_eq!(
            outcome(&events, "a1").unwrap()["structuredContent"]["issues"],
            json!([])
        );
        let plain = log(vec![
            asked("a2"),
            requested("a2"),
            EventKind::ToolCompleted {
                call_id: "a2".into(),
                output: "created #1".into(),
                truncated: false,
            },
            EventKind::SessionIdle { error: None },
        ]);
        let answer = outcome(&plain, "a2").unwrap();
        assert_eq!(answer["content"][0]["text"], "created #1");
        assert_eq!(answer["isError"], false);
        let denied = log(vec![
            asked("a3"),
            requested("a3"),
            EventKind::ToolDenied {
                call_id: "a3".into(),
                by: protocol::event::Decider::User,
                reason: "no".into(),
            },
            EventKind::SessionIdle { error: None },
        ]);
        assert_eq!(outcome(&denied, "a3").unwrap()["isError"], true);
        let refused = log(vec![
            asked("a4"),
            EventKind::SessionIdle {
                error: Some("no live MCP server has it".into()),
            },
        ]);
        let answer = outcome(&refused, "a4").unwrap();
        assert_eq!(answer["isError"], true);
        assert_eq!(answer["content"][0]["text"], "no live MCP server has it");
    }
}
