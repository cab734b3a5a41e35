//! Listing images (`images`, `image ls`) with Docker's filters.

use std::collections::{BTreeMap, HashMap};

use kujira_reference::Reference;
use kujira_store::metadata::ImageRow;

use crate::{Digest, Engine, EngineError};

/// One image as `images` shows it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// Full names, e.g. `docker.io/library/nginx:latest`.
    pub tags: Vec<Reference>,
    /// `(full repository name, digest)`.
    pub digests: Vec<(String, String)>,
    pub created_unix: i64,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
    pub parent: String,
}

/// `-f` filters, as Docker parses them (`key=value`).
#[derive(Debug, Clone, Default)]
pub struct ImageFilters {
    pub dangling: Option<bool>,
    pub references: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    /// `key` or `key=value`.
    pub labels: Vec<String>,
    /// `label!=key` or `label!=key=value`.
    pub labels_not: Vec<String>,
    pub until: Option<i64>,
}

impl ImageFilters {
    /// Parses `-f` arguments; unknown keys get Docker's "invalid filter" error.
    pub fn parse(args: &[String]) -> Result<ImageFilters, EngineError> {
        let mut f = ImageFilters::default();
        for a in args {
            let (k, v, negated) = match a.split_once("!=") {
                Some((k, v)) if !k.contains('=') => (k, v, true),
                _ => match a.split_once('=') {
                    Some((k, v)) => (k, v, false),
                    None => {
                        return Err(EngineError::InvalidArgument(
                            "bad format of filter (expected name=value)".into(),
                        ))
                    }
                },
            };
            match (k.trim().to_lowercase().as_str(), negated) {
                ("dangling", false) => {
                    f.dangling = Some(match v.to_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(EngineError::InvalidArgument(format!(
                                "Invalid filter 'dangling={v}'"
                            )))
                        }
                    })
                }
                ("reference", false) => f.references.push(v.to_string()),
                ("before", false) => f.before = Some(v.to_string()),
                ("since", false) => f.since = Some(v.to_string()),
                ("label", false) => f.labels.push(v.to_string()),
                ("label", true) => f.labels_not.push(v.to_string()),
                ("until", false) => f.until = Some(parse_until(v)?),
                (other, _) => {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            }
        }
        Ok(f)
    }
}

/// `until` takes a Unix timestamp, an RFC 3339 date or a Go duration (`24h`, `10m`).
pub fn parse_until(v: &str) -> Result<i64, EngineError> {
    let now = chrono::Utc::now().timestamp();
    if let Ok(t) = v.parse::<f64>() {
        return Ok(t as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0));
    }
    go_duration_secs(v).map(|d| now - d).ok_or_else(|| {
        EngineError::InvalidArgument(format!(
            "failed to parse value as time or duration: \"{v}\""
        ))
    })
}

fn go_duration_secs(v: &str) -> Option<i64> {
    crate::duration::parse_go_duration(v).map(|ns| ns / 1_000_000_000)
}

impl Engine {
    /// Images newest first. Without `all`, untagged images that are parents of
    /// others (intermediate images) are hidden, as Docker does.
    pub fn list_images(
        &self,
        all: bool,
        filters: &ImageFilters,
    ) -> Result<Vec<ImageSummary>, EngineError> {
        let rows = self.store.meta.images()?;
        let mut tags: HashMap<Digest, Vec<Reference>> = HashMap::new();
        for t in self.store.meta.tags()? {
            if let Ok(r) = Reference::parse(&t.name) {
                tags.entry(t.image_id).or_default().push(r);
            }
        }
        let mut digests: HashMap<Digest, Vec<(String, String)>> = HashMap::new();
        for (repo, digest, image) in self.store.meta.repo_digests()? {
            digests.entry(image).or_default().push((repo, digest));
        }
        let parents: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.parent.as_str()).collect();
        let created_of = |name: &str| -> Result<i64, EngineError> {
            let id = self.resolve_image(name)?.id;
            Ok(rows
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.created_unix)
                .unwrap_or(0))
        };
        let before = filters.before.as_deref().map(created_of).transpose()?;
        let since = filters.since.as_deref().map(created_of).transpose()?;

        let mut out = Vec::new();
        for row in &rows {
            let mut image_tags = tags.remove(&row.id).unwrap_or_default();
            image_tags.sort_by_key(|t| t.to_string());
            let dangling = image_tags.is_empty();
            if !all && dangling && parents.contains(row.id.as_str()) {
                continue;
            }
            if filters.dangling.is_some_and(|d| d != dangling) {
                continue;
            }
            if before.is_some_and(|b| row.created_unix >= b)
                || since.is_some_and(|s| row.created_unix <= s)
            {
                continue;
            }
            if filters.until.is_some_and(|u| row.created_unix >= u) {
                continue;
            }
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&row.labels).unwrap_or_default();
            if !labels_match(&labels, &filters.labels, &filters.labels_not) {
                continue;
            }
            if !filters.references.is_empty() {
                image_tags.retain(|t| {
                    filters
                        .references
                        .iter()
                        .any(|p| t.familiar_match(p).unwrap_or(false))
                });
                if image_tags.is_empty() {
                    continue;
                }
            }
            let mut image_digests = digests.remove(&row.id).unwrap_or_default();
            if !filters.references.is_empty() {
                // As dockerd: only the names the filter matched are listed.
                image_digests.retain(|(repo, digest)| {
                    Reference::parse(&format!("{repo}@{digest}")).is_ok_and(|r| {
                        filters
                            .references
                            .iter()
                            .any(|p| r.familiar_match(p).unwrap_or(false))
                    })
                });
            }
            out.push(summary(row, image_tags, image_digests, labels));
        }
        out.sort_by(|a, b| {
            b.created_unix
                .cmp(&a.created_unix)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }
}

fn summary(
    row: &ImageRow,
    tags: Vec<Reference>,
    digests: Vec<(String, String)>,
    labels: BTreeMap<String, String>,
) -> ImageSummary {
    ImageSummary {
        id: row.id.clone(),
        tags,
        digests,
        created_unix: row.created_unix,
        size: row.size,
        labels,
        parent: row.parent.clone(),
    }
}

/// Docker's label filter: every `key` / `key=value` must match, none of the negated.
pub fn labels_match(labels: &BTreeMap<String, String>, want: &[String], not: &[String]) -> bool {
    let has = |f: &String| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f),
    };
    want.iter().all(has) && !not.iter().any(has)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = ImageFilters::parse(&[
            "dangling=true".into(),
            "reference=nginx:*".into(),
            "label!=a=b".into(),
        ])
        .unwrap();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.references, ["nginx:*"]);
        assert_eq!(f.labels_not, ["a=b"]);
        assert!(ImageFilters::parse(&["nope=1".into()]).is_err());
        assert!(ImageFilters::parse(&["dangling=maybe".into()]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration_secs("1h30m"), Some(5400));
        assert_eq!(go_duration_secs("10s"), Some(10));
        assert_eq!(go_duration_secs("10"), None);
        assert_eq!(go_duration_secs("5x"), None);
    }

    #[test]
    fn label_matching() {
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "b".to_string());
        assert!(labels_match(&l, &["a".into()], &[]));
        assert!(labels_match(&l, &["a=b".into()], &[]));
        assert!(!labels_match(&l, &["a=c".into()], &[]));
        assert!(!labels_match(&l, &[], &["a".into()]));
    }
}
