//! An MCP server's secrets (its env values, or its header values) are
//! kept apart from its record: the database holds the server with empty
//! values, the secret store holds them under `mcp/SERVER` as one JSON
//! list of `[name, value]` pairs, and they are put back only where they
//! are used (a session's worker, `studio mcp test`).

use protocol::Secret;
use protocol::mcp::{McpServerConfig, McpTransport};

/// The env or header pairs of `server`.
fn pairs(server: &mut McpServerConfig) -> &mut Vec<(String, Secret)> {
    match &mut server.transport {
        McpTransport::Stdio { env, .. } => env,
        McpTransport::Http { headers, .. } => headers,
    }
}

/// Empties every env or header value of `server` and returns them, as
/// the value to keep under `mcp/SERVER`; `None` when every one was empty.
pub(crate) fn take_mcp_secrets(server: &mut McpServerConfig) -> Option<Secret> {
    let taken: Vec<(String, Secret)> = pairs(server)
        .iter_mut()
        .map(|(name, value)| (name.clone(), std::mem::replace(value, Secret::new(""))))
        .collect();
    if taken.iter().all(|(_, value)| value.expose().is_empty()) {
        return None;
    }
    // Strings and pairs of strings always encode.
    serde_json::to_string(&taken).ok().map(Secret::new)
}

/// Puts the values kept for `server` (by [`take_mcp_secrets`]) back into
/// its env or headers: each to the pair of the same place and name.
/// Returns whether `stored` could be read.
pub(crate) fn fill_mcp_secrets(server: &mut McpServerConfig, stored: &Secret) -> bool {
    let Ok(kept) = serde_json::from_str::<Vec<(String, Secret)>>(stored.expose()) else {
        return false;
    };
    for ((name, value), (kept_name, kept_value)) in pairs(server).iter_mut().zip(kept) {
        if *name == kept_name {
            *value = kept_value;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(env: &[(&str, &str)]) -> McpServerConfig {
        McpServerConfig {
            name: "github".into(),
            transport: McpTransport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into()],
                env: env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                    .collect(),
            },
            startup_timeout_secs: 60,
            call_timeout_secs: 120,
        }
    }

    #[test]
    fn secrets_come_out_of_the_record_and_go_back_by_place_and_name() {
        let original = server(&[("TOKEN", "ghp_secret_1"), ("DEBUG", "1")]);
        let mut record = original.clone();
        let kept = take_mcp_secrets(&mut record).unwrap();
        assert_eq!(record, server(&[("TOKEN", ""), ("DEBUG", "")]));
        assert!(kept.expose().contains("ghp_secret_1"));
        let mut used = record.clone();
        assert!(fill_mcp_secrets(&mut used, &kept));
        assert_eq!(used, original);
        // A pair renamed since is not given another's value.
        let mut renamed = server(&[("OTHER", ""), ("DEBUG", "")]);
        fill_mcp_secrets(&mut renamed, &kept);
        assert_eq!(renamed, server(&[("OTHER", ""), ("DEBUG", "1")]));
        assert!(!fill_mcp_secrets(&mut renamed, &Secret::new("not json")));
    }

    #[test]
    fn a_server_without_values_keeps_nothing() {
        assert_eq!(take_mcp_secrets(&mut server(&[])), None);
        assert_eq!(take_mcp_secrets(&mut server(&[("EMPTY", "")])), None);
        let mut http = McpServerConfig {
            transport: McpTransport::Http {
                url: "https://h/mcp".into(),
                headers: vec![("Authorization".into(), Secret::new("Bearer t"))],
            },
            ..server(&[])
        };
        let kept = take_mcp_secrets(&mut http).unwrap();
        assert_eq!(kept.expose(), r#"[["Authorization","Bearer t"]]"#);
    }
}
