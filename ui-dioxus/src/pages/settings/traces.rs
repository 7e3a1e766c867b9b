//! Traces out, from Settings: where the daemon sends every turn that ends
//! as OpenTelemetry (OTLP/HTTP) traces, how that went, and a form to set
//! the endpoint with a header (auth) or stop. The header's value is a
//! secret: it goes to the daemon's secret store and is never shown back.

use dioxus::prelude::*;
use protocol::Secret;
use protocol::control::OtlpSettings;
use studio_client::human::count;

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::state::AppState;

/// What the form sends, or why it sends nothing.
pub(super) fn otlp_command(url: &str, header: &str, value: &str) -> Result<Command, String> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(
            "the endpoint is an http:// or https:// URL (e.g. http://localhost:4318)".to_owned(),
        );
    }
    let (header, value) = (header.trim(), value.trim());
    let headers = match (header.is_empty(), value.is_empty()) {
        (true, true) => Vec::new(),
        (false, false) => vec![(header.to_owned(), Secret::new(value))],
        (true, false) => return Err("name the header its value goes in".to_owned()),
        (false, true) => return Err(format!("header {header} has no value")),
    };
    Ok(Command::SetOtlp {
        url: Some(url.to_owned()),
        headers,
    })
}

/// The Traces section; reads the daemon's setting when it opens.
#[component]
pub fn Traces() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    use_hook(|| commands.send(Command::ReadOtlp));
    let mut url = use_signal(String::new);
    let mut header = use_signal(String::new);
    let mut value = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let otlp = state.read().settings.otlp.clone();
    rsx! {
        section { id: "settings-traces",
            h3 { "Traces (OpenTelemetry)" }
            p { class: "muted",
                "Every turn that ends goes to an OTLP/HTTP endpoint as a trace: a span per turn, model call and tool call, with tokens and cost, no message texts."
            }
            if let Some(otlp) = otlp {
                TracesStatus { otlp }
            }
            div { class: "form inline",
                TextInput { name: "otlp_url", placeholder: "http://localhost:4318",
                    value: url(), oninput: move |text| url.set(text) }
                TextInput { name: "otlp_header", placeholder: "header (optional)", autocomplete: "off",
                    value: header(), oninput: move |text| header.set(text) }
                TextInput { name: "otlp_header_value", r#type: "password", autocomplete: "off", placeholder: "its value",
                    value: value(), oninput: move |text| value.set(text) }
                button { r#type: "button",
                    onclick: move |_| {
                        let sent = otlp_command(&url.read(), &header.read(), &value.read());
                        match sent {
                            Ok(command) => {
                                commands.send(command);
                                value.set(String::new());
                                problem.set(None);
                            }
                            Err(why) => problem.set(Some(why)),
                        }
                    },
                    "Send traces"
                }
                button { r#type: "button",
                    onclick: move |_| commands.send(Command::SetOtlp { url: None, headers: Vec::new() }),
                    "Stop"
                }
                button { r#type: "button", onclick: move |_| commands.send(Command::ReadOtlp), "Refresh" }
                if let Some(why) = problem.read().as_ref() {
                    p { class: "problem", role: "alert", "{why}" }
                }
            }
        }
    }
}

/// Where traces go and how that went.
#[component]
fn TracesStatus(otlp: OtlpSettings) -> Element {
    let Some(url) = otlp.url.clone() else {
        return rsx! { p { class: "otlp-status", "Not sending traces." } };
    };
    rsx! {
        table { class: "otlp-status",
            tbody {
                tr { th { "sending to" } td { code { "{url}" } } }
                if !otlp.header_names.is_empty() {
                    tr { th { "headers" } td { {otlp.header_names.join(", ")} } }
                }
                tr { th { "sent" }
                    td { "{count(otlp.exported_turns)} turns, {count(otlp.exported_spans)} spans since the daemon started" }
                }
                tr { th { "waiting" } td { "{otlp.pending_sessions} sessions" } }
                if let Some(error) = otlp.last_error.as_ref() {
                    tr { th { "last error" } td { class: "problem", "{error}" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_needs_a_url_and_a_header_whole() {
        let Ok(Command::SetOtlp { url, headers }) =
            otlp_command(" http://localhost:4318 ", "authorization", "Bearer t")
        else {
            panic!("not sent");
        };
        assert_eq!(url.as_deref(), Some("http://localhost:4318"));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].1.expose(), "Bearer t");
        assert!(otlp_command("localhost:4318", "", "").is_err());
        assert!(
            otlp_command("http://h", "", "value")
                .unwrap_err()
                .contains("name the header")
        );
        assert!(
            otlp_command("http://h", "x-key", " ")
                .unwrap_err()
                .contains("no value")
        );
        assert!(matches!(
            otlp_command("https://h/v1/traces", "", ""),
            Ok(Command::SetOtlp { headers, .. }) if headers.is_empty()
        ));
    }
}
