//! `system df` and `system df -v`.

use std::io::Write;

use kujira_engine::Engine;

use crate::cli::DfArgs;
use crate::commands::images::{header as image_header, image_value};
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const SUMMARY: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const VERBOSE_IMAGES: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const VERBOSE_CONTAINERS: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.CreatedSince}}\t{{.Status}}\t{{.Names}}";
const VERBOSE_VOLUMES: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const VERBOSE_CACHE: &str =
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

pub fn run(engine: &Engine, args: &DfArgs) -> Result<(), CliError> {
    let usage = engine.disk_usage()?;
    let mut out = std::io::stdout().lock();
    if args.verbose && args.format.as_deref().is_none_or(str::is_empty) {
        writeln!(out, "Images space usage:\n")?;
        let format = Format::parse(VERBOSE_IMAGES)?;
        let mut rows = Vec::new();
        for u in &usage.images {
            // Docker's verbose df shows each image once, by its first tag.
            let (repo, tag) = match u.summary.tags.first() {
                Some(t) => (t.familiar_name(), t.tag().unwrap_or("latest").to_string()),
                None => ("<none>".to_string(), "<none>".to_string()),
            };
            rows.push(image_value(
                &u.summary,
                repo,
                tag,
                String::new(),
                true,
                Some((u.shared_size, u.unique_size, u.containers)),
            ));
        }
        format.write(&mut out, &image_header(), rows)?;
        writeln!(out, "\nContainers space usage:\n")?;
        let containers = usage.containers.iter().map(|u| {
            let c = &u.container;
            let created = chrono::DateTime::parse_from_rfc3339(&c.row.created)
                .map(|t| t.timestamp())
                .unwrap_or(0);
            row(vec![
                ("Command", super::ps::command_text(c, true)),
                ("CreatedSince", human::since(created)),
                ("ID", human::short_id(c.id())),
                ("Image", c.config.image().to_string()),
                (
                    "LocalVolumes",
                    c.config
                        .mounts
                        .iter()
                        .filter(|m| m.kind == "volume")
                        .count()
                        .to_string(),
                ),
                ("Names", c.name().to_string()),
                ("Size", human::size(u.rw_size)),
                ("Status", kujira_engine::container::status::status_text(c)),
            ])
        });
        Format::parse(VERBOSE_CONTAINERS)?.write(&mut out, &container_header(), containers)?;
        writeln!(out, "\nLocal Volumes space usage:\n")?;
        Format::parse(VERBOSE_VOLUMES)?.write(
            &mut out,
            &row(vec![
                ("Links", "LINKS".into()),
                ("Name", "VOLUME NAME".into()),
                ("Size", "SIZE".into()),
            ]),
            usage.volumes.iter().map(|v| {
                row(vec![
                    ("Links", v.volume.users.len().to_string()),
                    ("Name", v.volume.name.clone()),
                    ("Size", human::size(v.size)),
                ])
            }),
        )?;
        writeln!(
            out,
            "\nBuild cache usage: {}\n",
            human::size(usage.build_cache_size())
        )?;
        let cache_rows = usage.build_cache.iter().map(|b| {
            let id = b.record.key.trim_start_matches("sha256:");
            row(vec![
                ("CacheType", b.record.kind.clone()),
                ("CreatedSince", human::since(b.record.created_unix)),
                ("ID", id.get(..25).unwrap_or(id).to_string()),
                ("LastUsedSince", human::since(b.record.last_used_unix)),
                ("Shared", b.shared.to_string()),
                ("Size", human::size(b.record.size)),
                ("UsageCount", b.record.usage_count.to_string()),
            ])
        });
        Format::parse(VERBOSE_CACHE)?.write(&mut out, &cache_header(), cache_rows)?;
        out.flush()?;
        return Ok(());
    }
    let format = Format::parse(
        args.format
            .as_deref()
            .filter(|f| !f.is_empty())
            .unwrap_or(SUMMARY),
    )?;
    let total = usage.layers_size;
    let reclaimable = total - usage.active_layers_size.min(total);
    let active = usage.images.iter().filter(|i| i.containers > 0).count();
    let running: Vec<_> = usage
        .containers
        .iter()
        .filter(|c| c.container.is_running())
        .collect();
    let rows = vec![
        summary_row("Images", usage.images.len(), active, total, reclaimable),
        summary_row(
            "Containers",
            usage.containers.len(),
            running.len(),
            usage.containers.iter().map(|c| c.rw_size).sum(),
            usage
                .containers
                .iter()
                .filter(|c| !c.container.is_running())
                .map(|c| c.rw_size)
                .sum(),
        ),
        summary_row(
            "Local Volumes",
            usage.volumes.len(),
            usage
                .volumes
                .iter()
                .filter(|v| !v.volume.users.is_empty())
                .count(),
            usage.volumes.iter().map(|v| v.size).sum(),
            usage
                .volumes
                .iter()
                .filter(|v| v.volume.users.is_empty())
                .map(|v| v.size)
                .sum(),
        ),
        summary_row(
            "Build Cache",
            usage.build_cache.len(),
            0,
            usage.build_cache_size(),
            usage.build_cache_size(),
        ),
    ];
    let header = row(vec![
        ("Active", "ACTIVE".into()),
        ("Reclaimable", "RECLAIMABLE".into()),
        ("Size", "SIZE".into()),
        ("TotalCount", "TOTAL".into()),
        ("Type", "TYPE".into()),
    ]);
    format.write(&mut out, &header, rows)?;
    out.flush()?;
    Ok(())
}

/// Docker's figures: sizes with four significant digits; the reclaimable share as an
/// integer percentage of the total, left out when the total is zero.
fn summary_row(
    kind: &str,
    total_count: usize,
    active: usize,
    size: u64,
    reclaimable: u64,
) -> kujira_template::Value {
    let reclaim = match (reclaimable * 100).checked_div(size) {
        Some(percent) => format!("{} ({percent}%)", human::size(reclaimable)),
        None => human::size(reclaimable),
    };
    row(vec![
        ("Active", active.to_string()),
        ("Reclaimable", reclaim),
        ("Size", human::size(size)),
        ("TotalCount", total_count.to_string()),
        ("Type", kind.to_string()),
    ])
}

fn container_header() -> kujira_template::Value {
    row(vec![
        ("Command", "COMMAND".into()),
        ("CreatedSince", "CREATED".into()),
        ("ID", "CONTAINER ID".into()),
        ("Image", "IMAGE".into()),
        ("LocalVolumes", "LOCAL VOLUMES".into()),
        ("Names", "NAMES".into()),
        ("Size", "SIZE".into()),
        ("Status", "STATUS".into()),
    ])
}

fn cache_header() -> kujira_template::Value {
    row(vec![
        ("CacheType", "CACHE TYPE".into()),
        ("CreatedSince", "CREATED".into()),
        ("ID", "CACHE ID".into()),
        ("LastUsedSince", "LAST USED".into()),
        ("Shared", "SHARED".into()),
        ("Size", "SIZE".into()),
        ("UsageCount", "USAGE".into()),
    ])
}
