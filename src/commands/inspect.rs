//! `inspect` and `image inspect`: Docker's JSON, or `-f` templates over it.

use std::io::Write;

use kujira_engine::container::inspect::MAP_FIELDS as CONTAINER_MAP_FIELDS;
use kujira_engine::image::inspect::{to_json_value, MAP_FIELDS};
use kujira_engine::{Engine, EngineError};
use kujira_template::{Template, Value};

use crate::cli::{ContainerInspectArgs, ImageInspectArgs, InspectArgs};
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
    let containers_too = matches!(args.kind.as_deref(), None | Some("container"));
    inspect_all(
        engine,
        containers_too && args.kind.as_deref() != Some("image"),
        args.size,
        &args.names,
        args.format.as_deref(),
        |name, e| match e {
            EngineError::NoSuchImage(_) | EngineError::Reference(_)
                if only_images || args.kind.is_none() =>
            {
                format!("Error: No such object: {name}")
            }
            other => CliError::from(other).message,
        },
    )
}

pub fn run_image(engine: &Engine, args: &ImageInspectArgs) -> Result<(), CliError> {
    inspect_all(
        engine,
        false,
        false,
        &args.names,
        args.format.as_deref(),
        |_, e| CliError::from(e).message,
    )
}

fn inspect_all(
    engine: &Engine,
    containers_too: bool,
    size: bool,
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
    let mut map_fields: &[&str] = MAP_FIELDS;
    for name in names {
        if containers_too {
            if let Ok(c) = engine.find_container(name) {
                docs.push(engine.inspect_container(&c, size));
                map_fields = CONTAINER_MAP_FIELDS;
                continue;
            }
        }
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
                let value = Value::from_json(d, map_fields);
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

/// `container inspect`.
pub fn run_container(engine: &Engine, args: &ContainerInspectArgs) -> Result<(), CliError> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        match engine.find_container(name) {
            Ok(c) => docs.push(engine.inspect_container(&c, args.size)),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    print_docs(&docs, args.format.as_deref(), CONTAINER_MAP_FIELDS)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

/// Prints inspect documents as Docker does: an indented JSON array, or one rendered
/// template per document.
pub fn print_docs(
    docs: &[serde_json::Value],
    format: Option<&str>,
    map_fields: &[&str],
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match format {
        Some(f) if !f.is_empty() && f != "json" => {
            let t = Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))
                .map_err(|e| CliError::new(64, FormatError::Parse(e).to_string()))?;
            for d in docs {
                let value = Value::from_json(d, map_fields);
                let text = t
                    .execute(&value)
                    .map_err(|e| CliError::from(FormatError::Exec(e)))?;
                writeln!(out, "{text}")?;
            }
        }
        _ => writeln!(out, "{}", json::indent(&docs))?,
    }
    out.flush()?;
    Ok(())
}
