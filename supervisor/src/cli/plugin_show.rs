//! What a plugin brings and asks for, as `studio plugin check` and
//! `studio plugin install` say it (and `--json`).

use serde_json::json;
use studio_client::plugin::studio::{Network, NetworkSwitch};
use studio_client::plugin::{Format, Plugin};

/// What the network permission allows, in words.
fn network(found: &Plugin) -> String {
    match &found.studio.permissions.network {
        None | Some(Network::Switch(NetworkSwitch::Off)) => "none".to_owned(),
        Some(Network::Switch(NetworkSwitch::On)) => "any host".to_owned(),
        Some(Network::Hosts(hosts)) if hosts.is_empty() => "none".to_owned(),
        Some(Network::Hosts(hosts)) => hosts.join(", "),
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::ClaudeCode => "Claude Code plugin",
        Format::AgentPlugins => "Agent Plugins 1.0.0",
    }
}

/// What a plugin brings and asks for, for people.
pub(crate) fn say(found: &Plugin) {
    let version = found.version.as_deref().unwrap_or("no version");
    outln!(
        "{} ({}), {version}: {}",
        found.title,
        found.name,
        format_name(found.format)
    );
    if let Some(author) = &found.author {
        outln!("by {author}");
    }
    if !found.description.is_empty() {
        outln!("{}", found.description);
    }
    outln!();
    outln!("MCP servers:");
    if found.servers.is_empty() {
        outln!("  none");
    }
    for server in &found.servers {
        outln!("  {}: {}", server.name, server.describe());
    }
    let permissions = &found.studio.permissions;
    outln!("Its processes may:");
    if !found.has_studio_file {
        outln!("  (no studio-plugin.toml: nothing beyond its own folder)");
    }
    outln!("  read: {}", list_or_none(&permissions.read));
    outln!("  write: {}", list_or_none(&permissions.write));
    outln!("  reach: {}", network(found));
    outln!(
        "  run shell commands: {}",
        if permissions.shell { "yes" } else { "no" }
    );
    let mut needs: Vec<String> = permissions
        .env
        .iter()
        .map(|need| format!("{} ({})", need.name, need.description))
        .collect();
    for name in &found.env_refs {
        if !permissions.env.iter().any(|need| &need.name == name) {
            needs.push(name.clone());
        }
    }
    if !needs.is_empty() {
        outln!(
            "It needs (asked of you, kept as secrets): {}",
            needs.join(", ")
        );
    }
    for panel in &found.studio.panels {
        outln!(
            "Panel {:?}: {} of {}",
            panel.title,
            panel.resource,
            panel.server
        );
    }
    for template in &found.templates {
        outln!("Template: {}", template.agent.name);
    }
    for rule in &found.studio.rules {
        outln!("Rule: {} {}", rule.matches, rule.decision);
    }
    if !found.unused.is_empty() {
        outln!("Not used by AI Studio: {}", found.unused.join(", "));
    }
    for (what, why) in &found.left_out {
        errln!("left out: {what}: {why}");
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

/// What a plugin brings and asks for, as JSON.
pub(crate) fn as_json(found: &Plugin) -> serde_json::Value {
    let servers: Vec<_> = found
        .servers
        .iter()
        .map(|server| json!({"name": server.name, "runs": server.describe()}))
        .collect();
    let left_out: Vec<_> = found
        .left_out
        .iter()
        .map(|(what, why)| json!({"what": what, "why": why}))
        .collect();
    let templates: Vec<_> = found
        .templates
        .iter()
        .map(|t| t.agent.name.clone())
        .collect();
    json!({
        "name": found.name,
        "title": found.title,
        "version": found.version,
        "description": found.description,
        "author": found.author,
        "format": match found.format {
            Format::ClaudeCode => "claude-code",
            Format::AgentPlugins => "agent-plugins",
        },
        "servers": servers,
        "permissions": found.studio.permissions,
        "has_studio_file": found.has_studio_file,
        "env_refs": found.env_refs,
        "panels": found.studio.panels,
        "templates": templates,
        "rules": found.studio.rules,
        "unused": found.unused,
        "left_out": left_out,
    })
}
