//! `studio keys set|list|rm PROVIDER`: API keys stored in the daemon's
//! database. A key is read from stdin, or typed at a prompt without echo;
//! never taken from the command line, never printed back.

use std::io::{IsTerminal, Read};

use clap::Subcommand;
use protocol::control::{ControlRequest, ControlResponse, KeySource};
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
    /// Where each provider's key comes from: stored, environment, or missing.
    List,
    /// Forget a stored key.
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
            if ctx.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "provider": k.provider.as_str(),
                            "source": source_word(k.source),
                            "stored_at": k.stored_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(rows));
            } else {
                let mut t = table(&["PROVIDER", "KEY", "STORED"]);
                for k in &keys {
                    t.add_row(vec![
                        k.provider.to_string(),
                        source_word(k.source).to_owned(),
                        k.stored_at.map_or("-".to_owned(), |at| at.to_string()),
                    ]);
                }
                outln!("{t}");
            }
        }
    }
    Ok(())
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
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{provider} API key: "))
            .map_err(|e| CliError::msg(format!("cannot read the key: {e}")))?
    } else {
        let mut key = String::new();
        std::io::stdin()
            .read_to_string(&mut key)
            .map_err(|e| CliError::msg(format!("cannot read the key from stdin: {e}")))?;
        key
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(CliError::invalid(
            "no key given (pipe it to stdin, or type it at the prompt)",
        ));
    }
    Ok(Secret::new(key))
}
