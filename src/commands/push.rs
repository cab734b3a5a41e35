//! `push` / `image push`, printing Docker's lines.

use kujira_engine::image::push::PushEvent;
use kujira_engine::Engine;
use kujira_reference::Reference;

use crate::cli::PushArgs;
use crate::error::CliError;

pub fn run(engine: &Engine, args: &PushArgs) -> Result<(), CliError> {
    let parsed = Reference::parse(&args.name).map_err(|e| CliError::new(1, e.to_string()))?;
    let names: Vec<String> = if args.all_tags {
        if parsed.tag().is_some() {
            return Err(CliError::new(1, "tag can't be used with --all-tags/-a"));
        }
        let repo = parsed.name();
        engine
            .store
            .meta
            .tags()
            .map_err(kujira_engine::EngineError::from)?
            .into_iter()
            .filter(|t| t.repo == repo)
            .map(|t| t.name)
            .collect()
    } else {
        if parsed.tag().is_none() && parsed.digest().is_none() && !args.quiet {
            println!("Using default tag: latest");
        }
        vec![args.name.clone()]
    };
    let quiet = args.quiet;
    let print = move |ev: PushEvent| {
        if quiet {
            return;
        }
        match ev {
            PushEvent::Repository(r) => println!("The push refers to repository [{r}]"),
            PushEvent::Layer { id, status } => println!("{id}: {}", status.text()),
        }
    };
    for name in &names {
        let pushed = engine.push(name, &print)?;
        if quiet {
            println!("{name}");
        } else {
            println!(
                "{}: digest: {} size: {}",
                pushed.tag, pushed.digest, pushed.size
            );
        }
    }
    Ok(())
}
