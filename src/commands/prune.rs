//! `image prune`.

use kujira_engine::image::list::ImageFilters;
use kujira_engine::image::remove::RemoveEvent;
use kujira_engine::Engine;

use crate::cli::PruneArgs;
use crate::error::CliError;
use crate::format::human;

const WARN_DANGLING: &str = "WARNING! This will remove all dangling images.";
const WARN_ALL: &str =
    "WARNING! This will remove all images without at least one container associated to them.";

pub fn run(engine: &Engine, args: &PruneArgs) -> Result<(), CliError> {
    let filters = ImageFilters::parse(&args.filter)?;
    if !args.force && !super::confirm(if args.all { WARN_ALL } else { WARN_DANGLING }) {
        return Ok(());
    }
    let reclaimed = prune_and_print(engine, args.all, &filters)?;
    println!("Total reclaimed space: {}", human::size(reclaimed));
    Ok(())
}

/// Prunes and prints the "Deleted Images:" block; returns the bytes reclaimed.
pub fn prune_and_print(
    engine: &Engine,
    all: bool,
    filters: &ImageFilters,
) -> Result<u64, CliError> {
    let report = engine.prune_images(all, filters)?;
    if !report.events.is_empty() {
        println!("Deleted Images:");
        for e in &report.events {
            match e {
                RemoveEvent::Untagged(r) => println!("untagged: {r}"),
                RemoveEvent::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    Ok(report.reclaimed)
}
