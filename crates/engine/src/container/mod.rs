//! Container services: create, start (through a monitor process), stop, remove, list,
//! inspect, exec, logs, commit, diff. A container is a row in the store's metadata
//! plus a directory (`containers/<id>/`) holding its copy-on-write layer (`upper/`),
//! its OCI bundle (`bundle/`, whose `rootfs` is the overlay), its json-file log and the
//! lock its monitor holds while it lives — which is how every other process tells a
//! running container from one whose monitor (or machine) died.

mod asked;
pub mod attach;
pub mod commit;
pub mod config;
pub mod copy;
pub mod create;
pub mod diff;
pub mod exec;
pub mod health;
mod init;
pub mod inspect;
mod legacy;
pub mod list;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod path_stat;
pub mod remove;
pub mod resize;
pub mod start;
pub mod stats;
pub mod status;
pub mod step;
pub mod stop;
mod stored;
pub mod top;
pub mod update;
pub mod volume;

use std::path::PathBuf;

use kujira_runtime::{Embedded, OciRuntime, Runtime};
use kujira_store::metadata::ContainerRow;
use kujira_store::StoreLock;

pub use config::{ContainerConfig, MountPoint, RestartPolicy};

use crate::{Engine, EngineError};

/// A container as read from the store.
#[derive(Debug, Clone)]
pub struct Container {
    pub row: ContainerRow,
    pub config: ContainerConfig,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.row.id
    }

    pub fn name(&self) -> &str {
        &self.row.name
    }

    pub fn status(&self) -> &str {
        &self.row.state.status
    }

    pub fn is_running(&self) -> bool {
        matches!(self.status(), "running" | "paused" | "restarting")
    }
}

/// Where a container's files are.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub dir: PathBuf,
}

impl ContainerPaths {
    /// Held by the process creating the container until its row is written.
    pub fn creating_lock(&self) -> PathBuf {
        self.dir.join(".creating")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("bundle/rootfs")
    }
    pub fn log(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
    pub fn monitor_lock(&self) -> PathBuf {
        self.dir.join("monitor.lock")
    }
    /// The init layer: empty mount points the runtime would otherwise create in the
    /// copy-on-write layer (so `diff` and `commit` never see them), as Docker's
    /// `-init` layer.
    pub fn init(&self) -> PathBuf {
        self.dir.join("init")
    }
    /// An empty lower directory for images without layers.
    pub fn empty_lower(&self) -> PathBuf {
        self.dir.join("empty")
    }
}

/// A new random 64-hex-digit ID.
pub fn random_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Whether a monitor process holds the container's lock (it is alive).
pub fn monitor_alive(paths: &ContainerPaths) -> bool {
    if !paths.monitor_lock().exists() {
        return false;
    }
    matches!(StoreLock::try_exclusive(&paths.monitor_lock()), Ok(None))
}

impl Engine {
    pub fn container_paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.store.container_dir(id),
        }
    }

    /// Finds a container by full ID, name (with or without `/`) or unique ID prefix.
    pub fn find_container(&self, input: &str) -> Result<Container, EngineError> {
        // A full ID (what the monitor and the API use) needs no listing.
        if input.len() == 64 {
            if let Some(row) = self.store.meta.container(input)? {
                return self.container_from_row(row);
            }
        }
        let name = input.strip_prefix('/').unwrap_or(input);
        let rows = self.store.meta.containers()?;
        let found = rows
            .iter()
            .find(|r| r.id == input)
            .or_else(|| rows.iter().find(|r| r.name == name))
            .cloned();
        let row = match found {
            Some(r) => r,
            None => {
                let hits: Vec<&ContainerRow> = if input.is_empty() {
                    Vec::new()
                } else {
                    rows.iter().filter(|r| r.id.starts_with(input)).collect()
                };
                match hits.as_slice() {
                    [one] => (*one).clone(),
                    [] => return Err(EngineError::NoSuchContainer(input.to_string())),
                    _ => {
                        return Err(EngineError::InvalidArgument(format!(
                            "multiple IDs found with provided prefix: {input}"
                        )))
                    }
                }
            }
        };
        self.container_from_row(row)
    }

    pub(crate) fn container_from_row(
        &self,
        mut row: ContainerRow,
    ) -> Result<Container, EngineError> {
        let (config, upgraded) = ContainerConfig::read(&row.config).map_err(|e| {
            EngineError::InvalidArgument(format!("container {}: damaged config: {e}", row.id))
        })?;
        if upgraded {
            // An earlier version's row: written back in the new form once, in one
            // statement (a failure leaves the old form, read the same next time).
            if let Ok(text) = serde_json::to_string(&config) {
                if self.store.meta.set_container_config(&row.id, &text).is_ok() {
                    row.config = text;
                }
            }
        }
        let mut c = Container { row, config };
        self.reconcile(&mut c)?;
        Ok(c)
    }

    /// A container the store calls running whose monitor is gone (killed, or the
    /// machine went down) is stopped for real and recorded as exited, so nothing ever
    /// shows a ghost "Up".
    fn reconcile(&self, c: &mut Container) -> Result<(), EngineError> {
        if !c.is_running() {
            return Ok(());
        }
        let paths = self.container_paths(c.id());
        if monitor_alive(&paths) {
            return Ok(());
        }
        // Hold the lock while fixing up, so a monitor starting now waits for us.
        let Ok(Some(_lock)) = StoreLock::try_exclusive(&paths.monitor_lock()) else {
            return Ok(());
        };
        if let Ok(rt) = self.runtime(c.config.runtime()) {
            let _ = rt.delete(c.id(), true);
        }
        let _ = kujira_runtime::Bundle::open(&paths.bundle()).unmount();
        let st = &mut c.row.state;
        st.status = "exited".into();
        st.pid = 0;
        st.exit_code = 255;
        st.finished_at = kujira_runtime::logs::now_rfc3339_nanos();
        st.error = "the container's monitor process died".into();
        self.store.meta.set_container_state(&c.row.id, st)?;
        Ok(())
    }

    /// The runtime an unnamed one means: `KUJIRA_RUNTIME`, else the built-in one.
    /// A container keeps the name it was created with.
    pub fn default_runtime_name(&self) -> String {
        std::env::var("KUJIRA_RUNTIME")
            .ok()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| kujira_runtime::embedded::NAME.to_string())
    }

    /// The runtime `name`: `kujira` (the built-in one), or an OCI runtime binary
    /// looked up on PATH, or a path; empty is the default: `KUJIRA_RUNTIME`, else
    /// the built-in runtime.
    pub fn runtime(&self, name: &str) -> Result<Runtime, EngineError> {
        let wanted = if name.is_empty() {
            self.default_runtime_name()
        } else {
            name.to_string()
        };
        if wanted == kujira_runtime::embedded::NAME {
            return Ok(Runtime::Embedded(Embedded::new()));
        }
        OciRuntime::find(&wanted).map(Runtime::Oci).ok_or_else(|| {
            EngineError::InvalidArgument(format!("unknown or invalid runtime name: {wanted}"))
        })
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<Container>, EngineError> {
        self.store
            .meta
            .containers()?
            .into_iter()
            .map(|r| self.container_from_row(r))
            .collect()
    }
}
