//! A loopback HTTP server standing in for a provider: each request gets
//! the next canned [`Reply`], byte for byte as the provider's
//! documentation shows its streams (sent in the chunks given, then closed,
//! held open or cut), and is kept for the test to inspect ([`Seen`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures_util::stream;
use serde_json::Value;

/// How a reply's body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Close the body normally.
    Close,
    /// Keep the connection open and send nothing more.
    Stall,
    /// Break the connection mid-body.
    Cut,
}

/// One canned HTTP reply.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Its status code.
    pub status: u16,
    /// Its headers, `content-type` first.
    pub headers: Vec<(&'static str, String)>,
    /// Its body, in the pieces it is sent in.
    pub chunks: Vec<String>,
    /// What happens after the last piece.
    pub end: End,
}

impl Reply {
    /// `200` with a server-sent-event body sent whole.
    pub fn sse(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type", "text/event-stream".to_owned())],
            chunks: vec![body.into()],
            end: End::Close,
        }
    }

    /// `200` with a server-sent-event body sent one event at a time
    /// (each a full `data: ...` block, without its blank line).
    pub fn sse_events(events: &[&str]) -> Reply {
        Reply {
            chunks: events.iter().map(|e| format!("{e}\n\n")).collect(),
            ..Reply::sse("")
        }
    }

    /// `200` with newline-delimited JSON.
    pub fn ndjson(lines: &[&str]) -> Reply {
        Reply {
            headers: vec![("content-type", "application/x-ndjson".to_owned())],
            ..Reply::sse(lines.iter().map(|l| format!("{l}\n")).collect::<String>())
        }
    }

    /// An error status with a JSON body.
    pub fn error(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            ..Reply::sse(body)
        }
    }

    /// A plain-text body with any status (a page, a redirect).
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/plain".to_owned())],
            ..Reply::sse(body)
        }
    }

    /// With one more header.
    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Ending as `end` says.
    pub fn ending(mut self, end: End) -> Reply {
        self.end = end;
        self
    }

    /// Sending its body, then keeping the connection open without a word
    /// more.
    pub fn stalled(self) -> Reply {
        self.ending(End::Stall)
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The path and query asked for.
    pub path: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The JSON body (`Null` if it was not JSON).
    pub body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A loopback HTTP server answering each request with the next reply
/// (a `500` once they run out). It runs until the test's runtime ends.
#[derive(Clone)]
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shared: Shared,
}

impl FakeProvider {
    /// Serves `replies` on a free loopback port.
    pub async fn start(replies: Vec<Reply>) -> FakeProvider {
        let shared = Shared {
            replies: Arc::new(Mutex::new(replies.into())),
            seen: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeProvider { base, shared }
    }

    /// Adds a reply for a later request.
    pub fn push(&self, reply: Reply) {
        self.shared.replies.lock().unwrap().push_back(reply);
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.seen.lock().unwrap().push(Seen {
        path: uri.to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reply = shared.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return Response::builder()
            .status(500)
            .body(Body::from("no reply left"))
            .unwrap();
    };
    let chunks: Vec<Result<Bytes, std::io::Error>> = reply
        .chunks
        .into_iter()
        .map(|c| Ok(Bytes::from(c)))
        .collect();
    let tail: Box<dyn futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin> =
        match reply.end {
            End::Close => Box::new(stream::empty()),
            End::Stall => Box::new(stream::pending()),
            End::Cut => Box::new(stream::iter([Err(std::io::Error::other("cut"))])),
        };
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from_stream(futures_util::StreamExt::chain(
            stream::iter(chunks),
            tail,
        )))
        .unwrap()
}
