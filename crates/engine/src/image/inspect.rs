//! `inspect` of images in the Docker Engine API's shape (`ImageInspect` from the
//! generated Docker API model), so the CLI and the API server print the same JSON.

use std::collections::HashMap;

use bollard_stubs::models::{
    DriverData, ImageConfig as ApiImageConfig, ImageInspect, ImageInspectMetadata,
    ImageInspectRootFs,
};

use super::config::ImageConfig;
use crate::{Digest, Engine, EngineError};

/// Fields that are Go maps (printed `map[k:v]` by templates, keys sorted in JSON);
/// everything else is a struct.
pub const MAP_FIELDS: &[&str] = &[
    "Config.ExposedPorts",
    "Config.Volumes",
    "Config.Labels",
    "GraphDriver.Data",
];

/// Go's zero time, which Docker prints for a never-tagged image.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Engine {
    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect, EngineError> {
        let id = self.resolve_image(name)?.id;
        self.inspect_image_id(&id)
    }

    pub fn inspect_image_id(&self, id: &Digest) -> Result<ImageInspect, EngineError> {
        let row = self
            .store
            .meta
            .image(id)?
            .ok_or_else(|| EngineError::NoSuchImage(id.to_string()))?;
        let bytes = self.store.blobs.read(id)?;
        let config = ImageConfig::parse(id, &bytes)?;
        let layers = self.store.meta.image_layers(id)?;
        let tags = self.store.meta.tags_of(id)?;
        let repo_tags = tags
            .iter()
            .filter_map(|t| kujira_reference::Reference::parse(t).ok())
            .map(|r| r.familiar_string())
            .collect();
        let repo_digests = self
            .store
            .meta
            .repo_digests()?
            .into_iter()
            .filter(|(_, _, img)| img == id)
            .filter_map(|(repo, digest, _)| {
                kujira_reference::Reference::parse(&format!("{repo}@{digest}"))
                    .ok()
                    .map(|r| r.familiar_string())
            })
            .collect();
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|l| {
                self.store
                    .layers
                    .diff_dir(&l.chain_id)
                    .display()
                    .to_string()
            })
            .collect();
        let oci = &config.oci;
        Ok(ImageInspect {
            id: Some(id.to_string()),
            repo_tags: Some(repo_tags),
            repo_digests: Some(repo_digests),
            parent: Some(row.parent.clone()),
            comment: Some(config.extras.comment.clone().unwrap_or_default()),
            created: oci.created().as_deref().map(normalize_time),
            docker_version: Some(config.extras.docker_version.clone().unwrap_or_default()),
            author: Some(oci.author().clone().unwrap_or_default()),
            config: Some(api_config(&config)),
            architecture: Some(oci.architecture().to_string()),
            variant: oci.variant().clone().filter(|v| !v.is_empty()),
            os: Some(oci.os().to_string()),
            os_version: oci.os_version().clone().filter(|v| !v.is_empty()),
            size: Some(row.size as i64),
            graph_driver: Some(DriverData {
                name: "overlay".to_string(),
                data: HashMap::from([("LowerDir".to_string(), lower.join(":"))]),
            }),
            root_fs: Some(ImageInspectRootFs {
                typ: "layers".to_string(),
                layers: Some(layers.iter().map(|l| l.diff_id.to_string()).collect()),
            }),
            metadata: Some(ImageInspectMetadata {
                last_tag_time: Some(
                    row.last_tag_time
                        .clone()
                        .unwrap_or_else(|| ZERO_TIME.to_string()),
                ),
            }),
            ..Default::default()
        })
    }
}

/// The image's run configuration in the API's shape. Docker always shows the
/// fields below, `null` when unset, so templates such as `{{.Config.Labels}}` work
/// on every image.
fn api_config(config: &ImageConfig) -> ApiImageConfig {
    let c = config.oci.config().clone().unwrap_or_default();
    let set = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|ports| ports.iter().map(|p| (p.clone(), HashMap::new())).collect())
    };
    let extras = config.extras.config.clone().unwrap_or_default();
    ApiImageConfig {
        user: Some(c.user().clone().unwrap_or_default()),
        exposed_ports: set(c.exposed_ports()),
        env: c.env().clone(),
        cmd: c.cmd().clone(),
        healthcheck: extras
            .healthcheck
            .and_then(|h| serde_json::from_value(h).ok()),
        args_escaped: extras.args_escaped,
        volumes: set(c.volumes()),
        working_dir: Some(c.working_dir().clone().unwrap_or_default()),
        entrypoint: c.entrypoint().clone(),
        on_build: extras.on_build,
        labels: c.labels().clone(),
        stop_signal: c.stop_signal().clone(),
        shell: extras.shell,
        ..Default::default()
    }
}

/// Go marshals times in RFC 3339 with the fraction's trailing zeros dropped and `Z`
/// for UTC; configs written by other tools may say `+00:00` or pad the fraction.
pub fn normalize_time(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            let base = utc.format("%Y-%m-%dT%H:%M:%S").to_string();
            let nanos = utc.timestamp_subsec_nanos();
            if nanos == 0 {
                format!("{base}Z")
            } else {
                let frac = format!("{nanos:09}");
                format!("{base}.{}Z", frac.trim_end_matches('0'))
            }
        }
        Err(_) => s.to_string(),
    }
}

/// The inspect document as JSON with Go's conventions: map keys sorted (the model
/// uses hash maps), every field in the API's order.
pub fn to_json_value(inspect: &ImageInspect) -> serde_json::Value {
    let mut v = serde_json::to_value(inspect).unwrap_or(serde_json::Value::Null);
    for path in MAP_FIELDS {
        let mut cur = &mut v;
        for part in path.split('.') {
            cur = &mut cur[part];
        }
        if let serde_json::Value::Object(map) = cur {
            map.sort_keys();
        }
    }
    if let Some(cfg) = v.get_mut("Config") {
        *cfg = docker_config_order(cfg);
    }
    v
}

/// Docker (API 1.49, graphdriver store) prints the image's Config as its Go struct:
/// this key order, `omitempty` keys left out when unset, the others `null` or empty.
const CONFIG_KEYS: &[(&str, bool)] = &[
    ("Hostname", false),
    ("Domainname", false),
    ("User", false),
    ("AttachStdin", false),
    ("AttachStdout", false),
    ("AttachStderr", false),
    ("ExposedPorts", true),
    ("Tty", false),
    ("OpenStdin", false),
    ("StdinOnce", false),
    ("Env", false),
    ("Cmd", false),
    ("Healthcheck", true),
    ("ArgsEscaped", true),
    ("Image", false),
    ("Volumes", false),
    ("WorkingDir", false),
    ("Entrypoint", false),
    ("OnBuild", false),
    ("Labels", false),
    ("StopSignal", true),
    ("Shell", true),
];

fn docker_config_order(cfg: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for (key, omit_empty) in CONFIG_KEYS {
        match cfg.get(*key) {
            Some(v) if !v.is_null() => {
                out.insert(key.to_string(), v.clone());
            }
            _ if *omit_empty => {}
            _ => {
                let zero = match *key {
                    "Hostname" | "Domainname" | "User" | "Image" | "WorkingDir" => {
                        Value::String(String::new())
                    }
                    "AttachStdin" | "AttachStdout" | "AttachStderr" | "Tty" | "OpenStdin"
                    | "StdinOnce" => Value::Bool(false),
                    _ => Value::Null,
                };
                out.insert(key.to_string(), zero);
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::normalize_time;

    #[test]
    fn times_print_as_go_does() {
        assert_eq!(
            normalize_time("2024-01-02T03:04:05Z"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_time("2024-01-02T03:04:05.120000000Z"),
            "2024-01-02T03:04:05.12Z"
        );
        assert_eq!(
            normalize_time("2024-01-02T03:04:05+00:00"),
            "2024-01-02T03:04:05Z"
        );
    }
}
