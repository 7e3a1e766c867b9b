//! The root component: it provides the store, starts the connection task,
//! and lays out the navigation, the connection badge, the error banner and
//! the page on screen. Ctrl+1..6 (Cmd on macOS) switch pages; Ctrl+K opens
//! the command palette; "/" focuses the page's search and F2 renames the
//! inspected session (`shortcuts.js`, in the page).

use dioxus::prelude::*;

use crate::commands::Commands;
use crate::connection::{self, Command, Target};
use crate::key_probe::{KeyLatencyLog, KeyProbe};
use crate::pages::{
    AgentsPage, ComparePage, InspectorPage, RunsPage, SessionsPage, SettingsPage, Wizard,
};
use crate::palette::Palette;
use crate::preferences;
use crate::saving::ExportSaver;
use crate::state::{AppState, Link, Page};

/// The stylesheet, inlined so the window needs no asset server.
const CSS: &str = include_str!("style.css");

/// The keys handled in the page itself: "/" focuses the page's search,
/// F2 renames the inspected session.
const SHORTCUTS: &str = include_str!("shortcuts.js");

/// The desktop app: store, connection task, shell. Needs a [`Target`] in
/// its root context.
#[component]
pub fn App() -> Element {
    let target = use_context::<Target>();
    let mut state = use_context_provider(|| {
        let preferences = preferences::load(&target.layout);
        Signal::new(AppState {
            theme: preferences.theme,
            notify: preferences.notifications,
            wizard_done: preferences.wizard_done,
            ..AppState::default()
        })
    });
    let link = use_coroutine(move |commands: UnboundedReceiver<Command>| {
        let target = target.clone();
        async move {
            connection::run(target, commands, move |update| state.write().apply(update)).await;
        }
    });
    use_context_provider(|| Commands(Callback::new(move |command| link.send(command))));
    // Calls waiting for a person show in the window's (or tab's) title.
    let title = match state.read().approvals.len() {
        0 => "AI Studio".to_owned(),
        waiting => format!("AI Studio · {waiting} waiting for you"),
    };
    // What needs a person, said once, on the desktop (a browser view's
    // notices would pop up on the machine serving it).
    let web = try_use_context::<WebSignOut>().is_some();
    use_effect(move || {
        if state.read().notices.is_empty() {
            return;
        }
        let said = std::mem::take(&mut state.write().notices);
        if web || !state.peek().notify {
            return;
        }
        tokio::task::spawn_blocking(move || said.iter().for_each(crate::notify::show));
    });
    // Keys that must act at once ("/", F2) are handled in the page.
    use_effect(|| {
        document::eval(SHORTCUTS);
    });
    let probe = try_use_context::<KeyLatencyLog>();
    rsx! {
        document::Title { "{title}" }
        if let Some(KeyLatencyLog(log)) = probe {
            KeyProbe { log }
        }
        Shell {}
    }
}

/// In context when the app is served to a browser (`--web`): the nav then
/// links to `/logout`.
#[derive(Clone, Copy, Debug)]
pub struct WebSignOut;

/// Everything on screen, drawn from the store in context.
#[component]
pub fn Shell() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let mut palette = use_signal(|| false);
    let web = try_use_context::<WebSignOut>().is_some();
    // Where the theme is saved (absent when a test renders the shell).
    let target = try_use_context::<Target>();
    let bell_target = target.clone();
    let page = state.read().page;
    let theme = state.read().theme;
    let notify = state.read().notify;
    rsx! {
        style { {CSS} }
        div {
            class: "app",
            "data-theme": theme.name(),
            tabindex: 0,
            autofocus: true,
            onkeydown: move |event: KeyboardEvent| {
                // Escape closes the palette wherever the focus is.
                if event.key() == Key::Escape && palette() {
                    palette.set(false);
                    return;
                }
                let modifiers = event.modifiers();
                if !(modifiers.ctrl() || modifiers.meta()) {
                    return;
                }
                let Key::Character(text) = event.key() else { return };
                if text.eq_ignore_ascii_case("k") {
                    event.prevent_default();
                    palette.toggle();
                } else if let Some(next) = text.chars().next().and_then(Page::by_digit) {
                    event.prevent_default();
                    state.write().page = next;
                }
            },
            nav {
                span { class: "brand", "AI Studio" }
                button { class: "tab", title: "Ctrl+K", onclick: move |_| palette.toggle(), "Commands" }
                for (index, each) in Page::ALL.into_iter().enumerate() {
                    button {
                        class: if each == page { "tab active" } else { "tab" },
                        title: "Ctrl+{index + 1}",
                        onclick: move |_| state.write().page = each,
                        "{each.title()}"
                    }
                }
                WaitingBadge {}
                LinkBadge {}
                button { class: "tab theme", title: "Colours: system, light or dark (click for the next)",
                    onclick: move |_| {
                        let next = state.read().theme.next();
                        state.write().theme = next;
                        preferences::save_from(state, target.as_ref());
                    },
                    "◐ {theme.name()}"
                }
                if !web {
                    button { class: "tab bell", aria_pressed: notify,
                        title: if notify { "Desktop notifications of what needs you: on (click to turn off)" } else { "Desktop notifications: off (click to turn on)" },
                        onclick: move |_| {
                            let next = !state.read().notify;
                            state.write().notify = next;
                            preferences::save_from(state, bell_target.as_ref());
                        },
                        if notify { "alerts on" } else { "alerts off" }
                    }
                }
                if web {
                    a { class: "tab signout", href: "/logout", "Sign out" }
                }
            }
            ExportSaver { web }
            StoppedBanner {}
            StallBanner {}
            ErrorBanner {}
            if palette() {
                Palette {
                    on_close: move |()| {
                        palette.set(false);
                        // Back to the app, so its shortcuts work at once.
                        document::eval("document.querySelector('.app')?.focus()");
                    },
                }
            }
            main {
                if state.read().wizard_open {
                    Wizard {}
                }
                h1 { class: "page-title", "{page.title()}" }
                match page {
                    Page::Agents => rsx! { AgentsPage {} },
                    Page::Sessions => rsx! { SessionsPage {} },
                    Page::Runs => rsx! { RunsPage {} },
                    Page::Inspector => rsx! { InspectorPage {} },
                    Page::Settings => rsx! { SettingsPage {} },
                    Page::Compare => rsx! { ComparePage {} },
                }
            }
        }
    }
}

/// How many calls wait for a person, from every page: a click opens the
/// inbox (on Runs).
#[component]
fn WaitingBadge() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let waiting = state.read().approvals.len();
    if waiting == 0 {
        return rsx! {};
    }
    rsx! {
        button { class: "tab waiting", title: "Tool calls waiting for your approval",
            onclick: move |_| state.write().page = Page::Runs,
            "{waiting} waiting for you"
        }
    }
}

/// Whether the daemon is there.
#[component]
fn LinkBadge() -> Element {
    let state = use_context::<Signal<AppState>>();
    let (class, text) = match &state.read().link {
        Link::Connecting => ("link wait", "connecting…".to_owned()),
        Link::Up(status) => (
            "link up",
            format!("daemon {} · pid {}", status.version, status.pid),
        ),
        Link::Down { reason } => ("link down", format!("reconnecting: {reason}")),
        Link::Stopped => ("link down", "daemon stopped".to_owned()),
    };
    rsx! { span { class, "{text}" } }
}

/// When the daemon was stopped on purpose: says so, and starts it again
/// only when asked.
#[component]
fn StoppedBanner() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    if state.read().link != Link::Stopped {
        return rsx! {};
    }
    rsx! {
        div { class: "errors stopped", role: "alert",
            p {
                "The daemon was stopped (" code { "studio daemon stop" } "). Nothing runs and nothing is recorded until it starts again; open chats were interrupted and can be resumed."
            }
            button { onclick: move |_| commands.send(Command::StartDaemon), "Start the daemon" }
        }
    }
}

/// While the daemon's store cannot write (a full disk): since when and
/// why. What is queued waits and lands once it can.
#[component]
fn StallBanner() -> Element {
    let state = use_context::<Signal<AppState>>();
    let stall = match &state.read().link {
        Link::Up(status) => status.store_stalled.clone(),
        _ => None,
    };
    match stall {
        Some(stall) => rsx! {
            div { class: "errors stalled", role: "alert",
                p { "{stall}. Nothing recorded is lost: what is queued lands once the store can write again; free some space." }
            }
        },
        None => rsx! {},
    }
}

/// Errors from the daemon, until dismissed.
#[component]
fn ErrorBanner() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let errors = state.read().errors.clone();
    if errors.is_empty() {
        return rsx! {};
    }
    rsx! {
        div { class: "errors", role: "alert",
            for error in errors {
                p { "{error}" }
            }
            button { onclick: move |_| state.write().errors.clear(), "Dismiss" }
        }
    }
}
