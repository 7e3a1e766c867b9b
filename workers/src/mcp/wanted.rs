//! Which MCP servers a turn wants ([`wanted`]), where each runs
//! ([`Place`]) and how one is started or reached for the
//! [`Hub`](super::Hub)
//! ([`connect`]): a stdio server in its sandbox, with its proxy when its
//! plugin was granted named hosts.

use std::sync::atomic::AtomicBool;

use protocol::mcp::{McpServerConfig, McpTransport};
use protocol::sandbox::{Confinement, Network};
use protocol::worker::StartTurn;

use super::{Server, StudioClient, open};
use crate::connection::Outbox;
use crate::sandbox::Policy;
use crate::sandbox::proxy::{Grants, HostProxy};

/// A server a turn wants.
#[derive(Clone)]
pub struct Wanted<'a> {
    /// The server.
    pub config: &'a McpServerConfig,
    /// Where it runs.
    pub place: Place<'a>,
    /// The name `studio mcp login` takes for it: its own for the agent's
    /// servers, `plugin:PLUGIN/SERVER` for a plugin's.
    pub sign_in: String,
}

/// The servers a turn wants, each with where it runs: the agent's in
/// its session's sandbox (`agent`), a plugin's in the sandbox its
/// plugin's permissions make (`plugins`, from [`plugin_policies`]).
pub fn wanted<'a>(
    start: &'a StartTurn,
    agent: Option<&'a Policy>,
    plugins: &'a [Policy],
) -> Vec<Wanted<'a>> {
    let mut wanted: Vec<Wanted<'a>> = start
        .mcp_servers
        .iter()
        .map(|config| Wanted {
            config,
            place: agent.map_or(Place::Nowhere, Place::Sandbox),
            sign_in: config.name.clone(),
        })
        .collect();
    wanted.extend(
        start
            .plugin_servers
            .iter()
            .zip(plugins)
            .map(|(plugin, policy)| Wanted {
                config: &plugin.server,
                place: Place::Sandbox(policy),
                sign_in: protocol::plugin::sign_in_name(&plugin.plugin, &plugin.server.name),
            }),
    );
    wanted
}

/// The sandbox of each plugin server of `start`, in order.
pub fn plugin_policies(start: &StartTurn) -> Vec<Policy> {
    start
        .plugin_servers
        .iter()
        .map(|plugin| {
            Policy::for_plugin(
                &plugin.confinement,
                (&plugin.plugin, &plugin.server.name),
                start.session,
                start.sandbox_support,
            )
        })
        .collect()
}

/// Where a stdio server runs.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    /// In a session's sandbox.
    Sandbox(&'a Policy),
    /// As the user: a one-shot job a person asked for (`studio mcp test`).
    AsUser,
    /// Nowhere: a session whose agent has no workspace.
    Nowhere,
}

/// Starts or reaches one server for the [`Hub`](super::Hub), with [`StudioClient`]:
/// a stdio server runs in the session's sandbox, with the proxy to the
/// hosts it was granted when it was (its attempts recorded in `outbox`).
pub(super) async fn connect(
    wanted: &Wanted<'_>,
    outbox: Option<&Outbox>,
) -> Result<Server, String> {
    let Wanted {
        config,
        place,
        sign_in,
    } = wanted;
    let (config, place) = (*config, *place);
    let stdio = matches!(config.transport, McpTransport::Stdio { .. });
    let (confinement, sandbox) = match place {
        // Nothing of a remote server runs here.
        _ if !stdio => (
            Confinement {
                confined: true,
                network: Network::On,
                ..Confinement::default()
            },
            None,
        ),
        Place::Sandbox(policy) => (policy.confinement(), Some(policy)),
        Place::AsUser => (Confinement::default(), None),
        Place::Nowhere => return Err("the agent has no workspace to run it in".to_owned()),
    };
    let proxy = match (sandbox.map(Policy::proxy).transpose()?.flatten(), outbox) {
        (Some((hosts, socket)), Some(outbox)) => Some(
            HostProxy::start(
                socket,
                &config.name,
                Grants::new(hosts),
                outbox.event_sender(),
            )
            .map_err(|err| format!("cannot start its proxy at {}: {err}", socket.display()))?,
        ),
        (Some(_), None) => return Err("its hosts are reached only in a session".to_owned()),
        (None, _) => None,
    };
    Ok(Server {
        _proxy: proxy,
        config: config.clone(),
        connection: open(StudioClient, config, sandbox, None)
            .await
            .map_err(|err| match err.challenge {
                // No browser is ever started by a run: a person signs in.
                Some(_) => format!(
                    "{}: the server wants a sign-in; run `studio mcp login {sign_in}`",
                    err.message
                ),
                None => err.message,
            })?,
        gone: AtomicBool::new(false),
        confinement,
    })
}
