//! What Settings says of an HTTP server's sign-in ([`sign_in_note`]), and
//! the sign-in of a plugin's own HTTP server in the Plugins section
//! ([`PluginSignIn`]): both run `studio mcp login` through
//! `Command::SignInMcp`, the plugin's under `plugin:PLUGIN/SERVER`.

use dioxus::prelude::*;

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::{AppState, SignIn};

/// What the list says of a server's sign-in: only HTTP servers have one.
pub(in crate::pages::settings) fn sign_in_note(
    http: bool,
    signed_in: bool,
    last: Option<&SignIn>,
) -> String {
    match last {
        Some(SignIn::Waiting(_)) => "signing in: finish in the browser".to_owned(),
        Some(SignIn::Ended(Err(why))) => format!("sign-in failed: {why}"),
        _ if signed_in => "signed in".to_owned(),
        _ if http => "not signed in".to_owned(),
        _ => String::new(),
    }
}

/// A plugin's HTTP server `server`, signed in to as `sign_in`
/// (`plugin:PLUGIN/SERVER`): its state, Sign in and Sign out.
#[component]
pub(in crate::pages::settings) fn PluginSignIn(server: String, sign_in: String) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let last = state.read().settings.mcp_sign_ins.get(&sign_in).cloned();
    let signed_in = super::super::secrets::place(
        state.read().settings.secrets.as_ref(),
        &format!("mcp-oauth/{sign_in}"),
    )
    .is_some();
    let waiting = matches!(last, Some(SignIn::Waiting(_)));
    let note = sign_in_note(true, signed_in, last.as_ref());
    rsx! {
        div { class: "plugin-sign-in", "data-server": "{server}",
            span { "{server}:" }
            span { class: "muted", role: "status", "{note}" }
            if let Some(SignIn::Waiting(Some(url))) = &last {
                " "
                a { href: "{url}", target: "_blank", rel: "noopener noreferrer", "open the sign-in page" }
            }
            button { r#type: "button", disabled: waiting,
                onclick: { let sign_in = sign_in.clone(); move |_| commands.send(Command::SignInMcp(sign_in.clone())) },
                "Sign in"
            }
            if signed_in {
                button { r#type: "button",
                    onclick: { let sign_in = sign_in.clone(); move |_| commands.send(Command::SignOutMcp(sign_in.clone())) },
                    "Sign out"
                }
            }
        }
    }
}
