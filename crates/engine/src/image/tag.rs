//! `tag`: another name for an image.

use kujira_reference::Reference;

use crate::{Engine, EngineError};

impl Engine {
    pub fn tag(&self, source: &str, target: &str) -> Result<(), EngineError> {
        let target = Reference::parse(target)?;
        if target.digest().is_some() {
            return Err(EngineError::InvalidArgument(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let target = if target.tag().is_some() {
            target
        } else {
            target.with_tag("latest")?
        };
        let image = self.resolve_image(source)?;
        self.store.meta.tag(
            &target.to_string(),
            &target.name(),
            target.tag().unwrap_or("latest"),
            &image.id,
        )?;
        self.emit(
            "image",
            "tag",
            image.id.as_str(),
            &[("name", &target.familiar_string())],
        );
        Ok(())
    }
}
