//! `studio-ui --web`: the same components served to a browser through
//! `dioxus-liveview` (the components run here; the page only draws and
//! sends events over a websocket), on loopback only, behind the client
//! token, so a headless machine can be watched through an SSH tunnel.
//!
//! Sign in at `/login` with the token in `DATA_DIR/client.token` (or open
//! `/app?token=...`); the answer sets an HttpOnly, SameSite=Strict cookie
//! that every later request, the websocket included, must carry. The app
//! is at `/app` (liveview serves every path but `/`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use dioxus::prelude::*;
use dioxus_liveview::LiveviewRouter;

use crate::app::App;
use crate::connection::{self, Target};

/// The sign-in cookie.
const COOKIE: &str = "studio_token";

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

/// Binds `127.0.0.1:port` and builds the app's routes. The daemon is
/// started first if needed: its client token guards the page.
pub async fn bind(target: Target, port: u16) -> anyhow::Result<Listening> {
    let token = client_token(&target).await?;
    let token = Arc::new(token);
    let dom_target = target.clone();
    let router = Router::new()
        .route("/login", get(login_page).post(login))
        .with_state(Arc::clone(&token))
        .with_virtual_dom("/", move || {
            VirtualDom::new(App).with_root_context(dom_target.clone())
        })
        .layer(middleware::from_fn_with_state(token, guard));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
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

#[derive(serde::Deserialize)]
struct TokenParam {
    token: Option<String>,
}

fn token_matches(presented: &str, expected: &str) -> bool {
    constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

fn cookie_token(request: &Request) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn signed_in(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

/// Lets through requests that carry the token (cookie, or `?token=` which
/// also sets the cookie); sends the others to `/login`.
async fn guard(
    State(token): State<Arc<String>>,
    Query(param): Query<TokenParam>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/login" {
        return next.run(request).await;
    }
    if cookie_token(&request).is_some_and(|t| token_matches(&t, &token)) {
        return next.run(request).await;
    }
    match param.token {
        Some(presented) if token_matches(&presented, &token) => {
            let mut response = next.run(request).await;
            if let Ok(value) = signed_in(&token).parse() {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Some(_) => (StatusCode::UNAUTHORIZED, "wrong token").into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

async fn login_page() -> Html<&'static str> {
    Html(LOGIN)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(token): State<Arc<String>>, Form(form): Form<LoginForm>) -> Response {
    if !token_matches(form.token.trim(), &token) {
        return (StatusCode::UNAUTHORIZED, Html(LOGIN_FAILED)).into_response();
    }
    let mut response = Redirect::to("/app").into_response();
    if let Ok(value) = signed_in(&token).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

const LOGIN: &str = r#"<!DOCTYPE html>
<html><head><title>AI Studio: sign in</title></head>
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
<html><head><title>AI Studio: wrong token</title></head>
<body style="font-family: system-ui, sans-serif; margin: 40px">
<h1>Wrong token</h1><p><a href="/login">Try again</a></p>
</body></html>"#;
