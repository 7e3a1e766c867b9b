//! What a plugin asks for, in words, and what an update changes: its
//! version, servers, templates and rules, and above all the permissions
//! it asks beyond those granted ([`more`]), which an update must ask for
//! again.

use serde::Serialize;

use super::Plugin;
use super::store::Installed;
use super::studio::{Network, NetworkSwitch, Permissions};

/// What an update changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Each change, for people ("version 1.0.0 -> 1.1.0", "server
    /// tracker: its command changed", ...).
    pub lines: Vec<String>,
    /// The permissions it asks for beyond those granted, in words.
    pub more: Vec<String>,
    /// Whether its files are the same as those installed.
    pub same_files: bool,
}

/// Everything `permissions` asks for, in words; empty when it asks for
/// nothing beyond the plugin's own folder.
pub fn asks(permissions: &Permissions) -> Vec<String> {
    more(&Permissions::default(), permissions)
}

/// What `asked` asks for beyond `granted`, in words.
pub fn more(granted: &Permissions, asked: &Permissions) -> Vec<String> {
    let mut lines = Vec::new();
    for path in asked.read.iter().filter(|p| !granted.read.contains(p)) {
        lines.push(format!("read {path}"));
    }
    for path in asked.write.iter().filter(|p| !granted.write.contains(p)) {
        lines.push(format!("write {path}"));
    }
    match (network_of(granted), network_of(asked)) {
        (_, Reach::Nothing) | (Reach::Any, _) => {}
        (_, Reach::Any) => lines.push("reach any host on the network".to_owned()),
        (Reach::Nothing, Reach::Hosts(hosts)) => {
            lines.push(format!("reach {}", hosts.join(", ")));
        }
        (Reach::Hosts(had), Reach::Hosts(hosts)) => {
            let new: Vec<String> = hosts.into_iter().filter(|h| !had.contains(h)).collect();
            if !new.is_empty() {
                lines.push(format!("reach {}", new.join(", ")));
            }
        }
    }
    if asked.shell && !granted.shell {
        lines.push("run shell commands".to_owned());
    }
    for need in &asked.env {
        if !granted.env.iter().any(|had| had.name == need.name) {
            let what = if need.description.is_empty() {
                String::new()
            } else {
                format!(" ({})", need.description)
            };
            lines.push(format!("a value for {}{what}, asked of you", need.name));
        }
    }
    lines
}

/// Who a plugin's processes may reach.
enum Reach {
    Nothing,
    Hosts(Vec<String>),
    Any,
}

fn network_of(permissions: &Permissions) -> Reach {
    match &permissions.network {
        None | Some(Network::Switch(NetworkSwitch::Off)) => Reach::Nothing,
        Some(Network::Switch(NetworkSwitch::On)) => Reach::Any,
        Some(Network::Hosts(hosts)) if hosts.is_empty() => Reach::Nothing,
        Some(Network::Hosts(hosts)) => Reach::Hosts(hosts.clone()),
    }
}

/// What installing `new` (whose files sum to `sha256`) over `old` changes;
/// `old_plugin` is the installed plugin read from its files, when it
/// still reads.
pub fn between(
    old: &Installed,
    old_plugin: Option<&Plugin>,
    new: &Plugin,
    sha256: &str,
) -> Changes {
    let mut lines = Vec::new();
    if old.version != new.version {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
        lines.push(format!(
            "version {} -> {}",
            shown(&old.version),
            shown(&new.version)
        ));
    }
    let new_names: Vec<&str> = new.servers.iter().map(|s| s.name.as_str()).collect();
    for server in &new.servers {
        if !old.servers.contains(&server.name) {
            lines.push(format!(
                "server {} added: {}",
                server.name,
                server.describe()
            ));
        } else if let Some(before) =
            old_plugin.and_then(|p| p.servers.iter().find(|s| s.name == server.name))
            && before != server
        {
            lines.push(format!(
                "server {} changed: {} (was {})",
                server.name,
                server.describe(),
                before.describe()
            ));
        }
    }
    for gone in old
        .servers
        .iter()
        .filter(|s| !new_names.contains(&s.as_str()))
    {
        lines.push(format!("server {gone} removed"));
    }
    if let Some(before) = old_plugin {
        let names = |p: &Plugin| -> Vec<String> {
            p.templates.iter().map(|t| t.agent.name.clone()).collect()
        };
        let (had, has) = (names(before), names(new));
        for name in has.iter().filter(|n| !had.contains(n)) {
            lines.push(format!("template {name} added"));
        }
        for name in had.iter().filter(|n| !has.contains(n)) {
            lines.push(format!("template {name} removed"));
        }
        if before.studio.rules != new.studio.rules {
            lines.push(format!(
                "its approval rules changed ({} now)",
                new.studio.rules.len()
            ));
        }
        if before.studio.panels != new.studio.panels {
            lines.push(format!(
                "its panels changed ({} now)",
                new.studio.panels.len()
            ));
        }
    }
    let fewer = more(&new.studio.permissions, &old.granted);
    if !fewer.is_empty() {
        lines.push(format!("no longer asks to {}", fewer.join("; ")));
    }
    let same_files = old.sha256 == sha256;
    if !same_files && lines.is_empty() {
        lines.push("its files changed".to_owned());
    }
    Changes {
        lines,
        more: more(&old.granted, &new.studio.permissions),
        same_files,
    }
}

#[cfg(test)]
mod tests {
    use super::super::studio::EnvNeed;
    use super::*;

    fn permissions(network: Option<Network>, shell: bool, env: &[&str]) -> Permissions {
        Permissions {
            read: vec!["~/notes".into()],
            write: Vec::new(),
            network,
            shell,
            env: env
                .iter()
                .map(|name| EnvNeed {
                    name: (*name).into(),
                    description: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn only_what_goes_beyond_the_grant_is_asked_again() {
        let hosts = |h: &[&str]| Some(Network::Hosts(h.iter().map(|s| (*s).into()).collect()));
        let granted = permissions(hosts(&["a.example.com"]), false, &["TOKEN"]);
        assert!(more(&granted, &granted).is_empty());
        let fewer = permissions(None, false, &[]);
        assert!(more(&granted, &fewer).is_empty());
        let wider = permissions(
            hosts(&["a.example.com", "b.example.com"]),
            true,
            &["TOKEN", "KEY"],
        );
        assert_eq!(
            more(&granted, &wider),
            [
                "reach b.example.com",
                "run shell commands",
                "a value for KEY, asked of you"
            ]
        );
        let any = permissions(Some(Network::Switch(NetworkSwitch::On)), false, &[]);
        assert_eq!(more(&granted, &any), ["reach any host on the network"]);
        assert!(more(&any, &granted).iter().all(|l| !l.contains("reach")));
        assert_eq!(
            asks(&granted),
            [
                "read ~/notes",
                "reach a.example.com",
                "a value for TOKEN, asked of you"
            ]
        );
        assert!(asks(&Permissions::default()).is_empty());
    }
}
