//! A session's recorded events as spans, following the GenAI semantic
//! conventions ([`super::CONVENTIONS`]): one trace per session, an
//! `invoke_agent` span per turn, under it a `chat` span per model call and
//! an `execute_tool` span per tool call.
//!
//! Ids are derived, not random: the trace id is the session id and a
//! span's id a hash of the session and the seq of the event that opened
//! it, so exporting a turn twice gives the same spans again.

use std::collections::{BTreeSet, HashMap};

use protocol::event::{Event, EventKind, SessionStatus, Usage};
use protocol::{SessionId, Timestamp};

/// What a span did, in the conventions' terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanRole {
    /// `invoke_agent`: one turn of the agent.
    Agent,
    /// `chat`: one model call, a client of the provider.
    Chat,
    /// `execute_tool`: one tool call.
    Tool,
}

/// An attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Text(String),
    /// An integer (token counts).
    Int(i64),
    /// A float (USD).
    Float(f64),
    /// A list of strings (finish reasons).
    Texts(Vec<String>),
}

/// One span, ready to be turned into the SDK's `SpanData`.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The session's id as a trace id.
    pub trace_id: u128,
    /// Derived from the session and the opening event's seq.
    pub span_id: u64,
    /// The turn's span for a model or tool call; `None` for a turn.
    pub parent: Option<u64>,
    /// `invoke_agent AGENT`, `chat MODEL`, `execute_tool TOOL`.
    pub name: String,
    /// Which kind of span.
    pub role: SpanRole,
    /// When the opening event was recorded.
    pub start: Timestamp,
    /// When the closing event was recorded (the turn's end if none was).
    pub end: Timestamp,
    /// `gen_ai.*`, `error.type` and `studio.*` attributes, in a fixed order.
    pub attributes: Vec<(&'static str, Value)>,
    /// An error's description; `None` for a span that did not fail.
    pub error: Option<String>,
}

/// The spans of one turn: its `invoke_agent` span first.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// 0 for the session's first turn.
    pub index: u32,
    /// When the turn ended (`session.idle` or the terminal event).
    pub ended_at: Timestamp,
    /// The turn's span, then its calls in the order they began.
    pub spans: Vec<Span>,
}

/// What the spans say about the session besides its events.
#[derive(Clone, Debug, Default)]
pub struct SessionFacts {
    /// The agent's name (`gen_ai.agent.name`).
    pub agent: String,
    /// The group of runs it belongs to, if any.
    pub group: Option<SessionId>,
    /// Its label in the group, if any.
    pub label: Option<String>,
}

/// The turns of `events` that have ended, each with its spans; a turn still
/// running is left out.
pub fn turns(session: SessionId, facts: &SessionFacts, events: &[Event]) -> Vec<Turn> {
    let mut builder = Builder {
        session,
        facts,
        turns: Vec::new(),
        open: None,
    };
    for event in events {
        builder.take(event);
    }
    builder.turns
}

struct Builder<'a> {
    session: SessionId,
    facts: &'a SessionFacts,
    turns: Vec<Turn>,
    open: Option<OpenTurn>,
}

/// A turn being read.
struct OpenTurn {
    span: Span,
    usage: Usage,
    cost: Option<f64>,
    provider: Option<String>,
    model: Option<String>,
    calls: Vec<Span>,
    /// Index in `calls` of each model call by request id, and of each tool
    /// call by call id.
    requests: HashMap<String, usize>,
    tools: HashMap<String, usize>,
    /// Indexes in `calls` of the calls not yet ended.
    unended: BTreeSet<usize>,
}

impl Builder<'_> {
    fn take(&mut self, event: &Event) {
        match &event.kind {
            EventKind::MessageUser { .. } => {
                self.close(event, None);
                self.open_turn(event);
            }
            EventKind::LlmRequestStarted {
                request_id,
                provider,
                model,
                ..
            } => {
                let turn = self.turn(event);
                let provider = provider_name(provider);
                turn.provider.get_or_insert_with(|| provider.clone());
                turn.model.get_or_insert_with(|| model.clone());
                let mut span = self.child(event, SpanRole::Chat, format!("chat {model}"));
                span.attributes.extend([
                    ("gen_ai.operation.name", text("chat")),
                    ("gen_ai.provider.name", Value::Text(provider)),
                    ("gen_ai.request.model", text(model)),
                ]);
                self.turn(event).add(span, Some(request_id), None);
            }
            EventKind::LlmResponseCompleted {
                request_id,
                usage,
                finish_reason,
            } => {
                let turn = self.turn(event);
                turn.usage.add(usage);
                if let Some(span) = turn.call(request_id, true) {
                    span.end = event.at;
                    span.attributes.push((
                        "gen_ai.response.finish_reasons",
                        Value::Texts(vec![finish_reason.clone()]),
                    ));
                    span.attributes.extend(usage_attributes(usage));
                }
            }
            EventKind::LlmError {
                request_id,
                message,
                ..
            } => {
                if let Some(span) = self.turn(event).call(request_id, true) {
                    span.end = event.at;
                    fail(span, "provider_error", message);
                }
            }
            EventKind::LlmCost {
                request_id, usd, ..
            } => {
                let turn = self.turn(event);
                if let Some(usd) = usd {
                    *turn.cost.get_or_insert(0.0) += usd;
                }
                if let (Some(span), Some(usd)) = (turn.call(request_id, false), usd) {
                    span.attributes
                        .push(("studio.cost.usd", Value::Float(*usd)));
                }
            }
            EventKind::ToolRequested { call_id, tool, .. } => {
                let mut span = self.child(event, SpanRole::Tool, format!("execute_tool {tool}"));
                span.attributes.extend([
                    ("gen_ai.operation.name", text("execute_tool")),
                    ("gen_ai.tool.name", text(tool)),
                    ("gen_ai.tool.call.id", text(call_id)),
                    ("gen_ai.tool.type", text(tool_type(tool))),
                ]);
                self.turn(event).add(span, None, Some(call_id));
            }
            EventKind::ToolApproved { call_id, by } => {
                if let Some(span) = self.turn(event).tool(call_id, false) {
                    span.attributes.push((
                        "studio.tool.decision",
                        Value::Text(format!("approved {by}")),
                    ));
                }
            }
            EventKind::ToolDenied {
                call_id,
                by,
                reason,
            } => {
                if let Some(span) = self.turn(event).tool(call_id, true) {
                    span.end = event.at;
                    span.attributes
                        .push(("studio.tool.decision", Value::Text(format!("denied {by}"))));
                    fail(span, "denied", reason);
                }
            }
            EventKind::ToolCompleted { call_id, .. } => {
                if let Some(span) = self.turn(event).tool(call_id, true) {
                    span.end = event.at;
                }
            }
            EventKind::ToolError { call_id, message } => {
                if let Some(span) = self.turn(event).tool(call_id, true) {
                    span.end = event.at;
                    fail(span, "tool_error", message);
                }
            }
            EventKind::SessionIdle { error } => self.close(event, error.clone()),
            kind if kind.is_terminal() => {
                let error = match kind.status_after() {
                    Some(SessionStatus::Completed) | None => None,
                    Some(status) => Some(match kind {
                        EventKind::SessionFailed { error } => error.clone(),
                        EventKind::SessionCrashed { detail, .. } => detail.clone(),
                        _ => status.as_str().to_owned(),
                    }),
                };
                self.close(event, error);
            }
            _ => {}
        }
    }

    fn open_turn(&mut self, event: &Event) {
        self.open = Some(new_turn(self.session, self.facts, self.turns.len(), event));
    }

    /// The open turn, opened at `event` if none is (a turn recorded
    /// without its `message.user`).
    fn turn(&mut self, event: &Event) -> &mut OpenTurn {
        let (session, facts, index) = (self.session, self.facts, self.turns.len());
        self.open
            .get_or_insert_with(|| new_turn(session, facts, index, event))
    }

    /// A model or tool call's span, a child of the open turn's.
    fn child(&mut self, event: &Event, role: SpanRole, name: String) -> Span {
        let parent = self.turn(event).span.span_id;
        let mut span = Span {
            trace_id: self.session.as_u128(),
            span_id: span_id(self.session, event.seq),
            parent: Some(parent),
            name,
            role,
            start: event.at,
            end: event.at,
            attributes: Vec::new(),
            error: None,
        };
        if let EventKind::LlmRequestStarted { request_id, .. } = &event.kind {
            span.attributes
                .push(("studio.request.id", text(request_id)));
        }
        span
    }

    /// Ends the open turn at `event`, if one is open.
    fn close(&mut self, event: &Event, error: Option<String>) {
        let Some(mut turn) = self.open.take() else {
            return;
        };
        let ended = event.at;
        for index in std::mem::take(&mut turn.unended) {
            if let Some(call) = turn.calls.get_mut(index) {
                call.end = ended;
                fail(call, "unfinished", "the turn ended before the call did");
            }
        }
        let mut span = turn.span;
        span.end = ended;
        if let Some(provider) = turn.provider {
            span.attributes
                .push(("gen_ai.provider.name", Value::Text(provider)));
        }
        if let Some(model) = turn.model {
            span.attributes
                .push(("gen_ai.request.model", Value::Text(model)));
        }
        span.attributes.extend(usage_attributes(&turn.usage));
        if let Some(usd) = turn.cost {
            span.attributes.push(("studio.cost.usd", Value::Float(usd)));
        }
        span.attributes
            .push(("studio.status", text(outcome(&event.kind))));
        if let Some(error) = error {
            fail(&mut span, "turn_failed", &error);
        }
        let mut spans = vec![span];
        spans.append(&mut turn.calls);
        self.turns.push(Turn {
            index: u32::try_from(self.turns.len()).unwrap_or(u32::MAX),
            ended_at: ended,
            spans,
        });
    }
}

/// A turn's span, opened at `event`, the session's `index`th.
fn new_turn(session: SessionId, facts: &SessionFacts, index: usize, event: &Event) -> OpenTurn {
    let agent = &facts.agent;
    let mut span = Span {
        trace_id: session.as_u128(),
        span_id: span_id(session, event.seq),
        parent: None,
        name: format!("invoke_agent {agent}"),
        role: SpanRole::Agent,
        start: event.at,
        end: event.at,
        attributes: vec![
            ("gen_ai.operation.name", text("invoke_agent")),
            ("gen_ai.agent.name", text(agent)),
            ("gen_ai.conversation.id", Value::Text(session.to_string())),
            ("studio.session.id", Value::Text(session.to_string())),
            (
                "studio.turn",
                Value::Int(i64::try_from(index).unwrap_or(i64::MAX)),
            ),
        ],
        error: None,
    };
    if let Some(group) = facts.group {
        span.attributes
            .push(("studio.group.id", Value::Text(group.to_string())));
    }
    if let Some(label) = &facts.label {
        span.attributes.push(("studio.label", text(label)));
    }
    OpenTurn {
        span,
        usage: Usage::default(),
        cost: None,
        provider: None,
        model: None,
        calls: Vec::new(),
        requests: HashMap::new(),
        tools: HashMap::new(),
        unended: BTreeSet::new(),
    }
}

impl OpenTurn {
    /// Adds a call's span, found later by its request or call id.
    fn add(&mut self, span: Span, request_id: Option<&String>, call_id: Option<&String>) {
        let index = self.calls.len();
        if let Some(id) = request_id {
            self.requests.insert(id.clone(), index);
        }
        if let Some(id) = call_id {
            self.tools.insert(id.clone(), index);
        }
        self.unended.insert(index);
        self.calls.push(span);
    }

    /// The model call `request_id`; `ends` if this event ends it (only
    /// the first ending counts).
    fn call(&mut self, request_id: &str, ends: bool) -> Option<&mut Span> {
        let index = *self.requests.get(request_id)?;
        self.at(index, ends)
    }

    /// The tool call `call_id`, as [`OpenTurn::call`].
    fn tool(&mut self, call_id: &str, ends: bool) -> Option<&mut Span> {
        let index = *self.tools.get(call_id)?;
        self.at(index, ends)
    }

    fn at(&mut self, index: usize, ends: bool) -> Option<&mut Span> {
        if ends && !self.unended.remove(&index) {
            return None;
        }
        self.calls.get_mut(index)
    }
}

/// How a turn ended, by the event that ended it.
fn outcome(kind: &EventKind) -> &'static str {
    match kind.status_after() {
        Some(status) => status.as_str(),
        None => "idle",
    }
}

fn fail(span: &mut Span, kind: &str, message: &str) {
    if span.error.is_none() {
        span.attributes.push(("error.type", text(kind)));
        span.error = Some(message.to_owned());
    }
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// The token counts of `usage` under the conventions' names.
fn usage_attributes(usage: &Usage) -> Vec<(&'static str, Value)> {
    let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    vec![
        ("gen_ai.usage.input_tokens", count(usage.input_tokens)),
        ("gen_ai.usage.output_tokens", count(usage.output_tokens)),
        (
            "gen_ai.usage.cache_read.input_tokens",
            count(usage.cache_read_tokens),
        ),
        (
            "gen_ai.usage.cache_creation.input_tokens",
            count(usage.cache_creation_tokens),
        ),
        (
            "gen_ai.usage.reasoning.output_tokens",
            count(usage.reasoning_tokens),
        ),
    ]
}

/// The conventions' name of one of our providers (`gen_ai.provider.name`).
fn provider_name(provider: &str) -> String {
    match provider {
        "gemini" => "gcp.gemini".to_owned(),
        other => other.to_owned(),
    }
}

/// `extension` for a tool of an MCP server (`SERVER.TOOL`), else `function`.
fn tool_type(tool: &str) -> &'static str {
    if tool.contains('.') {
        "extension"
    } else {
        "function"
    }
}

/// A span id for the span opened by event `seq` of `session`: a hash, so
/// ids differ across sessions (receivers keep span ids unique), never 0.
fn span_id(session: SessionId, seq: u64) -> u64 {
    let id = session.as_u128();
    let folded = (id as u64) ^ ((id >> 64) as u64).rotate_left(17);
    let mut x = folded ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64's finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    if x == 0 { 1 } else { x }
}

#[cfg(test)]
mod tests;
