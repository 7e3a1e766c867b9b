//! `studio ps`, `studio cancel|kill ID`, `studio events ID [--follow]`,
//! `studio title ID [TEXT]`.

use clap::Args;
use protocol::SessionId;
use protocol::control::{ControlRequest, ControlResponse, Push, SessionSummary};
use studio_client::Client;
use studio_client::human::{session_cost, session_tokens};

use super::output::{
    bytes, duration, event_json, event_line, print_json, session_duration, session_json, table,
};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct PsArgs {
    /// Include sessions that ended.
    #[arg(long, short)]
    all: bool,
    /// Show at most this many (newest first).
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Args, Debug)]
pub(crate) struct StopArgs {
    /// Session id (or its first hex digits).
    id: String,
}

#[derive(Args, Debug)]
pub(crate) struct TitleArgs {
    /// Session id (its short form, or its first hex digits).
    id: String,
    /// The new title (one line); leave it out to give the session back its
    /// first message as title.
    #[arg(default_value = "")]
    title: String,
}

#[derive(Args, Debug)]
pub(crate) struct EventsArgs {
    /// Session id (or its first hex digits).
    id: String,
    /// Keep printing new events until the session ends.
    #[arg(long, short)]
    follow: bool,
    /// Only events after this seq.
    #[arg(long, default_value_t = 0)]
    after: u64,
}

pub(crate) async fn ps(args: PsArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::SessionList {
        all: args.all,
        limit: args.limit,
    };
    let ControlResponse::Sessions(sessions) = client.request(request).await? else {
        return Err(CliError::msg("unexpected answer to ps"));
    };
    if ctx.json {
        print_json(&serde_json::Value::Array(
            sessions.iter().map(session_json).collect(),
        ));
        return Ok(());
    }
    if sessions.is_empty() {
        outln!(
            "{}",
            if args.all {
                "no sessions yet"
            } else {
                "no live sessions (--all shows ended ones)"
            }
        );
        return Ok(());
    }
    let mut t = table(&[
        "ID", "TITLE", "AGENT", "STATUS", "FROM", "PID", "RSS", "EVENTS", "TOKENS", "COST",
        "DURATION",
    ]);
    for s in &sessions {
        let name = if s.title.is_empty() {
            s.label.clone().unwrap_or_default()
        } else {
            s.title.clone()
        };
        t.add_row(vec![
            s.id.short(),
            studio_client::human::first_line(&name, PS_TITLE_CHARS),
            s.agent.clone(),
            s.status.to_string(),
            lineage(s),
            match (&s.pid, &s.job) {
                (Some(pid), _) => pid.to_string(),
                (None, Some(job)) => format!("job {job}"),
                (None, None) => "-".to_owned(),
            },
            s.rss_bytes.map_or("-".to_owned(), bytes),
            s.events.to_string(),
            session_tokens(s),
            session_cost(s),
            session_duration(s).map_or("-".to_owned(), duration),
        ]);
    }
    outln!("{t}");
    let damaged: Vec<_> = sessions
        .iter()
        .filter_map(|s| s.damage.as_ref().map(|d| (s.id, d)))
        .collect();
    if !damaged.is_empty() {
        outln!(
            "\ndamaged (`studio daemon check` lists every damaged record, `studio daemon salvage` copies the readable ones to a new file):"
        );
        for (id, damage) in damaged {
            outln!("  {id}: {damage}");
        }
    }
    Ok(())
}

/// Where a branch or replay goes on from: `1a2b3c4d#12` (the origin's
/// short id and last event kept), else `-`.
fn lineage(s: &SessionSummary) -> String {
    match (s.parent, s.branched_at) {
        (Some(parent), Some(at)) => format!("{}#{at}", parent.short()),
        (Some(parent), None) => parent.short(),
        _ => "-".to_owned(),
    }
}

/// Longest title `studio ps` shows (`--json` has all of it).
const PS_TITLE_CHARS: usize = 40;

/// `studio title ID [TEXT]`: names a session, or gives it back its first
/// message as name.
pub(crate) async fn title(args: TitleArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::SessionRetitle {
        id: args.id,
        title: args.title,
    };
    let ControlResponse::Session(summary) = client.request(request).await? else {
        return Err(CliError::msg("unexpected answer to title"));
    };
    if ctx.json {
        print_json(&session_json(&summary));
    } else {
        outln!("{}: {}", summary.id, summary.title);
    }
    Ok(())
}

/// Resolves a full id, short id or unique prefix to a session id.
pub(crate) async fn resolve(client: &Client, id: &str) -> Result<SessionId, CliError> {
    Ok(summary(client, id).await?.id)
}

/// The session a full id or unique prefix names.
pub(crate) async fn summary(client: &Client, id: &str) -> Result<SessionSummary, CliError> {
    match client
        .request(ControlRequest::SessionGet { id: id.to_owned() })
        .await?
    {
        ControlResponse::Session(summary) => Ok(summary),
        other => Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    }
}

pub(crate) async fn stop(args: StopArgs, ctx: &Ctx, kill: bool) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let session = resolve(&client, &args.id).await?;
    let request = if kill {
        ControlRequest::Kill { session }
    } else {
        ControlRequest::Cancel { session }
    };
    client.request(request).await?;
    let verb = if kill { "killed" } else { "cancel requested" };
    if ctx.json {
        print_json(&serde_json::json!({ "session": session.to_string(), "result": verb }));
    } else {
        outln!("{session}: {verb}");
    }
    Ok(())
}

pub(crate) async fn events(args: EventsArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let session = resolve(&client, &args.id).await?;
    let print = |event: &protocol::event::Event| {
        if ctx.json {
            print_json(&event_json(event));
        } else {
            outln!("{}", event_line(event));
        }
    };
    if args.follow {
        let mut sub = client
            .subscribe(ControlRequest::Follow {
                session,
                after_seq: args.after,
            })
            .await?;
        while let Some(push) = sub.next().await {
            if let Push::Event(event) = push {
                print(&event);
            }
        }
        return Ok(());
    }
    client
        .each_events_page(session, args.after, |page| {
            page.iter().for_each(print);
            Ok::<_, CliError>(true)
        })
        .await
}
