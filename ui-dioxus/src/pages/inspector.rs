//! Inspector: one session's events as they were recorded, appended live
//! while it runs: a timeline (colour by kind, chips, search, streamed
//! chunks grouped), the selected event in detail, and a stats bar.
//! j/k or the arrow keys move through the events. Only the rows in view
//! are drawn, so a long session scrolls smoothly.

use std::collections::HashSet;

use dioxus::prelude::*;
use protocol::control::ReplaySpec;
use protocol::event::Event;
use protocol::tape::AfterTape;
use protocol::{SessionId, Timestamp};

use crate::commands::Commands;
use crate::connection::Command;
use crate::detail::{self, Section};
use crate::fields::TextInput;
use crate::format;
use crate::inspect::{self, Kind, Row};
use crate::pages::picker::SessionPicker;
use crate::pages::session_actions::SessionActions;
use crate::pages::status::DamageNote;
use crate::state::AppState;
use crate::waterfall::Waterfall;

/// Height of one timeline row, in CSS pixels (fixed, for windowing).
const ROW_PX: f64 = 22.0;
/// Rows drawn beyond the visible ones, above and below.
const SPARE_ROWS: usize = 20;

/// Where the timeline must scroll to (its new top) for row `row` to be in
/// full view, given the current top and height; `None` if it is in view.
pub fn scroll_to_show(row: usize, top: f64, height: f64) -> Option<f64> {
    let row_top = row as f64 * ROW_PX;
    if row_top < top {
        Some(row_top)
    } else if row_top + ROW_PX > top + height {
        Some((row_top + ROW_PX - height).max(0.0))
    } else {
        None
    }
}

/// The Inspector page.
#[component]
pub fn InspectorPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let mut chips = use_signal(Vec::<Kind>::new);
    let mut search = use_signal(String::new);
    let mut selected = use_signal(|| None::<usize>);
    let mut expanded = use_signal(HashSet::<usize>::new);
    let mut view = use_signal(|| (0.0_f64, 600.0_f64));
    let read = state.read();
    let Some((session, events)) = &read.inspected else {
        return rsx! {
            SessionPicker { current: None }
            p { class: "empty", "Pick a session to inspect above, or with the Inspect button in Runs or Sessions." }
        };
    };
    let rows = inspect::rows(events, &chips.read(), &search.read(), &expanded.read());
    let mut stats = studio_client::stats::stats(events);
    let summary = read.sessions.iter().find_map(|all| all.get(session));
    // A live session's time runs on to now, not to its last event (a run
    // hung for minutes has spent minutes).
    if summary.is_some_and(|s| !s.status.is_terminal())
        && let Some(first) = events.first()
    {
        stats.span_micros = read.now.0.saturating_sub(first.at.0).max(stats.span_micros);
    }
    let start = events.first().map_or(read.now, |e| e.at);
    // A live session with nothing recorded for a while says so.
    let stalled = summary
        .filter(|s| {
            use protocol::SessionStatus as S;
            // Idle waits for a message, Waiting for a person: not stuck.
            !s.status.is_terminal() && !matches!(s.status, S::Idle | S::Waiting)
        })
        .and_then(|s| inspect::stalled_for(s.last_activity, read.now));
    let live = summary.is_some_and(|s| !s.status.is_terminal());
    let spans = crate::waterfall::spans(events, live.then_some(read.now));
    let (top, height) = *view.read();
    let first_drawn = ((top / ROW_PX) as usize).saturating_sub(SPARE_ROWS);
    let drawn = (height / ROW_PX) as usize + 2 * SPARE_ROWS;
    let last_drawn = (first_drawn + drawn).min(rows.len());
    let first_drawn = first_drawn.min(last_drawn);
    let position = selected().and_then(|s| rows.iter().position(|r| r.first == s));
    let row_count = rows.len();
    let firsts: Vec<usize> = rows.iter().map(|r| r.first).collect();
    let damage = summary.and_then(|s| s.damage.clone());
    let setup = read
        .setup
        .as_deref()
        .filter(|setup| setup.summary.id == *session);
    let detail = selected().and_then(|s| {
        let event = events.get(s)?.clone();
        let mut sections = detail::sections(events, s, &read.settings.rules);
        detail::with_setup(&mut sections, setup);
        Some((event, sections))
    });
    rsx! {
        div { class: "inspector",
            tabindex: 0,
            onkeydown: move |event: KeyboardEvent| {
                let step: isize = match event.key() {
                    Key::ArrowDown => 1,
                    Key::ArrowUp => -1,
                    Key::Character(c) if c == "j" => 1,
                    Key::Character(c) if c == "k" => -1,
                    _ => return,
                };
                event.prevent_default();
                if row_count == 0 {
                    return;
                }
                let next = match position {
                    Some(at) => at.saturating_add_signed(step).min(row_count - 1),
                    None => 0,
                };
                selected.set(firsts.get(next).copied());
                if let Some(new_top) = scroll_to_show(next, top, height) {
                    view.set((new_top, height));
                    document::eval(&format!(
                        "const t = document.querySelector('.inspector .timeline'); if (t) t.scrollTop = {new_top};"
                    ));
                }
            },
            SessionPicker { current: Some(*session) }
            SessionActions { session: *session }
            if let Some(damage) = damage {
                DamageNote { damage }
            }
            if let Some(quiet) = stalled {
                p { class: "stalled", role: "status",
                    "No event for {format::duration(quiet)}: the session may be stuck (Cancel or Kill it from Runs)."
                }
            }
            StatsBar { stats }
            Waterfall { spans, on_select: move |index| selected.set(Some(index)) }
            div { class: "filters",
                for chip in Kind::CHIPS {
                    button {
                        class: if chips.read().contains(&chip) { "chip on {chip.class()}" } else { "chip {chip.class()}" },
                        onclick: move |_| {
                            let mut chips = chips.write();
                            if let Some(at) = chips.iter().position(|c| *c == chip) {
                                chips.remove(at);
                            } else {
                                chips.push(chip);
                            }
                        },
                        "{chip.label()}"
                    }
                }
                TextInput { class: "search", name: "search", placeholder: "Search events",
                    value: search(), oninput: move |text| search.set(text) }
                span { class: "muted", "{row_count} rows · {events.len()} events" }
            }
            div { class: "split",
                div { class: "timeline",
                    onscroll: move |e| view.set((e.data().scroll_top(), f64::from(e.data().client_height().max(1)))),
                    div { style: "height: {first_drawn as f64 * ROW_PX}px" }
                    for row in rows[first_drawn..last_drawn].iter().copied() {
                        TimelineRow {
                            key: "{row.first}",
                            row,
                            event: events[row.first].clone(),
                            last_name: events[row.last].kind.name(),
                            start,
                            took: inspect::took(events, row),
                            open: expanded.read().contains(&row.first),
                            selected: selected() == Some(row.first),
                            on_select: move |index| selected.set(Some(index)),
                            on_toggle: move |index| {
                                let mut expanded = expanded.write();
                                if !expanded.remove(&index) {
                                    expanded.insert(index);
                                }
                            },
                        }
                    }
                    div { style: "height: {(row_count - last_drawn) as f64 * ROW_PX}px" }
                }
                div { class: "detail",
                    match detail {
                        Some((event, sections)) => rsx! { EventDetail { event, sections, start } },
                        None => rsx! { p { class: "muted", "Select an event (click, or j/k)." } },
                    }
                }
            }
        }
    }
}

/// The figures of the whole session.
#[component]
fn StatsBar(stats: studio_client::stats::Stats) -> Element {
    rsx! {
        p { class: "stats",
            span { "tokens in {stats.input_tokens} (cached {stats.cached_tokens}) · out {stats.output_tokens}" }
            span { "cost {studio_client::human::usd(stats.cost_usd)}" }
            span { "{format::count(stats.requests as usize, \"request\", \"requests\")}" }
            span { "{format::count(stats.tool_calls as usize, \"tool call\", \"tool calls\")} ({stats.approved} approved, {stats.denied} denied)" }
            span { "{format::count(stats.errors as usize, \"error\", \"errors\")}" }
            span { "{format::duration(stats.span_micros)} in all · models {format::duration(stats.llm_micros)} · tools {format::duration(stats.tool_micros)}" }
        }
        if !stats.by_model.is_empty() {
            table { class: "by-model",
                thead { tr { th { "provider" } th { "model" } th { "requests" } th { "tokens in" } th { "tokens out" } th { "cost" } } }
                tbody {
                    for spend in stats.by_model {
                        tr {
                            td { "{spend.provider}" }
                            td { "{spend.model}" }
                            td { class: "num", "{spend.requests}" }
                            td { class: "num", "{spend.input_tokens}" }
                            td { class: "num", "{spend.output_tokens}" }
                            td { class: "num",
                                "{studio_client::human::usd(spend.cost_usd)}"
                                if spend.unpriced > 0 { " (+{spend.unpriced} unpriced)" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One row of the timeline: an event, or a collapsed group of them (a
/// request's or a tool call's), which its toggle opens (`open`).
#[component]
fn TimelineRow(
    row: Row,
    event: Event,
    last_name: &'static str,
    /// When the session's first event was recorded.
    start: Timestamp,
    /// How long the group took (first to last event), for a group.
    took: Option<u64>,
    open: bool,
    selected: bool,
    on_select: EventHandler<usize>,
    on_toggle: EventHandler<usize>,
) -> Element {
    let kind = Kind::of(&event.kind);
    let class = if selected {
        format!("row {} selected", kind.class())
    } else {
        format!("row {}", kind.class())
    };
    let name = if row.count > 1 {
        format!("{} … {last_name} ({})", event.kind.name(), row.count)
    } else {
        event.kind.name().to_owned()
    };
    let toggle = (row.count > 1 || open).then_some(if open { "▾" } else { "▸" });
    rsx! {
        div { class, onclick: move |_| on_select.call(row.first),
            span { class: "seq", "{event.seq}" }
            span { class: "at", title: "{event.at}", "+{format::duration(event.at.0.saturating_sub(start.0))}" }
            span { class: "toggle",
                if let Some(arrow) = toggle {
                    button {
                        class: "expand",
                        title: if open { "collapse" } else { "expand" },
                        onclick: move |e| {
                            e.stop_propagation();
                            on_toggle.call(row.first);
                        },
                        "{arrow}"
                    }
                }
            }
            span { class: "name", "{name}" }
            span { class: "took",
                if let Some(took) = took {
                    {format::duration(took)}
                }
            }
            span { class: "text", {format::event_detail(&event.kind)} }
        }
    }
}

/// Everything about one event, adapted to its kind; its raw fields as
/// JSON behind a toggle.
#[component]
fn EventDetail(event: Event, sections: Vec<Section>, start: Timestamp) -> Element {
    let fields = studio_client::event_fields::pretty(&event.kind);
    rsx! {
        h4 { "#{event.seq} {event.kind.name()}" }
        p { class: "muted",
            time { title: "{event.at}", "+{format::duration(event.at.0.saturating_sub(start.0))}" }
            " after the first event"
        }
        BranchHere { session: event.session, at_seq: event.seq }
        ReplayHere { session: event.session, at_seq: event.seq }
        for section in sections {
            h5 { "{section.title}" }
            pre { class: if section.error { "assembled problem" } else { "assembled" }, "{section.body}" }
        }
        details { class: "raw",
            summary { "Raw fields (JSON)" }
            pre { "{fields}" }
        }
    }
}

/// "Branch from here": a new interactive session that goes on from the
/// conversation up to this event, with the agent picked (the original's
/// by default); the original stays as it is.
#[component]
fn BranchHere(session: SessionId, at_seq: u64) -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let mut agent = use_signal(String::new);
    let agents = state.read().agent_names();
    rsx! {
        div { class: "branch",
            select { name: "branch_agent", value: "{agent}",
                onchange: move |e| agent.set(e.value()),
                option { value: "", "the same agent" }
                for name in agents {
                    option { value: "{name}", selected: *agent.read() == name, "{name}" }
                }
            }
            button { r#type: "button",
                title: "a new chat that goes on from the conversation up to this event",
                onclick: move |_| {
                    let picked = agent.read().clone();
                    commands.send(Command::Branch {
                        session,
                        at_seq,
                        agent: Some(picked).filter(|a| !a.is_empty()),
                    });
                },
                "Branch from here"
            }
        }
    }
}

/// Runs the session again as a headless run (or a chat) from the turn of
/// this event, keeping what was said before it, with the turn's message
/// or another and the same model or another; the new run opens here, a
/// chat on the Sessions page.
#[component]
fn ReplayHere(session: SessionId, at_seq: u64) -> Element {
    let commands = use_context::<Commands>();
    let mut prompt = use_signal(String::new);
    let mut model = use_signal(String::new);
    let mut tape = use_signal(|| false);
    let given = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let replay = move |as_chat: bool| {
        let spec = ReplaySpec {
            at_seq: Some(at_seq),
            prompt: given(prompt()),
            model: given(model()),
            as_chat,
            // A chat goes on live; a run may play the recording first.
            tape: (tape() && !as_chat).then_some(AfterTape::Live),
            ..ReplaySpec::default()
        };
        commands.send(Command::Replay {
            session,
            spec: Box::new(spec),
            inspect: true,
        });
    };
    rsx! {
        div { class: "replay",
            TextInput { name: "replay_prompt", aria_label: "The turn's message",
                placeholder: "the turn's message (empty: as recorded)",
                value: prompt(), oninput: move |text| prompt.set(text) }
            TextInput { name: "replay_model", aria_label: "Model",
                placeholder: "model (empty: the same)",
                value: model(), oninput: move |text| model.set(text) }
            label { class: "tape",
                title: "serve each model response and tool result from the recording while the replay asks what the original asked; live from where it parts",
                input { r#type: "checkbox", name: "replay_tape", checked: tape(),
                    onchange: move |e| tape.set(e.checked()) }
                " from the tape"
            }
            button { r#type: "button",
                title: "a new run from this event's turn (a chat's later turns follow), keeping what was said before it",
                onclick: move |_| replay(false),
                "Replay from here"
            }
            button { r#type: "button", class: "replay-chat",
                title: "a new chat that says this turn's message again, keeping what was said before it",
                onclick: move |_| replay(true),
                "as a chat"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_past_either_edge_scrolls_just_enough() {
        // 10 rows of 22 px in view from the top.
        let height = 10.0 * ROW_PX;
        assert_eq!(scroll_to_show(3, 0.0, height), None);
        assert_eq!(scroll_to_show(9, 0.0, height), None);
        assert_eq!(scroll_to_show(10, 0.0, height), Some(ROW_PX));
        assert_eq!(scroll_to_show(4, 5.0 * ROW_PX, height), Some(4.0 * ROW_PX));
        assert_eq!(scroll_to_show(500, 0.0, height), Some(491.0 * ROW_PX));
    }
}
