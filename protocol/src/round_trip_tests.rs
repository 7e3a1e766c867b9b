//! Every message that crosses a process boundary survives the codec.
//!
//! The sample lists are checked against exhaustive matches, so adding a
//! variant without a sample here fails to compile.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::{AgentConfig, Budgets, Fault, ProviderKind, SafetyMode, ScriptPatch};
use crate::approval::{ApprovalRule, AskPolicy, PendingApproval, RuleDecision, RuleMatch};
use crate::codec::{encode_frame, read_frame};
use crate::control::*;
use crate::event::*;
use crate::handshake::{Hello, HelloReply, PeerRole};
use crate::mcp::{McpServerConfig, McpTransport};
use crate::message::{ChatMessage, Role, ToolCall};
use crate::sandbox::{Confinement, Network, SessionContainment};
use crate::secret::Secret;
use crate::worker::{Endpoint, FromWorker, StartTurn, ToWorker, ToolSpec, TurnOutcome};
use crate::{SessionId, Timestamp};

async fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let frame = encode_frame(value).unwrap();
    let mut reader = &frame[..];
    let back: Option<T> = read_frame(&mut reader, &mut Vec::new()).await.unwrap();
    assert_eq!(back.as_ref(), Some(value));
    assert!(reader.is_empty(), "the frame was consumed exactly");
}

fn id() -> SessionId {
    SessionId::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0042)
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn event_kinds() -> Vec<EventKind> {
    vec![
        EventKind::SessionStarted {
            pid: 7,
            agent: s("a"),
            provider: s("scripted"),
            model: s("m"),
        },
        EventKind::SessionResumed { pid: 8 },
        EventKind::SessionIdle {
            error: Some(s("no endpoint")),
        },
        EventKind::SessionCompleted,
        EventKind::SessionFailed { error: s("boom") },
        EventKind::SessionCancelled {
            reason: StopReason::Budget,
            forced: true,
        },
        EventKind::SessionKilled {
            reason: StopReason::Cluster,
        },
        EventKind::SessionCrashed {
            exit: ExitInfo {
                code: None,
                signal: Some(6),
            },
            detail: s("abort"),
        },
        EventKind::SessionInterrupted,
        EventKind::MessageUser {
            text: s("héllo ✓")
        },
        EventKind::MessageAssistant { text: s("hi") },
        EventKind::LlmRequestStarted {
            request_id: s("r1"),
            provider: s("openai"),
            model: s("gpt"),
            params: s("{\"temperature\":0.2}"),
        },
        EventKind::LlmResponseChunk {
            request_id: s("r1"),
            text: s("chunk"),
        },
        EventKind::LlmResponseCompleted {
            request_id: s("r1"),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 20,
                cache_read_tokens: 3,
                cache_creation_tokens: 4,
                reasoning_tokens: 5,
            },
            finish_reason: s("stop"),
        },
        EventKind::LlmError {
            request_id: s("r1"),
            message: s("429"),
            will_retry: true,
        },
        EventKind::ToolRequested {
            call_id: s("c"),
            tool: s("fs.read"),
            arguments: s("{}"),
        },
        EventKind::ToolApprovalRequested { call_id: s("c") },
        EventKind::ToolApprovalPending {
            call_id: s("c"),
            approval: 7,
            expires_at: Timestamp(99),
        },
        EventKind::ToolApproved {
            call_id: s("c"),
            by: Decider::Rule { id: s("r") },
        },
        EventKind::ToolDenied {
            call_id: s("c"),
            by: Decider::Timeout,
            reason: s("no answer"),
        },
        EventKind::ToolStartedLegacy { call_id: s("c") },
        EventKind::ToolStarted {
            call_id: s("c"),
            confinement: Confinement {
                mode: SafetyMode::WorkspaceWrite,
                confined: true,
                writable: vec![s("/ws"), s("/tmp/t")],
                network: Network::Off,
                missing: vec![s("landlock")],
            },
        },
        EventKind::SessionContained {
            containment: SessionContainment {
                pid_namespace: true,
                cgroup: Some(s("cgroup v1")),
                missing: Vec::new(),
            },
        },
        EventKind::ReplayDiverged {
            step: 3,
            what: s("the system prompt differs from the recorded one"),
        },
        EventKind::CheckResult {
            outcome: crate::checks::CheckOutcome {
                check: s("contains \"Paris\""),
                passed: false,
                detail: s("not in the answer"),
            },
        },
        EventKind::WorkspaceCreated {
            workspace: crate::workspace::RunWorkspace {
                origin: s("/repo"),
                path: s("/ws/.runs/0191"),
                subdir: s("app"),
                kind: crate::workspace::WorkspaceKind::Worktree {
                    branch: s("studio/run-abcd1234"),
                },
                git_dir: s("/repo/.git/worktrees/0191"),
                base: s("4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
            },
        },
        EventKind::CheckJudged {
            agent: s("critic"),
            provider: s("openai"),
            model: s("gpt-4.1"),
            score: Some(8),
            reason: s("correct and clear"),
            usage: Usage {
                input_tokens: 300,
                output_tokens: 12,
                ..Usage::default()
            },
        },
        EventKind::CheckCommandRan {
            command: s("cargo test"),
            exit_code: Some(101),
            output: s("test result: FAILED"),
        },
        EventKind::WorkspaceSetup {
            command: s("npm ci"),
            exit_code: Some(0),
            output: s("added 3 packages"),
        },
        EventKind::WorkspaceChanged {
            changes: crate::workspace::Changes::of(vec![crate::workspace::FileChange {
                path: s("src/main.rs"),
                added: 3,
                removed: 1,
                binary: false,
            }]),
            result: s("9d1dcfdaf1a6857c5f83dc27019c7600e1ffaff8"),
        },
        EventKind::ToolCompleted {
            call_id: s("c"),
            output: s("ok"),
            truncated: false,
        },
        EventKind::ToolError {
            call_id: s("c"),
            message: s("ENOENT"),
        },
        EventKind::McpServerStarted {
            server: s("fs"),
            tools: 3,
        },
        EventKind::McpToolsSkipped {
            server: s("everything"),
            tools: vec![s(
                "\"a b\": providers accept only letters, digits, '_', '-' and '.'",
            )],
            count: 3,
        },
        EventKind::McpServerFailed {
            server: s("fs"),
            message: s("spawn"),
        },
        EventKind::McpServerExited { server: s("fs") },
        EventKind::PluginLoaded(Box::new(crate::event::PluginLoad {
            plugin: s("tracker"),
            version: s("1.0.0"),
            sha256: s("88e8466a8d49dc59da2a02371f19066ff4a7699f499efabf819100dc59597447"),
            servers: vec![s("tracker")],
            granted: vec![s("reach any host on the network")],
            rules: vec![s("tracker.list_issues allow (plugin:tracker#1)")],
            left_out: vec![s(
                "shell allow: a plugin's rule may match only its own servers' tools",
            )],
        })),
        EventKind::AppView(Box::new(crate::app_view::AppView {
            call_id: Some(s("c9")),
            server: s("tracker"),
            uri: s("ui://tracker/issues"),
            title: s("list_issues"),
            html: s("<!doctype html><p>issues</p>"),
            csp: crate::app_view::AppCsp {
                connect_domains: vec![s("https://api.example.com")],
                resource_domains: Vec::new(),
                frame_domains: Vec::new(),
                base_uri_domains: Vec::new(),
            },
            prefers_border: true,
            result: s("{\"content\":[]}"),
        })),
        EventKind::AppViewRefused {
            call_id: None,
            server: s("tracker"),
            uri: s("ui://tracker/big"),
            reason: s("larger than 512 KiB"),
        },
        EventKind::AppCallAsked {
            call_id: s("app-1"),
            tool: s("tracker.create_issue"),
            uri: s("ui://tracker/issues"),
        },
        EventKind::SandboxConnect {
            server: s("tracker"),
            target: s("127.0.0.1:443"),
            refused: Some(s("not a granted host")),
        },
        EventKind::SessionPlaced {
            launcher: crate::launch::Launcher::Slurm {
                partition: Some(s("studio")),
            },
            job: s("4242"),
        },
        EventKind::RunQueued,
        EventKind::RunStarted { queued_ms: 12 },
        EventKind::BudgetExceeded {
            budget: BudgetKind::Memory,
            limit: 64.0,
            observed: 70.5,
        },
        EventKind::WorkerStats {
            rss_bytes: 1,
            peak_rss_bytes: 2,
            cpu_ms: 3,
        },
        EventKind::LlmCost {
            request_id: s("r1"),
            model: s("gpt-4o-mini"),
            usd: Some(0.0042),
            pricing_version: 1,
        },
    ]
}

/// Index of a variant; exhaustive, so a new variant must be added here.
fn event_variant(kind: &EventKind) -> usize {
    match kind {
        EventKind::SessionStarted { .. } => 0,
        EventKind::SessionResumed { .. } => 1,
        EventKind::SessionIdle { .. } => 2,
        EventKind::SessionCompleted => 3,
        EventKind::SessionFailed { .. } => 4,
        EventKind::SessionCancelled { .. } => 5,
        EventKind::SessionKilled { .. } => 6,
        EventKind::SessionCrashed { .. } => 7,
        EventKind::SessionInterrupted => 8,
        EventKind::MessageUser { .. } => 9,
        EventKind::MessageAssistant { .. } => 10,
        EventKind::LlmRequestStarted { .. } => 11,
        EventKind::LlmResponseChunk { .. } => 12,
        EventKind::LlmResponseCompleted { .. } => 13,
        EventKind::LlmError { .. } => 14,
        EventKind::ToolRequested { .. } => 15,
        EventKind::ToolApprovalRequested { .. } => 16,
        EventKind::ToolApproved { .. } => 17,
        EventKind::ToolDenied { .. } => 18,
        EventKind::ToolStartedLegacy { .. } => 19,
        EventKind::ToolCompleted { .. } => 20,
        EventKind::ToolError { .. } => 21,
        EventKind::McpServerStarted { .. } => 22,
        EventKind::McpServerFailed { .. } => 23,
        EventKind::McpToolsSkipped { .. } => 31,
        EventKind::McpServerExited { .. } => 24,
        EventKind::RunQueued => 25,
        EventKind::RunStarted { .. } => 26,
        EventKind::BudgetExceeded { .. } => 27,
        EventKind::WorkerStats { .. } => 28,
        EventKind::LlmCost { .. } => 29,
        EventKind::ToolApprovalPending { .. } => 30,
        EventKind::ToolStarted { .. } => 32,
        EventKind::SessionContained { .. } => 33,
        EventKind::ReplayDiverged { .. } => 34,
        EventKind::CheckResult { .. } => 35,
        EventKind::WorkspaceCreated { .. } => 36,
        EventKind::WorkspaceSetup { .. } => 37,
        EventKind::WorkspaceChanged { .. } => 38,
        EventKind::CheckCommandRan { .. } => 39,
        EventKind::CheckJudged { .. } => 40,
        EventKind::PluginLoaded(_) => 41,
        EventKind::AppView(_) => 42,
        EventKind::AppViewRefused { .. } => 43,
        EventKind::AppCallAsked { .. } => 44,
        EventKind::SandboxConnect { .. } => 45,
        EventKind::SessionPlaced { .. } => 46,
    }
}

#[test]
fn every_event_variant_has_a_sample_and_a_distinct_name() {
    let kinds = event_kinds();
    let mut variants: Vec<usize> = kinds.iter().map(event_variant).collect();
    variants.sort_unstable();
    assert_eq!(variants, (0..47).collect::<Vec<_>>());
    let mut names: Vec<&str> = kinds.iter().map(EventKind::name).collect();
    names.sort_unstable();
    names.dedup();
    // `tool.started` has two shapes: today's and the one older logs hold.
    assert_eq!(names.len(), kinds.len() - 1);
}

#[test]
fn the_plans_event_names_all_exist() {
    let names: Vec<&str> = event_kinds().iter().map(EventKind::name).collect();
    for required in [
        "session.started",
        "session.resumed",
        "session.idle",
        "session.completed",
        "session.failed",
        "session.cancelled",
        "session.killed",
        "session.crashed",
        "session.interrupted",
        "message.user",
        "message.assistant",
        "llm.request.started",
        "llm.response.chunk",
        "llm.response.completed",
        "llm.error",
        "tool.requested",
        "tool.approval.requested",
        "tool.approved",
        "tool.denied",
        "tool.started",
        "tool.completed",
        "tool.error",
        "budget.exceeded",
        "worker.stats",
    ] {
        assert!(names.contains(&required), "{required} is missing");
    }
    for prefix in ["mcp.", "run."] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no {prefix}* event"
        );
    }
}

#[tokio::test]
async fn every_event_round_trips() {
    for (seq, kind) in event_kinds().into_iter().enumerate() {
        round_trip(&Event {
            session: id(),
            seq: seq as u64 + 1,
            at: Timestamp(123),
            kind,
        })
        .await;
    }
}

#[tokio::test]
async fn every_decider_round_trips() {
    for by in [
        Decider::Rule { id: s("r1") },
        Decider::User,
        Decider::RunPolicy,
        Decider::Timeout,
        Decider::UserAlways,
    ] {
        round_trip(&EventKind::ToolApproved {
            call_id: s("c"),
            by,
        })
        .await;
    }
}

fn agent() -> AgentConfig {
    let mut agent = AgentConfig::scripted("a");
    agent.display_name = s("Code Helper ✨");
    agent.tools = vec![s("shell")];
    agent.budgets = Budgets {
        max_cost_usd: Some(0.5),
        max_turns: Some(3),
        ..Budgets::default()
    };
    agent.script.fault = Some(Fault::Flood { events: 9 });
    agent.workspace_per_run = Some(crate::workspace::WorkspacePerRun {
        setup: Some(s("npm ci")),
    });
    agent.on = Some(crate::launch::Launcher::Slurm {
        partition: Some(s("gpu")),
    });
    agent
}

fn summary() -> SessionSummary {
    SessionSummary {
        id: id(),
        agent: s("a"),
        label: Some(s("l")),
        title: s("What is the weather in Paris?"),
        status: SessionStatus::Running,
        pid: Some(9),
        rss_bytes: Some(1 << 20),
        events: 4,
        created_at: Timestamp(1),
        started_at: Some(Timestamp(2)),
        ended_at: None,
        parent: Some(id()),
        branched_at: Some(12),
        interactive: true,
        totals: Some(SessionTotals {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Usage::default()
            },
            cost_usd: 0.25,
            unpriced: 1,
        }),
        estimated: crate::control::Estimated {
            usage: Usage {
                input_tokens: 7,
                output_tokens: 3,
                ..Usage::default()
            },
            cost_usd: 0.5,
            unpriced: true,
        },
        waiting: Some(crate::control::Waiting {
            calls: 2,
            since: Timestamp(4),
            decided_by: Timestamp(5),
        }),
        batch: Some(id()),
        last_activity: Timestamp(3),
        damage: Some(s("events record x #3 does not decode: bad")),
        job: Some(s("4242")),
    }
}

fn rule_match() -> RuleMatch {
    "shell:command=git *".parse().unwrap()
}

fn rule() -> ApprovalRule {
    ApprovalRule {
        id: s("r1"),
        agent: None,
        matches: rule_match(),
        decision: RuleDecision::Allow,
        priority: 0,
    }
}

fn price() -> ModelPrice {
    ModelPrice {
        input: 1.0,
        output: 2.0,
        cache_read: 0.1,
        cache_write: 1.25,
        reasoning: 2.0,
    }
}

fn mcp_servers() -> Vec<McpServerConfig> {
    vec![
        McpServerConfig {
            name: s("github"),
            transport: McpTransport::Stdio {
                command: s("npx"),
                args: vec![s("-y"), s("server-github")],
                env: vec![(s("GITHUB_TOKEN"), Secret::new("ghp_secret"))],
            },
            startup_timeout_secs: 60,
            call_timeout_secs: 120,
        },
        McpServerConfig {
            name: s("remote"),
            transport: McpTransport::Http {
                url: s("http://127.0.0.1:3001/mcp"),
                headers: vec![(s("Authorization"), Secret::new("Bearer t"))],
            },
            startup_timeout_secs: 5,
            call_timeout_secs: 9,
        },
    ]
}

fn control_requests() -> Vec<ControlRequest> {
    vec![
        ControlRequest::Ping,
        ControlRequest::Status,
        ControlRequest::Shutdown,
        ControlRequest::AgentCreate {
            agent: Box::new(agent()),
            replace: true,
        },
        ControlRequest::AgentList,
        ControlRequest::AgentGet { name: s("a") },
        ControlRequest::AgentRemove { name: s("a") },
        ControlRequest::Run(RunSpec {
            agent: s("a"),
            prompt: s("p"),
            label: Some(s("l")),
            script: ScriptPatch {
                fault: Some(Fault::Hang),
                chunks: Some(3),
                ..ScriptPatch::default()
            },
            budgets: Budgets {
                max_idle_secs: Some(2),
                ..Budgets::default()
            },
            model: None,
            approve: vec![rule_match()],
            ask: AskPolicy::Wait { secs: 9 },
            checks: vec![crate::checks::Check::Contains(s("done"))],
            on: Some(crate::launch::Launcher::Slurm {
                partition: Some(s("studio")),
            }),
        }),
        ControlRequest::SessionList {
            all: true,
            limit: 10,
        },
        ControlRequest::SessionGet { id: s("0195") },
        ControlRequest::SessionSetup { id: s("0195") },
        ControlRequest::Cancel { session: id() },
        ControlRequest::Kill { session: id() },
        ControlRequest::Events {
            session: id(),
            after_seq: 3,
            limit: 100,
        },
        ControlRequest::Follow {
            session: id(),
            after_seq: 0,
        },
        ControlRequest::WatchSessions,
        ControlRequest::WatchLists,
        ControlRequest::Unsubscribe { request_id: 4 },
        ControlRequest::KeySet {
            provider: ProviderKind::Anthropic,
            key: Secret::new("sk-ant-secret"),
        },
        ControlRequest::KeyList,
        ControlRequest::SecretList,
        ControlRequest::KeyRemove {
            provider: ProviderKind::Gemini,
        },
        ControlRequest::ModelList {
            provider: Some(ProviderKind::Ollama),
            base_url: Some(s("http://127.0.0.1:11434")),
            send_key: false,
        },
        ControlRequest::RuleAdd {
            agent: Some(s("a")),
            matches: rule_match(),
            decision: RuleDecision::Deny,
            priority: 5,
        },
        ControlRequest::RuleList,
        ControlRequest::RuleRemove { id: s("r1") },
        ControlRequest::ApprovalList,
        ControlRequest::ApprovalAnswer {
            id: 3,
            approve: true,
            remember: true,
        },
        ControlRequest::PricingList,
        ControlRequest::PricingSet {
            model: s("my-model"),
            price: price(),
        },
        ControlRequest::PricingRemove {
            model: s("my-model"),
        },
        ControlRequest::McpAdd {
            server: mcp_servers().remove(0),
            replace: false,
        },
        ControlRequest::McpList,
        ControlRequest::McpRemove { name: s("github") },
        ControlRequest::McpTest { name: s("github") },
        ControlRequest::ChatOpen { agent: s("helper") },
        ControlRequest::ChatResume { session: s("0190") },
        ControlRequest::Replay {
            session: s("0190"),
            spec: Box::new(crate::control::ReplaySpec {
                at_seq: Some(7),
                prompt: Some(s("again")),
                agent: Some(s("other-model")),
                provider: Some(ProviderKind::Anthropic),
                model: Some(s("claude")),
                system_prompt: Some(s("Be kind.")),
                sampling: crate::agent::Sampling {
                    temperature: Some(0.5),
                    top_p: None,
                    max_output_tokens: Some(9),
                },
                as_chat: true,
                tape: Some(crate::tape::AfterTape::Live),
            }),
        },
        ControlRequest::Compare {
            sessions: vec![s("0190"), s("1a2b3c4d")],
            window: crate::control::RowWindow::From(3),
            max_rows: 100,
        },
        ControlRequest::Compare {
            sessions: vec![s("0190"), s("0191")],
            window: crate::control::RowWindow::AroundDivergence,
            max_rows: 100,
        },
        ControlRequest::ChatBranch {
            session: s("0190"),
            at_seq: Some(12),
            agent: Some(s("other-model")),
        },
        ControlRequest::ChatSay {
            session: id(),
            text: s("and now?"),
        },
        ControlRequest::ChatEnd { session: id() },
        ControlRequest::RunBatch {
            runs: vec![RunSpec {
                agent: s("a"),
                prompt: s("p"),
                model: Some(s("gpt-4.1-mini")),
                ..RunSpec::default()
            }],
            parallel: 4,
            name: s("haiku x3"),
            caps: crate::caps::SpendCaps {
                max_cost_usd: Some(2.5),
                max_tokens: None,
                max_runs: Some(10),
            },
            checks: vec![
                crate::checks::Check::Contains(s("Paris")),
                crate::checks::Check::Regex(s("^[0-9]+$")),
                crate::checks::Check::Json,
                crate::checks::Check::Schema(s("{\"type\":\"object\"}")),
                crate::checks::Check::Command(s("cargo test")),
                crate::checks::Check::Judge {
                    agent: s("critic"),
                    pass_at: 7,
                },
            ],
        },
        ControlRequest::CapsToday {
            agents: vec![s("a")],
        },
        ControlRequest::WorkspaceDiff {
            id: s("1a2b3c4d"),
            against: Some(s("5e6f7a8b")),
        },
        ControlRequest::Apply {
            id: s("1a2b3c4d"),
            dry_run: true,
        },
        ControlRequest::Delete {
            ids: vec![s("1a2b3c4d")],
            groups: true,
            dry_run: true,
        },
        ControlRequest::Gc {
            older_than_secs: 86_400 * 30,
            dry_run: false,
        },
        ControlRequest::GroupList { limit: 50 },
        ControlRequest::Spend {
            by: SpendBy::Day,
            since: Some(Timestamp(9)),
        },
        ControlRequest::GroupGet {
            id: s("1a2b3c4d"),
            from: 0,
            limit: 100,
            answer_chars: 400,
        },
        ControlRequest::GroupPrefer {
            group: s("1a2b3c4d"),
            run: Some(s("5e6f7a8b")),
        },
        ControlRequest::LimitsSet {
            max_concurrent_runs: Some(8),
            max_live_chats: None,
        },
        ControlRequest::StoreCheck,
        ControlRequest::SessionRetitle {
            id: s("0190abcd"),
            title: s("Weather in Paris"),
        },
        ControlRequest::SetOtlp {
            url: Some(s("http://127.0.0.1:6006/v1/traces")),
            headers: vec![(s("authorization"), crate::Secret::new("Bearer t"))],
        },
        ControlRequest::OtlpStatus,
        ControlRequest::PluginEnvSet {
            plugin: s("tracker"),
            name: s("TRACKER_TOKEN"),
            value: Secret::new("tok-secret"),
        },
        ControlRequest::PluginEnvRemove {
            plugin: s("tracker"),
            name: None,
        },
        ControlRequest::AppToolCall {
            session: id(),
            uri: s("ui://tracker/issues"),
            server: s("tracker"),
            tool: s("create_issue"),
            arguments: s("{\"title\":\"x\"}"),
        },
        ControlRequest::McpOAuthSet {
            server: s("notes"),
            tokens: Some(Secret::new(r#"{"access_token":"at-secret"}"#)),
        },
        ControlRequest::McpOAuthSet {
            server: s("notes"),
            tokens: None,
        },
    ]
}

fn control_request_variant(r: &ControlRequest) -> usize {
    match r {
        ControlRequest::Ping => 0,
        ControlRequest::Status => 1,
        ControlRequest::Shutdown => 2,
        ControlRequest::AgentCreate { .. } => 3,
        ControlRequest::AgentList => 4,
        ControlRequest::AgentGet { .. } => 5,
        ControlRequest::AgentRemove { .. } => 6,
        ControlRequest::Run(_) => 7,
        ControlRequest::SessionList { .. } => 8,
        ControlRequest::SessionGet { .. } => 9,
        ControlRequest::Cancel { .. } => 10,
        ControlRequest::Kill { .. } => 11,
        ControlRequest::Events { .. } => 12,
        ControlRequest::Follow { .. } => 13,
        ControlRequest::WatchSessions => 14,
        ControlRequest::Unsubscribe { .. } => 15,
        ControlRequest::KeySet { .. } => 16,
        ControlRequest::KeyList => 17,
        ControlRequest::KeyRemove { .. } => 18,
        ControlRequest::PricingList => 19,
        ControlRequest::PricingSet { .. } => 20,
        ControlRequest::PricingRemove { .. } => 21,
        ControlRequest::ModelList { .. } => 22,
        ControlRequest::RuleAdd { .. } => 23,
        ControlRequest::RuleList => 24,
        ControlRequest::RuleRemove { .. } => 25,
        ControlRequest::ApprovalList => 26,
        ControlRequest::ApprovalAnswer { .. } => 27,
        ControlRequest::McpAdd { .. } => 28,
        ControlRequest::McpList => 29,
        ControlRequest::McpRemove { .. } => 30,
        ControlRequest::McpTest { .. } => 31,
        ControlRequest::ChatOpen { .. } => 32,
        ControlRequest::ChatResume { .. } => 33,
        ControlRequest::ChatSay { .. } => 34,
        ControlRequest::ChatEnd { .. } => 35,
        ControlRequest::RunBatch { .. } => 36,
        ControlRequest::LimitsSet { .. } => 37,
        ControlRequest::ChatBranch { .. } => 38,
        ControlRequest::SessionSetup { .. } => 40,
        ControlRequest::Replay { .. } => 39,
        ControlRequest::StoreCheck => 41,
        ControlRequest::SecretList => 42,
        ControlRequest::WatchLists => 43,
        ControlRequest::SessionRetitle { .. } => 44,
        ControlRequest::Compare { .. } => 45,
        ControlRequest::GroupList { .. } => 46,
        ControlRequest::GroupGet { .. } => 47,
        ControlRequest::GroupPrefer { .. } => 48,
        ControlRequest::Spend { .. } => 49,
        ControlRequest::CapsToday { .. } => 50,
        ControlRequest::Delete { .. } => 51,
        ControlRequest::Gc { .. } => 52,
        ControlRequest::WorkspaceDiff { .. } => 53,
        ControlRequest::Apply { .. } => 54,
        ControlRequest::SetOtlp { .. } => 55,
        ControlRequest::OtlpStatus => 56,
        ControlRequest::PluginEnvSet { .. } => 57,
        ControlRequest::PluginEnvRemove { .. } => 58,
        ControlRequest::AppToolCall { .. } => 59,
        ControlRequest::McpOAuthSet { .. } => 60,
    }
}

fn control_responses() -> Vec<ControlResponse> {
    vec![
        ControlResponse::Pong,
        ControlResponse::Ok,
        ControlResponse::Status(DaemonStatus {
            pid: 1,
            version: s("0.1.0"),
            data_dir: s("/d"),
            started_at: Timestamp(5),
            live_sessions: 2,
            queued_runs: 1,
            max_concurrent_runs: 16,
            live_chats: 1,
            max_live_chats: 32,
            containment: vec![s("processes: PID namespace per session")],
            store_stalled: Some(crate::control::StoreStall {
                since: Timestamp(4),
                error: s("No space left on device (os error 28)"),
            }),
        }),
        ControlResponse::Agent(agent()),
        ControlResponse::Agents(vec![agent(), AgentConfig::scripted("b")]),
        ControlResponse::RunAccepted { session: id() },
        ControlResponse::Sessions(vec![summary()]),
        ControlResponse::Session(summary()),
        ControlResponse::Setup(Box::new(Setup {
            summary: summary(),
            agent: agent(),
            run: Some(RunSpec {
                agent: s("a"),
                prompt: s("hi"),
                ..RunSpec::default()
            }),
            inherited: vec![crate::message::ChatMessage::text(
                crate::message::Role::User,
                "earlier",
            )],
            inherited_left_out: 3,
        })),
        ControlResponse::Events(vec![Event {
            session: id(),
            seq: 1,
            at: Timestamp(0),
            kind: EventKind::RunQueued,
        }]),
        ControlResponse::Subscribed,
        ControlResponse::Keys(vec![KeyInfo {
            provider: ProviderKind::OpenAi,
            source: KeySource::Stored,
            stored_at: Some(Timestamp(9)),
        }]),
        ControlResponse::Pricing(PricingTable {
            version: 3,
            entries: vec![PriceEntry {
                model: s("my-model"),
                price: price(),
                custom: true,
            }],
        }),
        ControlResponse::Models(vec![
            ProviderModels {
                provider: ProviderKind::OpenAi,
                models: vec![s("gpt-4o")],
                error: None,
            },
            ProviderModels {
                provider: ProviderKind::Gemini,
                models: Vec::new(),
                error: Some(s("gemini answered 400: API key not valid")),
            },
        ]),
        ControlResponse::Rule(rule()),
        ControlResponse::Rules(vec![rule()]),
        ControlResponse::Approvals(vec![PendingApproval {
            id: 7,
            session: id(),
            agent: s("a"),
            call_id: s("c1"),
            tool: s("shell"),
            arguments: s("{\"command\":\"rm -rf /\"}"),
            requested_at: Timestamp(1),
            expires_at: Timestamp(2),
        }]),
        ControlResponse::McpServers(mcp_servers()),
        ControlResponse::McpTools(vec![s("github.search_issues")]),
        ControlResponse::ChatOpened {
            session: id(),
            after_seq: 41,
            resumed: true,
        },
        ControlResponse::BatchAccepted {
            sessions: vec![id(), id()],
        },
        ControlResponse::StoreCheck(StoreReport {
            path: s("/d/studio.redb"),
            tables: vec![TableReport {
                name: s("events"),
                records: 9,
                damaged: 1,
            }],
            damaged: vec![DamagedRecord {
                table: s("events"),
                key: s("x #3"),
                session: Some(id()),
                error: s("bad"),
            }],
        }),
        ControlResponse::Secrets(SecretsInfo {
            store: SecretLocation::File,
            keyring_unavailable: Some(s("no Secret Service on the session bus")),
            secrets: vec![SecretInfo {
                name: s("key/openai"),
                location: SecretLocation::Keyring,
                stored_at: Timestamp(9),
            }],
        }),
        ControlResponse::Compared(Box::new(comparison())),
        ControlResponse::Groups(vec![group_summary()]),
        ControlResponse::Spend(vec![SpendRow {
            key: s("2026-12-04"),
            sessions: 3,
            usage: Usage {
                input_tokens: 10,
                ..Usage::default()
            },
            cost_usd: 0.25,
            unpriced: 1,
        }]),
        ControlResponse::Deleted(crate::control::DeleteReport {
            sessions: vec![id()],
            descendants: 1,
            groups: vec![id()],
            events: 40,
            workspaces: 2,
            dry_run: false,
            bytes_before: 1 << 20,
            bytes_after: 1 << 16,
        }),
        ControlResponse::CapsToday(vec![crate::caps::AgentDayStanding {
            agent: s("a"),
            day: s("2026-12-04"),
            caps: crate::caps::SpendCaps {
                max_cost_usd: Some(5.0),
                ..Default::default()
            },
            spent: crate::caps::Spent {
                cost_usd: 1.25,
                tokens: 900,
                runs: 3,
            },
        }]),
        ControlResponse::Group(Box::new(crate::control::Group {
            summary: group_summary(),
            from: 0,
            runs: vec![crate::control::GroupRun {
                summary: summary(),
                provider: s("openai"),
                model: s("gpt-4.1"),
                answer: s("The answer is 4."),
                answer_cut: false,
                duration_micros: Some(1_500_000),
                checks: vec![crate::checks::CheckOutcome {
                    check: s("json"),
                    passed: true,
                    detail: String::new(),
                }],
                changes: Some(changes()),
            }],
        })),
        ControlResponse::Diff(Box::new(crate::workspace::RunDiff {
            workspace: crate::workspace::RunWorkspace {
                origin: s("/src"),
                path: s("/ws/.runs/0191"),
                subdir: String::new(),
                kind: crate::workspace::WorkspaceKind::Copy,
                git_dir: s("/ws/.runs/0191.git"),
                base: s("4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
            },
            changes: changes(),
            patch: s("diff --git a/a b/a\n"),
            patch_cut: false,
            against: Some(id()),
        })),
        ControlResponse::Applied(crate::workspace::ApplyReport {
            origin: s("/src"),
            changes: changes(),
            applied: true,
        }),
        ControlResponse::Otlp(super::control::OtlpSettings {
            url: Some(s("http://127.0.0.1:6006/v1/traces")),
            header_names: vec![s("authorization")],
            exported_turns: 3,
            exported_spans: 12,
            pending_sessions: 1,
            last_error: Some(s("connection refused")),
            last_export_at: Some(Timestamp(5)),
        }),
        ControlResponse::AppCallStarted {
            call_id: s("app-1"),
        },
    ]
}

fn changes() -> crate::workspace::Changes {
    crate::workspace::Changes::of(vec![crate::workspace::FileChange {
        path: s("logo.png"),
        added: 0,
        removed: 0,
        binary: true,
    }])
}

fn group_summary() -> crate::control::GroupSummary {
    crate::control::GroupSummary {
        id: id(),
        name: s("haiku x3"),
        created_at: Timestamp(7),
        runs: 3,
        by_status: vec![crate::control::StatusCount {
            status: crate::event::SessionStatus::Completed,
            runs: 3,
        }],
        usage: Usage {
            input_tokens: 30,
            output_tokens: 12,
            ..Usage::default()
        },
        cost_usd: 0.0042,
        unpriced: 0,
        wall_micros: 2_000_000,
        preferred: Some(id()),
        caps: crate::caps::SpendCaps::default(),
        checks: vec![crate::checks::Check::Json],
    }
}

fn comparison() -> crate::control::Comparison {
    use crate::control::{Change, Compared, Comparison, Figures, Row, Span, Step, StepKind};
    let step = |kind, text: &str| Step {
        session: id(),
        seq: 4,
        kind,
        name: s("gpt-4.1"),
        text: s(text),
        outcome: s("ok"),
        text_diff: vec![
            Span {
                change: Change::Same,
                text: s("the "),
            },
            Span {
                change: Change::Removed,
                text: s("cat"),
            },
            Span {
                change: Change::Added,
                text: s("dog"),
            },
        ],
        outcome_diff: Vec::new(),
    };
    Comparison {
        sessions: vec![Compared {
            summary: summary(),
            figures: Figures {
                input_tokens: 1,
                output_tokens: 2,
                cached_tokens: 3,
                cost_usd: 0.5,
                wall_ms: 4,
                model_ms: 5,
                tool_ms: 6,
                requests: 7,
                tool_calls: 8,
                approved: 9,
                denied: 10,
                errors: 11,
                answer_chars: 12,
                steps: 13,
            },
            checks: vec![crate::checks::CheckOutcome {
                check: s("json"),
                passed: false,
                detail: s("not JSON"),
            }],
            changes: Some(changes()),
        }],
        first_divergence: Some(1),
        total_rows: 9,
        from_row: 1,
        rows: vec![
            Row {
                cells: vec![Some(step(StepKind::User, "hi")), None],
                same: false,
            },
            Row {
                cells: vec![
                    Some(step(StepKind::Model, "the dog")),
                    Some(step(StepKind::Tool, "{}")),
                ],
                same: true,
            },
        ],
        approximate: true,
    }
}

fn control_response_variant(r: &ControlResponse) -> usize {
    match r {
        ControlResponse::Pong => 0,
        ControlResponse::Ok => 1,
        ControlResponse::Status(_) => 2,
        ControlResponse::Agent(_) => 3,
        ControlResponse::Agents(_) => 4,
        ControlResponse::RunAccepted { .. } => 5,
        ControlResponse::Sessions(_) => 6,
        ControlResponse::Session(_) => 7,
        ControlResponse::Events(_) => 8,
        ControlResponse::Subscribed => 9,
        ControlResponse::Keys(_) => 10,
        ControlResponse::Pricing(_) => 11,
        ControlResponse::Models(_) => 12,
        ControlResponse::Rule(_) => 13,
        ControlResponse::Rules(_) => 14,
        ControlResponse::Approvals(_) => 15,
        ControlResponse::McpServers(_) => 16,
        ControlResponse::McpTools(_) => 17,
        ControlResponse::ChatOpened { .. } => 18,
        ControlResponse::BatchAccepted { .. } => 19,
        ControlResponse::Setup(_) => 20,
        ControlResponse::StoreCheck(_) => 21,
        ControlResponse::Secrets(_) => 22,
        ControlResponse::Compared(_) => 23,
        ControlResponse::Groups(_) => 24,
        ControlResponse::Group(_) => 25,
        ControlResponse::Spend(_) => 26,
        ControlResponse::CapsToday(_) => 27,
        ControlResponse::Deleted(_) => 28,
        ControlResponse::Diff(_) => 29,
        ControlResponse::Applied(_) => 30,
        ControlResponse::Otlp(_) => 31,
        ControlResponse::AppCallStarted { .. } => 32,
    }
}

fn pushes() -> Vec<Push> {
    vec![
        Push::Event(Event {
            session: id(),
            seq: 2,
            at: Timestamp(1),
            kind: EventKind::SessionIdle { error: None },
        }),
        Push::SessionChanged(summary()),
        Push::ListChanged(ListKind::McpServers),
        Push::SessionsRemoved(vec![id()]),
        Push::End,
    ]
}

fn push_variant(p: &Push) -> usize {
    match p {
        Push::Event(_) => 0,
        Push::SessionChanged(_) => 1,
        Push::End => 2,
        Push::ListChanged(_) => 3,
        Push::SessionsRemoved(_) => 4,
    }
}

fn to_worker() -> Vec<ToWorker> {
    vec![
        ToWorker::Start(Box::new(StartTurn {
            session: id(),
            agent: agent(),
            history: vec![
                ChatMessage::text(Role::System, "sys"),
                ChatMessage {
                    role: Role::Assistant,
                    content: s(""),
                    tool_calls: vec![ToolCall {
                        id: s("c"),
                        name: s("fs.read"),
                        arguments: s("{\"path\":\"a\"}"),
                    }],
                    tool_call_id: None,
                },
                ChatMessage {
                    role: Role::Tool,
                    content: s("data"),
                    tool_calls: Vec::new(),
                    tool_call_id: Some(s("c")),
                },
            ],
            input: s("next"),
            script: agent().script,
            tools: vec![ToolSpec {
                name: s("fs.read"),
                description: s("read a file"),
                parameters: s("{\"type\":\"object\"}"),
            }],
            endpoint: Some(Endpoint {
                base_url: s("http://127.0.0.1:9/v1"),
                api_key: Some(s("sk-secret")),
            }),
            mcp_servers: mcp_servers(),
            plugin_servers: vec![crate::plugin::PluginServer {
                plugin: s("tracker"),
                version: s("1.0.0"),
                server: mcp_servers().remove(0),
                confinement: crate::plugin::PluginConfinement {
                    root: s("/home/u/.local/state/ai-studio/plugins/tracker"),
                    data: s("/home/u/.local/state/ai-studio/plugins/.data/tracker"),
                    read: vec![s("~/notes")],
                    write: Vec::new(),
                    network: crate::sandbox::Network::Hosts,
                    hosts: vec![s("tracker.example.com"), s("*.example.org")],
                    shell: false,
                },
                panels: vec![(s("ui://tracker/issues"), s("Issues"))],
            }],
            sandbox_support: crate::sandbox::SandboxSupport {
                user_namespaces: true,
                landlock_abi: 7,
            },
            tape: Some(Box::new(tape())),
            setup: Some(s("npm ci")),
            check_commands: vec![s("cargo test")],
            judges: vec![crate::worker::JudgeCall {
                agent: agent(),
                endpoint: Some(Endpoint {
                    base_url: s("http://127.0.0.1:9/v1"),
                    api_key: Some(s("sk-judge")),
                }),
            }],
            app_call: Some(crate::app_view::AppCall {
                call_id: s("app-1"),
                tool: s("tracker.create_issue"),
                arguments: s("{}"),
            }),
            servers_only: true,
        })),
        ToWorker::ApprovalDecision {
            call_id: s("c"),
            approved: false,
            reason: s("denied by rule"),
        },
        ToWorker::Cancel,
        ToWorker::Shutdown,
    ]
}

fn tape() -> crate::tape::Tape {
    use crate::tape::{AfterTape, FirstRequest, Tape, TapeResponse, TapeResult, TapeStep};
    Tape {
        first: FirstRequest {
            system: s("Be brief."),
            history: 7,
            input: s("hi"),
        },
        steps: vec![
            TapeStep::Model(Box::new(TapeResponse {
                provider: s("openai"),
                model: s("gpt-4.1"),
                params: s("{}"),
                events: vec![EventKind::MessageAssistant { text: s("ok") }],
                text: s("ok"),
                tool_calls: vec![ToolCall {
                    id: s("c1"),
                    name: s("clock"),
                    arguments: s("{}"),
                }],
            })),
            TapeStep::Tool(Box::new(TapeResult {
                call_id: s("c1"),
                approved: true,
                events: vec![EventKind::ToolCompleted {
                    call_id: s("c1"),
                    output: s("noon"),
                    truncated: false,
                }],
                told: s("noon"),
            })),
        ],
        whole: false,
        why_short: s("cut"),
        then: AfterTape::Stop,
    }
}

fn to_worker_variant(m: &ToWorker) -> usize {
    match m {
        ToWorker::Start(_) => 0,
        ToWorker::ApprovalDecision { .. } => 1,
        ToWorker::Cancel => 2,
        ToWorker::Shutdown => 3,
    }
}

fn from_worker() -> Vec<FromWorker> {
    let mut out: Vec<FromWorker> = event_kinds()
        .into_iter()
        .map(|kind| FromWorker::Event {
            at: Timestamp(9),
            kind,
        })
        .collect();
    out.push(FromWorker::ApprovalRequest {
        call_id: s("c"),
        tool: s("shell"),
        arguments: s("{\"cmd\":\"ls\"}"),
    });
    for outcome in [
        TurnOutcome::Completed,
        TurnOutcome::Cancelled,
        TurnOutcome::Failed { error: s("e") },
    ] {
        out.push(FromWorker::Done(outcome));
    }
    out.push(FromWorker::Usage {
        rss_bytes: 64 << 20,
        cpu_ms: 1500,
    });
    out
}

fn from_worker_variant(m: &FromWorker) -> usize {
    match m {
        FromWorker::Event { .. } => 0,
        FromWorker::ApprovalRequest { .. } => 1,
        FromWorker::Done(_) => 2,
        FromWorker::Usage { .. } => 3,
    }
}

fn covers<T>(samples: &[T], variant: fn(&T) -> usize, count: usize) {
    let mut seen: Vec<usize> = samples.iter().map(variant).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        (0..count).collect::<Vec<_>>(),
        "a variant has no sample"
    );
}

#[tokio::test]
async fn every_control_message_round_trips() {
    let requests = control_requests();
    covers(&requests, control_request_variant, 61);
    assert!(
        !format!("{requests:?}").contains("sk-ant-secret"),
        "keys never print"
    );
    for (id, request) in requests.into_iter().enumerate() {
        round_trip(&ClientFrame {
            id: id as u64,
            request,
        })
        .await;
    }
    let responses = control_responses();
    covers(&responses, control_response_variant, 33);
    for (id, response) in responses.into_iter().enumerate() {
        round_trip(&ServerFrame::Response {
            id: id as u64,
            result: Ok(response),
        })
        .await;
    }
    for kind in [
        ErrorKind::NotFound,
        ErrorKind::Invalid,
        ErrorKind::Conflict,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
        ErrorKind::Forbidden,
        ErrorKind::TooLarge,
    ] {
        round_trip(&ServerFrame::Response {
            id: 1,
            result: Err(ControlError::new(kind, "nope")),
        })
        .await;
    }
    let pushes = pushes();
    covers(&pushes, push_variant, 5);
    for push in pushes {
        round_trip(&ServerFrame::Push { id: 3, push }).await;
    }
}

#[tokio::test]
async fn every_worker_message_round_trips() {
    let down = to_worker();
    covers(&down, to_worker_variant, 4);
    for msg in &down {
        round_trip(msg).await;
    }
    let up = from_worker();
    covers(&up, from_worker_variant, 4);
    for msg in &up {
        round_trip(msg).await;
    }
}

#[test]
fn endpoints_never_print_their_key() {
    let endpoint = Endpoint {
        base_url: s("https://api.example/v1"),
        api_key: Some(s("sk-very-secret")),
    };
    let text = format!("{endpoint:?} {:?}", to_worker());
    assert!(
        !text.contains("sk-very-secret") && !text.contains("sk-secret"),
        "{text}"
    );
    assert!(text.contains("https://api.example/v1"));
}

#[tokio::test]
async fn handshakes_round_trip_and_never_print_the_token() {
    for role in [PeerRole::Client, PeerRole::Worker { session: id() }] {
        let hello = Hello {
            protocol: crate::PROTOCOL_VERSION,
            role,
            token: s("secret-token"),
        };
        round_trip(&hello).await;
        assert!(!format!("{hello:?}").contains("secret-token"));
    }
    round_trip(&HelloReply::Accepted {
        daemon_version: s("0.1.0"),
    })
    .await;
    round_trip(&HelloReply::Refused {
        reason: s("invalid token"),
    })
    .await;
}
