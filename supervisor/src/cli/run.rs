//! `studio run AGENT --prompt TEXT` (streamed or detached), the dispatch
//! to batch mode (`--batch FILE`), and `studio replay ID` (a run again).

use std::path::{Path, PathBuf};

use clap::Args;
use protocol::SessionId;
use protocol::agent::ScriptPatch;
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::{ControlRequest, ControlResponse, Push, ReplaySpec, RunSpec};
use protocol::event::{Event, EventKind, SessionStatus};
use protocol::tape::AfterTape;
use serde_json::json;
use studio_client::Client;

use super::agent::{BudgetArgs, ScriptArgs};
use super::batch::{
    Fanout, print_summary, progress_bar, queue_batch, read_batch, run_batch, say_caps,
};
use super::caps::GroupCapArgs;
use super::checks::CheckArgs;
use super::fanout;
use super::output::{describe_end, event_json, print_chunk, print_json, retry_line};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Agent to run (with --agents, none).
    #[arg(required_unless_present = "agents")]
    pub(crate) agent: Option<String>,
    /// The prompt.
    #[arg(
        long,
        short,
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    pub(crate) prompt: Option<String>,
    /// A JSONL file with one run per line (see README for the fields).
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) batch: Option<PathBuf>,
    /// Run the prompt this many times, as one group (with --agents or
    /// --models, that many times each).
    #[arg(long, value_name = "N", conflicts_with = "batch",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) attempts: Option<u32>,
    /// Run the prompt on each of these agents, as one group.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',',
          conflicts_with_all = ["batch", "agent"])]
    pub(crate) agents: Vec<String>,
    /// Run the prompt on each of these models (of the agent's provider),
    /// as one group.
    #[arg(
        long,
        value_name = "M1,M2,...",
        value_delimiter = ',',
        conflicts_with = "batch"
    )]
    pub(crate) models: Vec<String>,
    /// The group's name (a single run named is a group of one) [default:
    /// the prompt's first line; with --batch, the file's name].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Runs in flight at once in a group or batch.
    #[arg(long, default_value_t = 8)]
    pub(crate) parallel: usize,
    /// Print the session id (with --batch, each run's, one per line) and
    /// return at once; the daemon runs them to their end.
    #[arg(long)]
    pub(crate) detach: bool,
    /// A label shown next to the run.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Let tool calls matching `TOOL[:FIELD=GLOB]` run without asking (repeatable).
    #[arg(long, value_name = "TOOL[:FIELD=GLOB]")]
    pub(crate) approve: Vec<RuleMatch>,
    /// What a call no rule decides gets: deny, allow or wait[:SECS] in the approvals inbox.
    #[arg(long, value_name = "POLICY", default_value = "deny")]
    pub(crate) ask: AskPolicy,
    #[command(flatten)]
    pub(crate) script: ScriptArgs,
    #[command(flatten)]
    pub(crate) budgets: BudgetArgs,
    #[command(flatten)]
    pub(crate) group_caps: GroupCapArgs,
    #[command(flatten)]
    pub(crate) checks: CheckArgs,
    /// Where the worker runs: `local`, `slurm` or `slurm:PARTITION` (a job
    /// of the Slurm cluster the daemon's SLURM_CONF names) [default: the
    /// agent's --on, else the daemon's launcher].
    #[arg(long, value_name = "LAUNCHER")]
    pub(crate) on: Option<protocol::launch::Launcher>,
}

#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    /// The session, a run or a chat (id or unique prefix).
    session: String,
    /// An event of it (`studio events ID` numbers them): its turn is run
    /// again, everything said before that turn kept [default: the first
    /// turn, so all of it].
    #[arg(long, value_name = "SEQ")]
    at: Option<u64>,
    /// The user message of that turn instead of the recorded one.
    #[arg(long)]
    prompt: Option<String>,
    /// Run it with this agent (as it is now) instead of the session's own
    /// (as it was).
    #[arg(long)]
    agent: Option<String>,
    /// Another provider: openai, anthropic, gemini, ollama or scripted.
    #[arg(long)]
    provider: Option<protocol::ProviderKind>,
    /// Another model.
    #[arg(long)]
    model: Option<String>,
    /// Another system prompt.
    #[arg(long)]
    system_prompt: Option<String>,
    /// Another sampling temperature (0 to 2).
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    /// Another top-p (above 0, at most 1).
    #[arg(long, value_name = "P")]
    top_p: Option<f64>,
    /// Another maximum of output tokens.
    #[arg(long, value_name = "N")]
    max_output_tokens: Option<u32>,
    /// Go on as an interactive session in this terminal (as `studio chat
    /// --branch` does), its first message the turn's, instead of a
    /// headless run.
    #[arg(long, conflicts_with = "tape")]
    chat: bool,
    /// Play the turn from the recording: every model response and tool
    /// result served from the recorded events (no provider is called, no
    /// tool runs) as long as the replay asks what the original asked.
    #[arg(long)]
    tape: bool,
    /// With --tape: where the replay parts from the recording (or the
    /// recording ends), go on live or stop.
    #[arg(long, value_enum, default_value_t = Then::Live, requires = "tape")]
    then: Then,
    /// Print the new session id and return at once.
    #[arg(long, conflicts_with = "chat")]
    detach: bool,
}

/// What a replay from the tape does where it parts from the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Then {
    /// Go on live: the provider is called, tools run.
    Live,
    /// Stop there; the run completes.
    Stop,
}

/// `studio replay ID`: the session again as a headless run (or, with
/// `--chat`, a chat in this terminal), from a turn, with what the flags
/// change.
pub(crate) async fn replay(args: ReplayArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let spec = ReplaySpec {
        at_seq: args.at,
        prompt: args.prompt,
        agent: args.agent,
        provider: args.provider,
        model: args.model,
        system_prompt: args.system_prompt,
        sampling: protocol::agent::Sampling {
            temperature: args.temperature,
            top_p: args.top_p,
            max_output_tokens: args.max_output_tokens,
        },
        as_chat: args.chat,
        tape: args.tape.then_some(match args.then {
            Then::Live => AfterTape::Live,
            Then::Stop => AfterTape::Stop,
        }),
    };
    let request = ControlRequest::Replay {
        session: args.session,
        spec: Box::new(spec),
    };
    if args.chat {
        return super::chat::talk(&client, request, true, ctx).await;
    }
    let session = match client.request(request).await? {
        ControlResponse::RunAccepted { session } => session,
        other => {
            return Err(CliError::msg(format!(
                "unexpected answer to replay: {other:?}"
            )));
        }
    };
    finish(&client, session, args.detach, ctx).await
}

pub(crate) async fn execute(args: RunArgs, ctx: &Ctx) -> Result<(), CliError> {
    if let Some(path) = &args.batch {
        return execute_batch(path, &args, ctx).await;
    }
    let spec = RunSpec {
        agent: args.agent.clone().unwrap_or_default(),
        prompt: args.prompt.clone().unwrap_or_default(),
        label: args.label.clone(),
        script: args.script.patch(),
        budgets: args.budgets.budgets(),
        model: None,
        approve: args.approve.clone(),
        ask: args.ask,
        checks: Vec::new(),
        on: args.on.clone(),
    };
    // A name makes even one run a group.
    let grouped = args.attempts.is_some()
        || !args.agents.is_empty()
        || !args.models.is_empty()
        || args.name.is_some()
        || args.group_caps.any()
        || !args.checks.checks().is_empty();
    if grouped {
        let items = fanout::items(
            &spec,
            &args.agents,
            &args.models,
            args.attempts.unwrap_or(1),
        );
        let caps = args.group_caps.caps();
        let checks = args.checks.checks();
        let fanout = Fanout {
            items: &items,
            parallel: args.parallel.max(1),
            name: args.name.as_deref().unwrap_or(""),
            caps: &caps,
            checks: &checks,
        };
        return fanout::execute(fanout, args.detach, ctx).await;
    }
    let client = ctx.client().await?;
    let session = submit(&client, spec).await?;
    finish(&client, session, args.detach, ctx).await
}

/// Prints a started run's id (`detach`), or streams it to its end.
async fn finish(
    client: &Client,
    session: SessionId,
    detach: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    if detach {
        if ctx.json {
            print_json(&serde_json::json!({ "session": session.to_string() }));
        } else {
            outln!("{session}");
        }
        return Ok(());
    }
    let status = stream(client, session, ctx.json).await?;
    if status == SessionStatus::Completed {
        Ok(())
    } else {
        Err(CliError::incomplete(String::new()))
    }
}

/// Starts a run; returns its session.
pub(crate) async fn submit(client: &Client, spec: RunSpec) -> Result<SessionId, CliError> {
    match client.request(ControlRequest::Run(spec)).await? {
        ControlResponse::RunAccepted { session } => Ok(session),
        other => Err(CliError::msg(format!(
            "unexpected answer to run: {other:?}"
        ))),
    }
}

/// Prints a session's answer as it streams (or its events as JSON lines),
/// until it ends. Ctrl-C cancels the session; a second Ctrl-C kills it.
pub(crate) async fn stream(
    client: &Client,
    session: SessionId,
    json: bool,
) -> Result<SessionStatus, CliError> {
    let mut sub = client
        .subscribe(ControlRequest::Follow {
            session,
            after_seq: 0,
        })
        .await?;
    let mut interrupts = 0;
    // The store could not write when last asked (told on stderr).
    let mut stalled = false;
    let mut wrote_text = false;
    // Text of the current attempt is on screen, and whether its line is open.
    let mut partial = false;
    let mut mid_line = false;
    // A chat replayed as a run says more than its first message.
    let mut said = 0;
    let mut last: Option<Event> = None;
    loop {
        tokio::select! {
            push = sub.next() => {
                let Some(push) = push else { break };
                let Push::Event(event) = push else { continue };
                if json {
                    print_json(&event_json(&event));
                } else {
                    match &event.kind {
                        EventKind::LlmResponseChunk { text, .. } => {
                            mid_line = print_chunk(text);
                            wrote_text = true;
                            partial = true;
                        }
                        EventKind::LlmError { message, will_retry: true, .. } if partial => {
                            if mid_line {
                                outln!();
                            }
                            outln!("{}", retry_line(message));
                            partial = false;
                            mid_line = false;
                        }
                        EventKind::LlmResponseCompleted { .. } => partial = false,
                        EventKind::MessageUser { text } => {
                            said += 1;
                            if said > 1 {
                                if mid_line {
                                    outln!();
                                    mid_line = false;
                                }
                                outln!("you> {text}");
                            }
                        }
                        EventKind::ReplayDiverged { step, what } => {
                            if mid_line {
                                outln!();
                                mid_line = false;
                            }
                            errln!("[the replay parts from the tape at step {step}: {what}]");
                        }
                        _ => {}
                    }
                }
                last = Some(event);
            }
            () = tokio::time::sleep(QUIET) => {
                stalled = tell_stall(client, stalled).await;
            }
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                let request = if interrupts == 1 {
                    errln!("\ncancelling {session} (Ctrl-C again to kill)");
                    ControlRequest::Cancel { session }
                } else {
                    ControlRequest::Kill { session }
                };
                if let Err(err) = client.request(request).await {
                    errln!("studio: {err}");
                }
            }
        }
    }
    if wrote_text && mid_line && !json {
        outln!();
    }
    let Some(event) = last.filter(|e| e.kind.is_terminal()) else {
        return Err(CliError::msg(
            "the event stream ended before the session did",
        ));
    };
    let status = event.kind.status_after().unwrap_or(SessionStatus::Crashed);
    if status != SessionStatus::Completed && !json {
        errln!("session {session} {}", describe_end(&event.kind));
    }
    Ok(status)
}

/// How long a stream may stay silent before the daemon is asked whether
/// its store is stalled.
const QUIET: std::time::Duration = std::time::Duration::from_secs(5);

/// Says on stderr when the store starts or stops being stalled (a full
/// disk): the stream is quiet because nothing can be recorded. Returns
/// whether it is stalled now.
async fn tell_stall(client: &Client, was: bool) -> bool {
    let Ok(ControlResponse::Status(status)) = client.request(ControlRequest::Status).await else {
        return was;
    };
    match (&status.store_stalled, was) {
        (Some(stall), false) => {
            errln!("studio: {stall}; the session goes on once it can write again");
            true
        }
        (None, true) => {
            errln!("studio: the store writes again");
            false
        }
        (now, _) => now.is_some(),
    }
}

/// `studio run --batch FILE`: every line of the file as one run, the
/// command line's flags filling what a line leaves unset.
async fn execute_batch(path: &Path, args: &RunArgs, ctx: &Ctx) -> Result<(), CliError> {
    let mut items = read_batch(path, args.agent.as_deref().unwrap_or(""))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let caps = args.group_caps.caps();
    let checks = args.checks.checks();
    let fanout = |items| Fanout {
        items,
        parallel: args.parallel.max(1),
        name: args.name.as_deref().unwrap_or(&file_name),
        caps: &caps,
        checks: &checks,
    };
    for item in &mut items {
        // Flags on the command line apply to every line that does not set them.
        item.spec.approve.extend(args.approve.iter().cloned());
        if item.spec.on.is_none() {
            item.spec.on.clone_from(&args.on);
        }
        if item.spec.ask == AskPolicy::default() {
            item.spec.ask = args.ask;
        }
        item.spec.budgets = args.budgets.budgets().overridden_by(&item.spec.budgets);
        let flags = args.script.patch();
        item.spec.script = merge_patch(&flags, &item.spec.script);
    }
    let client = ctx.client().await?;
    if !ctx.json {
        say_caps(&client, fanout(&items)).await?;
    }
    if args.detach {
        let sessions = queue_batch(&client, fanout(&items)).await?;
        if ctx.json {
            let runs: Vec<_> = items
                .iter()
                .zip(&sessions)
                .map(|(item, session)| json!({"session": session, "label": item.label}))
                .collect();
            print_json(&json!(runs));
        } else {
            for session in sessions {
                outln!("{session}");
            }
        }
        return Ok(());
    }
    let progress = progress_bar(items.len() as u64, ctx.json);
    let outcomes = run_batch(&client, fanout(&items), &progress, |_, _| {}).await?;
    progress.finish_and_clear();
    print_summary(&items, &outcomes, ctx.json);
    if outcomes
        .iter()
        .all(|o| o.summary.status == SessionStatus::Completed)
    {
        Ok(())
    } else {
        Err(CliError::incomplete(String::new()))
    }
}

/// `over` with the fields of `base` where `over` sets none.
fn merge_patch(base: &ScriptPatch, over: &ScriptPatch) -> ScriptPatch {
    ScriptPatch {
        answer: over.answer.clone().or_else(|| base.answer.clone()),
        chunks: over.chunks.or(base.chunks),
        chunk_chars: over.chunk_chars.or(base.chunk_chars),
        chunk_delay_ms: over.chunk_delay_ms.or(base.chunk_delay_ms),
        fault: over.fault.or(base.fault),
        fault_after_chunks: over.fault_after_chunks.or(base.fault_after_chunks),
        tool_calls: over.tool_calls.clone().or_else(|| base.tool_calls.clone()),
    }
}
