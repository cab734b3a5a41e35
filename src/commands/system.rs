//! `system prune` and `system check`.

use kujira_engine::image::list::ImageFilters;
use kujira_engine::Engine;

use crate::cli::{CheckArgs, SystemPruneArgs};
use crate::error::CliError;
use crate::format::human;

pub fn prune(engine: &Engine, args: &SystemPruneArgs) -> Result<(), CliError> {
    let filters = ImageFilters::parse(&args.filter)?;
    if !args.force {
        let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
        if args.volumes {
            warning.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        warning.push_str(if args.all {
            "  - all images without at least one container associated to them\n  - all build cache\n"
        } else {
            "  - all dangling images\n  - unused build cache\n"
        });
        if !super::confirm(warning.trim_end()) {
            return Ok(());
        }
    }
    let (ids, mut reclaimed) = engine.prune_containers()?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for id in &ids {
            println!("{id}");
        }
        println!();
    }
    // Networks after containers, as Docker: those the pruned containers used go too.
    let networks = engine.prune_networks(&[])?;
    if !networks.is_empty() {
        println!("Deleted Networks:");
        for n in &networks {
            println!("{n}");
        }
        println!();
    }
    if args.volumes {
        let (names, bytes) = engine.prune_volumes(false)?;
        if !names.is_empty() {
            println!("Deleted Volumes:");
            for n in &names {
                println!("{n}");
            }
            println!();
        }
        reclaimed += bytes;
    }
    reclaimed += super::prune::prune_and_print(engine, args.all, &filters)?;
    // Build cache last, as Docker: dangling records, or all of them with -a.
    let cache = kujira_build::prune::prune(
        engine,
        &kujira_build::prune::PruneOptions {
            all: args.all,
            until: None,
        },
    )?;
    if !cache.ids.is_empty() {
        println!("Deleted build cache objects:");
        for id in &cache.ids {
            println!("{}", id.get(..25).unwrap_or(id));
        }
        println!();
    }
    reclaimed += cache.reclaimed;
    println!("Total reclaimed space: {}", human::size(reclaimed));
    Ok(())
}

pub fn check(engine: &Engine, args: &CheckArgs) -> Result<(), CliError> {
    let report = engine.check(args.verify_content)?;
    for p in &report.problems {
        println!("problem: {p}");
    }
    for g in &report.garbage {
        println!("garbage: {g}");
    }
    if args.repair {
        let gc = engine
            .store
            .collect_garbage()
            .map_err(kujira_engine::EngineError::from)?;
        println!(
            "removed {} layers, {} blobs, {} scratch directories",
            gc.layers, gc.blobs, gc.scratch
        );
    }
    if report.is_consistent() {
        println!("store is consistent");
        Ok(())
    } else {
        Err(CliError::new(
            1,
            format!("store has {} problem(s)", report.problems.len()),
        ))
    }
}
