//! `load` / `image load`.

use std::io::IsTerminal;

use kujira_engine::Engine;

use crate::cli::LoadArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &LoadArgs) -> Result<(), CliError> {
    let loaded = match &args.input {
        Some(path) => engine.load_file(path)?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::new(
                    1,
                    "requested load from stdin, but stdin is empty",
                ));
            }
            engine.load_stream(stdin.lock())?
        }
    };
    if args.quiet {
        return Ok(());
    }
    for img in &loaded {
        for (tag, previous) in &img.moved {
            println!(
                "The image {} already exists, renaming the old one with ID {previous} to empty string",
                tag.familiar_string()
            );
        }
        if img.tags.is_empty() {
            println!("Loaded image ID: {}", img.id);
        }
        for t in &img.tags {
            println!("Loaded image: {}", t.familiar_string());
        }
    }
    Ok(())
}
