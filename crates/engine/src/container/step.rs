//! A build step's filesystem and process: an overlay of a chain of layers with an
//! upper directory of its own, and a command run to completion on it. A step is not
//! a container of `ps` (no row, no monitor), as BuildKit's steps are not dockerd's
//! containers; its upper directory becomes the step's layer.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use kujira_runtime::{
    build_spec, Bundle, ChildIo, Embedded, HostFacts, ImageRunConfig, NetworkMode, RunOptions,
};

use super::create::Dns;
use super::random_id;
use crate::{Engine, EngineError};

/// Mount points a step's process needs, created in an init lower (not in the
/// step's upper directory, so they never show up in its layer).
const STEP_POINTS: &[(&str, bool)] = &[
    ("/proc", false),
    ("/sys", false),
    ("/dev", false),
    ("/dev/pts", false),
    ("/dev/shm", false),
    ("/dev/mqueue", false),
    ("/etc/hosts", true),
    ("/etc/hostname", true),
    ("/etc/resolv.conf", true),
];

/// How step processes are named in the built-in runtime's state: `build-PID-…`.
const STEP_PREFIX: &str = "build-";

/// Kills and deletes the step processes of builders that are gone (a `kujira build`
/// killed mid-`RUN` leaves its step running), once per process.
fn sweep_orphan_steps() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let rt = Embedded::new();
        let Ok(entries) = std::fs::read_dir(rt.root()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_prefix(STEP_PREFIX)
                .and_then(|r| r.split('-').next())
            else {
                continue;
            };
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = rt.delete(&name, true);
            }
        }
    });
}

/// A mounted step rootfs. Unmounted when dropped; the directory (with the upper
/// layer) stays until [`StepRootfs::remove`].
pub struct StepRootfs {
    id: String,
    dir: PathBuf,
    bundle: Option<Bundle>,
}

/// The process of a `RUN` step.
pub struct StepProcess {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub network: NetworkMode,
    /// `host:container[:ro]` binds (the step's `--mount`s).
    pub binds: Vec<String>,
    /// `--mount=type=tmpfs` targets.
    pub tmpfs: Vec<String>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl StepRootfs {
    /// Where the merged view is mounted.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("bundle").join("rootfs")
    }

    /// The step's own changes, in overlayfs's format (whiteouts as 0:0 devices).
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    fn unmount(&mut self) {
        if let Some(b) = self.bundle.take() {
            let _ = b.unmount();
        }
    }

    /// Unmounts the rootfs (its upper directory stays, to become the step's layer).
    pub fn finish(&mut self) {
        self.unmount();
    }

    /// Unmounts and deletes the step's directory.
    pub fn remove(mut self) {
        self.unmount();
        let _ = kujira_store::remove_tree(&self.dir);
    }
}

impl Drop for StepRootfs {
    fn drop(&mut self) {
        self.unmount();
    }
}

impl Engine {
    /// Mounts a step's rootfs over `lowers` (topmost first; none for `FROM scratch`)
    /// in a fresh directory under the store's scratch area (the same filesystem as
    /// the layers, as overlayfs wants its upper and work directories).
    /// `points` are the mount points the step's own mounts need (`true` for a file),
    /// made in the init lower so that they stay out of the step's layer.
    pub fn mount_step(
        &self,
        lowers: &[PathBuf],
        points: &[(String, bool)],
    ) -> Result<StepRootfs, EngineError> {
        sweep_orphan_steps();
        // The builder's pid in the name: a step whose builder died is found by it.
        let id = format!("{STEP_PREFIX}{}-{}", std::process::id(), &random_id()[..16]);
        let dir = self
            .store
            .tmp
            .path(&format!("step-{}", &id[id.len() - 12..]))?;
        let io = |e| EngineError::io(format!("creating {}", dir.display()), e);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let init = dir.join("init");
        let mut all_points: Vec<(String, bool)> = STEP_POINTS
            .iter()
            .map(|(p, f)| (p.to_string(), *f))
            .collect();
        all_points.extend_from_slice(points);
        super::init::build(&init, lowers, &all_points)?;
        let mut all = vec![init];
        all.extend_from_slice(lowers);
        let bundle = Bundle::mount(
            &dir.join("bundle"),
            &all,
            &dir.join("upper"),
            &dir.join("work"),
            true,
        )
        .map_err(EngineError::Runtime)?;
        Ok(StepRootfs {
            id,
            dir,
            bundle: Some(bundle),
        })
    }

    /// Runs `p` on the mounted `step` with the built-in runtime and Docker's default
    /// confinement; the process's exit status (128 + signal when killed).
    pub fn run_step(&self, step: &StepRootfs, p: StepProcess) -> Result<i32, EngineError> {
        let bundle = step
            .bundle
            .as_ref()
            .ok_or_else(|| EngineError::InvalidArgument("step rootfs not mounted".into()))?;
        // A hostname of hex digits, as a container's (the id holds the builder's pid).
        let hostname = random_id()[..12].to_string();
        let mut binds = self.write_etc_files(
            &step.dir,
            &step.id,
            &hostname,
            p.network,
            &[],
            &Dns::default(),
            false,
        )?;
        binds.extend(p.binds);
        let image = ImageRunConfig {
            env: p.env,
            ..ImageRunConfig::default()
        };
        let run = RunOptions {
            id: step.id.clone(),
            rootfs: "rootfs".into(),
            user_rootfs: Some(bundle.rootfs().to_path_buf()),
            cmd: p.args,
            entrypoint: Some(Vec::new()),
            workdir: (!p.workdir.is_empty()).then_some(p.workdir),
            user: (!p.user.is_empty()).then_some(p.user),
            hostname: Some(hostname),
            network: p.network,
            binds,
            tmpfs: p.tmpfs,
            cgroups_path: Some(format!("/kujira-build/{}", step.id)),
            ..RunOptions::default()
        };
        let mut spec =
            build_spec(&image, &run, &HostFacts::detect_for(false)).map_err(|e| match e {
                kujira_runtime::RuntimeError::NoCommand => {
                    EngineError::InvalidArgument("No command specified".into())
                }
                other => EngineError::Runtime(other),
            })?;
        let runtime = kujira_runtime::Runtime::Embedded(Embedded::new());
        self.precompile_seccomp(&mut spec, &runtime)?;
        bundle.write_config(&spec).map_err(EngineError::Runtime)?;
        let io = ChildIo {
            stdin: None,
            stdout: p.stdout,
            stderr: p.stderr,
        };
        if run.network != NetworkMode::Private {
            return Embedded::new()
                .run(&step.id, bundle.dir(), io)
                .map_err(EngineError::Runtime);
        }
        // The default network, as `docker build`'s RUN has: a lease on the default
        // bridge under an ID of the step's own, whose monitor lock this process
        // holds for the step's life (so sweeps see it alive, and stale after a crash).
        let lease = self.step_lease(&step.id)?;
        let attachment = std::cell::RefCell::new(None);
        let code = Embedded::new()
            .run_with(&step.id, bundle.dir(), io, |pid| {
                let a = self
                    .attach_networks(&lease.container, pid)
                    .map_err(|e| kujira_runtime::RuntimeError::Network(e.to_string()))?;
                *attachment.borrow_mut() = Some(a);
                Ok(())
            })
            .map_err(EngineError::Runtime);
        if let Some(a) = attachment.into_inner() {
            self.detach_networks(&lease.container, a);
        }
        code
    }

    fn step_lease(&self, step_id: &str) -> Result<StepLease, EngineError> {
        use sha2::Digest as _;
        let id = hex::encode(sha2::Sha256::digest(step_id.as_bytes()));
        let paths = self.container_paths(&id);
        std::fs::create_dir_all(&paths.dir)
            .map_err(|e| EngineError::io(format!("creating {}", paths.dir.display()), e))?;
        let lock = kujira_store::StoreLock::exclusive(&paths.monitor_lock())?;
        let config = super::config::ContainerConfig {
            host_config: bollard_stubs::models::HostConfig {
                network_mode: Some("bridge".into()),
                ..Default::default()
            },
            networks: vec![crate::network::EndpointSpec {
                network_id: crate::network::predefined_id("bridge"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let row = kujira_store::metadata::ContainerRow {
            id,
            name: String::new(),
            image_id: String::new(),
            created: String::new(),
            config: String::new(),
            state: Default::default(),
        };
        Ok(StepLease {
            container: super::Container { row, config },
            _lock: lock,
            dir: paths.dir,
        })
    }
}

/// A build step's lease on the default bridge while it runs.
struct StepLease {
    container: super::Container,
    _lock: kujira_store::StoreLock,
    dir: PathBuf,
}

impl Drop for StepLease {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The layer directories of a chain, topmost first, as overlay lowers.
pub fn lower_dirs(engine: &Engine, chain: &[kujira_store::metadata::NewLayer]) -> Vec<PathBuf> {
    chain
        .iter()
        .rev()
        .map(|l| engine.store.layers.diff_dir(&l.chain_id))
        .collect()
}
