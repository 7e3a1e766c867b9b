//! `studio models [PROVIDER]`: the models each provider offers, from its
//! own list endpoint, with failures reported per provider.

use clap::Args;
use protocol::ProviderKind;
use protocol::control::{ControlRequest, ControlResponse};

use super::output::{print_json, table};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct ModelsArgs {
    /// One provider (default: all).
    provider: Option<ProviderKind>,
    /// Ask this address instead of the provider's default (e.g. a local
    /// OpenAI-compatible server).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Send the provider's key to --base-url even though it is not the
    /// provider's own host (without it, no key goes there).
    #[arg(long, requires = "base_url")]
    send_key: bool,
}

pub(crate) async fn execute(args: ModelsArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::ModelList {
        provider: args.provider,
        base_url: args.base_url,
        send_key: args.send_key,
    };
    let ControlResponse::Models(listed) = client.request(request).await? else {
        return Err(CliError::msg("unexpected answer to models"));
    };
    if ctx.json {
        print_json(&serde_json::to_value(&listed).map_err(|e| CliError::msg(e.to_string()))?);
    } else {
        let mut t = table(&["PROVIDER", "MODEL"]);
        for entry in &listed {
            for model in &entry.models {
                t.add_row(vec![entry.provider.to_string(), model.clone()]);
            }
        }
        outln!("{t}");
        for entry in listed.iter().filter(|e| e.error.is_some()) {
            errln!(
                "{}: {}",
                entry.provider,
                entry.error.as_deref().unwrap_or_default()
            );
        }
    }
    if listed.iter().all(|e| e.error.is_some()) {
        return Err(CliError::msg(String::new()));
    }
    Ok(())
}
