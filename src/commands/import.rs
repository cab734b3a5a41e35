//! `import` / `image import`: a tarball from a file or `-` (standard input).

use std::fs::File;
use std::io::BufReader;

use kujira_engine::image::import::ImportOptions;
use kujira_engine::Engine;

use crate::cli::ImportArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &ImportArgs) -> Result<(), CliError> {
    if let Some(p) = &args.platform {
        let host = kujira_engine::image::config::host_platform();
        if p != &format!("{}/{}", host.0, host.1) {
            return Err(CliError::new(
                1,
                format!("Error response from daemon: importing for platform {p} is not supported on this {}/{} host", host.0, host.1),
            ));
        }
    }
    if args.source.contains("://") {
        return Err(CliError::new(
            1,
            format!("Error response from daemon: importing from a URL needs network access, which kujira import does not use: download {} and import the file", args.source),
        ));
    }
    let opts = ImportOptions {
        changes: args.change.clone(),
        message: args.message.clone(),
        source: "-".to_string(),
        reference: args.reference.clone(),
    };
    let registered = if args.source == "-" {
        engine.import(
            BufReader::with_capacity(256 * 1024, std::io::stdin().lock()),
            &opts,
        )?
    } else {
        let file = File::open(&args.source)
            .map_err(|e| CliError::new(1, format!("open {}: {e}", args.source)))?;
        engine.import(BufReader::with_capacity(256 * 1024, file), &opts)?
    };
    println!("{}", registered.id);
    Ok(())
}
