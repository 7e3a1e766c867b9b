//! `studio keys set|list|rm PROVIDER`: API keys the daemon stores in the
//! OS keyring, or in its secrets file where there is none (`list` says
//! which). A key is read from stdin, or typed at a prompt without echo;
//! never taken from the command line, never printed back.

use std::io::{IsTerminal, Read};

use clap::Subcommand;
use protocol::control::{
    ControlRequest, ControlResponse, KeyInfo, KeySource, SecretLocation, SecretsInfo,
};
use protocol::{ProviderKind, Secret};

use super::output::{print_json, table};
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum KeysCommand {
    /// Store a provider's key, read from stdin (or typed, without echo).
    Set {
        /// openai, anthropic or gemini.
        provider: ProviderKind,
    },
    /// Where each provider's key comes from (stored, environment, or
    /// missing) and where a stored one lives (keyring or file).
    List,
    /// Forget a stored key; no copy of it is left.
    Rm {
        /// The provider.
        provider: ProviderKind,
    },
}

pub(crate) async fn execute(cmd: KeysCommand, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Set { provider } => {
            let key = read_key(provider)?;
            let client = ctx.client().await?;
            client
                .request(ControlRequest::KeySet { provider, key })
                .await?;
            if ctx.json {
                print_json(&serde_json::json!({ "provider": provider.as_str(), "stored": true }));
            } else {
                outln!("{provider} key stored");
            }
        }
        KeysCommand::Rm { provider } => {
            let client = ctx.client().await?;
            client
                .request(ControlRequest::KeyRemove { provider })
                .await?;
            if ctx.json {
                print_json(&serde_json::json!({ "provider": provider.as_str(), "stored": false }));
            } else {
                outln!("{provider} key removed");
            }
        }
        KeysCommand::List => {
            let client = ctx.client().await?;
            let ControlResponse::Keys(keys) = client.request(ControlRequest::KeyList).await? else {
                return Err(CliError::msg("unexpected answer to keys list"));
            };
            let ControlResponse::Secrets(secrets) =
                client.request(ControlRequest::SecretList).await?
            else {
                return Err(CliError::msg("unexpected answer to keys list"));
            };
            let location = |k: &KeyInfo| {
                let name = format!("key/{}", k.provider.as_str());
                secrets
                    .secrets
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.location.as_str())
            };
            if ctx.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "provider": k.provider.as_str(),
                            "source": source_word(k.source),
                            "location": location(k),
                            "stored_at": k.stored_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(rows));
            } else {
                let mut t = table(&["PROVIDER", "KEY", "WHERE", "STORED"]);
                for k in &keys {
                    t.add_row(vec![
                        k.provider.to_string(),
                        source_word(k.source).to_owned(),
                        location(k).unwrap_or("-").to_owned(),
                        k.stored_at.map_or("-".to_owned(), |at| at.to_string()),
                    ]);
                }
                outln!("{t}");
                outln!("{}", where_new_keys_go(&secrets, ctx));
            }
        }
    }
    Ok(())
}

/// Where `keys set` puts a key, and why not in the OS keyring.
fn where_new_keys_go(secrets: &SecretsInfo, ctx: &Ctx) -> String {
    match (secrets.store, &secrets.keyring_unavailable) {
        (SecretLocation::Keyring, _) => "keys are stored in the OS keyring".to_owned(),
        (SecretLocation::File, why) => format!(
            "keys are stored in {} (OS keyring: {})",
            ctx.dir.secrets().display(),
            why.as_deref().unwrap_or("not in use")
        ),
    }
}

fn source_word(source: KeySource) -> &'static str {
    match source {
        KeySource::Stored => "stored",
        KeySource::Environment => "environment",
        KeySource::Missing => "missing",
    }
}

/// The key from stdin when it is piped, else from a prompt without echo.
fn read_key(provider: ProviderKind) -> Result<Secret, CliError> {
    read_secret(&format!("{provider} API key: "), "key")
}

/// A secret (`what`: "key", "value") from stdin when it is piped, else
/// from `prompt` without echo; never from argv.
pub(crate) fn read_secret(prompt: &str, what: &str) -> Result<Secret, CliError> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::msg(format!("cannot read the {what}: {e}")))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::msg(format!("cannot read the {what} from stdin: {e}")))?;
        text
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::invalid(format!(
            "no {what} given (pipe it to stdin, or type it at the prompt)"
        )));
    }
    Ok(Secret::new(text))
}
