//! `search` and `manifest inspect`.

use std::io::Write;

use kujira_engine::Engine;

use crate::cli::{ManifestInspectArgs, SearchArgs};
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const DEFAULT: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";

pub fn run(engine: &Engine, args: &SearchArgs) -> Result<(), CliError> {
    let mut min_stars = 0u64;
    let mut official: Option<bool> = None;
    for f in &args.filter {
        match f.split_once('=') {
            Some(("stars", v)) => {
                min_stars = v.parse().map_err(|_| {
                    CliError::new(
                        1,
                        format!("Error response from daemon: invalid filter 'stars={v}'"),
                    )
                })?
            }
            Some(("is-official", v)) => official = Some(v == "true" || v == "1"),
            Some(("is-automated", _)) => {}
            _ => {
                return Err(CliError::new(
                    1,
                    format!("Error response from daemon: invalid filter '{f}'"),
                ))
            }
        }
    }
    let results = engine.search(&args.term, args.limit)?;
    let format = Format::parse(
        args.format
            .as_deref()
            .filter(|f| !f.is_empty())
            .unwrap_or(DEFAULT),
    )?;
    let rows = results
        .into_iter()
        .filter(|r| r.stars >= min_stars && official.is_none_or(|o| o == r.official))
        .map(|r| {
            let description = r.description.replace('\n', " ");
            row(vec![
                (
                    "Description",
                    if args.no_trunc {
                        description
                    } else {
                        human::ellipsis(&description, 45)
                    },
                ),
                (
                    "IsAutomated",
                    if r.automated {
                        "[OK]".into()
                    } else {
                        String::new()
                    },
                ),
                (
                    "IsOfficial",
                    if r.official {
                        "[OK]".into()
                    } else {
                        String::new()
                    },
                ),
                ("Name", r.name),
                ("StarCount", r.stars.to_string()),
            ])
        });
    let header = row(vec![
        ("Description", "DESCRIPTION".into()),
        ("IsAutomated", "AUTOMATED".into()),
        ("IsOfficial", "OFFICIAL".into()),
        ("Name", "NAME".into()),
        ("StarCount", "STARS".into()),
    ]);
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header, rows.collect::<Vec<_>>())?;
    out.flush()?;
    Ok(())
}

/// Docker prints the manifest re-indented with tabs.
pub fn manifest_inspect(engine: &Engine, args: &ManifestInspectArgs) -> Result<(), CliError> {
    let name = args.names.last().cloned().unwrap_or_default();
    let (media_type, bytes) = engine.manifest_raw(&name)?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::new(1, format!("invalid manifest from the registry: {e}")))?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    let shown = if args.verbose {
        serde_json::json!({
            "Ref": kujira_reference::Reference::parse(&name).map(|r| r.to_string()).unwrap_or(name.clone()),
            "Descriptor": {
                "mediaType": media_type,
                "digest": kujira_engine::Digest::of(&bytes).to_string(),
                "size": bytes.len(),
            },
            "Raw": doc,
        })
    } else {
        doc
    };
    serde::Serialize::serialize(&shown, &mut ser).map_err(|e| CliError::new(1, e.to_string()))?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
