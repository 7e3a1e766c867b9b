//! `studio-worker mcp-conformance URL`: the client that the official MCP
//! conformance suite (`@modelcontextprotocol/conformance`, client mode)
//! drives, run by `scripts/conformance`.
//!
//! The suite starts a test server for one scenario, runs this command with
//! the server's URL as the last argument and the scenario's name in
//! `MCP_CONFORMANCE_SCENARIO`, then judges what the server saw. The client
//! connects through [`mcp::open`], the same code the worker's [`mcp::Hub`]
//! uses (`initialize`, the protocol version check, `tools/list`), then calls
//! every tool the server lists with arguments made from its input schema,
//! as a model would. Only the request handler differs from the `Hub`'s: it
//! declares form elicitation and accepts each request with the schema's
//! defaults (SEP-1034), since a conformance run has nobody to ask.

use std::time::Duration;

use anyhow::{Context, bail};
use protocol::mcp::{McpServerConfig, McpTransport};
use rmcp::ClientHandler;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationCapability, FormElicitationCapability, Tool,
};
use rmcp::service::{RequestContext, RoleClient};
use rmcp::transport::auth::AuthorizationManager;
use serde_json::{Map, Value};

use crate::mcp;
use crate::mcp::oauth;

/// Seconds allowed for `initialize` and `tools/list`, and for each call;
/// the suite's own limit per scenario is 30 s.
const TIMEOUT_SECS: u32 = 20;

/// Most authorizations one run does: a first one and scope step-ups. A
/// server that keeps asking for more is given up on (`auth/scope-retry-limit`).
const MAX_AUTHORIZATIONS: usize = 3;

/// Where the headless "browser" is sent back: nothing listens there, the
/// code is read from the redirect's `Location`.
const REDIRECT_URI: &str = "http://localhost:3000/callback";

/// The Client ID Metadata Document URL offered when the authorization
/// server supports them (the suite's `auth/basic-cimd` expects this one).
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// What the suite passes in `MCP_CONFORMANCE_CONTEXT`: a pre-registered
/// client for the scenarios that need one.
#[derive(Debug, Default, serde::Deserialize)]
struct SuiteContext {
    /// The scenario's name.
    #[serde(default)]
    name: Option<String>,
    /// A client id registered out of band.
    #[serde(default)]
    client_id: Option<String>,
    /// Its secret.
    #[serde(default)]
    client_secret: Option<String>,
}

impl SuiteContext {
    /// The context in the environment, or an empty one.
    fn from_env() -> Self {
        std::env::var("MCP_CONFORMANCE_CONTEXT")
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Whether the scenario wants the client-credentials grant.
    fn client_credentials(&self) -> Option<(&str, &str)> {
        let name = self.name.as_deref()?;
        if !name.starts_with("auth/client-credentials") {
            return None;
        }
        Some((self.client_id.as_deref()?, self.client_secret.as_deref()?))
    }
}

/// Authorizes headlessly at `url` after `challenge`: the authorization URL
/// is fetched without following its redirect, and the code taken from it.
async fn authorize(
    url: &str,
    challenge: Option<&str>,
    context: &SuiteContext,
) -> anyhow::Result<AuthorizationManager> {
    let identity = oauth::ClientIdentity {
        client_id: context.client_id.clone(),
        client_secret: context.client_secret.clone(),
        metadata_url: Some(CLIENT_METADATA_URL.to_owned()),
    };
    let started = oauth::start(url, challenge, REDIRECT_URI, &identity, &[]).await?;
    let callback = oauth::follow_to_redirect(&started.url).await?;
    Ok(started.finish(&callback).await?)
}

/// Connects to the scenario's server at `url` (authorizing when it answers
/// 401), calls each of its tools and returns one line per step, for
/// stdout. A call refused with 403 `insufficient_scope` is authorized
/// again with the scope asked for and retried (step-up), at most
/// [`MAX_AUTHORIZATIONS`] times in all. `scenario` (from
/// `MCP_CONFORMANCE_SCENARIO`) is only logged.
pub async fn run(url: &str, scenario: Option<&str>) -> anyhow::Result<Vec<String>> {
    tracing::info!(url, scenario, "MCP conformance client");
    let context = SuiteContext::from_env();
    let config = McpServerConfig {
        name: "conformance".to_owned(),
        transport: McpTransport::Http {
            url: url.to_owned(),
            headers: Vec::new(),
        },
        startup_timeout_secs: TIMEOUT_SECS,
        call_timeout_secs: TIMEOUT_SECS,
    };
    let limit = Duration::from_secs(u64::from(TIMEOUT_SECS));
    let mut log = Vec::new();
    let mut authorizations = 0;
    let mut auth = match context.client_credentials() {
        Some((id, secret)) => {
            log.push("authorized: client credentials".to_owned());
            Some(oauth::client_credentials(url, id, secret).await?)
        }
        None => None,
    };
    let connection = loop {
        let opened = tokio::time::timeout(
            limit,
            mcp::open(ConformanceClient, &config, None, auth.take()),
        )
        .await
        .with_context(|| format!("no answer to initialize and tools/list from {url}"))?;
        match opened {
            Ok(connection) => break connection,
            Err(err) if err.challenge.is_some() && authorizations < MAX_AUTHORIZATIONS => {
                authorizations += 1;
                auth = Some(authorize(url, err.challenge.as_deref(), &context).await?);
                log.push(format!("authorized ({authorizations})"));
            }
            Err(err) => bail!("cannot connect to {url}: {err}"),
        }
    };
    let mut connection = Some(connection);
    if let Some(info) = connection.as_ref().and_then(|c| c.client.peer_info()) {
        let server = info.server_info.as_ref().map_or_else(
            || "a server".to_owned(),
            |s| format!("{} {}", s.name, s.version),
        );
        log.push(format!(
            "initialized: {server}, protocol {}",
            info.protocol_version
        ));
    }
    let tools = connection
        .as_ref()
        .map(|c| c.tools.clone())
        .unwrap_or_default();
    log.push(format!("tools: {}", tools.len()));
    let mut failures = Vec::new();
    for tool in &tools {
        let arguments = sample_arguments(tool);
        while let Some(current) = connection.as_ref() {
            let request =
                CallToolRequestParams::new(tool.name.clone()).with_arguments(arguments.clone());
            let called = tokio::time::timeout(limit, current.client.call_tool(request)).await;
            match called {
                Ok(Ok(result)) => {
                    let text = serde_json::to_string(&result.content).unwrap_or_default();
                    log.push(format!(
                        "called {} {}: {text}",
                        tool.name,
                        Value::Object(arguments.clone())
                    ));
                }
                Ok(Err(err)) => {
                    let challenge = oauth::challenge_in(&err);
                    if challenge.is_none() || authorizations >= MAX_AUTHORIZATIONS {
                        failures.push(format!("tools/call {}: {err}", tool.name));
                        break;
                    }
                    // Step-up: authorize again for the scope the 403 names,
                    // then reconnect and try the call once more.
                    authorizations += 1;
                    if let Some(old) = connection.take() {
                        let _ = old.client.cancel().await;
                    }
                    let manager = authorize(url, challenge.as_deref(), &context).await?;
                    log.push(format!("authorized ({authorizations}) for more scope"));
                    let reopened = tokio::time::timeout(
                        limit,
                        mcp::open(ConformanceClient, &config, None, Some(manager)),
                    )
                    .await
                    .with_context(|| format!("no answer from {url} after a step-up"))?;
                    connection = Some(reopened.map_err(|e| anyhow::anyhow!("{e}"))?);
                    continue;
                }
                Err(_) => failures.push(format!(
                    "tools/call {}: no answer within {TIMEOUT_SECS}s",
                    tool.name
                )),
            }
            break;
        }
    }
    if let Some(connection) = connection {
        let _ = connection.client.cancel().await;
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(log)
}

/// The conformance client's request handler (see the module doc).
#[derive(Debug, Clone, Copy)]
struct ConformanceClient;

impl ClientHandler for ConformanceClient {
    fn get_info(&self) -> ClientConfig {
        let mut elicitation = ElicitationCapability::new();
        elicitation.form = Some(FormElicitationCapability::new());
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(elicitation);
        mcp::client_config(capabilities)
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = request
        else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let schema = serde_json::to_value(&requested_schema)
            .map_err(|err| ErrorData::internal_error(err.to_string(), None))?;
        Ok(ElicitResult::new(ElicitationAction::Accept)
            .with_content(Value::Object(schema_defaults(&schema))))
    }
}

/// The `default` of each property of an object schema that has one.
fn schema_defaults(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter_map(|(name, property)| {
                    Some((name.clone(), property.get("default")?.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Arguments for `tool`: each required property's default, else a sample
/// value of its type.
fn sample_arguments(tool: &Tool) -> Map<String, Value> {
    let schema = &tool.input_schema;
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let properties = schema.get("properties").and_then(Value::as_object);
    required
        .iter()
        .filter_map(Value::as_str)
        .map(|name| {
            let property = properties.and_then(|p| p.get(name));
            (name.to_owned(), property.map_or(Value::Null, sample_value))
        })
        .collect()
}

/// A value for a property schema: its default, its first enum member, or
/// a sample of its type.
fn sample_value(property: &Value) -> Value {
    if let Some(default) = property.get("default") {
        return default.clone();
    }
    if let Some(first) = property
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    match property.get("type").and_then(Value::as_str) {
        Some("integer" | "number") => Value::from(1),
        Some("string") => Value::from("conformance"),
        Some("boolean") => Value::Bool(true),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elicitation_defaults_are_taken_from_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "John Doe"},
                "age": {"type": "integer", "default": 30},
                "nickname": {"type": "string"}
            }
        });
        let defaults = schema_defaults(&schema);
        assert_eq!(
            Value::Object(defaults),
            json!({"name": "John Doe", "age": 30})
        );
    }

    #[test]
    fn sample_arguments_fill_required_properties_only() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "number"},
                "b": {"type": "integer", "default": 7},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "extra": {"type": "string"}
            },
            "required": ["a", "b", "mode"]
        });
        let Value::Object(schema) = schema else {
            unreachable!("a JSON object literal")
        };
        let tool = Tool::new("t", "a test tool", schema);
        assert_eq!(
            Value::Object(sample_arguments(&tool)),
            json!({"a": 1, "b": 7, "mode": "fast"})
        );
    }
}
