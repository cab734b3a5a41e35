//! `images` / `image ls`.

use std::collections::BTreeMap;
use std::io::Write;

use kujira_engine::image::list::{ImageFilters, ImageSummary};
use kujira_engine::Engine;
use kujira_template::Value;

use crate::cli::ImagesArgs;
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const DEFAULT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DEFAULT_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

pub fn run(engine: &Engine, args: &ImagesArgs) -> Result<(), CliError> {
    let format = match (&args.format, args.quiet, args.digests) {
        (Some(f), false, _) if !f.is_empty() => f.as_str(),
        (_, true, _) => "{{.ID}}",
        (_, false, true) => DEFAULT_DIGESTS,
        _ => DEFAULT,
    };
    let format = Format::parse(format)?;
    let mut filters = ImageFilters::parse(&args.filter)?;
    if let Some(r) = &args.repository {
        filters.references.push(r.clone());
    }
    let images = engine.list_images(args.all, &filters)?;
    let mut rows = Vec::new();
    for img in &images {
        for (repo, tag, digest) in image_rows(img, args.digests) {
            rows.push(image_value(img, repo, tag, digest, !args.no_trunc, None));
        }
    }
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header(), rows)?;
    out.flush()?;
    Ok(())
}

/// The `(repository, tag, digest)` rows of one image, by the Docker CLI's rules: a row
/// per tag; digests shown per tag only with `--digests`; a repository known only by
/// digest gets a `<none>` tag row; an image with no names is `<none> <none>`.
pub fn image_rows(img: &ImageSummary, show_digests: bool) -> Vec<(String, String, String)> {
    if img.tags.is_empty() && img.digests.is_empty() {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let mut repo_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &img.tags {
        repo_tags
            .entry(t.familiar_name())
            .or_default()
            .push(t.tag().unwrap_or("latest").to_string());
    }
    let mut repo_digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (repo, digest) in &img.digests {
        let familiar = kujira_reference::Reference::parse(repo)
            .map(|r| r.familiar_name())
            .unwrap_or_else(|_| repo.clone());
        repo_digests
            .entry(familiar)
            .or_default()
            .push(digest.clone());
    }
    let mut rows = Vec::new();
    for (repo, tags) in &repo_tags {
        let digests = repo_digests.remove(repo).unwrap_or_default();
        for tag in tags {
            if !show_digests || digests.is_empty() {
                rows.push((repo.clone(), tag.clone(), "<none>".to_string()));
            } else {
                for d in &digests {
                    rows.push((repo.clone(), tag.clone(), d.clone()));
                }
            }
        }
    }
    for (repo, digests) in repo_digests {
        if show_digests {
            for d in digests {
                rows.push((repo.clone(), "<none>".into(), d));
            }
        } else {
            rows.push((repo, "<none>".into(), String::new()));
        }
    }
    rows
}

/// One row as the template sees it (Docker's imageContext), fields sorted by name
/// as Docker's `{{json .}}` prints them.
pub fn image_value(
    img: &ImageSummary,
    repo: String,
    tag: String,
    digest: String,
    trunc: bool,
    usage: Option<(u64, u64, u64)>,
) -> Value {
    let id = if trunc {
        human::short_id(img.id.as_str())
    } else {
        img.id.to_string()
    };
    let (shared, unique, containers) = match usage {
        Some((s, u, c)) => (human::size(s), human::size(u), c.to_string()),
        None => ("N/A".into(), "N/A".into(), "N/A".into()),
    };
    row(vec![
        ("Containers", containers),
        ("CreatedAt", human::go_time(img.created_unix)),
        ("CreatedSince", human::since(img.created_unix)),
        ("Digest", digest),
        ("ID", id),
        ("Repository", repo),
        ("SharedSize", shared),
        ("Size", human::size3(img.size)),
        ("Tag", tag),
        ("UniqueSize", unique),
        ("VirtualSize", human::size3(img.size)),
    ])
}

pub fn header() -> Value {
    row(vec![
        ("Containers", "CONTAINERS".into()),
        ("CreatedAt", "CREATED AT".into()),
        ("CreatedSince", "CREATED".into()),
        ("Digest", "DIGEST".into()),
        ("ID", "IMAGE ID".into()),
        ("Repository", "REPOSITORY".into()),
        ("SharedSize", "SHARED SIZE".into()),
        ("Size", "SIZE".into()),
        ("Tag", "TAG".into()),
        ("UniqueSize", "UNIQUE SIZE".into()),
        ("VirtualSize", "VIRTUAL SIZE".into()),
    ])
}
