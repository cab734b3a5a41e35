//! `volume create/ls/inspect/rm/prune`.

use std::io::Write;

use kujira_engine::Engine;

use crate::cli::{
    VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::error::CliError;
use crate::format::table::{row, Format};
use crate::format::{human, json};

pub fn create(engine: &Engine, args: &VolumeCreateArgs) -> Result<(), CliError> {
    if args.driver != "local" {
        return Err(CliError::new(1, format!("Error response from daemon: create {}: error looking up volume plugin {}: plugin \"{}\" not found", args.name.clone().unwrap_or_default(), args.driver, args.driver)));
    }
    println!(
        "{}",
        engine.create_volume(args.name.as_deref(), &args.label)?
    );
    Ok(())
}

pub fn ls(engine: &Engine, args: &VolumeLsArgs) -> Result<(), CliError> {
    let format = match (&args.format, args.quiet) {
        (Some(f), false) if !f.is_empty() => f.as_str(),
        (_, true) => "{{.Name}}",
        _ => "table {{.Driver}}\t{{.Name}}",
    };
    let format = Format::parse(format)?;
    let rows = engine.volumes()?.into_iter().map(|v| {
        row(vec![
            ("Driver", "local".into()),
            ("Labels", v.labels.clone()),
            ("Mountpoint", v.mountpoint.clone()),
            ("Name", v.name.clone()),
            ("Scope", "local".into()),
        ])
    });
    let header = row(vec![
        ("Driver", "DRIVER".into()),
        ("Labels", "LABELS".into()),
        ("Mountpoint", "MOUNTPOINT".into()),
        ("Name", "VOLUME NAME".into()),
        ("Scope", "SCOPE".into()),
    ]);
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header, rows)?;
    Ok(())
}

pub fn inspect(engine: &Engine, args: &VolumeInspectArgs) -> Result<(), CliError> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &args.names {
        match engine.volume(n) {
            Ok(v) => docs.push(v.inspect_json()),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    super::inspect::print_docs(&docs, args.format.as_deref(), &["Labels", "Options"])?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

pub fn rm(engine: &Engine, args: &VolumeRmArgs) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for n in &args.names {
        match engine.remove_volume(n, args.force) {
            Ok(()) => println!("{n}"),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

pub fn prune(engine: &Engine, args: &VolumePruneArgs) -> Result<(), CliError> {
    if !args.force {
        let what = if args.all {
            "all local volumes not used by at least one container"
        } else {
            "anonymous local volumes not used by at least one container"
        };
        if !super::confirm(&format!("WARNING! This will remove {what}.")) {
            return Ok(());
        }
    }
    let (names, bytes) = engine.prune_volumes(args.all)?;
    let mut out = std::io::stdout().lock();
    if !names.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for n in &names {
            writeln!(out, "{n}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human::size(bytes))?;
    let _ = json::indent(&0);
    Ok(())
}
