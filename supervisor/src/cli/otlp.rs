//! OpenTelemetry out: `studio export ID|--group ID --otlp URL` sends
//! recorded sessions as traces (`crate::otlp`) from this process, and
//! `studio otlp set|off|status` has the daemon send every turn that ends
//! (`daemon::otlp_export`).
//!
//! Header values (auth) never go on the command line: each `--header NAME`
//! is read from standard input, one line per header in the order given, or
//! asked for without echo on a terminal.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};
use protocol::Secret;
use protocol::control::{
    ControlRequest, ControlResponse, MAX_ANSWER_CHARS, OtlpSettings, SessionSummary,
};
use serde_json::json;
use studio_client::Client;

use super::{CliError, Ctx};
use supervisor::otlp::{self, SessionFacts, Target};

/// Reads the value of each header in `names`.
pub(crate) fn read_headers(names: &[String]) -> Result<Vec<(String, Secret)>, CliError> {
    let mut headers = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for name in names {
        let value = if std::io::stdin().is_terminal() {
            rpassword::prompt_password(format!("{name}: "))
                .map_err(|e| CliError::msg(format!("cannot read header {name}: {e}")))?
        } else {
            lines
                .next()
                .transpose()
                .map_err(|e| CliError::msg(format!("cannot read header {name} from stdin: {e}")))?
                .unwrap_or_default()
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(CliError::invalid(format!(
                "no value for header {name} (one line per --header on stdin, in order)"
            )));
        }
        headers.push((name.clone(), Secret::new(value)));
    }
    otlp::check_headers(&headers).map_err(|e| CliError::invalid(e.to_string()))?;
    Ok(headers)
}

/// The target for `--otlp URL` with `--header` names.
pub(crate) fn target(url: &str, header_names: &[String]) -> Result<Target, CliError> {
    let url = otlp::traces_url(url).map_err(|e| CliError::invalid(e.to_string()))?;
    let headers = read_headers(header_names)?;
    Ok(Target { url, headers })
}

/// Sends session `id` (an id or prefix) to `target`.
pub(crate) async fn export_session(
    client: &Client,
    id: &str,
    target: &Target,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let summary = match client
        .request(ControlRequest::SessionSetup { id: id.to_owned() })
        .await?
    {
        ControlResponse::Setup(setup) => setup.summary,
        other => return Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    };
    let sent = send_sessions(client, &[summary], target).await?;
    report(&sent, target, ctx);
    Ok(())
}

/// Sends every run of group `id` to `target`.
pub(crate) async fn export_group(
    client: &Client,
    id: &str,
    target: &Target,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let (_, runs) = super::groups::whole(client, id, MAX_ANSWER_CHARS).await?;
    let summaries: Vec<SessionSummary> = runs.into_iter().map(|run| run.summary).collect();
    let sent = send_sessions(client, &summaries, target).await?;
    report(&sent, target, ctx);
    Ok(())
}

/// What was sent for one session.
struct Sent {
    session: String,
    turns: usize,
    spans: usize,
    running: bool,
}

async fn send_sessions(
    client: &Client,
    sessions: &[SessionSummary],
    target: &Target,
) -> Result<Vec<Sent>, CliError> {
    let sender = otlp::Sender::new(target).map_err(|e| CliError::invalid(e.to_string()))?;
    let mut sent = Vec::new();
    for summary in sessions {
        let events = client.all_events(summary.id, 0).await?;
        let facts = SessionFacts {
            agent: summary.agent.clone(),
            group: summary.batch,
            label: summary.label.clone(),
        };
        let turns = otlp::turns(summary.id, &facts, &events);
        let turn_count = turns.len();
        let spans: Vec<otlp::Span> = turns.into_iter().flat_map(|turn| turn.spans).collect();
        let spans = sender
            .send(spans)
            .await
            .map_err(|e| CliError::msg(e.to_string()))?;
        sent.push(Sent {
            session: summary.id.to_string(),
            turns: turn_count,
            spans,
            running: !summary.status.is_terminal()
                && summary.status != protocol::event::SessionStatus::Idle,
        });
    }
    Ok(sent)
}

fn report(sent: &[Sent], target: &Target, ctx: &Ctx) {
    if ctx.json {
        let sessions: Vec<_> = sent
            .iter()
            .map(|s| json!({"session": s.session, "turns": s.turns, "spans": s.spans}))
            .collect();
        super::output::print_json(&json!({"url": target.url, "sessions": sessions}));
        return;
    }
    for s in sent {
        let open = if s.running {
            " (the turn still running is not sent: export again once it ends)"
        } else {
            ""
        };
        errln!(
            "{}: {} turn(s), {} span(s) sent to {}{open}",
            s.session,
            s.turns,
            s.spans,
            target.url
        );
    }
}

/// `studio otlp`: continuous export from the daemon.
#[derive(Subcommand, Debug)]
pub(crate) enum OtlpCommand {
    /// Send every turn that ends from now on to an OTLP/HTTP endpoint.
    Set(SetArgs),
    /// Stop sending.
    Off,
    /// Where spans go, how many went, the last error.
    Status,
}

#[derive(Args, Debug)]
pub(crate) struct SetArgs {
    /// The endpoint: `http://HOST:4318`, or a full `…/v1/traces` URL.
    url: String,
    /// A header the endpoint wants (auth), by name; its value is read from
    /// stdin (one line per header, in order) or asked for without echo.
    /// Kept with the daemon's other secrets. Repeatable.
    #[arg(long = "header", value_name = "NAME")]
    headers: Vec<String>,
}

pub(crate) async fn execute(command: OtlpCommand, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = match command {
        OtlpCommand::Set(args) => {
            let target = target(&args.url, &args.headers)?;
            ControlRequest::SetOtlp {
                url: Some(target.url),
                headers: target.headers,
            }
        }
        OtlpCommand::Off => ControlRequest::SetOtlp {
            url: None,
            headers: Vec::new(),
        },
        OtlpCommand::Status => ControlRequest::OtlpStatus,
    };
    let settings = match client.request(request).await? {
        ControlResponse::Otlp(settings) => settings,
        other => return Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    };
    print_settings(&settings, ctx);
    Ok(())
}

fn print_settings(settings: &OtlpSettings, ctx: &Ctx) {
    if ctx.json {
        super::output::print_json(&json!({
            "url": settings.url,
            "headers": settings.header_names,
            "conventions": otlp::CONVENTIONS,
            "exported_turns": settings.exported_turns,
            "exported_spans": settings.exported_spans,
            "pending_sessions": settings.pending_sessions,
            "last_error": settings.last_error,
            "last_export_at": settings.last_export_at.map(|at| at.to_string()),
        }));
        return;
    }
    let Some(url) = &settings.url else {
        outln!("OTLP export: off");
        return;
    };
    outln!("OTLP export: to {url}");
    if !settings.header_names.is_empty() {
        outln!("headers:     {}", settings.header_names.join(", "));
    }
    outln!("conventions: {}", otlp::CONVENTIONS);
    outln!(
        "sent:        {} turn(s), {} span(s) since the daemon started; {} session(s) waiting",
        settings.exported_turns,
        settings.exported_spans,
        settings.pending_sessions
    );
    if let Some(at) = settings.last_export_at {
        outln!("last sent:   {at}");
    }
    if let Some(error) = &settings.last_error {
        outln!("last error:  {}", super::output::terminal_safe(error));
    }
}
