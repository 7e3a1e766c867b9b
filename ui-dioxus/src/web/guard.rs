//! What every request passes before a route, outermost first:
//! [`headers`] (no referrer, no sniffing, no framing), [`same_origin`] (the
//! `Host` is this server, and a websocket or a POST comes from its own
//! page) and [`signed_in`] (a session cookie, or `?token=` which starts
//! one and leaves the address bar).

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::Web;

/// The session cookie: a random id, never the token.
pub(super) const SESSION_COOKIE: &str = "studio_session";

/// The cookie that carried the token itself before sessions; cleared on
/// sight so that the token stops travelling with every request.
const LEGACY_COOKIE: &str = "studio_token";

/// The `Host` values this server answers to.
pub(super) struct Hosts {
    accepted: Vec<String>,
}

impl Hosts {
    /// `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` and `extra` (each as
    /// [`parse_allowed_host`] returns it).
    pub(super) fn new(port: u16, extra: &[String]) -> Hosts {
        let mut accepted = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        accepted.extend(extra.iter().map(|host| host.to_ascii_lowercase()));
        Hosts { accepted }
    }

    fn accepts(&self, host: &str) -> bool {
        self.accepted.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether `origin` is a page of this server (`http://` and a host).
    fn accepts_origin(&self, origin: &str) -> bool {
        origin
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
            && self.accepts(&origin[7..])
    }
}

/// An `--allow-host` value: `HOST[:PORT]` exactly as the browser will send
/// it in `Host` (through a tunnel on another local port, say
/// `localhost:9000`), lowercased.
pub fn parse_allowed_host(value: &str) -> Result<String, String> {
    let authority: axum::http::uri::Authority = value
        .parse()
        .map_err(|err| format!("{value:?} is not HOST[:PORT]: {err}"))?;
    let bad_port =
        authority.as_str().len() > authority.host().len() && authority.port_u16().is_none();
    if value.is_empty() || value.contains('@') || bad_port {
        return Err(format!("{value:?} is not HOST[:PORT]"));
    }
    Ok(authority.as_str().to_ascii_lowercase())
}

/// Adds the headers every answer carries: no `Referer` leaves the page, no
/// content sniffing, no framing (clickjacking). Clears the pre-session
/// cookie that held the token.
pub(super) async fn headers(request: Request, next: Next) -> Response {
    let legacy = cookies(request.headers(), LEGACY_COOKIE).next().is_some();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if legacy {
        append_cookie(&mut response, &cleared(LEGACY_COOKIE));
    }
    response
}

/// Refuses a request whose `Host` is not this server (DNS rebinding: a
/// foreign name that resolves to 127.0.0.1) with 421, and, with 403, a
/// websocket upgrade whose `Origin` is missing or foreign, or a request
/// other than GET or HEAD whose `Origin` or `Sec-Fetch-Site` says it comes
/// from another origin: a page on another port of 127.0.0.1 is the same
/// *site* (so a SameSite cookie goes with it) but not the same *origin*.
/// `Origin: null`, which our own forms send under `no-referrer` but so can
/// any page, passes only with `Sec-Fetch-Site: same-origin`.
pub(super) async fn same_origin(
    State(web): State<Arc<Web>>,
    request: Request,
    next: Next,
) -> Response {
    match check_site(
        &web.hosts,
        request.headers(),
        request.uri(),
        request.method(),
    ) {
        Ok(()) => next.run(request).await,
        Err((status, message)) => refused(status, message),
    }
}

fn check_site(
    hosts: &Hosts,
    headers: &HeaderMap,
    uri: &Uri,
    method: &Method,
) -> Result<(), (StatusCode, String)> {
    let mut host = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (host.next(), host.next()) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "one Host header is needed".to_owned(),
        ));
    };
    let host = host.to_str().unwrap_or("(not text)");
    let absolute = uri.authority().map(|a| a.as_str());
    if let Some(foreign) = [Some(host), absolute]
        .into_iter()
        .flatten()
        .find(|h| !hosts.accepts(h))
    {
        return Err((
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server answers to {} only, not to Host {foreign:?} (a DNS rebinding \
                 attempt, or a tunnel on another port: allow it with --allow-host)",
                hosts.accepted.join(", ")
            ),
        ));
    }
    let upgrade = headers.contains_key(header::UPGRADE);
    let origin = headers.get(header::ORIGIN);
    if upgrade && origin.is_none() {
        return Err((
            StatusCode::FORBIDDEN,
            "a websocket is opened only from this server's page, which sends Origin".to_owned(),
        ));
    }
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD);
    if !(upgrade || unsafe_method) {
        return Ok(());
    }
    // Set by the browser, never by the page.
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|site| site.to_str().unwrap_or("(not text)"));
    if let Some(origin) = origin {
        let origin = origin.to_str().unwrap_or("(not text)");
        // Under `Referrer-Policy: no-referrer` (ours) a form posts
        // `Origin: null`; the browser's Sec-Fetch-Site then vouches for it.
        let own_form = origin == "null" && !upgrade && fetch_site == Some("same-origin");
        if !(hosts.accepts_origin(origin) || own_form) {
            return Err((
                StatusCode::FORBIDDEN,
                format!("cross-origin request refused: Origin {origin:?} is not this server"),
            ));
        }
    }
    match fetch_site {
        Some(site) if unsafe_method && site != "same-origin" => Err((
            StatusCode::FORBIDDEN,
            format!("cross-origin request refused: Sec-Fetch-Site is {site:?}"),
        )),
        _ => Ok(()),
    }
}

#[derive(serde::Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// Lets through requests with a live session (the route finds it as an
/// extension), and `/login` and `/logout` without one. `?token=` on any
/// path starts a session and redirects (303) to the path without the
/// query, so the token leaves the address bar and the history; a wrong
/// one is 401. Others go to `/login` (a page) or get 401 (a websocket, a
/// POST).
pub(super) async fn signed_in(
    State(web): State<Arc<Web>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = match Query::<TokenParam>::try_from_uri(request.uri()) {
        Ok(Query(param)) => param.token,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(presented) = presented {
        if !token_matches(&presented, &web.token) {
            return refused(StatusCode::UNAUTHORIZED, "wrong token".to_owned());
        }
        // One leading slash: `//host/...` would send the browser elsewhere.
        let path = request.uri().path().trim_start_matches(['/', '\\']);
        return start_session(&web, &format!("/{path}"));
    }
    let path = request.uri().path();
    if path == "/login" || path == "/logout" {
        return next.run(request).await;
    }
    let live = session_ids(request.headers()).find_map(|id| web.sessions.check(id));
    if let Some(live) = live {
        request.extensions_mut().insert(live);
        return next.run(request).await;
    }
    if request.method() == Method::GET && !request.headers().contains_key(header::UPGRADE) {
        Redirect::to("/login").into_response()
    } else {
        refused(
            StatusCode::UNAUTHORIZED,
            "not signed in: sign in at /login".to_owned(),
        )
    }
}

/// Compares a presented token with the client token in constant time.
pub(super) fn token_matches(presented: &str, expected: &str) -> bool {
    constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

/// Mints a session and answers 303 to `location` with its cookie.
pub(super) fn start_session(web: &Web, location: &str) -> Response {
    let id = match web.sessions.mint() {
        Ok(id) => id,
        Err(err) => {
            tracing::error!("cannot sign in: {err:#}");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot sign in: {err:#}"),
            );
        }
    };
    // `Redirect::to` would panic on a value that is no header; a path is
    // always one, but say so rather than assume it.
    let Ok(location) = HeaderValue::from_str(location) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "not a path to go back to".to_owned(),
        );
    };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    let max_age = web.sessions.lifetime().as_secs();
    append_cookie(
        &mut response,
        &format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"),
    );
    response
}

/// The session ids the request's cookies carry.
pub(super) fn session_ids(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    cookies(headers, SESSION_COOKIE)
}

/// A `Set-Cookie` value that removes cookie `name`.
pub(super) fn cleared(name: &str) -> String {
    format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Adds a `Set-Cookie` (the values here are ASCII, so always valid).
pub(super) fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// A plain-text refusal naming its cause.
fn refused(status: StatusCode, message: String) -> Response {
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    (status, content_type, format!("{message}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: (&str, &str) = ("upgrade", "websocket");
    const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

    /// `check_site`'s verdict on a request to port 7878 (or the tunnel's
    /// tunnel.local:9000) with `Host: host` and `headers`.
    fn verdict(method: Method, host: &str, headers: &[(&str, &str)]) -> Result<(), StatusCode> {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        for (name, value) in headers {
            map.insert(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let hosts = Hosts::new(7878, &["tunnel.local:9000".to_owned()]);
        check_site(&hosts, &map, &Uri::from_static("/ws"), &method).map_err(|(status, _)| status)
    }

    #[test]
    fn only_this_servers_names_are_answered() {
        for host in [
            "127.0.0.1:7878",
            "localhost:7878",
            "LOCALHOST:7878",
            "[::1]:7878",
            "tunnel.local:9000",
        ] {
            assert_eq!(verdict(Method::GET, host, &[]), Ok(()), "{host}");
        }
        for host in [
            "evil.example:7878",
            "127.0.0.1:7879",
            "localhost",
            "127.0.0.1",
            "tunnel.local:7878",
        ] {
            assert_eq!(
                verdict(Method::GET, host, &[]),
                Err(StatusCode::MISDIRECTED_REQUEST),
                "{host}"
            );
        }
    }

    #[test]
    fn a_websocket_or_a_post_comes_only_from_this_servers_page() {
        use Method as M;
        let host = "127.0.0.1:7878";
        let forbidden = Err(StatusCode::FORBIDDEN);
        for origin in [
            "http://127.0.0.1:7878",
            "http://localhost:7878",
            "HTTP://LocalHost:7878",
        ] {
            assert_eq!(
                verdict(M::GET, host, &[WS, ("origin", origin)]),
                Ok(()),
                "{origin}"
            );
            assert_eq!(
                verdict(M::POST, host, &[("origin", origin), SAME]),
                Ok(()),
                "{origin}"
            );
        }
        assert_eq!(verdict(M::GET, host, &[WS]), forbidden);
        for origin in [
            "http://127.0.0.1:8000",
            "null",
            "https://127.0.0.1:7878",
            "http://evil.example",
        ] {
            assert_eq!(
                verdict(M::GET, host, &[WS, ("origin", origin)]),
                forbidden,
                "{origin}"
            );
            assert_eq!(
                verdict(M::GET, host, &[WS, ("origin", origin), SAME]),
                forbidden,
                "{origin}"
            );
            assert_eq!(
                verdict(M::POST, host, &[("origin", origin)]),
                forbidden,
                "{origin}"
            );
            // A plain GET's Origin is not checked: without CORS its answer
            // is not readable by another origin.
            assert_eq!(
                verdict(M::GET, host, &[("origin", origin)]),
                Ok(()),
                "{origin}"
            );
        }
        // Our own form under no-referrer posts `Origin: null`: it passes
        // only if the browser says the request is same-origin.
        assert_eq!(verdict(M::POST, host, &[("origin", "null"), SAME]), Ok(()));
        for site in ["same-site", "cross-site", "none"] {
            let fetch_site = ("sec-fetch-site", site);
            assert_eq!(
                verdict(M::POST, host, &[("origin", "null"), fetch_site]),
                forbidden,
                "{site}"
            );
            assert_eq!(verdict(M::POST, host, &[fetch_site]), forbidden, "{site}");
            let ours = ("origin", "http://127.0.0.1:7878");
            assert_eq!(
                verdict(M::POST, host, &[ours, fetch_site]),
                forbidden,
                "{site}"
            );
        }
        // An old client that sends neither.
        assert_eq!(verdict(M::POST, host, &[]), Ok(()));
    }

    #[test]
    fn allowed_hosts_are_host_and_port() {
        assert_eq!(
            parse_allowed_host("LocalHost:9000"),
            Ok("localhost:9000".to_owned())
        );
        assert_eq!(
            parse_allowed_host("[::1]:9000"),
            Ok("[::1]:9000".to_owned())
        );
        for bad in ["", "a/b", "user@host:1", "host:port", "http://x"] {
            assert!(parse_allowed_host(bad).is_err(), "{bad}");
        }
    }
}
