//! Agents as files (`studio_client::agent_file`): `studio agent export
//! NAME`, `studio agent import FILE`, and the bundled templates, `studio
//! template list|show|use`. Importing says first what the agent may do
//! beyond reading (its tools, MCP servers, safety mode, the calls its
//! rules allow), then stores the agent and its own rules.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use protocol::ProviderKind;
use protocol::approval::ApprovalRule;
use protocol::control::{ControlRequest, ControlResponse};
use serde_json::json;
use studio_client::Client;
use studio_client::agent_file::{AgentFile, FileFormat, FileRule};
use studio_client::templates;

use super::output::{print_json, table};
use super::{CliError, Ctx};

/// The model a file switched to the scripted provider gets.
const SCRIPTED_MODEL: &str = "scripted-1";

/// How `agent export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// TOML, for people.
    Toml,
    /// JSON, for tools.
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Agent name.
    name: String,
    /// TOML (the default) or JSON.
    #[arg(long, value_enum, default_value_t = ExportFormat::Toml)]
    format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// An agent file (TOML or JSON), as `agent export` writes it, or a
    /// template.
    file: PathBuf,
    #[command(flatten)]
    naming: Naming,
}

/// What `agent import` and `template use` may change of the agent.
#[derive(Args, Debug)]
pub(crate) struct Naming {
    /// Store it under this name instead.
    #[arg(long)]
    name: Option<String>,
    /// Use this provider instead (with --model, unless scripted).
    #[arg(long)]
    provider: Option<ProviderKind>,
    /// Use this model instead.
    #[arg(long)]
    model: Option<String>,
    /// Replace an agent of the same name, and its rules.
    #[arg(long)]
    replace: bool,
}

/// `studio template`: the bundled templates.
#[derive(Subcommand, Debug)]
pub(crate) enum TemplateCommand {
    /// List the templates, with what each may do beyond reading.
    List,
    /// Show a template as its file.
    Show {
        /// Template name.
        name: String,
    },
    /// Create an agent (and its rules) from a template.
    Use {
        /// Template name.
        template: String,
        #[command(flatten)]
        naming: Naming,
    },
}

pub(crate) async fn export(args: ExportArgs, client: &Client) -> Result<(), CliError> {
    let name = args.name;
    let ControlResponse::Agent(agent) = client
        .request(ControlRequest::AgentGet { name: name.clone() })
        .await?
    else {
        return Err(CliError::msg("unexpected answer to agent show"));
    };
    let rules = own_rules(client, &name)
        .await?
        .into_iter()
        .map(|rule| FileRule {
            matches: rule.matches.to_string(),
            decision: rule.decision,
            priority: rule.priority,
        })
        .collect();
    let format = match args.format {
        ExportFormat::Toml => FileFormat::Toml,
        ExportFormat::Json => FileFormat::Json,
    };
    let text = AgentFile::of(agent, rules)
        .write(format)
        .map_err(CliError::msg)?;
    match args.out {
        Some(path) => {
            std::fs::write(&path, text)
                .map_err(|e| CliError::msg(format!("cannot write {}: {e}", path.display())))?;
            errln!("agent {name} written to {}", path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

pub(crate) async fn import(args: ImportArgs, client: &Client, ctx: &Ctx) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", args.file.display())))?;
    let file = AgentFile::parse(&text)
        .map_err(|e| CliError::invalid(format!("{}: {e}", args.file.display())))?;
    store(file, args.naming, client, ctx).await
}

pub(crate) async fn template(command: TemplateCommand, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        TemplateCommand::List => {
            let all = templates::builtin();
            if ctx.json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|file| {
                        let info = file.template.clone().unwrap_or_default();
                        json!({
                            "name": file.agent.name,
                            "title": info.title,
                            "description": info.description,
                            "sample_prompt": info.sample_prompt,
                            "suggested_mcp": info.suggested_mcp,
                            "asks_for": file.asks_for(),
                        })
                    })
                    .collect();
                print_json(&json!(rows));
                return Ok(());
            }
            let mut t = table(&["NAME", "TITLE", "MAY ALSO"]);
            for file in &all {
                let title = file.template.as_ref().map(|t| t.title.clone());
                let asks = file.asks_for();
                t.add_row(vec![
                    file.agent.name.clone(),
                    title.unwrap_or_default(),
                    if asks.is_empty() {
                        "only read".to_owned()
                    } else {
                        asks.join("; ")
                    },
                ]);
            }
            outln!("{t}");
            outln!("use one with `studio template use NAME [--name NEW]`");
            Ok(())
        }
        TemplateCommand::Show { name } => {
            let text = templates::text(&name).ok_or_else(|| unknown_template(&name))?;
            out!("{text}");
            Ok(())
        }
        TemplateCommand::Use { template, naming } => {
            let file = templates::find(&template).ok_or_else(|| unknown_template(&template))?;
            store(file, naming, &ctx.client().await?, ctx).await
        }
    }
}

fn unknown_template(name: &str) -> CliError {
    let names: Vec<String> = templates::builtin()
        .into_iter()
        .map(|file| file.agent.name)
        .collect();
    CliError::invalid(format!(
        "no template {name:?}; there are: {}",
        names.join(", ")
    ))
}

/// Says what the agent may do, then stores it and its own rules.
async fn store(
    mut file: AgentFile,
    naming: Naming,
    client: &Client,
    ctx: &Ctx,
) -> Result<(), CliError> {
    if let Some(name) = naming.name {
        file.agent.name = name;
    }
    match (naming.provider, naming.model) {
        (Some(provider), model) => {
            file.agent.provider = provider;
            file.agent.model = match (provider, model) {
                (_, Some(model)) => model,
                (ProviderKind::Scripted, None) => SCRIPTED_MODEL.to_owned(),
                (_, None) => return Err(CliError::invalid("--provider needs --model too")),
            };
        }
        (None, Some(model)) => file.agent.model = model,
        (None, None) => {}
    }
    file.check().map_err(CliError::invalid)?;
    let name = file.agent.name.clone();
    let asks = file.asks_for();
    if !ctx.json {
        for ask in &asks {
            errln!("note: {name} may {ask}");
        }
    }
    client
        .request(ControlRequest::AgentCreate {
            agent: Box::new(file.agent.clone()),
            replace: naming.replace,
        })
        .await?;
    // Replaced: its own rules are the file's now.
    for rule in own_rules(client, &name).await? {
        client
            .request(ControlRequest::RuleRemove { id: rule.id })
            .await?;
    }
    for rule in &file.rules {
        client
            .request(ControlRequest::RuleAdd {
                agent: Some(name.clone()),
                matches: rule.rule_match().map_err(CliError::invalid)?,
                decision: rule.decision,
                priority: rule.priority,
            })
            .await?;
    }
    let sample = file.template.as_ref().map(|t| t.sample_prompt.clone());
    if ctx.json {
        print_json(&json!({
            "created": name,
            "rules": file.rules.len(),
            "asks_for": asks,
            "sample_prompt": sample,
        }));
    } else {
        outln!("agent {name} saved with {} rule(s)", file.rules.len());
        if let Some(sample) = sample {
            outln!("try: studio run {name} --prompt {sample:?}");
        }
    }
    Ok(())
}

/// The rules that apply to `agent` alone.
async fn own_rules(client: &Client, agent: &str) -> Result<Vec<ApprovalRule>, CliError> {
    let ControlResponse::Rules(rules) = client.request(ControlRequest::RuleList).await? else {
        return Err(CliError::msg("unexpected answer to rules list"));
    };
    Ok(rules
        .into_iter()
        .filter(|rule| rule.agent.as_deref() == Some(agent))
        .collect())
}
