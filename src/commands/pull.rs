//! `pull` / `image pull`, printing Docker's lines: `Pulling from`, one line per layer
//! event, then `Digest:`, `Status:` and the canonical name.

use std::io::Write;

use kujira_engine::image::pull::{PullEvent, PullOptions};
use kujira_engine::Engine;
use kujira_reference::Reference;

use crate::cli::PullArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &PullArgs) -> Result<(), CliError> {
    let parsed = Reference::parse(&args.name).map_err(|e| {
        CliError::new(
            1,
            format!("invalid reference format: {e}").replace(
                "invalid reference format: invalid reference format",
                "invalid reference format",
            ),
        )
    })?;
    let names: Vec<String> = if args.all_tags {
        if parsed.tag().is_some() || parsed.digest().is_some() {
            return Err(CliError::new(1, "tag can't be used with --all-tags/-a"));
        }
        let client = engine.registry_client()?;
        let runtime = tokio_runtime()?;
        let tags = runtime
            .block_on(client.tags(&parsed))
            .map_err(|e| CliError::new(1, format!("Error response from daemon: {e}")))?;
        tags.into_iter()
            .map(|t| format!("{}:{t}", parsed.name()))
            .collect()
    } else {
        if parsed.tag().is_none() && parsed.digest().is_none() && !args.quiet {
            println!("Using default tag: latest");
        }
        vec![args.name.clone()]
    };
    let quiet = args.quiet;
    let print = move |ev: PullEvent| {
        if quiet {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = match ev {
            PullEvent::PullingFrom {
                tag_or_digest,
                repository,
            } => {
                writeln!(out, "{tag_or_digest}: Pulling from {repository}")
            }
            PullEvent::Layer { id, status } => writeln!(out, "{id}: {}", status.text()),
        };
    };
    let opts = PullOptions {
        platform: args.platform.clone(),
    };
    for name in &names {
        let pulled = engine.pull(name, &opts, &print)?;
        let familiar = pulled.reference.familiar_string();
        if !quiet {
            println!("Digest: {}", pulled.digest);
            if pulled.newer {
                println!("Status: Downloaded newer image for {familiar}");
            } else {
                println!("Status: Image is up to date for {familiar}");
            }
        }
        println!("{}", pulled.reference);
    }
    Ok(())
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::from)
}
