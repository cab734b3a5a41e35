//! `pull` / `image pull`, printing Docker's lines: `Pulling from`, one line per layer
//! event, then `Digest:`, `Status:` and the canonical name.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kujira_engine::image::pull::{LayerStatus, PullEvent, PullOptions};
use kujira_engine::Engine;
use kujira_reference::Reference;

use crate::cli::PullArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &PullArgs) -> Result<(), CliError> {
    let parsed = Reference::parse(&args.name).map_err(|e| CliError::new(1, e.to_string()))?;
    let names: Vec<String> = if args.all_tags {
        if parsed.tag().is_some() || parsed.digest().is_some() {
            return Err(CliError::new(1, "tag can't be used with --all-tags/-a"));
        }
        let tags = engine.remote_tags(&parsed)?;
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
    let bars = (!quiet && std::io::stdout().is_terminal()).then(Bars::default);
    let print = |ev: PullEvent| {
        if quiet {
            return;
        }
        if let Some(b) = &bars {
            b.show(ev);
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = match ev {
            PullEvent::PullingFrom {
                tag_or_digest,
                repository,
            } => writeln!(out, "{tag_or_digest}: Pulling from {repository}"),
            // Without a terminal Docker prints no byte counts.
            PullEvent::Layer {
                status: LayerStatus::Downloading { .. },
                ..
            } => Ok(()),
            PullEvent::Layer { id, status } => writeln!(out, "{id}: {}", status.text()),
        };
    };
    let opts = PullOptions {
        platform: args.platform.clone(),
        auth: None,
    };
    for name in &names {
        let pulled = engine.pull(name, &opts, &print)?;
        if let Some(b) = &bars {
            b.finish();
        }
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

/// Docker's live view on a terminal: one line per layer, updated in place, with a
/// progress bar while it downloads.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    lines: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn show(&self, ev: PullEvent) {
        match ev {
            PullEvent::PullingFrom {
                tag_or_digest,
                repository,
            } => {
                let _ = self
                    .multi
                    .println(format!("{tag_or_digest}: Pulling from {repository}"));
            }
            PullEvent::Layer { id, status } => {
                let Ok(mut lines) = self.lines.lock() else {
                    return;
                };
                let bar = lines.entry(id.clone()).or_insert_with(|| {
                    let b = self.multi.add(ProgressBar::new(0));
                    b.set_style(
                        ProgressStyle::with_template("{prefix}: {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.set_prefix(id.clone());
                    b
                });
                match status {
                    LayerStatus::Downloading { current, total } => {
                        if bar.length() != Some(total) {
                            bar.set_length(total);
                            if let Ok(style) = ProgressStyle::with_template(
                                "{prefix}: {msg} [{bar:50}] {decimal_bytes:>9}/{decimal_total_bytes}",
                            ) {
                                bar.set_style(style.progress_chars("=> "));
                            }
                        }
                        bar.set_message("Downloading");
                        bar.set_position(current);
                    }
                    other => {
                        if let Ok(style) = ProgressStyle::with_template("{prefix}: {msg}") {
                            bar.set_style(style);
                        }
                        bar.set_message(other.text());
                    }
                }
            }
        }
    }

    fn finish(&self) {
        if let Ok(lines) = self.lines.lock() {
            for b in lines.values() {
                b.abandon();
            }
        }
    }
}

/// The pull `run` and `create` do for a missing image: Docker's lines on standard
/// error, so standard output keeps only what the command itself prints.
pub fn pull_for_run(
    engine: &Engine,
    name: &str,
    platform: Option<String>,
    quiet: bool,
) -> Result<(), CliError> {
    let print = |ev: PullEvent| {
        if quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = match ev {
            PullEvent::PullingFrom {
                tag_or_digest,
                repository,
            } => writeln!(err, "{tag_or_digest}: Pulling from {repository}"),
            PullEvent::Layer {
                status: LayerStatus::Downloading { .. },
                ..
            } => Ok(()),
            PullEvent::Layer { id, status } => writeln!(err, "{id}: {}", status.text()),
        };
    };
    let pulled = engine.pull(
        name,
        &PullOptions {
            platform,
            auth: None,
        },
        &print,
    )?;
    if !quiet {
        eprintln!("Digest: {}", pulled.digest);
        eprintln!(
            "Status: Downloaded newer image for {}",
            pulled.reference.familiar_string()
        );
    }
    Ok(())
}
