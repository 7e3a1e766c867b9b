//! The pages. Each reads the store from context and sends commands;
//! none talks to the daemon.

mod agent_files;
mod agent_form;
mod agents;
mod budgets;
mod caps;
mod checks;
pub mod compare;
mod deleting;
mod inbox;
mod inspector;
mod picker;
mod results;
mod run_form;
mod runs;
pub mod runs_table;
mod sampling;
mod session_actions;
mod sessions;
mod settings;
mod status;
pub mod templates;
mod wizard;

pub use agent_form::{AgentDraft, AgentForm, RuleDraft};
pub use agents::AgentsPage;
pub use budgets::BudgetDraft;
pub use compare::ComparePage;
pub use inspector::InspectorPage;
pub use picker::find_sessions;
pub use run_form::{RunDraft, RunForm};
pub use runs::RunsPage;
pub use sampling::SamplingDraft;
pub use sessions::SessionsPage;
pub use settings::{
    McpAddForm, McpDraft, McpImportForm, McpKind, PluginsSection, PriceDraft, Pricing,
    SettingsPage, import_problem,
};
pub use wizard::Wizard;
