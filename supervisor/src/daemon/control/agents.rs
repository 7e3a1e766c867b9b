//! Agent requests: create (validated, its workspace and sandbox paths
//! checked against the data dir), list, get and remove.

use protocol::agent::AgentConfig;
use protocol::control::{ControlError, ControlResponse, ErrorKind};

use super::Handles;

pub(super) async fn create(
    handles: &Handles,
    mut agent: AgentConfig,
    replace: bool,
) -> Result<ControlResponse, ControlError> {
    agent
        .validate()
        .map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
    // Stored as the worker will use it, so `agent show` tells the truth.
    if let Some(url) = &agent.base_url {
        agent.base_url = Some(
            protocol::base_url::normalize(agent.provider, url)
                .map_err(|m| ControlError::new(ErrorKind::Invalid, m))?,
        );
    }
    check_agent_workspace(&agent, &handles.shared.config.data_dir)?;
    handles.shared.store.put_agent(agent, replace).await?;
    Ok(ControlResponse::Ok)
}

pub(super) async fn list(handles: &Handles) -> Result<ControlResponse, ControlError> {
    Ok(ControlResponse::Agents(
        handles.shared.store.agents().await?,
    ))
}

pub(super) async fn get(handles: &Handles, name: String) -> Result<ControlResponse, ControlError> {
    Ok(ControlResponse::Agent(
        handles.shared.store.agent(name).await?,
    ))
}

pub(super) async fn remove(
    handles: &Handles,
    name: String,
) -> Result<ControlResponse, ControlError> {
    handles.shared.store.remove_agent(name.clone()).await?;
    // Its own rules go with it: an agent made later under the same name
    // (an import, a template) starts with none of them.
    let ControlResponse::Rules(rules) = super::approvals::rule_list(handles).await? else {
        return Ok(ControlResponse::Ok);
    };
    for rule in rules {
        if rule.agent.as_deref() == Some(name.as_str()) {
            super::approvals::rule_remove(handles, rule.id).await?;
        }
    }
    Ok(ControlResponse::Ok)
}

/// Refuses a confined agent whose own workspace or sandbox paths are the
/// data dir, inside it or above it (see `DataDir::check_workspace`); a
/// workspace that does not exist yet is checked again when a session
/// starts.
fn check_agent_workspace(
    agent: &protocol::agent::AgentConfig,
    data_dir: &crate::paths::DataDir,
) -> Result<(), ControlError> {
    if agent.safety == protocol::agent::SafetyMode::Full {
        return Ok(());
    }
    let refused = |err: std::io::Error| ControlError::new(ErrorKind::Invalid, err.to_string());
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    data_dir
        .check_sandbox_paths(&agent.sandbox, home.as_deref())
        .map_err(refused)?;
    let Some(dir) = &agent.workspace else {
        return Ok(());
    };
    match data_dir.check_workspace(std::path::Path::new(dir)) {
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => Err(refused(err)),
        _ => Ok(()),
    }
}
