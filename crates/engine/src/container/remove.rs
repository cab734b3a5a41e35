//! `rm [-f] [-v]`, `container prune`: a container's files (its copy-on-write layer,
//! bundle, log) and row go; its image stays.

use super::Container;
use crate::{Engine, EngineError};

impl Engine {
    pub fn remove_container(
        &self,
        c: &Container,
        force: bool,
        volumes: bool,
    ) -> Result<(), EngineError> {
        if c.is_running() {
            if !force {
                let what = if c.status() == "paused" {
                    "paused"
                } else {
                    "running"
                };
                return Err(EngineError::InvalidArgument(format!(
                    "cannot remove container \"/{}\": container is {what}: stop the container before removing or force remove",
                    c.name()
                )));
            }
            self.store.meta.set_stop_requested(c.id(), true)?;
            if c.status() == "paused" {
                if let Ok(rt) = self.runtime(c.config.runtime()) {
                    let _ = rt.resume(c.id());
                }
            }
            let _ = self.kill_container(c, "KILL");
            self.wait_monitor(c.id(), None);
        }
        self.delete_container_files(c.id(), volumes)?;
        // A lease a crashed monitor left (its veth, its DNAT elements) goes with it.
        if !self.store.meta.container_endpoints(c.id())?.is_empty() {
            self.sweep_leases()?;
        }
        Ok(())
    }

    /// Removes the container's runtime state, mount, directory and row (in that order,
    /// so a crash leaves at worst a row whose files are partly gone, which `rm` finishes).
    pub(crate) fn delete_container_files(
        &self,
        id: &str,
        volumes: bool,
    ) -> Result<(), EngineError> {
        if let Some(away) = self.unlist_container(id, volumes)? {
            let _ = kujira_store::tmp::remove_tree(&away);
        }
        Ok(())
    }

    /// [`Engine::delete_container_files`] but the deletion of the directory tree,
    /// which is left for the caller: the directory is renamed into the scratch area
    /// and its path returned. Once this returns the container is gone for everyone.
    pub(crate) fn unlist_container(
        &self,
        id: &str,
        volumes: bool,
    ) -> Result<Option<std::path::PathBuf>, EngineError> {
        let paths = self.container_paths(id);
        let row = self.store.meta.container(id)?;
        let config: Option<super::ContainerConfig> = row
            .as_ref()
            .and_then(|r| super::ContainerConfig::from_stored(&r.config).ok());
        if let Some(cfg) = &config {
            // Only when the runtime still has state for it (its monitor deletes it on
            // a normal exit): one runtime invocation saved per `--rm`.
            if let Ok(rt) = self.runtime(cfg.runtime()) {
                if rt.has_state(id) {
                    let _ = rt.delete(id, true);
                }
            }
        }
        kujira_runtime::Bundle::open(&paths.bundle())
            .unmount()
            .map_err(EngineError::Runtime)?;
        let mut away = None;
        if paths.dir.exists() {
            // Renamed away first, so a half-deleted directory never looks like a container.
            let to = self.store.tmp.path("deleted-container")?;
            std::fs::rename(&paths.dir, &to)
                .map_err(|e| EngineError::io(format!("removing {}", paths.dir.display()), e))?;
            away = Some(to);
        }
        self.store.meta.delete_container(id)?;
        if let (Some(r), Some(cfg)) = (&row, &config) {
            self.emit_container_of(id, &r.name, cfg, "destroy", &[]);
        }
        if volumes {
            for m in config.iter().flat_map(|c| c.mounts.iter()) {
                let anonymous = m.kind == "volume"
                    && m.name.len() == 64
                    && m.name.chars().all(|c| c.is_ascii_hexdigit());
                if anonymous {
                    let _ = self.remove_volume(&m.name, false);
                }
            }
        }
        Ok(away)
    }

    /// Removes what creates that died midway (a killed CLI or server) left: a
    /// container directory with no row, whose creator no longer holds its lock,
    /// mounted rootfs included. Returns how many went.
    pub fn sweep_unfinished(&self) -> Result<usize, EngineError> {
        let dir = self.store.root().join("containers");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(0);
        };
        let mut swept = 0;
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if id.len() != 64 || self.store.meta.container(&id)?.is_some() {
                continue;
            }
            let paths = self.container_paths(&id);
            let lock = paths.creating_lock();
            // Without its lock file yet, a directory may be a create that is just
            // starting: only old ones are taken.
            let young = std::fs::metadata(&paths.dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < std::time::Duration::from_secs(60));
            if !lock.exists() && young {
                continue;
            }
            let Ok(Some(_held)) = kujira_store::StoreLock::try_exclusive(&lock) else {
                continue;
            };
            // The row may have been written between the look and the lock.
            if self.store.meta.container(&id)?.is_some() {
                continue;
            }
            kujira_runtime::Bundle::open(&paths.bundle())
                .unmount()
                .map_err(EngineError::Runtime)?;
            let to = self.store.tmp.path("unfinished-container")?;
            if std::fs::rename(&paths.dir, &to).is_ok() {
                let _ = kujira_store::tmp::remove_tree(&to);
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// `container prune`: every stopped container; the IDs removed and the bytes of
    /// their copy-on-write layers.
    pub fn prune_containers(&self) -> Result<(Vec<String>, u64), EngineError> {
        self.sweep_unfinished()?;
        let mut ids = Vec::new();
        let mut bytes = 0;
        for c in self.containers()? {
            if c.is_running() {
                continue;
            }
            bytes +=
                kujira_store::layers::tree_size(&self.container_paths(c.id()).upper()).unwrap_or(0);
            self.delete_container_files(c.id(), false)?;
            ids.push(c.id().to_string());
        }
        Ok((ids, bytes))
    }

    /// `rename OLD NEW`.
    pub fn rename_container(&self, c: &Container, new_name: &str) -> Result<(), EngineError> {
        let name = super::names::validate(new_name).map_err(EngineError::InvalidArgument)?;
        if name == c.name() {
            return Err(EngineError::InvalidArgument(
                "Renaming a container with the same name as its current name".to_string(),
            ));
        }
        self.store
            .meta
            .rename_container(c.id(), &name)
            .map_err(|e| match e {
                kujira_store::StoreError::NameInUse { name, id } => {
                    EngineError::NameConflict { name, id }
                }
                other => other.into(),
            })?;
        let old = format!("/{}", c.name());
        self.emit_container_of(c.id(), &name, &c.config, "rename", &[("oldName", &old)]);
        Ok(())
    }
}
