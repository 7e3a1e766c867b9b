//! The agent templates installed plugins bring, beside the bundled ones
//! and the gallery sources': `studio template list|show|use` and the
//! app's gallery read them through [`all`] and [`find`]. Only enabled
//! plugins bring theirs; each is spelled `plugin:NAME/TEMPLATE`
//! (`Origin::Plugin`) and its text is the template as read from the
//! plugin's installed files.

use protocol::layout::Layout;

use super::store::Plugins;
use crate::agent_file::FileFormat;
use crate::gallery::{Gallery, GalleryError, Origin, Template};

/// The templates of the enabled installed plugins; a plugin that no
/// longer reads is a problem, not a template.
pub fn brought(plugins: &Plugins) -> (Vec<Template>, Vec<GalleryError>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let installed = match plugins.installed() {
        Ok(installed) => installed,
        Err(err) => return (found, vec![GalleryError::Plugin(err.to_string())]),
    };
    for plugin in installed.into_iter().filter(|p| p.enabled) {
        let read = match plugins.read_installed(&plugin.name) {
            Ok(read) => read,
            Err(err) => {
                problems.push(GalleryError::Plugin(format!(
                    "plugin {}: {err}",
                    plugin.name
                )));
                continue;
            }
        };
        let origin = Origin::Plugin {
            label: format!("plugin:{}", plugin.name),
            version: plugin.version.clone().unwrap_or_default(),
        };
        for file in read.templates {
            match file.write(FileFormat::Toml) {
                Ok(text) => found.push(Template {
                    file,
                    text,
                    origin: origin.clone(),
                }),
                Err(why) => problems.push(GalleryError::Plugin(format!(
                    "plugin {}: template {}: {why}",
                    plugin.name, file.agent.name
                ))),
            }
        }
    }
    (found, problems)
}

/// Every template of the instance at `layout`: the bundled ones, each
/// gallery source's, then each enabled plugin's; and what kept any from
/// being read.
pub fn all(layout: &Layout) -> (Vec<Template>, Vec<GalleryError>) {
    let (mut all, mut problems) = Gallery::new(layout).all();
    let (more, troubles) = brought(&Plugins::new(layout));
    all.extend(more);
    problems.extend(troubles);
    (all, problems)
}

/// The template `spelling` names among [`all`] (as `Gallery::find` does).
pub fn find(layout: &Layout, spelling: &str) -> Result<Template, GalleryError> {
    let gallery = Gallery::new(layout);
    gallery.find_among(all(layout).0, spelling)
}
