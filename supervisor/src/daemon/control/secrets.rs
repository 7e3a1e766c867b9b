//! Requests that touch secrets: provider keys, MCP servers (whose env and
//! header values are kept in the secret store, the record without them in
//! the database, and their OAuth sign-ins), and the listing of where each
//! secret lives.

use protocol::ProviderKind;
use protocol::Secret;
use protocol::control::{ControlError, ControlResponse, ErrorKind};
use protocol::mcp::{McpOAuthTokens, McpServerConfig, McpTransport};

use super::Handles;
use crate::daemon::{mcp_oauth, providers};
use crate::secrets::{self, SecretsError};

/// A secret-store failure as a client sees it.
pub(super) fn secrets_error(err: SecretsError) -> ControlError {
    let kind = match err {
        SecretsError::NoKeyring(_) | SecretsError::Keyring(_) => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ControlError::new(kind, err.to_string())
}

/// `KeySet`: stores a provider's key in the secret store.
pub(super) async fn key_set(
    handles: &Handles,
    provider: ProviderKind,
    key: protocol::Secret,
) -> Result<ControlResponse, ControlError> {
    if providers::key_variables(provider).is_empty() {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!("provider {provider} takes no key"),
        ));
    }
    if key.expose().trim().is_empty() {
        return Err(ControlError::new(ErrorKind::Invalid, "the key is empty"));
    }
    let location = handles
        .shared
        .secrets
        .set(&secrets::key_name(provider), key)
        .await
        .map_err(secrets_error)?;
    tracing::info!(%provider, %location, "provider key stored");
    Ok(ControlResponse::Ok)
}

/// `KeyRemove`: forgets a stored key, leaving no copy.
pub(super) async fn key_remove(
    handles: &Handles,
    provider: ProviderKind,
) -> Result<ControlResponse, ControlError> {
    let removed = handles
        .shared
        .secrets
        .remove(&secrets::key_name(provider))
        .await
        .map_err(secrets_error)?;
    if !removed {
        return Err(ControlError::new(
            ErrorKind::NotFound,
            format!("no stored key for {provider}"),
        ));
    }
    Ok(ControlResponse::Ok)
}

/// `KeyList`: where each provider's key comes from.
pub(super) async fn key_list(handles: &Handles) -> ControlResponse {
    let mut stored = Vec::new();
    for provider in ProviderKind::ALL {
        let at = handles
            .shared
            .secrets
            .stored(&secrets::key_name(provider))
            .await
            .map(|(at, _)| at);
        stored.push((provider, at));
    }
    ControlResponse::Keys(providers::key_sources(&stored))
}

/// `SecretList`: every stored secret's name and place.
pub(super) async fn secret_list(handles: &Handles) -> ControlResponse {
    ControlResponse::Secrets(handles.shared.secrets.list().await)
}

/// `McpAdd`: the record without its secrets goes to the database (which
/// refuses a name taken without `replace`), then the secrets to the
/// secret store.
pub(super) async fn mcp_add(
    handles: &Handles,
    mut server: McpServerConfig,
    replace: bool,
) -> Result<ControlResponse, ControlError> {
    server
        .validate()
        .map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
    let values = secrets::take_mcp_secrets(&mut server);
    let name = server.name.clone();
    handles.shared.store.put_mcp_server(server, replace).await?;
    handles
        .shared
        .secrets
        .keep_mcp_secrets(&name, values)
        .await
        .map_err(|err| {
            ControlError::new(
                ErrorKind::Internal,
                format!(
                    "MCP server {name:?} was stored without its secrets ({err}); add it again with --replace"
                ),
            )
        })?;
    Ok(ControlResponse::Ok)
}

/// `McpList`: the servers as stored, without their secrets.
pub(super) async fn mcp_list(handles: &Handles) -> Result<ControlResponse, ControlError> {
    let mut servers = handles.shared.store.mcp_servers().await?;
    for server in &mut servers {
        // Stored without them already; a client never needs them.
        secrets::take_mcp_secrets(server);
    }
    Ok(ControlResponse::McpServers(servers))
}

/// `McpRemove`: the record, then its secrets.
pub(super) async fn mcp_remove(
    handles: &Handles,
    name: String,
) -> Result<ControlResponse, ControlError> {
    handles.shared.store.remove_mcp_server(name.clone()).await?;
    handles
        .shared
        .secrets
        .keep_mcp_secrets(&name, None)
        .await
        .map_err(secrets_error)?;
    handles
        .shared
        .secrets
        .remove(&secrets::mcp_oauth_name(&name))
        .await
        .map_err(secrets_error)?;
    Ok(ControlResponse::Ok)
}

/// `McpOAuthSet`: the tokens `studio mcp login` got for an HTTP server,
/// kept as `mcp-oauth/SERVER`, or forgotten.
pub(super) async fn mcp_oauth_set(
    handles: &Handles,
    server: &str,
    tokens: Option<Secret>,
) -> Result<ControlResponse, ControlError> {
    let found = match plugin_http_server(handles, server).await {
        Some(found) => found?,
        None => {
            let servers = handles.shared.store.mcp_servers().await?;
            servers
                .into_iter()
                .find(|s| s.name == server)
                .ok_or_else(|| {
                    ControlError::new(
                        ErrorKind::NotFound,
                        format!("no MCP server named {server:?}"),
                    )
                })?
        }
    };
    let store = &handles.shared.secrets;
    let name = secrets::mcp_oauth_name(server);
    let Some(tokens) = tokens else {
        store.remove(&name).await.map_err(secrets_error)?;
        return Ok(ControlResponse::Ok);
    };
    if !matches!(found.transport, McpTransport::Http { .. }) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!("MCP server {server:?} is not an HTTP server: it has no sign-in"),
        ));
    }
    if let Err(err) = serde_json::from_str::<McpOAuthTokens>(tokens.expose()) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!("the tokens do not parse: {err}"),
        ));
    }
    store.set(&name, tokens).await.map_err(secrets_error)?;
    tracing::info!(server, "MCP sign-in stored");
    Ok(ControlResponse::Ok)
}

/// The HTTP server of an installed plugin that the sign-in name `name`
/// (`plugin:PLUGIN/SERVER`) names; `None` when it names no plugin's.
async fn plugin_http_server(
    handles: &Handles,
    name: &str,
) -> Option<Result<McpServerConfig, ControlError>> {
    let plugins =
        studio_client::plugin::store::Plugins::new(handles.shared.config.data_dir.layout());
    let owned = name.to_owned();
    let found = tokio::task::spawn_blocking(move || {
        plugins
            .http_server(&owned)
            .map(|found| found.map(|f| (f.0, f.1)))
    })
    .await
    .ok()??;
    Some(match found {
        // Only the full name is kept: the one sessions look for.
        Ok((full, server)) if full == name => Ok(server),
        Ok((full, _)) => Err(ControlError::new(
            ErrorKind::Invalid,
            format!("name the server in full: {full}"),
        )),
        Err(err) => Err(ControlError::new(ErrorKind::NotFound, err.to_string())),
    })
}

/// The server called `name`, with its secrets, for a one-shot worker.
pub(super) async fn mcp_server(
    handles: &Handles,
    name: &str,
) -> Result<McpServerConfig, ControlError> {
    let servers = handles.shared.store.mcp_servers().await?;
    let server = servers
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            ControlError::new(ErrorKind::NotFound, format!("no MCP server named {name:?}"))
        })?;
    let server = handles.shared.secrets.with_mcp_secrets(server).await;
    Ok(mcp_oauth::with_oauth(&handles.shared.secrets, server).await)
}

/// Sets or stops the daemon's OTLP export; its header values are secrets.
pub(super) async fn otlp_set(
    handles: &Handles,
    url: Option<String>,
    headers: Vec<(String, protocol::Secret)>,
) -> Result<ControlResponse, ControlError> {
    use crate::daemon::otlp_export::{self, SetError};
    match otlp_export::set(&handles.shared, url, headers).await {
        Ok(settings) => Ok(ControlResponse::Otlp(settings)),
        Err(SetError::Invalid(message)) => Err(ControlError::new(ErrorKind::Invalid, message)),
        Err(SetError::Secrets(message)) => Err(ControlError::new(ErrorKind::Internal, message)),
        Err(SetError::Store(err)) => Err(err.into()),
    }
}
