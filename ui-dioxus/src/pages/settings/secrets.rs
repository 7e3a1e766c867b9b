//! Where secrets live: each stored key's or MCP server's place (the OS
//! keyring or the data dir's secrets file), and where new ones go, as the
//! daemon reports them (`SecretList`). Values never reach the app.

use dioxus::prelude::*;
use protocol::control::{SecretLocation, SecretsInfo};

use crate::state::AppState;

/// Where the stored secret `name` (`key/openai`, `mcp/github`) lives, in
/// words; `None` when nothing is stored under it or it is not known yet.
pub(super) fn place(secrets: Option<&SecretsInfo>, name: &str) -> Option<&'static str> {
    let info = secrets?.secrets.iter().find(|s| s.name == name)?;
    Some(words(info.location))
}

fn words(location: SecretLocation) -> &'static str {
    match location {
        SecretLocation::Keyring => "in the OS keyring",
        SecretLocation::File => "in the secrets file",
    }
}

/// One line saying where a secret stored now goes, and why not in the OS
/// keyring when it is not.
#[component]
pub(super) fn WhereNewSecretsGo() -> Element {
    let state = use_context::<Signal<AppState>>();
    let Some(secrets) = state.read().settings.secrets.clone() else {
        return rsx! {};
    };
    let line = match (secrets.store, secrets.keyring_unavailable) {
        (SecretLocation::Keyring, _) => {
            "New keys and MCP secrets are stored in the OS keyring.".to_owned()
        }
        (SecretLocation::File, why) => format!(
            "New keys and MCP secrets are stored in the data dir's secrets file (secrets.json, readable by you only); OS keyring: {}.",
            why.as_deref().unwrap_or("not in use")
        ),
    };
    rsx! { p { class: "muted where-secrets", "{line}" } }
}

#[cfg(test)]
mod tests {
    use protocol::Timestamp;
    use protocol::control::SecretInfo;

    use super::*;

    #[test]
    fn a_secret_is_placed_by_its_exact_name() {
        let secrets = SecretsInfo {
            store: SecretLocation::File,
            keyring_unavailable: Some("no Secret Service".into()),
            secrets: vec![
                SecretInfo {
                    name: "key/openai".into(),
                    location: SecretLocation::Keyring,
                    stored_at: Timestamp(1),
                },
                SecretInfo {
                    name: "mcp/github".into(),
                    location: SecretLocation::File,
                    stored_at: Timestamp(2),
                },
            ],
        };
        assert_eq!(
            place(Some(&secrets), "key/openai"),
            Some("in the OS keyring")
        );
        assert_eq!(
            place(Some(&secrets), "mcp/github"),
            Some("in the secrets file")
        );
        assert_eq!(place(Some(&secrets), "mcp/git"), None);
        assert_eq!(place(None, "key/openai"), None);
    }
}
