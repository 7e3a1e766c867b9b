//! `Replay`: a recorded session (a run or a chat) run again as a headless
//! run (or, `as_chat`, an interactive session) from one of its turns,
//! keeping the conversation before that turn, with the same or a changed
//! context (`ReplaySpec`), live or from the recorded tape (`tape::build`,
//! played by the worker). The new run's
//! `parent` is the original at the event before the turn, so its first
//! request carries what was said before (`history::inherited`), and its
//! label says where it comes from and what changed.

use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::control::{ControlError, ControlResponse, ErrorKind, ReplaySpec, RunSpec};
use protocol::event::{Event, EventKind};
use protocol::tape::{AfterTape, FirstRequest, digest};

use super::runs::{Origin, check, queue};
use super::{chat, find_session};
use crate::daemon::history::{self, Conversation};
use crate::daemon::root::Handles;
use crate::daemon::session::LaterTurn;
use crate::daemon::tape;
use crate::store::{SessionKind, SessionRecord, Store};

pub(super) async fn replay(
    session: &str,
    spec: ReplaySpec,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let invalid = |message: String| ControlError::new(ErrorKind::Invalid, message);
    let store = &handles.shared.store;
    let original = find_session(store, session).await?;
    let events = history::events_through(store, original.id, original.last_seq).await?;
    let (turn, recorded) = turn_of(&original, &events, spec.at_seq)?;
    if spec.as_chat && spec.tape.is_some() {
        return Err(invalid(
            "a replay from the tape is a headless run: leave out --chat or --tape".to_owned(),
        ));
    }
    let tape = match spec.tape {
        Some(then) => {
            let parent = Some((original.id, turn - 1));
            let before = history::inherited(store, original.id, parent).await?;
            let first = FirstRequest {
                system: original.agent.system_prompt.clone(),
                history: digest(&history::conversation(&before)),
                input: recorded.clone(),
            };
            Some(Box::new(tape::build(&events, turn, first, then)))
        }
        None => None,
    };
    let prompt = spec.prompt.clone().unwrap_or(recorded);
    if prompt.trim().is_empty() {
        return Err(invalid(
            "a replay needs a prompt: the one given is empty".to_owned(),
        ));
    }
    let base = match &spec.agent {
        Some(name) => store.agent(name.clone()).await?,
        None => original.agent.clone(),
    };
    let agent = spec.changed(base);
    agent.validate().map_err(invalid)?;
    let label = label(&original, turn, &spec.changes());
    let parent = Some((original.id, turn - 1));
    if spec.as_chat {
        return as_chat(agent, parent, label, prompt, handles).await;
    }
    // A run keeps its budgets, script and approval settings.
    let mut run = match original.kind {
        SessionKind::Run => store.run(original.id).await?.spec,
        SessionKind::Chat => RunSpec::default(),
    };
    run.agent.clone_from(&agent.name);
    run.prompt = prompt;
    run.label = Some(label);
    check(&run, &agent)?;
    super::runs::admit_one(&agent, handles).await?;
    // A chat goes on with its later turns, each its recorded message.
    let later = match original.kind {
        SessionKind::Chat => later_turns(store, &original, &events, turn, spec.tape).await?,
        SessionKind::Run => Vec::new(),
    };
    let origin = Origin {
        parent,
        tape,
        later,
    };
    let session = queue(run, agent, None, origin, SessionId::new(), handles).await?;
    Ok(ControlResponse::RunAccepted { session })
}

/// The turns of a chat after `turn`: each later recorded message, and for
/// a replay from the tape (`then`), the recorded turn it starts.
async fn later_turns(
    store: &Store,
    original: &SessionRecord,
    events: &[Event],
    turn: u64,
    then: Option<AfterTape>,
) -> Result<Vec<LaterTurn>, ControlError> {
    // The conversation before each later turn, folded once in order.
    let mut before = Conversation::default();
    if then.is_some() {
        for event in history::inherited(store, original.id, original.parent).await? {
            before.fold(&event.kind);
        }
    }
    let mut folded = 0;
    let mut later = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let EventKind::MessageUser { text } = &event.kind else {
            continue;
        };
        if event.seq <= turn {
            continue;
        }
        let mut tape = None;
        if let Some(then) = then {
            for event in &events[folded..index] {
                before.fold(&event.kind);
            }
            folded = index;
            let first = FirstRequest {
                system: original.agent.system_prompt.clone(),
                history: digest(&before.so_far()),
                input: text.clone(),
            };
            tape = Some(Box::new(tape::build(events, event.seq, first, then)));
        }
        later.push(LaterTurn {
            prompt: text.clone(),
            tape,
        });
    }
    Ok(later)
}

/// The replay as an interactive session: opened on the inherited
/// conversation, the turn's message said as soon as its worker is up.
async fn as_chat(
    agent: AgentConfig,
    parent: Option<(SessionId, u64)>,
    label: String,
    prompt: String,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    chat::check(&agent)?;
    let mut record = chat::new_record(agent, handles).await;
    record.parent = parent;
    record.label = Some(label);
    let session = record.id;
    let opened = chat::open_new(record, handles).await?;
    chat::deliver(session, crate::daemon::ChatInput::Say(prompt), handles).await?;
    Ok(opened)
}

/// The new run's label: where it comes from and what changed, after the
/// original's own label if it had one (`batch-2 (replay from #5)`), else
/// after its short id (`replay of 1a2b3c4d from #5 (model gpt-4.1)`).
fn label(original: &SessionRecord, turn: u64, changes: &[String]) -> String {
    let changed = changes.join(", ");
    match (&original.label, changed.is_empty()) {
        (Some(label), true) => format!("{label} (replay from #{turn})"),
        (Some(label), false) => format!("{label} (replay from #{turn}; {changed})"),
        (None, true) => format!("replay of {} from #{turn}", original.id.short()),
        (None, false) => format!("replay of {} from #{turn} ({changed})", original.id.short()),
    }
}

/// The turn `at` belongs to in `original` (whose events are `events`):
/// the seq of its user message and what it said. With no `at`, the first
/// turn; an event before the first turn belongs to the first.
fn turn_of(
    original: &SessionRecord,
    events: &[Event],
    at: Option<u64>,
) -> Result<(u64, String), ControlError> {
    let last = original.last_seq;
    if let Some(at) = at
        && (at == 0 || at > last)
    {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!(
                "session {} has events 1 to {last}: cannot replay from #{at}",
                original.id
            ),
        ));
    }
    let said = |e: &Event| match &e.kind {
        EventKind::MessageUser { text } => Some((e.seq, text.clone())),
        _ => None,
    };
    let at = at.unwrap_or(0);
    let turn = events
        .iter()
        .filter(|e| e.seq <= at)
        .filter_map(said)
        .next_back()
        .or_else(|| events.iter().find_map(said));
    turn.ok_or_else(|| {
        ControlError::new(
            ErrorKind::Invalid,
            format!(
                "session {} has no user message: there is no turn to replay",
                original.id
            ),
        )
    })
}
