//! `inspect` and `image inspect`: Docker's JSON, or `-f` templates over it.

use std::io::Write;

use kujira_engine::image::inspect::{to_json_value, MAP_FIELDS};
use kujira_engine::{Engine, EngineError};
use kujira_template::{Template, Value};

use crate::cli::{ImageInspectArgs, InspectArgs};
use crate::error::CliError;
use crate::format::json;
use crate::format::table::FormatError;

pub fn run(engine: &Engine, args: &InspectArgs) -> Result<(), CliError> {
    if let Some(kind) = args.kind.as_deref() {
        if ![
            "image",
            "container",
            "network",
            "volume",
            "node",
            "service",
            "task",
            "plugin",
            "secret",
            "config",
        ]
        .contains(&kind)
        {
            return Err(CliError::new(
                1,
                format!("\"{kind}\" is not a valid value for --type"),
            ));
        }
    }
    let only_images = matches!(args.kind.as_deref(), None | Some("image"));
    inspect_all(
        engine,
        &args.names,
        args.format.as_deref(),
        |name, e| match e {
            EngineError::NoSuchImage(_) | EngineError::Reference(_) if only_images => {
                format!("Error: No such object: {name}")
            }
            other => CliError::from(other).message,
        },
    )
}

pub fn run_image(engine: &Engine, args: &ImageInspectArgs) -> Result<(), CliError> {
    inspect_all(engine, &args.names, args.format.as_deref(), |_, e| {
        CliError::from(e).message
    })
}

fn inspect_all(
    engine: &Engine,
    names: &[String],
    format: Option<&str>,
    missing: impl Fn(&str, EngineError) -> String,
) -> Result<(), CliError> {
    let template = match format {
        Some(f) if !f.is_empty() && f != "json" => Some(
            Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))
                .map_err(|e| CliError::new(64, FormatError::Parse(e).to_string()))?,
        ),
        _ => None,
    };
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match engine.inspect_image(name) {
            Ok(i) => docs.push(to_json_value(&i)),
            Err(e) => errors.push(missing(name, e)),
        }
    }
    let mut out = std::io::stdout().lock();
    match template {
        None => {
            writeln!(out, "{}", json::indent(&docs))?;
        }
        Some(t) => {
            if docs.is_empty() {
                writeln!(out)?;
            }
            for d in &docs {
                let value = Value::from_json(d, MAP_FIELDS);
                let text = t
                    .execute(&value)
                    .map_err(|e| CliError::from(FormatError::Exec(e)))?;
                writeln!(out, "{text}")?;
            }
        }
    }
    out.flush()?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}
