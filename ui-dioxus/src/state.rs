//! The app's one store: everything the pages show, folded from what the
//! daemon answers and pushes. Plain data with no Dioxus in it, so the
//! folding is tested without a window; the app keeps it in one `Signal`.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use protocol::approval::{ApprovalRule, PendingApproval};
use protocol::caps::AgentDayStanding;
use protocol::control::{
    Comparison, DaemonStatus, Group, GroupSummary, KeyInfo, MAX_COMPARED, PricingTable,
    SecretsInfo, SessionSummary, Setup, SpendBy, SpendRow,
};
use protocol::event::Event;
use protocol::mcp::{McpServerConfig, McpTransport};
use protocol::workspace::RunDiff;
use protocol::{AgentConfig, ProviderKind, SessionId, Timestamp};

use crate::known_sessions::{self, Told};
use crate::notices::Notice;

/// The pages, in navigation order (Ctrl+1..6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Page {
    /// Agent cards.
    #[default]
    Agents,
    /// Interactive sessions.
    Sessions,
    /// Headless runs and the approvals inbox.
    Runs,
    /// One session's events.
    Inspector,
    /// Keys, MCP servers, rules, pricing, limits.
    Settings,
    /// Sessions side by side.
    Compare,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 6] = [
        Page::Agents,
        Page::Sessions,
        Page::Runs,
        Page::Inspector,
        Page::Settings,
        Page::Compare,
    ];

    /// The name in the navigation bar.
    pub fn title(self) -> &'static str {
        match self {
            Page::Agents => "Agents",
            Page::Sessions => "Sessions",
            Page::Runs => "Runs",
            Page::Inspector => "Inspector",
            Page::Settings => "Settings",
            Page::Compare => "Compare",
        }
    }

    /// The page Ctrl+`digit` opens.
    pub fn by_digit(digit: char) -> Option<Page> {
        let index = digit.to_digit(10)?.checked_sub(1)?;
        Page::ALL.get(usize::try_from(index).ok()?).copied()
    }
}

/// The state of the connection to the daemon.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Link {
    /// Not connected yet.
    #[default]
    Connecting,
    /// Connected to this daemon.
    Up(DaemonStatus),
    /// Lost or refused; retrying.
    Down {
        /// Why, in words.
        reason: String,
    },
    /// The daemon was stopped on purpose (`studio daemon stop`): the app
    /// waits for the person to start it again (or for one started
    /// elsewhere), never restarting it behind their back.
    Stopped,
}

/// The app's colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// As the system prefers.
    #[default]
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

impl Theme {
    /// The one the toggle goes to next.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    /// Its name, as the toggle and the page's `data-theme` say it.
    pub fn name(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// What the connection task tells the app.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Connected (or reconnected).
    Connected(DaemonStatus),
    /// The connection failed or broke.
    Disconnected(String),
    /// The daemon was stopped on purpose; nothing restarts it but the
    /// person ([`crate::Command::StartDaemon`]).
    Stopped,
    /// Every agent.
    Agents(Vec<AgentConfig>),
    /// Every session, newest first.
    Sessions(Vec<SessionSummary>),
    /// One session changed.
    SessionChanged(Box<SessionSummary>),
    /// The approvals inbox.
    Approvals(Vec<PendingApproval>),
    /// Events of the inspected session, in seq order (a page or live).
    Events(SessionId, Vec<Event>),
    /// A page of what was said before a branch's point in its original
    /// (its `message.*` events), for the branch's chat view.
    Inherited(SessionId, Vec<Event>),
    /// A request failed: shown, never swallowed.
    Failed(String),
    /// The clock moved on (live durations are drawn against it).
    Tick(Timestamp),
    /// A provider's models, or why they could not be listed.
    Models(ProviderKind, Result<Vec<String>, String>),
    /// What the inspected session was set up with: its agent as it began
    /// (the system prompt) and, for a branch, what it inherited.
    Setup(Box<Setup>),
    /// An interactive session was opened or resumed from here: show it.
    Opened(SessionId),
    /// A replay was started from the Inspector: inspect it.
    Replayed(SessionId),
    /// Where each provider's key comes from.
    Keys(Vec<KeyInfo>),
    /// Where each stored secret lives, and where new ones go.
    Secrets(SecretsInfo),
    /// The MCP servers, without their secrets.
    Mcp(Vec<McpSummary>),
    /// The approval rules, in evaluation order.
    Rules(Vec<ApprovalRule>),
    /// The pricing table.
    Pricing(PricingTable),
    /// Sessions compared (`Compare`).
    Compared(Box<Comparison>),
    /// A group's results table (`GroupGet`).
    Results(Box<Group>),
    /// The newest groups (`GroupList`).
    Groups(Vec<GroupSummary>),
    /// Sessions were deleted (by this app, another one, or the CLI).
    Removed(Vec<SessionId>),
    /// Each agent's daily caps and what it spent today (`CapsToday`).
    CapsToday(Vec<AgentDayStanding>),
    /// What sessions spent, summed one way (`Spend`).
    Spend(SpendBy, Vec<SpendRow>),
    /// How a run's result differs from another's (`WorkspaceDiff`), or
    /// why not.
    RunDiff(Result<Box<RunDiff>, String>),
    /// A view's call started (its id), or why not; by ticket.
    AppCall(u64, Result<String, String>),
    /// A run's changes were applied (what and where), or why not.
    Applied(SessionId, Result<String, String>),
    /// An export is whole: the page saves it.
    Exported(Box<Exported>),
    /// An MCP server's tools, or why it could not be reached.
    McpTested(String, Result<Vec<String>, String>),
    /// How a sign-in to an HTTP MCP server goes.
    McpSignIn(String, SignIn),
    /// An import began: each entry of the document, pending or skipped.
    McpImportStarted(Vec<(String, ImportOutcome)>),
    /// The daemon added an imported server, or refused it and why.
    McpImported(String, Result<(), String>),
    /// Where the daemon sends traces, and how that went.
    Otlp(protocol::control::OtlpSettings),
}

/// How one entry of an MCP import fared (by name: its secrets never reach
/// the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Sent to the daemon; no answer yet.
    Pending,
    /// Added.
    Added,
    /// Not added: the entry is unusable, or the daemon refused it.
    Skipped(String),
}

/// A sign-in to an HTTP MCP server from the Settings page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Waiting for the person to sign in, at this address once known.
    Waiting(Option<String>),
    /// Signed in, or why not.
    Ended(Result<(), String>),
}

/// An MCP server as the app shows it: never its secrets.
#[derive(Clone, Debug, PartialEq)]
pub struct McpSummary {
    /// Its name.
    pub name: String,
    /// Command or URL, with the names (not values) of env vars and headers.
    pub transport: String,
    /// Seconds to start.
    pub startup_timeout_secs: u32,
    /// Seconds per call.
    pub call_timeout_secs: u32,
    /// Reached over HTTP: it may ask for a sign-in.
    pub http: bool,
}

impl McpSummary {
    /// The summary of `server`.
    pub fn of(server: &McpServerConfig) -> Self {
        Self {
            name: server.name.clone(),
            transport: server.describe(),
            startup_timeout_secs: server.startup_timeout_secs,
            call_timeout_secs: server.call_timeout_secs,
            http: matches!(server.transport, McpTransport::Http { .. }),
        }
    }
}

/// What the Settings page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Where each provider's key comes from.
    pub keys: Vec<KeyInfo>,
    /// Where each stored secret lives (keyring or file), once listed.
    pub secrets: Option<SecretsInfo>,
    /// MCP servers.
    pub mcp: Vec<McpSummary>,
    /// The last test of each MCP server.
    pub mcp_tests: HashMap<String, Result<Vec<String>, String>>,
    /// The last sign-in to each HTTP MCP server from this page.
    pub mcp_sign_ins: HashMap<String, SignIn>,
    /// The last import from the page, entry by entry (empty before one).
    pub mcp_import: Vec<(String, ImportOutcome)>,
    /// Approval rules.
    pub rules: Vec<ApprovalRule>,
    /// Prices.
    pub pricing: Option<PricingTable>,
    /// Where the daemon sends traces, once read (`OtlpStatus`).
    pub otlp: Option<protocol::control::OtlpSettings>,
}

/// Everything the pages show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppState {
    /// The page on screen.
    pub page: Page,
    /// The daemon connection.
    pub link: Link,
    /// Agents by name, as listed; `None` until the first answer.
    pub agents: Option<Vec<AgentConfig>>,
    /// Sessions by id; `None` until the first answer.
    pub sessions: Option<HashMap<SessionId, SessionSummary>>,
    /// Tool calls waiting for a person.
    pub approvals: Vec<PendingApproval>,
    /// The session open in the Inspector, and its events so far.
    pub inspected: Option<(SessionId, Vec<Event>)>,
    /// A branch shown in the chat view, and what was said in its original
    /// up to the branch point (`message.*` events), as loaded so far.
    pub inherited: Option<(SessionId, Vec<Event>)>,
    /// Errors from the daemon not yet dismissed, oldest first.
    pub errors: Vec<String>,
    /// The time live durations are drawn against.
    pub now: Timestamp,
    /// Each provider's models as last listed, or why not.
    pub models: HashMap<ProviderKind, Result<Vec<String>, String>>,
    /// The agent the run form starts with (set by an agent card's Run).
    pub run_agent: Option<String>,
    /// What the inspected session was set up with, once the daemon said.
    pub setup: Option<Box<Setup>>,
    /// Light, dark, or as the system says (the navigation's toggle).
    pub theme: Theme,
    /// Whether the desktop app shows `notices` as notifications (the
    /// navigation's bell; kept in the preferences).
    pub notify: bool,
    /// What needs a person and was not shown yet (at most
    /// [`MAX_PENDING_NOTICES`], the latest).
    pub notices: Vec<Notice>,
    /// What was said about sessions already.
    pub told: Told,
    /// Whether the Runs page shows the form that starts runs (its
    /// button, "Run" on an agent, or in the palette).
    pub runs_form_open: bool,
    /// Whether the Agents page shows the new-agent form (its button, or
    /// "New agent" in the palette).
    pub creating_agent: bool,
    /// Keys, MCP servers, rules and prices.
    pub settings: Settings,
    /// What the Compare page shows, and the sessions picked for it.
    pub compare: Comparing,
    /// The last export made, for the page to save, and how saving went.
    pub exported: Option<Box<Exported>>,
    /// Where the last export was saved, or why it was not.
    pub export_saved: Option<Result<String, String>>,
    /// The group whose results table is open on the Runs page.
    pub results: Option<Results>,
    /// The newest groups by id, as last listed (their names and totals).
    pub groups: HashMap<SessionId, GroupSummary>,
    /// What sessions spent, and the agents' caps today.
    pub spending: Spending,
    /// The run whose changes were last applied, and how that went.
    pub applied: Option<(SessionId, Result<String, String>)>,
    /// The calls views asked for, by ticket: the call's id once started,
    /// or why the daemon refused it (`app_views`).
    pub app_calls: HashMap<u64, Result<String, String>>,
    /// Whether the setup wizard is on screen.
    pub wizard_open: bool,
    /// Whether it was finished or skipped once: it then opens only from
    /// Settings (kept in the preferences).
    pub wizard_done: bool,
}

/// What sessions spent (`Spend`, each way) and each agent's daily caps
/// with what it spent today (`CapsToday`), as last asked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spending {
    /// Each agent's caps and spend today.
    pub today: Vec<AgentDayStanding>,
    /// By agent, most spent first.
    pub by_agent: Vec<SpendRow>,
    /// By model, most spent first.
    pub by_model: Vec<SpendRow>,
    /// By UTC day, newest first.
    pub by_day: Vec<SpendRow>,
}

/// A group's results table: which group, and its page once read.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The group (its first run's id).
    pub group: SessionId,
    /// What the daemon answered (`None` while it reads).
    pub shown: Option<Box<Group>>,
}

/// What an export is of: where its "saved to" is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportedFrom {
    /// A session, or a group (its first run's id).
    Session(SessionId),
    /// An agent, as an agent file (by name).
    Agent(String),
}

/// A session, a group or an agent exported as text, to be saved as a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// What it is of.
    pub from: ExportedFrom,
    /// The file's name: `session-1a2b3c4d.md`.
    pub file_name: String,
    /// Its media type.
    pub mime: &'static str,
    /// Its text.
    pub text: String,
}

/// The sessions picked to compare, and the comparison shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparing {
    /// Sessions ticked in the Sessions and Runs lists, in the order
    /// ticked (at most [`MAX_COMPARED`]).
    pub picked: Vec<SessionId>,
    /// The sessions last asked to compare, in order.
    pub asked: Vec<SessionId>,
    /// Their comparison once the daemon answered (`None` while it works),
    /// shared: the page's rows point into it rather than copy it.
    pub shown: Option<Rc<Comparison>>,
    /// How one compared run's result differs from another's (their own
    /// workspaces), or why it could not be read.
    pub changes_diff: Option<Result<Box<RunDiff>, String>>,
}

impl Comparing {
    /// Ticks `session`, or unticks it; the oldest tick drops off past
    /// [`MAX_COMPARED`].
    pub fn toggle(&mut self, session: SessionId) {
        if let Some(at) = self.picked.iter().position(|s| *s == session) {
            self.picked.remove(at);
        } else {
            self.picked.push(session);
            if self.picked.len() > MAX_COMPARED {
                self.picked.remove(0);
            }
        }
    }

    /// About to ask for `sessions` side by side: the old answer goes.
    pub fn ask(&mut self, sessions: Vec<SessionId>) {
        if self.asked != sessions {
            self.shown = None;
            self.changes_diff = None;
        }
        self.asked = sessions;
    }
}

/// Notices kept until shown at most; older ones drop off.
pub const MAX_PENDING_NOTICES: usize = 20;

/// Errors kept on screen at most; older ones drop off.
const MAX_ERRORS: usize = 5;

impl AppState {
    /// Drops deleted sessions from every list and view that holds them.
    fn forget(&mut self, gone: &[SessionId]) {
        let gone: HashSet<SessionId> = gone.iter().copied().collect();
        if let Some(sessions) = &mut self.sessions {
            sessions.retain(|id, _| !gone.contains(id));
        }
        if self
            .inspected
            .as_ref()
            .is_some_and(|(id, _)| gone.contains(id))
        {
            self.inspected = None;
        }
        self.compare.picked.retain(|id| !gone.contains(id));
        self.groups.retain(|id, _| !gone.contains(id));
        if self
            .results
            .as_ref()
            .is_some_and(|r| gone.contains(&r.group))
        {
            self.results = None;
        }
    }

    /// The agents' names, as listed (none before the list came).
    pub fn agent_names(&self) -> Vec<String> {
        self.agents
            .iter()
            .flatten()
            .map(|a| a.name.clone())
            .collect()
    }

    /// Keeps `said` to be shown (the latest [`MAX_PENDING_NOTICES`]).
    fn say(&mut self, said: Vec<Notice>) {
        self.notices.extend(said);
        let over = self.notices.len().saturating_sub(MAX_PENDING_NOTICES);
        self.notices.drain(..over);
    }

    /// Folds one update in.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Connected(status) => self.link = Link::Up(status),
            Update::Disconnected(reason) => self.link = Link::Down { reason },
            Update::Stopped => self.link = Link::Stopped,
            Update::Agents(agents) => {
                // A first run: no agent yet, and no wizard finished.
                if self.agents.is_none() && agents.is_empty() && !self.wizard_done {
                    self.wizard_open = true;
                }
                self.agents = Some(agents);
            }
            Update::Sessions(list) => {
                let said = known_sessions::fold_list(&mut self.sessions, list, &mut self.told);
                self.say(said);
            }
            Update::SessionChanged(summary) => {
                let said =
                    known_sessions::fold_change(&mut self.sessions, *summary, &mut self.told);
                self.say(said);
            }
            Update::Approvals(approvals) => self.approvals = approvals,
            Update::Events(session, events) => match &mut self.inspected {
                Some((open, known)) if *open == session => {
                    let last = known.last().map_or(0, |e| e.seq);
                    known.extend(events.into_iter().filter(|e| e.seq > last));
                }
                // Events of a session no longer inspected are dropped.
                _ => {}
            },
            Update::Inherited(branch, events) => match &mut self.inherited {
                Some((open, known)) if *open == branch => {
                    let last = known.last().map_or(0, |e| e.seq);
                    known.extend(events.into_iter().filter(|e| e.seq > last));
                }
                _ => {}
            },
            Update::Tick(now) => self.now = now,
            Update::Setup(setup) => {
                if self
                    .inspected
                    .as_ref()
                    .is_some_and(|(open, _)| *open == setup.summary.id)
                {
                    self.setup = Some(setup);
                }
            }
            Update::Models(provider, models) => {
                self.models.insert(provider, models);
            }
            Update::Keys(keys) => self.settings.keys = keys,
            Update::Secrets(secrets) => self.settings.secrets = Some(secrets),
            Update::Mcp(servers) => self.settings.mcp = servers,
            Update::Rules(rules) => self.settings.rules = rules,
            Update::Pricing(table) => self.settings.pricing = Some(table),
            Update::Otlp(otlp) => self.settings.otlp = Some(otlp),
            Update::Compared(comparison) => {
                let of: Vec<SessionId> = comparison.sessions.iter().map(|s| s.summary.id).collect();
                // An answer for sessions no longer asked about is dropped.
                if of == self.compare.asked {
                    self.compare.shown = Some(Rc::from(comparison));
                }
            }
            Update::Groups(groups) => {
                self.groups = groups.into_iter().map(|g| (g.id, g)).collect();
            }
            Update::Removed(gone) => self.forget(&gone),
            Update::CapsToday(today) => self.spending.today = today,
            Update::Spend(by, rows) => match by {
                SpendBy::Agent => self.spending.by_agent = rows,
                SpendBy::Model => self.spending.by_model = rows,
                SpendBy::Day => self.spending.by_day = rows,
            },
            Update::Results(group) => {
                // An answer for a table since closed or changed is dropped.
                if let Some(results) = &mut self.results
                    && results.group == group.summary.id
                {
                    results.shown = Some(group);
                }
            }
            Update::Applied(run, outcome) => self.applied = Some((run, outcome)),
            Update::RunDiff(diff) => self.compare.changes_diff = Some(diff),
            Update::AppCall(ticket, started) => {
                self.app_calls.insert(ticket, started);
            }
            Update::Exported(exported) => {
                self.exported = Some(exported);
                self.export_saved = None;
            }
            Update::McpTested(name, tools) => {
                self.settings.mcp_tests.insert(name, tools);
            }
            Update::McpSignIn(name, news) => {
                self.settings.mcp_sign_ins.insert(name, news);
            }
            Update::McpImportStarted(report) => self.settings.mcp_import = report,
            Update::McpImported(name, result) => {
                let outcome = match result {
                    Ok(()) => ImportOutcome::Added,
                    Err(why) => ImportOutcome::Skipped(why),
                };
                match self
                    .settings
                    .mcp_import
                    .iter_mut()
                    .find(|(n, _)| *n == name)
                {
                    Some((_, row)) => *row = outcome,
                    None => self.settings.mcp_import.push((name, outcome)),
                }
            }
            Update::Opened(session) => {
                self.inspected = Some((session, Vec::new()));
                self.page = Page::Sessions;
            }
            Update::Replayed(session) => {
                self.inspected = Some((session, Vec::new()));
                self.page = Page::Inspector;
            }
            Update::Failed(message) => {
                self.errors.push(message);
                if self.errors.len() > MAX_ERRORS {
                    self.errors.remove(0);
                }
            }
        }
    }

    /// Sessions of one kind, newest first.
    pub fn sessions_newest_first(&self, interactive: bool) -> Vec<&SessionSummary> {
        let mut list: Vec<&SessionSummary> = self
            .sessions
            .iter()
            .flat_map(HashMap::values)
            .filter(|s| s.interactive == interactive)
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        list
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
