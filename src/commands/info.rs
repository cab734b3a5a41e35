//! `info` and `version`.

use std::io::Write;

use kujira_engine::Engine;
use kujira_template::{Template, Value};

use crate::cli::{InfoArgs, VersionArgs};
use crate::error::CliError;
use crate::format::human;
use crate::format::table::FormatError;

/// The runtimes `--runtime` knows here: the built-in one, then the OCI runtime
/// binaries installed.
fn runtimes() -> Vec<String> {
    let mut out = vec![kujira_runtime::embedded::NAME.to_string()];
    for name in ["crun", "runc", "youki"] {
        if kujira_runtime::OciRuntime::find(name).is_some() {
            out.push(name.to_string());
        }
    }
    out
}

/// The seccomp profile containers get by default: its file, or `builtin`.
fn seccomp_profile() -> String {
    kujira_runtime::seccomp::DEFAULT_PROFILE_PATHS
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
        .map_or_else(|| "builtin".to_string(), |p| p.to_string())
}

pub fn run(engine: &Engine, args: &InfoArgs) -> Result<(), CliError> {
    let i = engine.info()?;
    let containers = engine.containers()?;
    let count = |s: &str| containers.iter().filter(|c| c.status() == s).count();
    let (running, paused) = (count("running") + count("restarting"), count("paused"));
    let stopped = containers.len() - running - paused;
    let runtimes = runtimes();
    let default_runtime = engine
        .runtime("")
        .map(|r| r.name())
        .unwrap_or_else(|_| kujira_runtime::embedded::NAME.to_string());
    let profile = seccomp_profile();
    let doc = serde_json::json!({
        "Containers": containers.len(), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": stopped,
        "Images": i.images,
        "LoggingDriver": "json-file",
        "Runtimes": runtimes.iter().map(|r| (r.clone(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>(),
        "DefaultRuntime": default_runtime,
        "SecurityOptions": [format!("name=seccomp,profile={profile}")],
        "Driver": i.driver,
        "DockerRootDir": i.root,
        "CgroupDriver": i.cgroup_driver,
        "CgroupVersion": i.cgroup_version,
        "KernelVersion": i.kernel,
        "OperatingSystem": i.os,
        "OSType": "linux",
        "Architecture": i.arch,
        "NCPU": i.cpus,
        "MemTotal": i.memory,
        "Name": i.hostname,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
    });
    let mut out = std::io::stdout().lock();
    if let Some(f) = args.format.as_deref().filter(|f| !f.is_empty()) {
        return render(&mut out, f, &doc);
    }
    writeln!(
        out,
        "Client:\n Version:    {v}\n Context:    default\n\nServer:\n Containers: {all}\n  Running: {running}\n  Paused: {paused}\n  Stopped: {stopped}\n Images: {images}\n Server Version: {v}\n Storage Driver: {driver}\n Logging Driver: json-file\n Cgroup Driver: {cgd}\n Cgroup Version: {cgv}\n Runtimes: {runtimes}\n Default Runtime: {default_runtime}\n Security Options:\n  seccomp\n   Profile: {profile}\n Kernel Version: {kernel}\n Operating System: {os}\n OSType: linux\n Architecture: {arch}\n CPUs: {cpus}\n Total Memory: {mem}\n Name: {name}\n Docker Root Dir: {root}\n Debug Mode: false",
        v = env!("CARGO_PKG_VERSION"),
        all = containers.len(),
        runtimes = runtimes.join(" "),
        images = i.images,
        driver = i.driver,
        cgd = i.cgroup_driver,
        cgv = i.cgroup_version,
        kernel = i.kernel,
        os = i.os,
        arch = i.arch,
        cpus = i.cpus,
        mem = human::bytes_size(i.memory),
        name = i.hostname,
        root = i.root,
    )?;
    out.flush()?;
    Ok(())
}

pub fn version(args: &VersionArgs) -> Result<(), CliError> {
    let doc = serde_json::json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": "1.49", "Os": "linux", "Arch": kujira_engine::image::config::host_platform().1},
        "Server": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": "1.49", "MinAPIVersion": "1.24", "Os": "linux", "Arch": kujira_engine::image::config::host_platform().1},
    });
    let mut out = std::io::stdout().lock();
    if let Some(f) = args.format.as_deref().filter(|f| !f.is_empty()) {
        return render(&mut out, f, &doc);
    }
    let arch = kujira_engine::image::config::host_platform().1;
    writeln!(
        out,
        "Client:\n Version:           {v}\n API version:       1.49\n OS/Arch:           linux/{arch}\n\nServer: kujira\n Engine:\n  Version:          {v}\n  API version:      1.49 (minimum version 1.24)\n  OS/Arch:          linux/{arch}",
        v = env!("CARGO_PKG_VERSION"),
    )?;
    Ok(())
}

/// `-f` over a JSON document, as `docker info -f` / `docker version -f`.
fn render(out: &mut impl Write, format: &str, doc: &serde_json::Value) -> Result<(), CliError> {
    let t = Template::parse(format).map_err(|e| CliError::from(FormatError::Parse(e)))?;
    let text = t
        .execute(&Value::from_json(doc, &[]))
        .map_err(|e| CliError::from(FormatError::Exec(e)))?;
    writeln!(out, "{text}")?;
    Ok(())
}
