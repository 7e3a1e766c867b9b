//! `studio-ui --web`: the same components served to a browser through
//! `dioxus-liveview` (the components run here; the page only draws and
//! sends events over a websocket, which is thus the app's whole control
//! channel), on 127.0.0.1 only, so a headless machine can be watched
//! through an SSH tunnel.
//!
//! Sign in at `/login` with the token in `DATA_DIR/client.token` (or open
//! `/app?token=...`, which answers 303 to `/app` so that the token leaves
//! the address bar and the history). Signing in mints a random session id
//! ([`sessions`]: 256 bits, 12 hours from sign-in, in memory); the cookie
//! `studio_session` (HttpOnly, SameSite=Strict) carries that id, never the
//! token, which crosses the wire only once. `/logout` ends the session and
//! closes its websockets. The app is at `/app` (any path but `/login`,
//! `/logout` and `/ws`, the websocket).
//!
//! Every request passes [`guard`]: its `Host` must be this server
//! (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`, or one given with
//! `--allow-host`: DNS rebinding), a websocket's `Origin` must be its page
//! (another port of 127.0.0.1 is the same site, so the SameSite cookie
//! alone does not stop it), and every answer says `Referrer-Policy:
//! no-referrer` and refuses framing.

mod guard;
mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use dioxus::prelude::*;
use dioxus_liveview::LiveViewPool;
use futures_util::StreamExt as _;

pub use guard::parse_allowed_host;

use crate::app::{App, WebSignOut};
use crate::connection::{self, Target};
use sessions::{Live, Sessions};

/// Where the server listens, once bound.
pub struct Listening {
    /// The bound address (the port is chosen when 0 was asked).
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
    router: Router,
}

impl Listening {
    /// Serves until the process ends.
    pub async fn serve(self) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router.into_make_service()).await?;
        Ok(())
    }
}

/// What the routes share.
struct Web {
    /// The client token, which signs in.
    token: String,
    sessions: Sessions,
    hosts: guard::Hosts,
    /// Runs each browser's `VirtualDom`.
    pool: LiveViewPool,
    /// The app's page: an empty body and the liveview glue.
    page: String,
    target: Target,
}

/// Binds `127.0.0.1:port` and builds the app's routes. `allow_hosts` are
/// further `Host` values to answer to (see [`parse_allowed_host`]). The
/// daemon is started first if needed: its client token signs in.
pub async fn bind(target: Target, port: u16, allow_hosts: &[String]) -> anyhow::Result<Listening> {
    let token = client_token(&target).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {err}"))?;
    let addr = listener.local_addr()?;
    let web = Arc::new(Web {
        token,
        sessions: Sessions::new(sessions::LIFETIME),
        hosts: guard::Hosts::new(addr.port(), allow_hosts),
        pool: LiveViewPool::new(),
        page: app_page_html(),
        target,
    });
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", get(logout_page).post(logout))
        .route("/ws", get(socket))
        .route("/{*route}", get(app_page))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&web),
            guard::signed_in,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&web),
            guard::same_origin,
        ))
        .layer(middleware::from_fn(guard::headers))
        .with_state(web);
    Ok(Listening {
        addr,
        listener,
        router,
    })
}

/// The client token, starting the daemon (which creates it) if needed.
async fn client_token(target: &Target) -> anyhow::Result<String> {
    let path = target.layout.client_token();
    if !path.exists() {
        connection::start_daemon(target).await?;
    }
    let token = std::fs::read_to_string(&path)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
    Ok(token.trim().to_owned())
}

fn app_page_html() -> String {
    let glue = dioxus_liveview::interpreter_glue("/ws");
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AI Studio</title></head>
<body><div id="main"></div>
{glue}
<script>
// The server closes the socket when the session ends (signed out, expired)
// or the server stops: reload, which asks to sign in again.
(() => {{
  let leaving = false;
  addEventListener('pagehide', () => {{ leaving = true; }});
  window.ipc?.ws.addEventListener('close', () =>
    setTimeout(() => {{ if (!leaving) location.reload(); }}, 300));
}})();
</script>
</body></html>"#
    )
}

async fn app_page(State(web): State<Arc<Web>>) -> Html<String> {
    Html(web.page.clone())
}

/// The app's websocket: one `VirtualDom` per connection, ended with the
/// session that opened it.
async fn socket(
    State(web): State<Arc<Web>>,
    Extension(live): Extension<Live>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| async move {
        let target = web.target.clone();
        // The stream ending is how `run` learns the socket is gone.
        let socket = dioxus_liveview::axum_socket(socket).take_until(live.ended());
        let app = move || {
            VirtualDom::new(App)
                .with_root_context(target)
                .with_root_context(WebSignOut)
        };
        if let Err(err) = web.pool.launch_virtualdom(socket, app).await {
            tracing::debug!("a browser's connection ended: {err}");
        }
    })
}

async fn login_page() -> Html<&'static str> {
    Html(LOGIN)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(web): State<Arc<Web>>, Form(form): Form<LoginForm>) -> Response {
    if !guard::token_matches(form.token.trim(), &web.token) {
        return (StatusCode::UNAUTHORIZED, Html(LOGIN_FAILED)).into_response();
    }
    guard::start_session(&web, "/app")
}

async fn logout_page() -> Html<&'static str> {
    Html(LOGOUT)
}

/// Ends the sessions the cookies name (their websockets close) and clears
/// the cookie.
async fn logout(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    for id in guard::session_ids(&headers) {
        web.sessions.end(id);
    }
    let mut response = Redirect::to("/login").into_response();
    guard::append_cookie(&mut response, &guard::cleared(guard::SESSION_COOKIE));
    response
}

const LOGIN: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AI Studio: sign in</title></head>
<body style="font-family: system-ui, sans-serif; margin: 40px">
<h1>AI Studio</h1>
<form method="post" action="/login">
<p>Paste the token in <code>DATA_DIR/client.token</code> (by default
<code>~/.local/share/ai-studio/client.token</code>):</p>
<input name="token" type="password" autofocus size="48">
<button type="submit">Sign in</button>
</form>
</body></html>"#;

const LOGIN_FAILED: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AI Studio: wrong token</title></head>
<body style="font-family: system-ui, sans-serif; margin: 40px">
<h1>Wrong token</h1><p><a href="/login">Try again</a></p>
</body></html>"#;

const LOGOUT: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AI Studio: sign out</title></head>
<body style="font-family: system-ui, sans-serif; margin: 40px">
<h1>AI Studio</h1>
<form method="post" action="/logout">
<p>Signing out ends this browser's session here and in its other tabs.</p>
<button type="submit">Sign out</button> <a href="/app">Back to the app</a>
</form>
</body></html>"#;
