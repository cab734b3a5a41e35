//! `history`: an image's build steps newest first, with the size each added. As in
//! Docker, only the newest step carries the image's ID; older steps show `<missing>`
//! because their intermediate images are not stored.

use bollard_stubs::models::HistoryResponseItem;

use super::config::ImageConfig;
use crate::{Engine, EngineError};

impl Engine {
    pub fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>, EngineError> {
        let id = self.resolve_image(name)?.id;
        let bytes = self.store.blobs.read(&id)?;
        let config = ImageConfig::parse(&id, &bytes)?;
        let layers = self.store.meta.image_layers(&id)?;
        let tags: Vec<String> = self
            .store
            .meta
            .tags_of(&id)?
            .iter()
            .filter_map(|t| kujira_reference::Reference::parse(t).ok())
            .map(|r| r.familiar_string())
            .collect();
        let history = config.oci.history().clone().unwrap_or_default();
        let unix = |c: &Option<String>| {
            c.as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0)
        };
        let mut items = Vec::new();
        let mut layer_iter = layers.iter();
        if history.is_empty() {
            // No recorded steps: one row per layer, as the layers are all we know.
            for l in layers.iter() {
                items.push(item("<missing>", config.created_unix(), "", l.size, ""));
            }
        }
        for h in &history {
            let size = if h.empty_layer().unwrap_or(false) {
                0
            } else {
                layer_iter.next().map(|l| l.size).unwrap_or(0)
            };
            items.push(item(
                "<missing>",
                unix(h.created()),
                h.created_by().as_deref().unwrap_or(""),
                size,
                h.comment().as_deref().unwrap_or(""),
            ));
        }
        items.reverse();
        match items.first_mut() {
            Some(top) => {
                top.id = id.to_string();
                top.tags = tags;
            }
            None => {
                let mut top = item(id.as_str(), config.created_unix(), "", 0, "");
                top.tags = tags;
                items.push(top);
            }
        }
        Ok(items)
    }
}

fn item(id: &str, created: i64, created_by: &str, size: u64, comment: &str) -> HistoryResponseItem {
    HistoryResponseItem {
        id: id.to_string(),
        created,
        created_by: created_by.to_string(),
        tags: Vec::new(),
        size: size as i64,
        comment: comment.to_string(),
    }
}
