//! `tag` / `image tag`.

use kujira_engine::Engine;

use crate::cli::TagArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &TagArgs) -> Result<(), CliError> {
    // The Docker client checks both names before asking the daemon.
    for name in [&args.source, &args.target] {
        if let Err(e) = kujira_reference::Reference::parse(name) {
            if !kujira_reference::is_full_identifier(name) && name.len() < 64 {
                return Err(CliError::new(
                    1,
                    format!("Error parsing reference: {name:?} is not a valid repository/tag: {e}"),
                ));
            }
        }
    }
    engine.tag(&args.source, &args.target)?;
    Ok(())
}
