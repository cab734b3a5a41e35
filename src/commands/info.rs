//! `info` and `version`.

use std::io::Write;

use kujira_engine::Engine;
use kujira_template::{Template, Value};

use crate::cli::{InfoArgs, VersionArgs};
use crate::error::CliError;
use crate::format::human;
use crate::format::table::FormatError;

pub fn run(engine: &Engine, args: &InfoArgs) -> Result<(), CliError> {
    let doc = engine.info_document()?;
    let field = |k: &str| match &doc[k] {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut out = std::io::stdout().lock();
    if let Some(f) = args.format.as_deref().filter(|f| !f.is_empty()) {
        return render(&mut out, f, &doc);
    }
    writeln!(
        out,
        "Client:\n Version:    {v}\n Context:    default\n\nServer:\n Containers: {all}\n  Running: {running}\n  Paused: {paused}\n  Stopped: {stopped}\n Images: {images}\n Server Version: {v}\n Storage Driver: {driver}\n Logging Driver: json-file\n Cgroup Driver: {cgd}\n Cgroup Version: {cgv}\n Runtimes: {runtimes}\n Default Runtime: {default_runtime}\n Security Options:\n  seccomp\n   Profile: {profile}\n Kernel Version: {kernel}\n Operating System: {os}\n OSType: linux\n Architecture: {arch}\n CPUs: {cpus}\n Total Memory: {mem}\n Name: {name}\n Docker Root Dir: {root}\n Debug Mode: false",
        v = env!("CARGO_PKG_VERSION"),
        all = field("Containers"),
        running = field("ContainersRunning"),
        paused = field("ContainersPaused"),
        stopped = field("ContainersStopped"),
        runtimes = doc["Runtimes"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        default_runtime = field("DefaultRuntime"),
        profile = doc["SecurityOptions"][0]
            .as_str()
            .and_then(|s| s.strip_prefix("name=seccomp,profile="))
            .unwrap_or("builtin"),
        images = field("Images"),
        driver = field("Driver"),
        cgd = field("CgroupDriver"),
        cgv = field("CgroupVersion"),
        kernel = field("KernelVersion"),
        os = field("OperatingSystem"),
        arch = field("Architecture"),
        cpus = field("NCPU"),
        mem = human::bytes_size(doc["MemTotal"].as_u64().unwrap_or(0)),
        name = field("Name"),
        root = field("DockerRootDir"),
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
