//! An in-test HTTP server standing in for a provider: each request gets the
//! next canned reply, byte for byte as the provider's documentation shows
//! its streams, and is kept for the test to inspect.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::Value;

/// One canned HTTP reply.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    /// Send the body, then keep the connection open without a word more.
    pub stall: bool,
}

impl Canned {
    /// `200` with a server-sent-event body.
    pub fn sse(body: impl Into<String>) -> Canned {
        Canned {
            status: 200,
            content_type: "text/event-stream",
            body: body.into(),
            headers: Vec::new(),
            stall: false,
        }
    }

    /// `200` with newline-delimited JSON.
    pub fn ndjson(lines: &[&str]) -> Canned {
        Canned {
            content_type: "application/x-ndjson",
            ..Canned::sse(lines.iter().map(|l| format!("{l}\n")).collect::<String>())
        }
    }

    /// An error status with a JSON body.
    pub fn error(status: u16, body: &str) -> Canned {
        Canned {
            status,
            content_type: "application/json",
            ..Canned::sse(body)
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Canned {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn stalled(mut self) -> Canned {
        self.stall = true;
        self
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The server's shared state.
#[derive(Clone, Default)]
pub struct FakeProvider {
    pub replies: Arc<Mutex<VecDeque<Canned>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProvider {
    /// Serves `replies` on a loopback port; returns `http://127.0.0.1:PORT`.
    pub async fn start(replies: Vec<Canned>) -> (String, FakeProvider) {
        let fake = FakeProvider {
            replies: Arc::new(Mutex::new(replies.into())),
            seen: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, fake)
    }

    /// Adds a reply for a later request.
    pub fn push(&self, reply: Canned) {
        self.replies.lock().unwrap().push_back(reply);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(fake): State<FakeProvider>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.seen.lock().unwrap().push(Seen {
        path: uri.to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reply = fake.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return Response::builder()
            .status(500)
            .body(Body::from("no reply left"))
            .unwrap();
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let body = if reply.stall {
        let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(reply.body))]);
        Body::from_stream(futures_util::StreamExt::chain(
            first,
            futures_util::stream::pending(),
        ))
    } else {
        Body::from(reply.body)
    };
    builder.body(body).unwrap()
}
