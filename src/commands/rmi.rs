//! `rmi` / `image rm`.

use kujira_engine::image::remove::RemoveEvent;
use kujira_engine::Engine;

use crate::cli::RmiArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &RmiArgs) -> Result<(), CliError> {
    let mut errors = Vec::new();
    let mut not_found_only = true;
    for name in &args.images {
        match engine.remove_image(name, args.force) {
            Ok(events) => {
                for e in events {
                    match e {
                        RemoveEvent::Untagged(r) => println!("Untagged: {r}"),
                        RemoveEvent::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                not_found_only &= matches!(e, kujira_engine::EngineError::NoSuchImage(_));
                errors.push(CliError::from(e).message);
            }
        }
    }
    if !errors.is_empty() && args.force && not_found_only {
        // Docker: with -f, images that are already gone are not a failure.
        eprintln!("{}", errors.join("\n"));
        return Ok(());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}
