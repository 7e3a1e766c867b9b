//! The five pillars. Each reads the store from context and sends commands;
//! none talks to the daemon.

mod agents;
mod inspector;
mod runs;
mod sessions;
mod settings;

pub use agents::AgentsPage;
pub use inspector::InspectorPage;
pub use runs::RunsPage;
pub use sessions::SessionsPage;
pub use settings::SettingsPage;
