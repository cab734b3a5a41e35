//! What a registry holds for a name, without pulling it (dockerd's
//! `/distribution/{name}/json`): the top-level descriptor and the platforms it
//! serves — an index's entries, or a single image's own from its config.

use kujira_reference::Reference;
use serde_json::{json, Value};

use super::net::{registry_error, runtime, RegistryAuth};
use crate::{Engine, EngineError};

fn platform_of(v: &Value) -> Option<Value> {
    let os = v.get("os")?.as_str()?;
    let arch = v.get("architecture")?.as_str()?;
    if os == "unknown" || arch == "unknown" {
        // Attestation manifests in an index are not platforms.
        return None;
    }
    let mut p = json!({"architecture": arch, "os": os});
    if let Some(variant) = v.get("variant").and_then(Value::as_str) {
        p["variant"] = json!(variant);
    }
    Some(p)
}

impl Engine {
    pub fn distribution(
        &self,
        name: &str,
        auth: Option<&RegistryAuth>,
    ) -> Result<Value, EngineError> {
        let reference = Reference::parse(name)?;
        let reference = reference.or_latest();
        let client = self.registry_client_with(auth)?;
        let resolved = runtime()?
            .block_on(client.resolve(&reference, None))
            .map_err(registry_error)?;
        let platforms: Vec<Value> = if resolved.top.is_index() {
            let index: Value = serde_json::from_slice(&resolved.top.bytes)
                .map_err(|e| EngineError::Registry(format!("unreadable index: {e}")))?;
            index["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| platform_of(m.get("platform")?))
                .collect()
        } else {
            let config: Value = serde_json::from_slice(&resolved.config)
                .map_err(|e| EngineError::Registry(format!("unreadable image config: {e}")))?;
            platform_of(&config).into_iter().collect()
        };
        Ok(json!({
            "Descriptor": {
                "mediaType": resolved.top.media_type,
                "digest": resolved.top.digest,
                "size": resolved.top.bytes.len(),
            },
            "Platforms": platforms,
        }))
    }
}
