//! The built-in `scripted` provider: streams a deterministic answer in
//! chunks, as a real model would, and misbehaves when the script says so.
//!
//! Everything it reports is a pure function of the turn: the same history,
//! input and script always give the same request id, answer, chunks and
//! usage, so tests and demos can rely on exact output.

use std::time::Duration;

use protocol::event::{EventKind, Usage};
use protocol::message::{ChatMessage, Role, ToolCall};
use protocol::worker::StartTurn;
use protocol::{Fault, Script};

use tokio::sync::mpsc;

use crate::connection::Outbox;
use crate::{agent, fault};

/// `gen_ai.provider.name` of this provider.
pub const PROVIDER: &str = "scripted";

/// Longest derived answer, in characters: the whole answer must fit in one
/// `message.assistant` frame, with room to spare.
const MAX_ANSWER_CHARS: u64 = (protocol::codec::MAX_FRAME_LEN / 2) as u64;

/// Words a derived answer is made of.
const WORDS: [&str; 32] = [
    "the", "agent", "streams", "a", "scripted", "answer", "made", "of", "plain", "words", "so",
    "every", "test", "can", "check", "it", "studio", "runs", "each", "session", "in", "its", "own",
    "worker", "and", "records", "what", "happens", "step", "by", "calm", "order",
];

/// Runs one scripted model request for `start`, sending its events to
/// `outbox`. Returns when the answer is complete; fails only when the
/// daemon can no longer be told anything.
///
/// Events: `llm.request.started`, one `llm.response.chunk` per chunk,
/// `llm.response.completed`, `message.assistant`. The script's fault, if
/// any, strikes after `fault_after_chunks` chunks (or after the last one).
pub async fn run(
    start: &StartTurn,
    hub: &crate::mcp::Hub,
    decisions: &mut mpsc::UnboundedReceiver<agent::Decision>,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    let script = &start.script;
    let mut requests = request_number(&start.history);
    if !script.tool_calls.is_empty() {
        call_tools(start, hub, format!("req-{requests}"), decisions, outbox).await?;
        requests += 1;
    }
    answer_request(start, requests, outbox).await
}

/// The scripted answer, as model request number `number` of the turn:
/// its chunks, its fault if the script has one, its completion.
pub(crate) async fn answer_request(
    start: &StartTurn,
    number: usize,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    let script = &start.script;
    let request_id = format!("req-{number}");
    outbox
        .event(EventKind::LlmRequestStarted {
            request_id: request_id.clone(),
            provider: PROVIDER.to_owned(),
            model: start.agent.model.clone(),
            params: params(script),
        })
        .await?;

    let answer = answer(script, &start.input);
    let delay = Duration::from_millis(u64::from(script.chunk_delay_ms));
    let fault_after = usize::try_from(script.fault_after_chunks).unwrap_or(usize::MAX);
    let mut pending_fault = script.fault;
    for (sent, text) in chunks(&answer, chunk_chars(script)).enumerate() {
        if sent == fault_after {
            strike(pending_fault.take(), &request_id, outbox).await?;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        outbox
            .event(EventKind::LlmResponseChunk {
                request_id: request_id.clone(),
                text: text.to_owned(),
            })
            .await?;
    }
    strike(pending_fault.take(), &request_id, outbox).await?;

    outbox
        .event(EventKind::LlmResponseCompleted {
            request_id,
            usage: usage(
                &start.agent.system_prompt,
                &start.history,
                &start.input,
                &answer,
            ),
            finish_reason: "stop".to_owned(),
        })
        .await?;
    outbox
        .event(EventKind::MessageAssistant { text: answer })
        .await
}

/// A model response made only of the script's tool calls, each decided by
/// the daemon before the answer comes.
async fn call_tools(
    start: &StartTurn,
    hub: &crate::mcp::Hub,
    request_id: String,
    decisions: &mut mpsc::UnboundedReceiver<agent::Decision>,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    outbox
        .event(EventKind::LlmRequestStarted {
            request_id: request_id.clone(),
            provider: PROVIDER.to_owned(),
            model: start.agent.model.clone(),
            params: params(&start.script),
        })
        .await?;
    outbox
        .event(EventKind::LlmResponseCompleted {
            request_id,
            usage: usage(&start.agent.system_prompt, &start.history, &start.input, ""),
            finish_reason: "tool_calls".to_owned(),
        })
        .await?;
    let tools = agent::Tools::for_turn(start, hub);
    for (index, scripted) in start.script.tool_calls.iter().enumerate() {
        let call = ToolCall {
            id: format!("call_{}", index + 1),
            name: scripted.name.clone(),
            arguments: scripted.arguments.clone(),
        };
        agent::tool_call(&call, &tools, decisions, outbox).await?;
    }
    Ok(())
}

/// Lets `fault` strike, if there is one, after flushing what was sent.
async fn strike(fault: Option<Fault>, request_id: &str, outbox: &Outbox) -> anyhow::Result<()> {
    match fault {
        Some(fault) => fault::strike(fault, request_id, outbox).await,
        None => Ok(()),
    }
}

/// Why `script` cannot be run, if it cannot.
///
/// Adds to [`Script::validate`] a bound on the derived answer's size.
pub fn check(script: &Script) -> Result<(), String> {
    script.validate()?;
    let derived = u64::from(script.chunks) * u64::from(script.chunk_chars);
    if script.answer.is_none() && derived > MAX_ANSWER_CHARS {
        return Err(format!(
            "script asks for an answer of {derived} characters; the limit is {MAX_ANSWER_CHARS}"
        ));
    }
    Ok(())
}

/// The number of the next model request: one more than the assistant
/// messages so far.
pub(crate) fn request_number(history: &[ChatMessage]) -> usize {
    history.iter().filter(|m| m.role == Role::Assistant).count() + 1
}

/// The request parameters as JSON text: the script's streaming settings.
pub fn params(script: &Script) -> String {
    serde_json::json!({
        "chunks": script.chunks,
        "chunk_chars": script.chunk_chars,
        "chunk_delay_ms": script.chunk_delay_ms,
        "fault": script.fault,
    })
    .to_string()
}

/// The answer: the script's fixed text, or one derived from `input` of
/// exactly `chunks * chunk_chars` characters.
pub fn answer(script: &Script, input: &str) -> String {
    match &script.answer {
        Some(text) => text.clone(),
        None => {
            let len = u64::from(script.chunks) * u64::from(script.chunk_chars);
            derived_answer(input, usize::try_from(len).unwrap_or(usize::MAX))
        }
    }
}

/// `len` characters of words picked by a PRNG seeded from `input`.
///
/// Words are ASCII, so characters and bytes coincide; the text is cut
/// mid-word at `len`.
fn derived_answer(input: &str, len: usize) -> String {
    let mut rng = SplitMix64(fnv1a(input.as_bytes()));
    let mut text = String::with_capacity(len + 16);
    while text.len() < len {
        if !text.is_empty() {
            text.push(' ');
        }
        let pick = rng.next() % WORDS.len() as u64;
        text.push_str(WORDS[usize::try_from(pick).unwrap_or(0)]);
    }
    text.truncate(len);
    text
}

/// 64-bit FNV-1a hash: a fixed, platform-independent seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The SplitMix64 generator: tiny, fast and good enough to pick words.
struct SplitMix64(u64);

impl SplitMix64 {
    /// The next pseudo-random number.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The script's chunk size in characters (at least 1).
fn chunk_chars(script: &Script) -> usize {
    usize::try_from(script.chunk_chars)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Splits `text` into pieces of `chars` characters (the last may be
/// shorter), always on character boundaries. Lazy, so a long answer is not
/// copied.
pub fn chunks(text: &str, chars: usize) -> impl Iterator<Item = &str> {
    let chars = chars.max(1);
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(chars)
            .map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// Token counts for the turn: words in (system prompt, history, input) and
/// words out, each at least 1.
pub fn usage(system_prompt: &str, history: &[ChatMessage], input: &str, answer: &str) -> Usage {
    let history_words: usize = history.iter().map(|m| words(&m.content)).sum();
    let input_tokens = words(system_prompt) + history_words + words(input);
    Usage {
        input_tokens: to_u64(input_tokens.max(1)),
        output_tokens: to_u64(words(answer).max(1)),
        ..Usage::default()
    }
}

/// Whitespace-separated words in `text`.
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// A count as `u64` (saturating; only 128-bit platforms could overflow).
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(chunks: u32, chunk_chars: u32) -> Script {
        Script {
            chunks,
            chunk_chars,
            ..Script::default()
        }
    }

    #[test]
    fn derived_answers_are_deterministic_and_exactly_sized() {
        let s = script(7, 11);
        let first = answer(&s, "hello there");
        assert_eq!(first, answer(&s, "hello there"));
        assert_eq!(first.chars().count(), 77);
        assert!(
            first
                .split_whitespace()
                .all(|w| WORDS.iter().any(|known| known.starts_with(w)))
        );
        assert_ne!(first, answer(&s, "hello there!"));
        assert_eq!(answer(&script(0, 16), "x"), "");
        assert_eq!(answer(&script(3, 1), "x").len(), 3);
    }

    #[test]
    fn derived_answers_do_not_change_between_versions() {
        // Recorded sessions, demos and other crates' tests rely on this text.
        assert_eq!(
            answer(&script(2, 16), "hi"),
            "step test its its answer a strea"
        );
    }

    #[test]
    fn a_fixed_answer_wins_over_the_derived_one() {
        let s = Script {
            answer: Some("fixed".to_owned()),
            ..script(5, 5)
        };
        assert_eq!(answer(&s, "anything"), "fixed");
    }

    #[test]
    fn chunks_split_on_character_boundaries() {
        let text = "héllo wörld ✓✓✓ 🦀";
        let pieces: Vec<&str> = chunks(text, 4).collect();
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces, ["héll", "o wö", "rld ", "✓✓✓ ", "🦀"]);
        assert!(pieces.iter().all(|p| p.chars().count() <= 4));
        assert_eq!(chunks("", 4).count(), 0);
        assert_eq!(chunks("abc", 3).collect::<Vec<_>>(), ["abc"]);
        assert_eq!(chunks("abc", 0).count(), 3, "a zero size is taken as 1");
    }

    #[test]
    fn usage_counts_words_in_and_out_with_a_minimum_of_one() {
        let history = [
            ChatMessage::text(Role::User, "one two"),
            ChatMessage::text(Role::Assistant, "three\nfour  five"),
        ];
        let u = usage("be  brief", &history, "six seven", "a b c");
        assert_eq!(u.input_tokens, 2 + 2 + 3 + 2);
        assert_eq!(u.output_tokens, 3);
        assert_eq!(u.cache_read_tokens + u.cache_creation_tokens, 0);
        assert_eq!(u.reasoning_tokens, 0);

        let empty = usage("", &[], " ", "");
        assert_eq!((empty.input_tokens, empty.output_tokens), (1, 1));
    }

    #[test]
    fn request_ids_count_earlier_assistant_messages() {
        assert_eq!(request_number(&[]), 1);
        let history = [
            ChatMessage::text(Role::User, "q1"),
            ChatMessage::text(Role::Assistant, "a1"),
            ChatMessage::text(Role::User, "q2"),
            ChatMessage::text(Role::Assistant, "a2"),
        ];
        assert_eq!(request_number(&history), 3);
    }

    #[test]
    fn params_are_json_with_the_streaming_settings() {
        let s = Script {
            fault: Some(Fault::Exit { code: 7 }),
            ..script(3, 4)
        };
        let value: serde_json::Value = serde_json::from_str(&params(&s)).unwrap();
        assert_eq!(value["chunks"], 3);
        assert_eq!(value["chunk_chars"], 4);
        assert_eq!(value["chunk_delay_ms"], s.chunk_delay_ms);
        assert_eq!(value["fault"], "exit:7");

        let none: serde_json::Value = serde_json::from_str(&params(&script(1, 1))).unwrap();
        assert!(none["fault"].is_null());
    }

    #[test]
    fn oversized_derived_answers_are_refused() {
        assert!(check(&script(20, 16)).is_ok());
        let err = check(&script(1_000_000, 1_000)).unwrap_err();
        assert!(err.contains("limit"), "{err}");
        let fixed = Script {
            answer: Some("short".to_owned()),
            ..script(1_000_000, 1_000)
        };
        assert!(check(&fixed).is_ok(), "a fixed answer is not derived");
        assert!(check(&script(1, 0)).is_err(), "validate still applies");
    }
}
