//! Adapters against in-test HTTP servers that send each provider's
//! documented stream byte for byte.

use std::time::Duration;

use protocol::ProviderKind;
use protocol::agent::Sampling;
use protocol::event::Usage;
use protocol::message::{ChatMessage, Role, ToolCall};
use protocol::worker::{Endpoint, ToolSpec};
use serde_json::json;
use test_support::fake_provider::{End, FakeProvider, Reply};

use super::*;

pub(crate) fn endpoint(server: &FakeProvider, path: &str) -> Endpoint {
    Endpoint {
        base_url: format!("{}{path}", server.base),
        api_key: Some("sk-test-key".to_owned()),
    }
}

pub(crate) fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".to_owned(),
        description: "Current weather in a city".to_owned(),
        parameters:
            r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#
                .to_owned(),
    }
}

pub(crate) async fn run(
    kind: ProviderKind,
    endpoint: &Endpoint,
    messages: &[ChatMessage],
    limits: Limits,
) -> (Result<Completion, ProviderError>, Vec<Delta>) {
    let tools = [weather_tool()];
    let request = ModelRequest {
        model: "test-model",
        system: "Be brief.",
        messages,
        tools: &tools,
        sampling: Sampling::default(),
    };
    let mut deltas = Vec::new();
    let mut collect = |d: &Delta| deltas.push(d.clone());
    let result = complete(kind, endpoint, &request, limits, &mut collect).await;
    (result, deltas)
}

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::text(Role::User, text)]
}

const QUICK: Limits = Limits {
    idle: Duration::from_millis(400),
};

mod openai {
    use super::*;

    // From the Chat Completions streaming documentation.
    const TEXT: &[&str] = &[
        r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}"#,
        r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":40,"total_tokens":1240,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":12,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        "data: [DONE]",
    ];

    const TOOLS: &[&str] = &[
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},"logprobs":null,"finish_reason":null}]}"#,
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}"#,
        r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}"#,
        "data: [DONE]",
    ];

    #[tokio::test]
    async fn text_streams_in_chunks_with_usage_at_the_end() {
        let server = FakeProvider::start(vec![Reply::sse_events(TEXT)]).await;
        let (result, deltas) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &user("hi"),
            QUICK,
        )
        .await;
        let completion = result.unwrap();
        assert_eq!(completion.text, "Hello there");
        assert_eq!(completion.finish_reason, "stop");
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 1200,
                output_tokens: 40,
                cache_read_tokens: 1024,
                cache_creation_tokens: 0,
                reasoning_tokens: 12,
            },
            "cached tokens stay inside input_tokens and are also counted apart, never added"
        );
        let texts: Vec<&Delta> = deltas
            .iter()
            .filter(|d| matches!(d, Delta::Text(_)))
            .collect();
        assert_eq!(
            texts,
            [&Delta::Text("Hello".into()), &Delta::Text(" there".into())]
        );

        let seen = server.seen();
        assert_eq!(seen[0].path, "/v1/chat/completions");
        assert_eq!(seen[0].headers["authorization"], "Bearer sk-test-key");
        assert_eq!(seen[0].body["stream"], true);
        assert_eq!(
            seen[0].body["stream_options"],
            json!({ "include_usage": true })
        );
        assert_eq!(
            seen[0].body["messages"],
            json!([{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "hi" }])
        );
        assert_eq!(seen[0].body["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(
            seen[0].body["tools"][0]["function"]["parameters"]["required"],
            json!(["city"])
        );
    }

    #[tokio::test]
    async fn tool_calls_arrive_in_fragments_and_are_assembled() {
        let server = FakeProvider::start(vec![Reply::sse_events(TOOLS)]).await;
        let (result, _) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &user("weather?"),
            QUICK,
        )
        .await;
        let completion = result.unwrap();
        assert_eq!(completion.finish_reason, "tool_calls");
        assert_eq!(
            completion.tool_calls,
            [
                ToolCall {
                    id: "call_DdmO9pD3xa9XTPNJ32zg2hcA".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city": "Paris"}"#.into(),
                },
                ToolCall {
                    id: "call_2".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Oslo"}"#.into(),
                },
            ]
        );
        assert_eq!(completion.usage.input_tokens, 82);
    }

    #[tokio::test]
    async fn tool_results_go_back_in_openais_format() {
        let server = FakeProvider::start(vec![Reply::sse_events(TEXT)]).await;
        let history = vec![
            ChatMessage::text(Role::User, "weather in Paris?"),
            ChatMessage {
                role: Role::Assistant,
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                }],
                tool_call_id: None,
            },
            ChatMessage {
                role: Role::Tool,
                content: "18°C, sunny".into(),
                tool_calls: Vec::new(),
                tool_call_id: Some("call_1".into()),
            },
        ];
        let (result, _) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &history,
            QUICK,
        )
        .await;
        assert_eq!(result.unwrap().text, "Hello there");
        let messages = &server.seen()[0].body["messages"];
        assert_eq!(
            messages[2],
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }]
            })
        );
        assert_eq!(
            messages[3],
            json!({ "role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny" })
        );
    }

    #[tokio::test]
    async fn error_answers_carry_the_providers_message() {
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let server = FakeProvider::start(vec![Reply::error(401, body)]).await;
        let (result, _) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &user("hi"),
            QUICK,
        )
        .await;
        let err = result.unwrap_err();
        assert!(!err.retryable());
        assert!(
            err.to_string()
                .starts_with("openai answered 401: Incorrect API key provided"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn rate_limits_are_retryable_after_the_time_asked() {
        let body = r#"{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","code":"rate_limit_exceeded"}}"#;
        let server =
            FakeProvider::start(vec![Reply::error(429, body).header("retry-after", "3")]).await;
        let (result, _) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &user("hi"),
            QUICK,
        )
        .await;
        let err = result.unwrap_err();
        assert!(err.retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    }

    #[tokio::test]
    async fn a_cut_connection_and_a_stalled_stream_are_retryable_errors() {
        let server = FakeProvider::start(vec![
            Reply::sse_events(&TEXT[..2]).ending(End::Cut),
            Reply::sse_events(&TEXT[..2]).ending(End::Stall),
            Reply::sse_events(&TEXT[..2]),
        ])
        .await;
        let endpoint = endpoint(&server, "/v1");
        let (cut, _) = run(ProviderKind::OpenAi, &endpoint, &user("hi"), QUICK).await;
        let cut = cut.unwrap_err();
        assert!(matches!(cut, ProviderError::Connection { .. }), "{cut:?}");
        let (stalled, _) = run(ProviderKind::OpenAi, &endpoint, &user("hi"), QUICK).await;
        let stalled = stalled.unwrap_err();
        assert!(
            matches!(stalled, ProviderError::Stalled { .. }),
            "{stalled:?}"
        );
        let (ended, _) = run(ProviderKind::OpenAi, &endpoint, &user("hi"), QUICK).await;
        assert!(
            matches!(ended.unwrap_err(), ProviderError::Truncated { .. }),
            "no [DONE]: incomplete"
        );
        assert!(cut.retryable() && stalled.retryable());
    }

    #[tokio::test]
    async fn garbage_in_the_stream_is_a_clear_error() {
        let server = FakeProvider::start(vec![Reply::sse_events(&["data: {not json"])]).await;
        let (result, _) = run(
            ProviderKind::OpenAi,
            &endpoint(&server, "/v1"),
            &user("hi"),
            QUICK,
        )
        .await;
        let err = result.unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
        assert!(
            err.to_string().contains("cannot read openai's response"),
            "{err}"
        );
    }
}

/// A conversation with one answered tool call, to check each provider's format for results.
fn tool_round_trip() -> Vec<ChatMessage> {
    vec![
        ChatMessage::text(Role::User, "weather in Paris?"),
        ChatMessage {
            role: Role::Assistant,
            content: "Let me check.".into(),
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }],
            tool_call_id: None,
        },
        ChatMessage {
            role: Role::Tool,
            content: "18°C, sunny".into(),
            tool_calls: Vec::new(),
            tool_call_id: Some("call_1".into()),
        },
    ]
}

/// Named server-sent events (`event:` and `data:` lines).
fn named(events: &[(&str, &str)]) -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type", "text/event-stream".to_owned())],
        chunks: events
            .iter()
            .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
            .collect(),
        end: End::Close,
    }
}

mod anthropic {
    use super::*;

    // From the Messages streaming documentation.
    fn text_and_tool() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000},"content":[],"stop_reason":null}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type": "ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let's check"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the weather."}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"San"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" Francisco\"}"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":1}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ]
    }

    #[tokio::test]
    async fn text_and_a_fragmented_tool_call_stream_with_cache_usage() {
        let server = FakeProvider::start(vec![named(&text_and_tool())]).await;
        let (result, deltas) = run(
            ProviderKind::Anthropic,
            &endpoint(&server, ""),
            &user("weather?"),
            QUICK,
        )
        .await;
        let completion = result.unwrap();
        assert_eq!(completion.text, "Okay, let's check the weather.");
        assert_eq!(completion.finish_reason, "tool_calls");
        assert_eq!(
            completion.tool_calls,
            [ToolCall {
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into(),
                arguments: r#"{"city": "San Francisco"}"#.into(),
            }]
        );
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 472 + 100 + 2000,
                output_tokens: 89,
                cache_read_tokens: 2000,
                cache_creation_tokens: 100,
                reasoning_tokens: 0,
            },
            "Anthropic counts cache apart; the total input includes it once"
        );
        assert_eq!(
            deltas
                .iter()
                .filter(|d| matches!(d, Delta::Text(_)))
                .count(),
            2
        );
        let seen = &server.seen()[0];
        assert_eq!(seen.path, "/v1/messages");
        assert_eq!(seen.headers["x-api-key"], "sk-test-key");
        assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
        assert_eq!(seen.body["system"], "Be brief.");
        assert_eq!(seen.body["stream"], true);
        assert_eq!(
            seen.body["tools"][0]["input_schema"]["required"],
            json!(["city"])
        );
    }

    #[tokio::test]
    async fn tool_results_go_back_as_tool_result_blocks() {
        let reply = named(&[
            (
                "message_start",
                r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"It is 18°C."}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ]);
        let server = FakeProvider::start(vec![reply]).await;
        let (result, _) = run(
            ProviderKind::Anthropic,
            &endpoint(&server, ""),
            &tool_round_trip(),
            QUICK,
        )
        .await;
        let completion = result.unwrap();
        assert_eq!(
            (completion.text.as_str(), completion.finish_reason.as_str()),
            ("It is 18°C.", "stop")
        );
        let messages = &server.seen()[0].body["messages"];
        assert_eq!(
            messages[1],
            json!({ "role": "assistant", "content": [
                { "type": "text", "text": "Let me check." },
                { "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "city": "Paris" } }
            ]})
        );
        assert_eq!(
            messages[2],
            json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "call_1", "content": "18°C, sunny" }] })
        );
    }

    #[tokio::test]
    async fn errors_before_and_during_the_stream_are_reported() {
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let server = FakeProvider::start(vec![
            Reply::error(529, overloaded),
            named(&[
                (
                    "message_start",
                    r#"{"type":"message_start","message":{"usage":{}}}"#,
                ),
                ("error", overloaded),
            ]),
            named(&text_and_tool()[..4]),
        ])
        .await;
        let endpoint = endpoint(&server, "");
        let (status, _) = run(ProviderKind::Anthropic, &endpoint, &user("hi"), QUICK).await;
        let status = status.unwrap_err();
        assert!(status.retryable());
        assert_eq!(status.to_string(), "anthropic answered 529: Overloaded");
        let (in_stream, _) = run(ProviderKind::Anthropic, &endpoint, &user("hi"), QUICK).await;
        assert_eq!(
            in_stream.unwrap_err().to_string(),
            "anthropic reported an error mid-stream: Overloaded"
        );
        let (truncated, _) = run(ProviderKind::Anthropic, &endpoint, &user("hi"), QUICK).await;
        assert!(
            matches!(truncated.unwrap_err(), ProviderError::Truncated { .. }),
            "no message_stop"
        );
    }
}

mod gemini {
    use super::*;

    // From the streamGenerateContent (alt=sse) documentation.
    const TEXT: &[&str] = &[
        r#"data: {"candidates": [{"content": {"parts": [{"text": "The sky"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.5-flash"}"#,
        r#"data: {"candidates": [{"content": {"parts": [{"text": " is blue."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 5,"totalTokenCount": 34,"cachedContentTokenCount": 4,"thoughtsTokenCount": 20},"modelVersion": "gemini-2.5-flash"}"#,
    ];

    #[tokio::test]
    async fn text_streams_and_the_key_stays_out_of_the_url() {
        let server = FakeProvider::start(vec![Reply::sse_events(TEXT)]).await;
        let (result, _) = run(
            ProviderKind::Gemini,
            &endpoint(&server, "/v1beta"),
            &user("why?"),
            QUICK,
        )
        .await;
        let completion = result.unwrap();
        assert_eq!(completion.text, "The sky is blue.");
        assert_eq!(completion.finish_reason, "stop");
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 9,
                output_tokens: 25,
                cache_read_tokens: 4,
                cache_creation_tokens: 0,
                reasoning_tokens: 20,
            },
            "thinking tokens count as output and are also kept apart"
        );
        let seen = &server.seen()[0];
        assert_eq!(
            seen.path,
            "/v1beta/models/test-model:streamGenerateContent?alt=sse"
        );
        assert!(
            !seen.path.contains("key"),
            "the key is a header, never in the URL"
        );
        assert_eq!(seen.headers["x-goog-api-key"], "sk-test-key");
        assert_eq!(
            seen.body["systemInstruction"],
            json!({ "parts": [{ "text": "Be brief." }] })
        );
        assert_eq!(
            seen.body["tools"][0]["functionDeclarations"][0]["name"],
            "get_weather"
        );
    }

    #[tokio::test]
    async fn function_calls_become_tool_calls_and_results_function_responses() {
        let call = r#"data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris"}}}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 30,"candidatesTokenCount": 6,"totalTokenCount": 36}}"#;
        let server =
            FakeProvider::start(vec![Reply::sse_events(&[call]), Reply::sse_events(TEXT)]).await;
        let endpoint = endpoint(&server, "/v1beta");
        let (result, _) = run(ProviderKind::Gemini, &endpoint, &user("weather?"), QUICK).await;
        let completion = result.unwrap();
        assert_eq!(completion.finish_reason, "tool_calls");
        assert_eq!(
            completion.tool_calls,
            [ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }]
        );
        let (result, _) = run(ProviderKind::Gemini, &endpoint, &tool_round_trip(), QUICK).await;
        result.unwrap();
        let contents = &server.seen()[1].body["contents"];
        assert_eq!(
            contents[1],
            json!({ "role": "model", "parts": [{ "text": "Let me check." }, { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } } }] })
        );
        assert_eq!(
            contents[2],
            json!({ "role": "user", "parts": [{ "functionResponse": { "name": "get_weather", "response": { "result": "18°C, sunny" } } }] })
        );
    }

    #[tokio::test]
    async fn errors_and_unfinished_streams_are_reported() {
        let body = r#"{"error": {"code": 400,"message": "API key not valid. Please pass a valid API key.","status": "INVALID_ARGUMENT"}}"#;
        let server =
            FakeProvider::start(vec![Reply::error(400, body), Reply::sse_events(&TEXT[..1])]).await;
        let endpoint = endpoint(&server, "/v1beta");
        let (invalid, _) = run(ProviderKind::Gemini, &endpoint, &user("hi"), QUICK).await;
        let invalid = invalid.unwrap_err();
        assert!(!invalid.retryable());
        assert_eq!(
            invalid.to_string(),
            "gemini answered 400: API key not valid. Please pass a valid API key."
        );
        let (unfinished, _) = run(ProviderKind::Gemini, &endpoint, &user("hi"), QUICK).await;
        assert!(
            matches!(unfinished.unwrap_err(), ProviderError::Truncated { .. }),
            "no finishReason"
        );
    }
}

mod ollama {
    use super::*;

    fn ndjson(lines: &[&str]) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type", "application/x-ndjson".to_owned())],
            chunks: lines.iter().map(|l| format!("{l}\n")).collect(),
            end: End::Close,
        }
    }

    // From the /api/chat streaming documentation.
    const TEXT: &[&str] = &[
        r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}"#,
        r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}"#,
        r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#,
    ];

    #[tokio::test]
    async fn text_streams_as_lines_with_counts_at_the_end() {
        let server = FakeProvider::start(vec![ndjson(TEXT)]).await;
        let mut endpoint = endpoint(&server, "");
        endpoint.api_key = None;
        let (result, _) = run(ProviderKind::Ollama, &endpoint, &user("why?"), QUICK).await;
        let completion = result.unwrap();
        assert_eq!(completion.text, "The sky");
        assert_eq!(completion.finish_reason, "stop");
        assert_eq!(
            (
                completion.usage.input_tokens,
                completion.usage.output_tokens
            ),
            (26, 282)
        );
        let seen = &server.seen()[0];
        assert_eq!(seen.path, "/api/chat");
        assert!(seen.headers.get("authorization").is_none());
        assert_eq!(
            seen.body["messages"][0],
            json!({ "role": "system", "content": "Be brief." })
        );
    }

    #[tokio::test]
    async fn tool_calls_and_results_use_ollamas_shapes() {
        let call = r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Toronto"}}}]},"done":false}"#;
        let done = r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":90,"eval_count":20}"#;
        let server = FakeProvider::start(vec![ndjson(&[call, done]), ndjson(TEXT)]).await;
        let endpoint = endpoint(&server, "");
        let (result, _) = run(ProviderKind::Ollama, &endpoint, &user("weather?"), QUICK).await;
        let completion = result.unwrap();
        assert_eq!(completion.finish_reason, "tool_calls");
        assert_eq!(completion.tool_calls[0].name, "get_weather");
        assert_eq!(completion.tool_calls[0].arguments, r#"{"city":"Toronto"}"#);
        let (result, _) = run(ProviderKind::Ollama, &endpoint, &tool_round_trip(), QUICK).await;
        result.unwrap();
        let messages = &server.seen()[1].body["messages"];
        assert_eq!(
            messages[2]["tool_calls"][0],
            json!({ "function": { "name": "get_weather", "arguments": { "city": "Paris" } } })
        );
        assert_eq!(
            messages[3],
            json!({ "role": "tool", "content": "18°C, sunny", "tool_name": "get_weather" })
        );
    }

    #[tokio::test]
    async fn errors_in_the_body_or_the_stream_are_reported() {
        let server = FakeProvider::start(vec![
            Reply::error(
                404,
                r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            ),
            ndjson(&[TEXT[0], r#"{"error":"an unexpected error occurred"}"#]),
            ndjson(&TEXT[..2]),
        ])
        .await;
        let endpoint = endpoint(&server, "");
        let (missing, _) = run(ProviderKind::Ollama, &endpoint, &user("hi"), QUICK).await;
        assert_eq!(
            missing.unwrap_err().to_string(),
            r#"ollama answered 404: model "llama9" not found, try pulling it first"#
        );
        let (in_stream, _) = run(ProviderKind::Ollama, &endpoint, &user("hi"), QUICK).await;
        assert!(matches!(
            in_stream.unwrap_err(),
            ProviderError::InStream { .. }
        ));
        let (truncated, _) = run(ProviderKind::Ollama, &endpoint, &user("hi"), QUICK).await;
        assert!(
            matches!(truncated.unwrap_err(), ProviderError::Truncated { .. }),
            "no done line"
        );
    }
}

mod models {
    use super::*;

    fn json_reply(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            chunks: vec![body.to_owned()],
            end: End::Close,
        }
    }

    #[tokio::test]
    async fn each_providers_model_list_is_read_from_its_own_endpoint() {
        let openai = r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1686935002,"owned_by":"openai"},{"id":"gpt-4o","object":"model","created":1686935002,"owned_by":"openai"}]}"#;
        let anthropic = r#"{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}"#;
        let gemini = r#"{"models":[{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent","countTokens"]},{"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]}]}"#;
        let ollama = r#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189}]}"#;
        let server = FakeProvider::start(vec![
            json_reply(openai),
            json_reply(anthropic),
            json_reply(gemini),
            json_reply(ollama),
            Reply::error(401, r#"{"error":{"message":"Incorrect API key provided"}}"#),
        ])
        .await;
        let cases = [
            (ProviderKind::OpenAi, "/v1", vec!["gpt-4o", "gpt-4o-mini"]),
            (ProviderKind::Anthropic, "", vec!["claude-sonnet-4-5"]),
            (ProviderKind::Gemini, "/v1beta", vec!["gemini-2.5-flash"]),
            (ProviderKind::Ollama, "", vec!["llama3.2:latest"]),
        ];
        for (kind, path, expected) in cases {
            let models = list_models(kind, &endpoint(&server, path)).await.unwrap();
            assert_eq!(models, expected, "{kind}");
        }
        let seen = server.seen();
        let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths[..4],
            [
                "/v1/models",
                "/v1/models?limit=1000",
                "/v1beta/models?pageSize=1000",
                "/api/tags"
            ]
        );
        assert_eq!(seen[0].headers["authorization"], "Bearer sk-test-key");
        assert_eq!(seen[1].headers["x-api-key"], "sk-test-key");
        assert_eq!(seen[2].headers["x-goog-api-key"], "sk-test-key");
        let err = list_models(ProviderKind::OpenAi, &endpoint(&server, "/v1"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "openai answered 401: Incorrect API key provided"
        );
    }
}

#[tokio::test]
async fn dotted_tool_names_travel_as_double_underscores_and_come_back() {
    let reply = Reply::sse_events(&[
        r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"fs__read","arguments":"{\"path\":\"a\"}"}}]},"finish_reason":"tool_calls"}]}"#,
        "data: [DONE]",
    ]);
    let server = FakeProvider::start(vec![reply]).await;
    let tools = [ToolSpec {
        name: "fs.read".to_owned(),
        description: "read".to_owned(),
        parameters: "{}".to_owned(),
    }];
    let history = vec![
        ChatMessage::text(Role::User, "read a"),
        ChatMessage {
            role: Role::Assistant,
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "c0".into(),
                name: "fs.list".into(),
                arguments: "{}".into(),
            }],
            tool_call_id: None,
        },
    ];
    let request = ModelRequest {
        model: "m",
        system: "",
        messages: &history,
        tools: &tools,
        sampling: Sampling::default(),
    };
    let completion = complete(
        ProviderKind::OpenAi,
        &endpoint(&server, "/v1"),
        &request,
        QUICK,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(completion.tool_calls[0].name, "fs.read");
    let body = &server.seen()[0].body;
    assert_eq!(body["tools"][0]["function"]["name"], "fs__read");
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["name"],
        "fs__list"
    );
}

#[test]
fn sampling_is_sent_in_each_providers_own_fields_and_only_when_set() {
    let history = user("hi");
    let request = |sampling| ModelRequest {
        model: "m",
        system: "",
        messages: &history,
        tools: &[],
        sampling,
    };
    let set = request(Sampling {
        temperature: Some(0.25),
        top_p: Some(0.5),
        max_output_tokens: Some(300),
    });
    let openai = super::openai::body(&set);
    assert_eq!(
        (
            &openai["temperature"],
            &openai["top_p"],
            &openai["max_completion_tokens"]
        ),
        (&json!(0.25), &json!(0.5), &json!(300))
    );
    let anthropic = super::anthropic::body(&set);
    assert_eq!(
        (
            &anthropic["temperature"],
            &anthropic["top_p"],
            &anthropic["max_tokens"]
        ),
        (&json!(0.25), &json!(0.5), &json!(300)),
        "the agent's maximum replaces the default one"
    );
    assert_eq!(
        super::gemini::body(&set)["generationConfig"],
        json!({ "temperature": 0.25, "topP": 0.5, "maxOutputTokens": 300 })
    );
    assert_eq!(
        super::ollama::body(&set)["options"],
        json!({ "temperature": 0.25, "top_p": 0.5, "num_predict": 300 })
    );

    // Unset: nothing is sent, so each provider keeps its default (but
    // Anthropic, whose API requires a maximum).
    let unset = request(Sampling::default());
    let openai = super::openai::body(&unset);
    for field in ["temperature", "top_p", "max_completion_tokens"] {
        assert!(openai.get(field).is_none(), "{field}: {openai}");
    }
    assert!(super::anthropic::body(&unset)["max_tokens"].is_u64());
    assert!(
        super::gemini::body(&unset)
            .get("generationConfig")
            .is_none()
    );
    assert!(super::ollama::body(&unset).get("options").is_none());
    let no_endpoint = Endpoint {
        base_url: String::new(),
        api_key: None,
    };
    let described: serde_json::Value =
        serde_json::from_str(&describe(ProviderKind::OpenAi, &no_endpoint, &set))
            .unwrap_or_default();
    assert_eq!(
        (
            &described["temperature"],
            &described["top_p"],
            &described["max_output_tokens"]
        ),
        (&json!(0.25), &json!(0.5), &json!(300)),
        "llm.request.started records them"
    );
}
