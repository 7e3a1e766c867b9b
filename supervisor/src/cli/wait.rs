//! `studio wait ID [ID...]` or `studio wait --group ID`: returns once every
//! named session (or every run of the group) has ended, for scripts. Exit 0 when all completed, 3 when one ended otherwise
//! (failed, cancelled, killed, crashed, interrupted), 4 when one does not
//! exist; with `--timeout`, 1 when time ran out first (nothing is
//! stopped).

use std::time::Duration;

use clap::Args;
use protocol::control::{ControlRequest, Push, SessionSummary};
use protocol::event::SessionStatus;
use studio_client::Client;

use super::groups::whole;
use super::output::{print_json, session_json, table};
use super::sessions::summary;
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct WaitArgs {
    /// The sessions (ids, short ids or prefixes).
    #[arg(required_unless_present = "group", value_name = "ID")]
    ids: Vec<String>,
    /// Every run of this group (its id, short id or prefix).
    #[arg(long, value_name = "ID", conflicts_with = "ids")]
    group: Option<String>,
    /// Give up after this long (`30s`, `5m`, `1h`); the sessions go on.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
}

pub(crate) async fn execute(args: WaitArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let mut sessions = Vec::with_capacity(args.ids.len());
    for id in &args.ids {
        sessions.push(summary(&client, id).await?);
    }
    if let Some(group) = &args.group {
        let (_, runs) = whole(&client, group, 0).await?;
        sessions.extend(runs.into_iter().map(|run| run.summary));
    }
    let waited = async {
        for session in &sessions {
            until_ended(&client, session).await?;
        }
        Ok::<_, CliError>(())
    };
    match args.timeout {
        Some(limit) => tokio::time::timeout(limit, waited).await.map_err(|_| {
            CliError::msg(format!(
                "timed out after {}: the sessions go on",
                humantime::format_duration(limit)
            ))
        })??,
        None => waited.await?,
    }
    let mut ended = Vec::with_capacity(sessions.len());
    for session in &sessions {
        ended.push(summary(&client, &session.id.to_string()).await?);
    }
    if ctx.json {
        print_json(&serde_json::Value::Array(
            ended.iter().map(session_json).collect(),
        ));
    } else {
        let mut t = table(&["ID", "AGENT", "STATUS"]);
        for s in &ended {
            t.add_row(vec![s.id.short(), s.agent.clone(), s.status.to_string()]);
        }
        outln!("{t}");
    }
    let unfinished = ended
        .iter()
        .filter(|s| s.status != SessionStatus::Completed)
        .count();
    match unfinished {
        0 => Ok(()),
        n => Err(CliError::incomplete(format!(
            "{n} of {} sessions did not complete",
            ended.len()
        ))),
    }
}

/// Returns once `session` has its terminal event (at once if it has).
async fn until_ended(client: &Client, session: &SessionSummary) -> Result<(), CliError> {
    if session.status.is_terminal() {
        return Ok(());
    }
    let mut events = client
        .subscribe(ControlRequest::Follow {
            session: session.id,
            after_seq: session.events,
        })
        .await?;
    while let Some(push) = events.next().await {
        match push {
            Push::Event(event) if event.kind.is_terminal() => return Ok(()),
            Push::End => return Ok(()),
            _ => {}
        }
    }
    Err(CliError::msg(format!(
        "the daemon stopped following session {} before it ended",
        session.id
    )))
}
