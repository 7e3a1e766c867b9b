//! Agents as files (`studio_client::agent_file`): `studio agent export
//! NAME`, `studio agent import FILE`, and templates, bundled or from
//! gallery sources (`studio_client::gallery`), `studio template
//! list|show|use` (`template source` is in `gallery`). Importing says
//! first where a template came from and what the agent may do beyond
//! reading (its tools, MCP servers, safety mode, the calls its rules
//! allow), then stores the agent and its own rules.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use protocol::ProviderKind;
use protocol::approval::ApprovalRule;
use protocol::control::{ControlRequest, ControlResponse};
use serde_json::json;
use studio_client::Client;
use studio_client::agent_file::{AgentFile, FileFormat, FileRule};
use studio_client::gallery::{Origin, Template};
use studio_client::plugin::templates;

use super::gallery::SourceCommand;
use super::output::{print_json, table};
use super::{CliError, Ctx};

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

/// `studio template`: the bundled templates and those of gallery sources.
#[derive(Subcommand, Debug)]
pub(crate) enum TemplateCommand {
    /// List the templates, bundled and from gallery sources, with what
    /// each may do beyond reading.
    List,
    /// Show a template as its file (where it came from on stderr).
    Show {
        /// Template name, or SOURCE/NAME.
        name: String,
    },
    /// Create an agent (and its rules) from a template.
    Use {
        /// Template name, or SOURCE/NAME.
        template: String,
        #[command(flatten)]
        naming: Naming,
    },
    /// Add, update, list and remove gallery sources: git repositories or
    /// folders of templates with an index.
    #[command(subcommand)]
    Source(SourceCommand),
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
    store(file, args.naming, None, client, ctx).await
}

pub(crate) async fn template(command: TemplateCommand, ctx: &Ctx) -> Result<(), CliError> {
    let layout = ctx.dir.layout();
    match command {
        TemplateCommand::List => {
            let (all, problems) = templates::all(layout);
            for problem in problems {
                errln!("warning: {problem}");
            }
            list(&all, ctx.json);
            Ok(())
        }
        TemplateCommand::Show { name } => {
            let found = templates::find(layout, &name)?;
            if found.origin != Origin::BuiltIn {
                errln!("# from {}", found.origin.describe());
            }
            out!("{}", found.text);
            Ok(())
        }
        TemplateCommand::Use { template, naming } => {
            let found = templates::find(layout, &template)?;
            let from = match found.origin {
                Origin::BuiltIn => None,
                ref origin => Some(origin.describe()),
            };
            if let Some(from) = &from
                && !ctx.json
            {
                errln!("note: template {} comes from {from}", found.spelling());
            }
            store(found.file, naming, from, &ctx.client().await?, ctx).await
        }
        TemplateCommand::Source(command) => super::gallery::source(command, ctx).await,
    }
}

/// The templates as a table (or JSON), each named as `use` takes it:
/// `SOURCE/NAME` where its name alone finds another.
fn list(all: &[Template], json: bool) {
    if json {
        let rows: Vec<_> = all
            .iter()
            .map(|found| {
                let file = &found.file;
                let info = file.template.clone().unwrap_or_default();
                let (url, commit) = match &found.origin {
                    Origin::BuiltIn | Origin::Plugin { .. } => (None, None),
                    Origin::Source { url, commit, .. } => (Some(url), commit.as_ref()),
                };
                json!({
                    "name": file.agent.name,
                    "source": found.origin.source_name(),
                    "url": url,
                    "commit": commit,
                    "title": info.title,
                    "description": info.description,
                    "sample_prompt": info.sample_prompt,
                    "suggested_mcp": info.suggested_mcp,
                    "asks_for": file.asks_for(),
                })
            })
            .collect();
        print_json(&json!(rows));
        return;
    }
    let mut t = table(&["NAME", "SOURCE", "TITLE", "MAY ALSO"]);
    for found in all {
        // What `use NAME` finds: a bundled one first, else the only one.
        let finds_it = found.origin == Origin::BuiltIn
            || all.iter().filter(|t| t.name() == found.name()).count() == 1;
        let title = found.file.template.as_ref().map(|t| t.title.clone());
        let asks = found.file.asks_for();
        t.add_row(vec![
            if finds_it {
                found.name().to_owned()
            } else {
                found.spelling()
            },
            found.origin.source_name().to_owned(),
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
}

/// Says what the agent may do, then stores it and its own rules; `from`
/// is where a template came from, for `--json`.
async fn store(
    mut file: AgentFile,
    naming: Naming,
    from: Option<String>,
    client: &Client,
    ctx: &Ctx,
) -> Result<(), CliError> {
    if let Some(name) = naming.name {
        file.agent.name = name;
    }
    match (naming.provider, naming.model) {
        (Some(provider), model) => file
            .switch_provider(provider, model)
            .map_err(|_| CliError::invalid("--provider needs --model too"))?,
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
            "from": from,
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
