//! `PluginEnvSet` and `PluginEnvRemove`: the values of the environment
//! variables an installed plugin declares it needs, kept in the secret
//! store as `plugin/NAME/VARIABLE` (never in its manifest, the database,
//! argv or an event). Only a variable the installed plugin declares may be
//! set; `plugin::resolve_plugin` puts the values into its servers'
//! environment and headers when a session begins.

use protocol::Secret;
use protocol::control::{ControlError, ControlResponse, ErrorKind};
use studio_client::plugin::store::Plugins;

use super::Handles;
use super::secrets::secrets_error;
use crate::secrets;

/// `PluginEnvSet`.
pub(super) async fn set(
    handles: &Handles,
    plugin: &str,
    name: &str,
    value: Secret,
) -> Result<ControlResponse, ControlError> {
    let invalid = |message: String| ControlError::new(ErrorKind::Invalid, message);
    let plugins = Plugins::new(handles.shared.config.data_dir.layout());
    let installed = plugins
        .get(plugin)
        .map_err(|err| ControlError::new(ErrorKind::NotFound, err.to_string()))?;
    let declared: Vec<&str> = installed
        .granted
        .env
        .iter()
        .map(|need| need.name.as_str())
        .collect();
    if !declared.contains(&name) {
        return Err(invalid(format!(
            "plugin {plugin} does not declare {name:?} (it declares: {})",
            if declared.is_empty() {
                "nothing".to_owned()
            } else {
                declared.join(", ")
            }
        )));
    }
    if value.expose().is_empty() {
        return Err(invalid(format!("the value of {name} is empty")));
    }
    handles
        .shared
        .secrets
        .set(&secrets::plugin_env_name(plugin, name), value)
        .await
        .map_err(secrets_error)?;
    tracing::info!(plugin, variable = name, "plugin value stored");
    Ok(ControlResponse::Ok)
}

/// `PluginEnvRemove`: one value, or every value of the plugin (and the
/// sign-ins of its servers: what `studio plugin rm` forgets).
pub(super) async fn remove(
    handles: &Handles,
    plugin: &str,
    name: Option<&str>,
) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.secrets;
    let names: Vec<String> = match name {
        Some(name) => vec![secrets::plugin_env_name(plugin, name)],
        None => {
            // Its values, and the sign-ins of its HTTP servers.
            let prefixes = [
                secrets::plugin_env_name(plugin, ""),
                secrets::mcp_oauth_name(&protocol::plugin::sign_in_name(plugin, "")),
            ];
            store
                .list()
                .await
                .secrets
                .into_iter()
                .map(|info| info.name)
                .filter(|stored| prefixes.iter().any(|p| stored.starts_with(p.as_str())))
                .collect()
        }
    };
    let mut removed = 0;
    for stored in &names {
        if store.remove(stored).await.map_err(secrets_error)? {
            removed += 1;
        }
    }
    if let (0, Some(name)) = (removed, name) {
        return Err(ControlError::new(
            ErrorKind::NotFound,
            format!("no value of {name} is stored for plugin {plugin}"),
        ));
    }
    Ok(ControlResponse::Ok)
}
