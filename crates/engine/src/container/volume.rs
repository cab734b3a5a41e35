//! Named volumes (`volume create/ls/inspect/rm/prune`, `-v name:/path`): directories
//! under `volumes/<name>/_data`, bound into containers. A new volume mounted over a
//! path the image has files at starts with a copy of them, as Docker's does.

use kujira_runtime::Bundle;
use kujira_store::metadata::VolumeRow;

use super::config::MountPoint;
use crate::image::import::now_rfc3339_nanos;
use crate::{Engine, EngineError};

/// A volume as `volume ls`/`inspect` show it.
#[derive(Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub mountpoint: String,
    pub labels: String,
    /// Containers using it.
    pub users: Vec<String>,
}

impl Volume {
    /// Docker's `Volume` document (`volume inspect`, the API's volume answers).
    pub fn inspect_json(&self) -> serde_json::Value {
        let labels: serde_json::Value =
            serde_json::from_str(&self.labels).unwrap_or(serde_json::json!({}));
        serde_json::json!({
            "CreatedAt": self.created,
            "Driver": "local",
            "Labels": labels,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": null,
            "Scope": "local",
        })
    }
}

fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Engine {
    /// `volume create [NAME]`: creating an existing volume is not an error.
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: &[String],
    ) -> Result<String, EngineError> {
        let name = match name {
            Some(n) if !valid_volume_name(n) => {
                return Err(EngineError::InvalidArgument(format!(
                    "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                )))
            }
            Some(n) => n.to_string(),
            None => super::random_id(),
        };
        let labels: std::collections::BTreeMap<String, String> = labels
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let dir = self.store.volume_dir(&name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
        self.store.meta.add_volume(&VolumeRow {
            name: name.clone(),
            created: now_rfc3339_nanos(),
            labels: serde_json::to_string(&labels).unwrap_or_else(|_| "{}".into()),
            anonymous: false,
        })?;
        Ok(name)
    }

    pub fn volumes(&self) -> Result<Vec<Volume>, EngineError> {
        let containers = self.containers()?;
        Ok(self
            .store
            .meta
            .volumes()?
            .into_iter()
            .map(|v| Volume {
                users: containers
                    .iter()
                    .filter(|c| {
                        c.config
                            .mounts
                            .iter()
                            .any(|m| m.kind == "volume" && m.name == v.name)
                    })
                    .map(|c| c.id().to_string())
                    .collect(),
                mountpoint: self.store.volume_dir(&v.name).display().to_string(),
                name: v.name,
                created: v.created,
                labels: v.labels,
            })
            .collect())
    }

    pub fn volume(&self, name: &str) -> Result<Volume, EngineError> {
        self.volumes()?
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| EngineError::NoSuchVolume(name.to_string()))
    }

    /// `volume rm`: refuses a volume in use unless `force`… and even then, as Docker,
    /// while a container still references it.
    pub fn remove_volume(&self, name: &str, _force: bool) -> Result<(), EngineError> {
        let v = self.volume(name)?;
        if let Some(c) = v.users.first() {
            return Err(EngineError::InvalidArgument(format!(
                "remove {name}: volume is in use - [{c}]"
            )));
        }
        self.store.meta.delete_volume(name)?;
        let dir = self.store.volume_dir(name);
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
        Ok(())
    }

    /// `volume prune`: unused anonymous volumes, or with `all` every unused one.
    /// Returns the names removed and the bytes reclaimed.
    pub fn prune_volumes(&self, all: bool) -> Result<(Vec<String>, u64), EngineError> {
        let mut removed = Vec::new();
        let mut bytes = 0;
        for v in self.volumes()? {
            let anonymous = v.name.len() == 64 && v.name.chars().all(|c| c.is_ascii_hexdigit());
            if !v.users.is_empty() || !(all || anonymous) {
                continue;
            }
            bytes += kujira_store::layers::tree_size(&self.store.volume_dir(&v.name)).unwrap_or(0);
            self.remove_volume(&v.name, false)?;
            removed.push(v.name);
        }
        Ok((removed, bytes))
    }

    /// Splits `-v` specs into bind strings for the runtime spec (volumes resolved to
    /// their directories) and the mount points `inspect` shows.
    pub(crate) fn resolve_volumes(
        &self,
        specs: &[String],
        bundle: &Bundle,
    ) -> Result<(Vec<String>, Vec<MountPoint>), EngineError> {
        let mut binds = Vec::new();
        let mut mounts = Vec::new();
        for spec in specs {
            let parts: Vec<&str> = spec.split(':').collect();
            let (src, dest, mode) = match parts.as_slice() {
                [d] => ("", *d, ""),
                [s, d] => (*s, *d, ""),
                [s, d, m] => (*s, *d, *m),
                _ => {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid volume specification: '{spec}'"
                    )))
                }
            };
            let rw = !mode.split(',').any(|m| m == "ro");
            if src.starts_with('/') {
                if !std::path::Path::new(src).exists() {
                    // Docker creates a missing host directory for -v.
                    std::fs::create_dir_all(src).map_err(|e| {
                        EngineError::InvalidArgument(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {src}: {e}"
                        ))
                    })?;
                }
                binds.push(spec.clone());
                mounts.push(MountPoint {
                    kind: "bind".into(),
                    source: src.to_string(),
                    destination: dest.to_string(),
                    mode: mode.to_string(),
                    rw,
                    ..Default::default()
                });
                continue;
            }
            let name = if src.is_empty() {
                super::random_id()
            } else {
                src.to_string()
            };
            let existed = self.store.meta.volumes()?.iter().any(|v| v.name == name);
            self.create_volume(Some(&name), &[])?;
            let data = self.store.volume_dir(&name);
            if !existed {
                super::copy::copy_dir_out(bundle.rootfs(), dest, &data)?;
            }
            let mut b = format!("{}:{dest}", data.display());
            if !mode.is_empty() {
                b.push(':');
                b.push_str(mode);
            }
            binds.push(b);
            mounts.push(MountPoint {
                kind: "volume".into(),
                name,
                source: data.display().to_string(),
                destination: dest.to_string(),
                mode: mode.to_string(),
                rw,
            });
        }
        Ok((binds, mounts))
    }
}
