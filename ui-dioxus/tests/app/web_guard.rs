//! The browser view's guard (`studio-ui --web`), spoken to in raw HTTP/1.1
//! against the real server on a free port: a websocket opens only from the
//! server's own page (Origin), every route answers only to the server's
//! own names (Host: DNS rebinding), `?token=` becomes a random session and
//! leaves the URL, signing out ends the session and its open websockets,
//! and every answer forbids referrers and framing. No daemon is needed:
//! the data dir holds only a client token.

// A panic is how a test fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol::layout::Layout;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ui_dioxus::Target;

const TOKEN: &str = "e2e0c1d2-the-client-token-of-this-test-7f3a";

/// The server on a free port of 127.0.0.1, over a data dir with a token.
struct Server {
    addr: SocketAddr,
    _tmp: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let tmp = tempfile::Builder::new()
            .prefix("swg")
            .tempdir_in("/tmp")
            .unwrap();
        let layout = Layout::new(tmp.path());
        std::fs::write(layout.client_token(), format!("{TOKEN}\n")).unwrap();
        // The app, once a websocket opens, finds no daemon and cannot start one.
        let target = Target {
            layout,
            studio_bin: PathBuf::from("/bin/false"),
        };
        let listening = ui_dioxus::web::bind(target, 0, &[]).await.unwrap();
        let addr = listening.addr;
        tokio::spawn(listening.serve());
        Server { addr, _tmp: tmp }
    }

    /// `Host` as the browser sends it for this server.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// This server's page as an `Origin`.
    fn origin(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Sends `METHOD PATH` with `Host` and `headers`; the answer, read to
    /// the end (or to the end of the head for 101).
    async fn send(&self, method: &str, path: &str, host: &str, headers: &[(&str, &str)]) -> Answer {
        self.send_body(method, path, host, headers, "").await
    }

    async fn send_body(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let (answer, _stream) = self.exchange(method, path, host, headers, body).await;
        answer
    }

    /// Like `send`, and also gives back the connection (open after 101).
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Answer, TcpStream) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
        {
            request.push_str("Connection: close\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let read = async {
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await.unwrap();
                bytes.extend_from_slice(&chunk[..n]);
                if n == 0 || Answer::complete(&bytes) {
                    return bytes;
                }
            }
        };
        let bytes = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("no answer in 30 s");
        (Answer::parse(&bytes), stream)
    }

    /// Signs in with `?token=`; the session cookie's value.
    async fn sign_in(&self) -> String {
        let answer = self
            .send("GET", &format!("/app?token={TOKEN}"), &self.host(), &[])
            .await;
        assert_eq!(answer.status, 303, "{answer:?}");
        answer.session_cookie().expect("no session cookie").0
    }

    /// A websocket upgrade of `/ws` with `cookie` and `origin`, if any.
    async fn upgrade(
        &self,
        host: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> (Answer, TcpStream) {
        let cookie = cookie.map(|id| format!("studio_session={id}"));
        let mut headers = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        self.exchange("GET", "/ws", host, &headers, "").await
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: String,
    /// Everything received, head and body.
    raw: String,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").expect("no end of head");
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
            raw: raw.clone(),
        }
    }

    /// Whether `bytes` hold a whole answer: the head of a 101, or a head
    /// and as much body as it announces (an upgrade request keeps the
    /// connection open even when refused).
    fn complete(bytes: &[u8]) -> bool {
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let answer = Answer::parse(&bytes[..end + 4]);
        let length = answer
            .header("content-length")
            .map(|n| n.parse::<usize>().unwrap());
        answer.status == 101 || length.is_some_and(|length| bytes.len() >= end + 4 + length)
    }

    fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `studio_session` the answer sets: its value and attributes.
    fn session_cookie(&self) -> Option<(String, String)> {
        self.all("set-cookie")
            .find_map(|c| c.strip_prefix("studio_session="))
            .map(|c| {
                let (value, attributes) = c.split_once(';').unwrap_or((c, ""));
                (value.to_owned(), attributes.to_owned())
            })
    }

    /// The headers every answer carries, whatever its status.
    fn assert_guarded(&self) {
        assert_eq!(
            self.header("referrer-policy"),
            Some("no-referrer"),
            "{self:?}"
        );
        assert_eq!(
            self.header("x-content-type-options"),
            Some("nosniff"),
            "{self:?}"
        );
        assert_eq!(self.header("x-frame-options"), Some("DENY"), "{self:?}");
        assert_eq!(
            self.header("content-security-policy"),
            Some("frame-ancestors 'none'"),
            "{self:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_opens_only_from_the_servers_own_page() {
    let server = Server::start().await;
    let host = server.host();
    let session = server.sign_in().await;

    // A page on another port of 127.0.0.1: the same site (the SameSite
    // cookie goes with it) but another origin.
    let foreign = format!("http://127.0.0.1:{}", server.addr.port() + 1);
    let (answer, _) = server.upgrade(&host, Some(&session), Some(&foreign)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.body.contains("Origin"), "{answer:?}");
    answer.assert_guarded();
    for origin in ["null", "http://evil.example", &format!("https://{host}")] {
        let (answer, _) = server.upgrade(&host, Some(&session), Some(origin)).await;
        assert_eq!(answer.status, 403, "{origin}: {answer:?}");
    }
    let (answer, _) = server.upgrade(&host, Some(&session), None).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.body.contains("Origin"), "{answer:?}");

    // Its own page, by any of its names; without a session, 401.
    let (answer, _) = server.upgrade(&host, None, Some(&server.origin())).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    let (answer, _) = server
        .upgrade(&host, Some(&session), Some(&server.origin()))
        .await;
    assert_eq!(answer.status, 101, "{answer:?}");
    answer.assert_guarded();
    let localhost = format!("localhost:{}", server.addr.port());
    let (answer, _) = server
        .upgrade(
            &localhost,
            Some(&session),
            Some(&format!("http://{localhost}")),
        )
        .await;
    assert_eq!(answer.status, 101, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_on_every_route() {
    let server = Server::start().await;
    let session = server.sign_in().await;
    let cookie = format!("studio_session={session}");
    // DNS rebinding: evil.example resolves to 127.0.0.1, so its page's
    // requests reach this port with its own name as Host and Origin.
    let evil = format!("evil.example:{}", server.addr.port());
    for path in [
        "/app",
        "/login",
        "/logout",
        "/",
        &format!("/app?token={TOKEN}"),
    ] {
        let answer = server
            .send("GET", path, &evil, &[("Cookie", &cookie)])
            .await;
        assert_eq!(answer.status, 421, "{path}: {answer:?}");
        assert!(answer.body.contains("evil.example"), "{answer:?}");
        assert!(answer.all("set-cookie").next().is_none(), "{answer:?}");
        answer.assert_guarded();
    }
    let (answer, _) = server
        .upgrade(&evil, Some(&session), Some(&format!("http://{evil}")))
        .await;
    assert_eq!(answer.status, 421, "{answer:?}");
    let form = format!("token={TOKEN}");
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let answer = server
        .send_body("POST", "/login", &evil, &[form_type], &form)
        .await;
    assert_eq!(answer.status, 421, "{answer:?}");
    // Another port of the right name is another server.
    let other = format!("127.0.0.1:{}", server.addr.port() + 1);
    let answer = server
        .send("GET", "/app", &other, &[("Cookie", &cookie)])
        .await;
    assert_eq!(answer.status, 421, "{answer:?}");

    // A sign-in posted by another origin's page is refused; without
    // Origin (an old client) or from this page it signs in.
    let evil_origin = ("Origin", "http://127.0.0.1:1");
    let answer = server
        .send_body(
            "POST",
            "/login",
            &server.host(),
            &[form_type, evil_origin],
            &form,
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.session_cookie().is_none(), "{answer:?}");
    let origin = server.origin();
    for headers in [
        vec![form_type],
        vec![form_type, ("Origin", origin.as_str())],
    ] {
        let answer = server
            .send_body("POST", "/login", &server.host(), &headers, &form)
            .await;
        assert_eq!(answer.status, 303, "{answer:?}");
        assert_eq!(answer.header("location"), Some("/app"));
        let (value, _) = answer.session_cookie().unwrap();
        assert_ne!(value, TOKEN);
        assert!(!answer.raw.contains(TOKEN), "{answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_url_becomes_a_session_cookie_and_leaves_the_url() {
    let server = Server::start().await;
    let host = server.host();
    let answer = server
        .send("GET", &format!("/app?token={TOKEN}&page=runs"), &host, &[])
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/app"));
    answer.assert_guarded();
    assert!(
        !answer.raw.contains(TOKEN),
        "the token is sent back: {answer:?}"
    );
    let (session, attributes) = answer.session_cookie().unwrap();
    assert_eq!(session.len(), 64, "{session}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()), "{session}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            attributes.contains(attribute),
            "{attribute} missing: {attributes}"
        );
    }
    assert_eq!(answer.all("set-cookie").count(), 1, "{answer:?}");

    // The cookie opens the app; the page carries no token either.
    let answer = server
        .send(
            "GET",
            "/app",
            &host,
            &[("Cookie", &format!("studio_session={session}"))],
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body.contains("\"/ws\""),
        "no liveview glue: {answer:?}"
    );
    assert!(!answer.raw.contains(TOKEN));
    answer.assert_guarded();

    // Each sign-in is its own session, and the token is no cookie.
    assert_ne!(server.sign_in().await, session);
    let answer = server
        .send(
            "GET",
            "/app",
            &host,
            &[("Cookie", &format!("studio_session={TOKEN}"))],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/login"));
    // The cookie of old, which held the token, is cleared.
    let answer = server
        .send(
            "GET",
            "/login",
            &host,
            &[("Cookie", &format!("studio_token={TOKEN}"))],
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let cleared = answer
        .all("set-cookie")
        .find(|c| c.starts_with("studio_token=;"))
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // `//host/...` stays on this server.
    let answer = server
        .send(
            "GET",
            &format!("//evil.example/app?token={TOKEN}"),
            &host,
            &[],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/evil.example/app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused() {
    let server = Server::start().await;
    let host = server.host();
    for path in [
        "/app?token=wrong",
        "/login?token=",
        &format!("/app?token={TOKEN}x"),
    ] {
        let answer = server.send("GET", path, &host, &[]).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert!(answer.body.contains("wrong token"), "{answer:?}");
        assert!(answer.all("set-cookie").next().is_none(), "{answer:?}");
        answer.assert_guarded();
    }
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let answer = server
        .send_body("POST", "/login", &host, &[form_type], "token=wrong")
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.all("set-cookie").next().is_none(), "{answer:?}");
    // Without any token: the page sends to the sign-in, the others are 401.
    let answer = server.send("GET", "/app", &host, &[]).await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/login"));
    answer.assert_guarded();
    let answer = server.send("GET", "/login", &host, &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("action=\"/login\""), "{answer:?}");
    answer.assert_guarded();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_and_its_open_websocket() {
    let server = Server::start().await;
    let host = server.host();
    let origin = server.origin();
    let session = server.sign_in().await;
    let other = server.sign_in().await;
    let cookie = format!("studio_session={session}");
    let (answer, mut open) = server.upgrade(&host, Some(&session), Some(&origin)).await;
    assert_eq!(answer.status, 101, "{answer:?}");

    // Another origin's page cannot sign the user out, not even as
    // `Origin: null` (a sandboxed frame, a no-referrer page).
    for headers in [
        [
            ("Origin", "http://127.0.0.1:1"),
            ("Sec-Fetch-Site", "same-site"),
        ],
        [("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
    ] {
        let headers = [&[("Cookie", cookie.as_str())], &headers[..]].concat();
        let answer = server.send("POST", "/logout", &host, &headers).await;
        assert_eq!(answer.status, 403, "{answer:?}");
    }
    let answer = server
        .send(
            "POST",
            "/logout",
            &host,
            &[("Cookie", &cookie), ("Origin", "null")],
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = server
        .send("GET", "/app", &host, &[("Cookie", &cookie)])
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");

    let answer = server
        .send(
            "POST",
            "/logout",
            &host,
            // What Chromium sends from the /logout page: under
            // `Referrer-Policy: no-referrer` a form's Origin is "null".
            &[
                ("Cookie", &cookie),
                ("Origin", "null"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/login"));
    answer.assert_guarded();
    let (value, attributes) = answer.session_cookie().unwrap();
    assert_eq!(value, "");
    assert!(attributes.contains("Max-Age=0"), "{attributes}");

    // The old cookie no longer signs in, not even a websocket.
    let answer = server
        .send("GET", "/app", &host, &[("Cookie", &cookie)])
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/login"));
    let (answer, _) = server.upgrade(&host, Some(&session), Some(&origin)).await;
    assert_eq!(answer.status, 401, "{answer:?}");

    // The websocket it had opened is closed by the server.
    let closed = async {
        let mut chunk = [0u8; 8192];
        while open.read(&mut chunk).await.is_ok_and(|n| n > 0) {}
    };
    tokio::time::timeout(Duration::from_secs(30), closed)
        .await
        .expect("the signed-out session's websocket stayed open");

    // Another session is untouched.
    let (answer, _) = server.upgrade(&host, Some(&other), Some(&origin)).await;
    assert_eq!(answer.status, 101, "{answer:?}");
}
