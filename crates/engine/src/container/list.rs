//! `ps`: which containers to show (`-a`, `-n`, `-l`, `-f`), with their sizes on request.

use super::Container;
use crate::{Engine, EngineError};

/// `ps -f` filters.
#[derive(Debug, Clone, Default)]
pub struct ContainerFilters {
    pub status: Vec<String>,
    pub name: Vec<String>,
    pub id: Vec<String>,
    pub label: Vec<String>,
    pub ancestor: Vec<String>,
    pub exited: Vec<i64>,
}

impl ContainerFilters {
    pub fn parse(args: &[String]) -> Result<ContainerFilters, EngineError> {
        let mut f = ContainerFilters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                EngineError::InvalidArgument(
                    "bad format of filter (expected name=value)".to_string(),
                )
            })?;
            let v = v.to_string();
            match k {
                "status" => {
                    const OK: &[&str] = &[
                        "created",
                        "restarting",
                        "running",
                        "removing",
                        "paused",
                        "exited",
                        "dead",
                    ];
                    if !OK.contains(&v.as_str()) {
                        return Err(EngineError::InvalidArgument(format!(
                            "invalid filter 'status={v}'"
                        )));
                    }
                    f.status.push(v)
                }
                "name" => f.name.push(v),
                "id" => f.id.push(v),
                "label" => f.label.push(v),
                "ancestor" => f.ancestor.push(v),
                "exited" => f.exited.push(v.parse().map_err(|_| {
                    EngineError::InvalidArgument(format!("invalid filter 'exited={v}'"))
                })?),
                other => {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            }
        }
        Ok(f)
    }
}

/// A listed container; `size` is `(rw, rootfs)` when asked for.
pub struct ContainerListing {
    pub container: Container,
    pub size: Option<(u64, u64)>,
    /// `healthy`, `unhealthy` or `starting` for a container with a health check.
    pub health: Option<String>,
}

impl ContainerListing {
    /// `ps`'s STATUS: Docker's words, with the health in parentheses.
    pub fn status_text(&self) -> String {
        let mut s = super::status::status_text(&self.container);
        if let (Some(h), true) = (&self.health, self.container.status() == "running") {
            s.push_str(&match h.as_str() {
                "starting" => " (health: starting)".to_string(),
                other => format!(" ({other})"),
            });
        }
        s
    }
}

impl Engine {
    /// `ps`: running containers, or all with `all`; `last` keeps the newest N (any
    /// state, as Docker's `-n`/`-l`).
    pub fn list_containers(
        &self,
        all: bool,
        last: Option<usize>,
        filters: &ContainerFilters,
        sizes: bool,
    ) -> Result<Vec<ContainerListing>, EngineError> {
        let mut list = self.containers()?;
        let all = all || last.is_some() || !filters.status.is_empty() || !filters.exited.is_empty();
        let ancestors: Vec<String> = filters
            .ancestor
            .iter()
            .filter_map(|a| self.find_image(a).ok().flatten().map(|r| r.id.to_string()))
            .collect();
        list.retain(|c| {
            (all || c.is_running())
                && (filters.status.is_empty() || filters.status.iter().any(|s| s == c.status()))
                && (filters.name.is_empty()
                    || filters
                        .name
                        .iter()
                        .any(|n| c.name().contains(n.trim_start_matches('/'))))
                && (filters.id.is_empty()
                    || filters.id.iter().any(|i| c.id().starts_with(i.as_str())))
                && (filters.exited.is_empty()
                    || (c.status() == "exited" && filters.exited.contains(&c.row.state.exit_code)))
                && (filters.ancestor.is_empty() || ancestors.contains(&c.row.image_id))
                && filters.label.iter().all(|l| match l.split_once('=') {
                    Some((k, v)) => c.config.labels().get(k).is_some_and(|x| x == v),
                    None => c.config.labels().contains_key(l.as_str()),
                })
        });
        if let Some(n) = last {
            list.truncate(n);
        }
        let mut out = Vec::with_capacity(list.len());
        for c in list {
            let size = if sizes {
                let rw = kujira_store::layers::tree_size(&self.container_paths(c.id()).upper())
                    .unwrap_or(0);
                let image = crate::Digest::parse(&c.row.image_id)
                    .ok()
                    .and_then(|d| self.store.meta.image(&d).ok().flatten())
                    .map(|r| r.size)
                    .unwrap_or(0);
                Some((rw, rw + image))
            } else {
                None
            };
            let health = self.health_of(&c).map(|h| h.status);
            out.push(ContainerListing {
                container: c,
                size,
                health,
            });
        }
        Ok(out)
    }
}
