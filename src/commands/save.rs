//! `save` / `image save`: to a file (written under a temporary name and renamed, so a
//! failed save leaves no partial archive) or to a redirected standard output.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use kujira_engine::Engine;

use crate::cli::SaveArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &SaveArgs) -> Result<(), CliError> {
    match &args.output {
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::new(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            engine.save(&args.images, &mut out)?;
            out.flush()?;
        }
        Some(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = path.with_file_name(format!(".{name}.kujira-tmp-{}", std::process::id()));
            let write = || -> Result<(), CliError> {
                let file = File::create(&tmp).map_err(|e| {
                    CliError::new(1, format!("failed to save image: invalid output path: {e}"))
                })?;
                let mut out = BufWriter::with_capacity(1 << 20, file);
                engine.save(&args.images, &mut out)?;
                let file = out
                    .into_inner()
                    .map_err(|e| CliError::from(e.into_error()))?;
                file.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok(())
            };
            if let Err(e) = write() {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    Ok(())
}
