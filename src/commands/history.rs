//! `history` / `image history`.

use std::io::Write;

use kujira_engine::Engine;
use kujira_template::Value;

use crate::cli::HistoryArgs;
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const HUMAN: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const NON_HUMAN: &str = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

pub fn run(engine: &Engine, args: &HistoryArgs) -> Result<(), CliError> {
    let format = match (&args.format, args.quiet) {
        (Some(f), false) if !f.is_empty() => f.as_str(),
        (_, true) => "{{.ID}}",
        _ if args.human => HUMAN,
        _ => NON_HUMAN,
    };
    let format = Format::parse(format)?;
    let items = engine.history(&args.image)?;
    let trunc = !args.no_trunc;
    let rows = items.iter().map(|h| {
        let created_at = human::rfc3339(h.created);
        // Docker shows N/A for dates before 2000 (images built with a zeroed clock).
        let since = if h.created <= 946_684_800 {
            "N/A".to_string()
        } else {
            human::since(h.created)
        };
        let created_by = h.created_by.replace('\t', " ");
        row(vec![
            ("Comment", h.comment.clone()),
            ("CreatedAt", created_at.clone()),
            (
                "CreatedBy",
                if trunc {
                    human::ellipsis(&created_by, 45)
                } else {
                    created_by
                },
            ),
            ("CreatedSince", if args.human { since } else { created_at }),
            (
                "ID",
                if trunc {
                    human::short_id(&h.id)
                } else {
                    h.id.clone()
                },
            ),
            (
                "Size",
                if args.human {
                    human::size3(h.size as u64)
                } else {
                    h.size.to_string()
                },
            ),
        ])
    });
    let header = row(vec![
        ("Comment", "COMMENT".into()),
        ("CreatedAt", "CREATED AT".into()),
        ("CreatedBy", "CREATED BY".into()),
        ("CreatedSince", "CREATED".into()),
        ("ID", "IMAGE".into()),
        ("Size", "SIZE".into()),
    ]);
    let rows: Vec<Value> = rows.collect();
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header, rows)?;
    out.flush()?;
    Ok(())
}
