//! The only way out of the network namespace of a plugin server granted
//! named hosts ([`HostProxy`]): an HTTP proxy on a Unix socket of the
//! worker, which the launcher's forwarder ([`super::forward`]) offers the
//! server as `127.0.0.1:3128` in its namespace (`HTTP_PROXY`,
//! `HTTPS_PROXY`). It speaks `CONNECT host:port` (tunnels: TLS, anything)
//! and plain `http://` requests in absolute form, lets through only the
//! granted hosts ([`Grants`]), resolves names itself (the server has no
//! DNS) and records every attempt as `sandbox.connect`.
//!
//! Hosts are compared as written after the URL standard's normalization
//! (lowercase, IDNA, IPv4 forms, no trailing dot): `localhost` granted
//! does not grant `127.0.0.1`, nor `127.1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::event::EventKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};

use crate::connection::EventSender;

/// Longest request head the proxy reads, in bytes.
const MAX_HEAD: usize = 16 * 1024;

/// The hosts a plugin was granted: names, or `*.domain` for the
/// subdomains of `domain`.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    exact: Vec<String>,
    subdomains_of: Vec<String>,
}

impl Grants {
    /// The grants of `hosts` as the manifest lists them; an entry that is
    /// no host is left out (the manifest was checked at install).
    pub fn new(hosts: &[String]) -> Grants {
        let mut grants = Grants::default();
        for host in hosts {
            match host.strip_prefix("*.") {
                Some(domain) => grants.subdomains_of.extend(normalized(domain)),
                None => grants.exact.extend(normalized(host)),
            }
        }
        grants
    }

    /// Whether `host` (normalized) may be reached.
    pub fn allow(&self, host: &str) -> bool {
        self.exact.iter().any(|granted| granted == host)
            || self.subdomains_of.iter().any(|domain| {
                host.strip_suffix(domain.as_str())
                    .is_some_and(|label| label.len() > 1 && label.ends_with('.'))
            })
    }
}

/// A host as the URL standard writes it, without a trailing dot.
fn normalized(host: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{host}/")).ok()?;
    let host = url.host_str()?.trim_end_matches('.').to_owned();
    (!host.is_empty()).then_some(host)
}

/// A running proxy; it stops, and its socket goes, when dropped.
#[derive(Debug)]
pub struct HostProxy {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl HostProxy {
    /// Listens on `socket` for the server `server`, letting through
    /// `grants` and recording every attempt with `events`.
    pub fn start(
        socket: &Path,
        server: &str,
        grants: Grants,
        events: EventSender,
    ) -> std::io::Result<HostProxy> {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket)?;
        let shared = Arc::new((server.to_owned(), grants, events));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, shared.clone()));
            }
        });
        Ok(HostProxy {
            socket: socket.to_path_buf(),
            task,
        })
    }
}

impl Drop for HostProxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
struct Ask {
    /// A tunnel (`CONNECT`), else one plain HTTP request.
    tunnel: bool,
    host: String,
    port: u16,
    /// For a plain request, its head rewritten to origin form.
    head: Vec<u8>,
}

impl Ask {
    fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

async fn serve(mut client: UnixStream, shared: Arc<(String, Grants, EventSender)>) {
    let (server, grants, events) = &*shared;
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let ask = match parse(&head) {
        Ok(ask) => ask,
        Err((target, why)) => {
            record(events, server, target, Some(why.clone())).await;
            let _ = client.write_all(&refusal(&why)).await;
            return;
        }
    };
    let target = ask.target();
    if !grants.allow(&ask.host) {
        let why = format!("refused by the sandbox: {target} is not a host the plugin was granted");
        record(events, server, target, Some(why.clone())).await;
        let _ = client.write_all(&refusal(&why)).await;
        return;
    }
    record(events, server, target.clone(), None).await;
    let mut upstream = match TcpStream::connect((ask.host.as_str(), ask.port)).await {
        Ok(upstream) => upstream,
        Err(err) => {
            let why = format!("cannot connect to {target}: {err}");
            let _ = client.write_all(&answer("502 Bad Gateway", &why)).await;
            return;
        }
    };
    let opened = if ask.tunnel {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
    } else {
        upstream.write_all(&ask.head).await
    };
    if opened.is_ok() && upstream.write_all(&rest).await.is_ok() {
        // Every byte after goes to the host let through, whatever it says.
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

async fn record(events: &EventSender, server: &str, target: String, refused: Option<String>) {
    if let Some(why) = &refused {
        tracing::warn!(server, target, "{why}");
    }
    events
        .event(EventKind::SandboxConnect {
            server: server.to_owned(),
            target,
            refused,
        })
        .await;
}

/// The request head (through its blank line) and what followed it.
async fn read_head(client: &mut UnixStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let read = client.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Some((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            let _ = client
                .write_all(&answer("431 Request Header Fields Too Large", "too large"))
                .await;
            return None;
        }
    }
}

/// What `head` asks for; `Err` with the target (as far as it was read)
/// and why the proxy refuses it.
fn parse(head: &[u8]) -> Result<Ask, (String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let malformed = |why: &str| (String::new(), format!("refused by the sandbox: {why}"));
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(malformed("not an HTTP proxy request")),
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(malformed("not an HTTP proxy request"));
    };
    let tunnel = method.eq_ignore_ascii_case("CONNECT");
    let url = if tunnel {
        url::Url::parse(&format!("http://{target}/"))
    } else {
        url::Url::parse(target)
    };
    let unspoken = |why: &str| (target.to_owned(), format!("refused by the sandbox: {why}"));
    let url = url.map_err(|_| unspoken("not a host and port, or an http:// URL"))?;
    if !tunnel && url.scheme() != "http" {
        return Err(unspoken("only http:// requests, or CONNECT for others"));
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(unspoken("no host"));
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_owned();
    let head = if tunnel {
        Vec::new()
    } else {
        origin_form(head, method, &url)
    };
    Ok(Ask {
        tunnel,
        host,
        port,
        head,
    })
}

/// A plain request's head with its first line in origin form
/// (`GET /path HTTP/1.1`), as a server expects it.
fn origin_form(head: &[u8], method: &str, url: &url::Url) -> Vec<u8> {
    let after_line = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(head.len(), |at| at + 2);
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut rewritten = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    rewritten.extend_from_slice(&head[after_line..]);
    rewritten
}

fn refusal(why: &str) -> Vec<u8> {
    answer("403 Forbidden", why)
}

fn answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_hosts_in_any_spelling_of_the_same_name_pass() {
        let grants = Grants::new(&["LocalHost".into(), "*.Example.com".into()]);
        for (host, allowed) in [
            ("localhost", true),
            ("api.example.com", true),
            ("a.b.example.com", true),
            // The domain itself, other hosts, other spellings of an address.
            ("example.com", false),
            ("evilexample.com", false),
            ("127.0.0.1", false),
            ("::1", false),
            ("localhost.evil.test", false),
        ] {
            assert_eq!(grants.allow(host), allowed, "{host}");
        }
    }

    #[test]
    fn requests_are_read_as_the_host_they_reach() {
        let ask = parse(b"CONNECT LOCALHOST.:8443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            (ask.tunnel, ask.host.as_str(), ask.port),
            (true, "localhost", 8443)
        );
        // An IPv4 address in another form is that address, not a name.
        let ask = parse(b"CONNECT 0x7f.1:80 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(ask.target(), "127.0.0.1:80");
        let ask = parse(b"CONNECT [::1]:443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(ask.target(), "[::1]:443");
        let ask =
            parse(b"GET http://localhost:9/a?b=1 HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        assert!(!ask.tunnel);
        assert_eq!(
            String::from_utf8(ask.head).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
        );
        for bad in [
            &b"GET /relative HTTP/1.1\r\n\r\n"[..],
            b"GET https://localhost/ HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01 tls hello\r\n\r\n",
        ] {
            let (_, why) = parse(bad).unwrap_err();
            assert!(why.starts_with("refused by the sandbox"), "{why}");
        }
    }
}
