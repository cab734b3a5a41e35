//! `--init`: Docker's `docker-init` (or Debian's `tini-static`) bound read-only
//! into the container as its process 1, with the command under it.

use std::path::PathBuf;

use super::invalid;
use crate::EngineError;

/// Where `--init` puts its init inside the container, as Docker does.
pub(super) const INIT_PATH: &str = "/sbin/docker-init";

/// The static init `--init` runs: `docker-init` or Debian's `tini-static`.
pub(super) fn find_init() -> Result<PathBuf, EngineError> {
    let path = std::env::var("PATH").unwrap_or_default();
    for name in ["docker-init", "tini-static"] {
        for dir in path
            .split(':')
            .chain(["/usr/local/bin", "/usr/bin", "/usr/libexec/docker"])
        {
            let p = std::path::Path::new(dir).join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(invalid(
        "--init needs a static init binary: install tini (tini-static) or put docker-init on PATH",
    ))
}

/// Runs the container's command under the init, bound read-only into the container.
pub(super) fn add_init(
    spec: &mut oci_spec::runtime::Spec,
    bin: &std::path::Path,
) -> Result<(), EngineError> {
    let mount = oci_spec::runtime::MountBuilder::default()
        .destination(INIT_PATH)
        .typ("bind")
        .source(bin)
        .options(vec!["bind".to_string(), "ro".to_string()])
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
        args.extend(p.args().clone().unwrap_or_default());
        p.set_args(Some(args));
    }
    Ok(())
}
