//! `create`: the image's config merged with the flags into an OCI runtime spec, a
//! bundle whose rootfs is an overlay of the image's layers plus the container's own
//! upper directory, and a container row — added last, so a failure midway leaves
//! nothing but a directory that no row names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kujira_runtime::{build_spec, Bundle, HostFacts, ImageRunConfig, NetworkMode};
use kujira_store::metadata::{ContainerRow, ContainerState};

use bollard_stubs::models::ContainerCreateBody;

use super::config::{ContainerConfig, MountPoint};
use super::{asked, names, random_id, stored, Container};
use crate::image::config::ImageConfig;
use crate::image::import::now_rfc3339_nanos;
use crate::{Engine, EngineError};

mod checks;
mod docker_init;
mod etc_files;
mod run_options;
mod seccomp;

use docker_init::{add_init, find_init, INIT_PATH};
pub(crate) use etc_files::Dns;
use run_options::run_options;

/// Mount points every container has.
const INIT_DIRS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
];
const INIT_FILES: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/// The `-v` list plus an anonymous volume for each of the image's `VOLUME`s that no
/// `-v` or `--tmpfs` covers, as Docker makes them.
fn with_image_volumes(asked: &[String], tmpfs: &[String], image: &[String]) -> Vec<String> {
    let clean = |p: &str| p.trim_end_matches('/').to_string();
    let taken: Vec<String> = asked
        .iter()
        .map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            clean(if parts.len() == 1 { parts[0] } else { parts[1] })
        })
        .chain(
            tmpfs
                .iter()
                .map(|t| clean(t.split(':').next().unwrap_or_default())),
        )
        .collect();
    let mut out = asked.to_vec();
    for v in image {
        let v = clean(v);
        if v.starts_with('/') && v != "/" && !taken.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// What `create` takes: Docker's create body — as the API receives it, and as the
/// CLI builds it from its flags — and the container's name.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub body: ContainerCreateBody,
    /// Leave the rootfs mounted for a start that follows at once (`run`); a plain
    /// `create` unmounts it, so containers that are only created hold no mounts.
    pub keep_mounted: bool,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}

impl Engine {
    /// The name asked for, if free, or a generated one.
    fn container_name(&self, asked: Option<&str>) -> Result<String, EngineError> {
        let Some(n) = asked else {
            return self.draw_name();
        };
        let n = names::validate(n).map_err(invalid)?;
        if let Some(other) = self.store.meta.containers()?.iter().find(|r| r.name == n) {
            return Err(EngineError::NameConflict {
                name: n,
                id: other.id.clone(),
            });
        }
        Ok(n)
    }

    /// A generated name no container has (Docker's `adjective_scientist`).
    fn draw_name(&self) -> Result<String, EngineError> {
        let used: Vec<String> = self
            .store
            .meta
            .containers()?
            .into_iter()
            .map(|r| r.name)
            .collect();
        Ok(names::random_name(|n| used.iter().any(|u| u == n)))
    }

    /// Adds the container's row; a generated name (`drawn`) another process took in
    /// the meantime is drawn again.
    fn add_row(&self, mut row: ContainerRow, drawn: bool) -> Result<ContainerRow, EngineError> {
        let mut tries = 0;
        loop {
            match self.store.meta.add_container(&row) {
                Ok(()) => return Ok(row),
                Err(kujira_store::StoreError::NameInUse { .. }) if drawn && tries < 20 => {
                    tries += 1;
                    row.name = self.draw_name()?;
                }
                Err(kujira_store::StoreError::NameInUse { name, id }) => {
                    return Err(EngineError::NameConflict { name, id })
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// Creates a container from a stored image (the caller pulls a missing one).
    pub fn create_container(&self, req: &CreateRequest) -> Result<Container, EngineError> {
        let body = &req.body;
        let hc = body.host_config.clone().unwrap_or_default();
        let image_name = body
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| invalid("config cannot be empty in order to create a container"))?;
        let _lock = self.store.lock_shared()?;
        let image = self.resolve_image(&image_name)?;
        let bytes = self.store.blobs.read(&image.id)?;
        let image_config = ImageConfig::parse(&image.id, &bytes)?;
        let run_image = run_config(&image_config);
        let (asked_volumes, tmpfs) = asked::mounts(body, &hc)?;
        let volumes = with_image_volumes(&asked_volumes, &tmpfs, &run_image.volumes);
        let auto_remove = hc.auto_remove.unwrap_or(false);

        let name = self.container_name(req.name.as_deref())?;
        let restart = checks::restart_policy(&hc)?;
        if auto_remove {
            // A container that removes itself when it exits is not worth a flush to
            // survive a power failure; its row stays consistent either way.
            self.store.meta.relax_durability()?;
        }
        let mut ports = asked::port_mappings(&hc)?;
        let publish_all = hc.publish_all_ports.unwrap_or(false);
        let (network, networks) = self.network_mode(
            &hc,
            body.networking_config.as_ref(),
            !ports.is_empty() || publish_all,
        )?;
        let network = (network.0.as_str(), network.1);
        // User-defined networks answer names through the embedded DNS server.
        let embedded_dns = networks
            .first()
            .is_some_and(|e| e.network_id != crate::network::predefined_id("bridge"));
        let exposed = asked::exposed_ports(body, &run_image.exposed_ports, &ports);
        if publish_all {
            asked::publish_all(&exposed, &mut ports)?;
        }
        if network.1 != NetworkMode::Private && !ports.is_empty() {
            // Docker ignores published ports with the host network and refuses none.
            ports.clear();
        }
        // `runc` is what docker clients name the default runtime.
        let runtime = hc
            .runtime
            .clone()
            .filter(|r| !r.is_empty() && r != "runc")
            .unwrap_or_default();
        // Looked up once: an unknown runtime fails before any work.
        let oci_runtime = self.runtime(&runtime)?;
        if req.keep_mounted {
            // A start follows at once.
            oci_runtime.warm_up();
        }
        let hostname = body.hostname.clone().unwrap_or_default();
        let checked = checks::Checked::of(&hc, network.1, &hostname, tmpfs)?;
        let dns = Dns::of(&hc)?;

        let id = random_id();
        let paths = self.container_paths(&id);
        let result = (|| -> Result<Container, EngineError> {
            std::fs::create_dir_all(&paths.dir)
                .map_err(|e| EngineError::io(format!("creating {}", paths.dir.display()), e))?;
            // Held until the row exists: a directory whose lock is free and that
            // has no row is a create that died midway (see `sweep_unfinished`).
            let creating = kujira_store::StoreLock::exclusive(&paths.creating_lock())?;
            let layers = self.store.meta.image_layers(&image.id)?;
            let mut lowers: Vec<PathBuf> = layers
                .iter()
                .rev()
                .map(|l| self.store.layers.diff_dir(&l.chain_id))
                .collect();
            let init_binary = if checked.init {
                Some(find_init()?)
            } else {
                None
            };
            let points = mount_points(network.1, &volumes, &checked.tmpfs, checked.init);
            super::init::build(&paths.init(), &lowers, &points)?;
            lowers.insert(0, paths.init());
            let bundle = Bundle::mount(
                &paths.bundle(),
                &lowers,
                &paths.upper(),
                &paths.work(),
                auto_remove,
            )
            .map_err(EngineError::Runtime)?;

            let (binds, mounts) = self.resolve_volumes(&volumes, &bundle)?;
            let mut all_binds = binds;
            all_binds.extend(self.write_etc_files(
                &paths.dir,
                &id,
                &hostname,
                network.1,
                &checked.extra_hosts,
                &dns,
                embedded_dns,
            )?);
            let mut mount_points = mounts;
            for t in &checked.tmpfs {
                let dest = t.split(':').next().unwrap_or_default().to_string();
                mount_points.push(MountPoint {
                    kind: "tmpfs".into(),
                    destination: dest,
                    rw: true,
                    ..Default::default()
                });
            }
            let run = run_options(&id, body, &hc, &checked, &bundle, all_binds);
            // `-e KEY` was resolved by the client (as the docker CLI does); a bare
            // name left in the body is not looked up in this process's environment.
            let mut facts = HostFacts::detect_for(checked.privileged);
            facts.env.clear();
            let mut spec = build_spec(&run_image, &run, &facts).map_err(|e| match e {
                kujira_runtime::RuntimeError::NoCommand => invalid("No command specified"),
                other => EngineError::Runtime(other),
            })?;
            if let Some(bin) = &init_binary {
                add_init(&mut spec, bin)?;
            }
            self.precompile_seccomp(&mut spec, &oci_runtime)?;
            bundle.write_config(&spec).map_err(EngineError::Runtime)?;

            let process = spec.process().as_ref();
            let args: Vec<String> = process.and_then(|p| p.args().clone()).unwrap_or_default();
            let config = stored::config(&stored::Parts {
                body,
                image_name: &image_name,
                image: &run_image,
                image_healthcheck: super::health::from_image(
                    image_config
                        .extras
                        .config
                        .as_ref()
                        .and_then(|x| x.healthcheck.as_ref()),
                ),
                process_env: process.and_then(|p| p.env().clone()).unwrap_or_default(),
                hostname: spec.hostname().clone().unwrap_or_default(),
                exposed,
            });
            let stored_runtime = if runtime.is_empty() {
                self.default_runtime_name()
            } else {
                runtime.clone()
            };
            let config = ContainerConfig {
                config,
                host_config: stored::host_config(
                    &hc,
                    network.0,
                    &stored_runtime,
                    &restart,
                    checked.shm_size,
                    &checked.ipc_mode,
                ),
                path: args.first().cloned().unwrap_or_default(),
                args: args.iter().skip(1).cloned().collect(),
                layers: layers
                    .iter()
                    .rev()
                    .map(|l| l.chain_id.to_string())
                    .collect(),
                ports,
                networks: networks.clone(),
                mounts: mount_points,
            };
            let row = ContainerRow {
                id: id.clone(),
                name: name.clone(),
                image_id: image.id.to_string(),
                created: now_rfc3339_nanos(),
                config: serde_json::to_string(&config)
                    .map_err(|e| invalid(format!("encoding the container config: {e}")))?,
                state: ContainerState {
                    status: "created".into(),
                    ..Default::default()
                },
            };
            let row = self.add_row(row, req.name.is_none())?;
            if !req.keep_mounted {
                bundle.unmount().map_err(EngineError::Runtime)?;
            }
            let _ = std::fs::remove_file(paths.creating_lock());
            drop(creating);
            let c = Container { row, config };
            self.emit_container(&c, "create", &[]);
            Ok(c)
        })();
        if result.is_err() {
            let _ = Bundle::open(&paths.bundle()).unmount();
            let _ = std::fs::remove_dir_all(&paths.dir);
        }
        result
    }
}

/// The mount points the init layer holds, each with whether it is a file: every
/// container's, the `/etc` files (unless the host's network, whose files are the
/// host's), volume and tmpfs targets, and `--init`'s binary.
fn mount_points(
    net: NetworkMode,
    volumes: &[String],
    tmpfs: &[String],
    init: bool,
) -> Vec<(String, bool)> {
    let mut points: Vec<(String, bool)> =
        INIT_DIRS.iter().map(|d| (d.to_string(), false)).collect();
    if net != NetworkMode::Host {
        points.extend(INIT_FILES.iter().map(|f| (f.to_string(), true)));
    }
    for v in volumes {
        let parts: Vec<&str> = v.split(':').collect();
        let (src, dest) = match parts.as_slice() {
            [d] => ("", *d),
            [s, d, ..] => (*s, *d),
            _ => continue,
        };
        let is_file = src.starts_with('/') && std::path::Path::new(src).is_file();
        points.push((dest.to_string(), is_file));
    }
    for t in tmpfs {
        points.push((t.split(':').next().unwrap_or_default().to_string(), false));
    }
    if init {
        points.push((INIT_PATH.to_string(), true));
    }
    points
}

/// The parts of an image config that shape a container.
pub fn run_config(image: &ImageConfig) -> ImageRunConfig {
    let Some(c) = image.oci.config().as_ref() else {
        return ImageRunConfig::default();
    };
    ImageRunConfig {
        env: c.env().clone().unwrap_or_default(),
        cmd: c.cmd().clone().unwrap_or_default(),
        entrypoint: c.entrypoint().clone().unwrap_or_default(),
        working_dir: c.working_dir().clone().unwrap_or_default(),
        user: c.user().clone().unwrap_or_default(),
        stop_signal: c.stop_signal().clone(),
        exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
        volumes: c.volumes().clone().unwrap_or_default(),
        labels: c
            .labels()
            .clone()
            .map(|l| l.into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_image_volumes;

    #[test]
    fn image_volumes_not_covered_become_anonymous() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_image_volumes(
                &s(&["/host:/data", "named:/logs/"]),
                &s(&["/tmp:size=1m"]),
                &s(&["/data", "/logs", "/tmp", "/cache/", "relative", "/cache"])
            ),
            s(&["/host:/data", "named:/logs/", "/cache"])
        );
    }
}
