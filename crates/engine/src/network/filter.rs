//! `network ls --filter` and the API's `filters`, as dockerd reads them.

use super::Network;
use crate::{Engine, EngineError};

impl Engine {
    /// Whether `n` passes every (key, values) filter: values of one key are
    /// alternatives, keys all must hold.
    pub fn network_matches(
        &self,
        n: &Network,
        filters: &[(String, Vec<String>)],
    ) -> Result<bool, EngineError> {
        for (key, vals) in filters {
            let ok = match key.as_str() {
                "name" => vals.iter().any(|v| n.name.contains(v.as_str())),
                "id" => vals.iter().any(|v| n.id.starts_with(v.as_str())),
                "driver" => vals.contains(&n.config.driver),
                "scope" => vals.iter().any(|v| v == "local"),
                "type" => {
                    let t = if n.is_predefined() {
                        "builtin"
                    } else {
                        "custom"
                    };
                    for v in vals {
                        if v != "builtin" && v != "custom" {
                            return Err(EngineError::InvalidArgument(format!(
                                "invalid filter: 'type'='{v}'"
                            )));
                        }
                    }
                    vals.iter().any(|v| v == t)
                }
                "label" => vals.iter().any(|v| match v.split_once('=') {
                    Some((k, val)) => n.config.labels.get(k).is_some_and(|x| x == val),
                    None => n.config.labels.contains_key(v.as_str()),
                }),
                "dangling" => {
                    let want = match vals.first().map(String::as_str) {
                        Some("true") | Some("1") => true,
                        Some("false") | Some("0") => false,
                        other => {
                            return Err(EngineError::InvalidArgument(format!(
                                "invalid filter 'dangling={}'",
                                other.unwrap_or_default()
                            )))
                        }
                    };
                    let unused =
                        !n.is_predefined() && self.store.meta.network_endpoints(&n.id)?.is_empty();
                    unused == want
                }
                other => {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `key=value` flags grouped by key, in the order first seen.
pub fn group_filters(flags: &[String]) -> Result<Vec<(String, Vec<String>)>, EngineError> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for f in flags {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            EngineError::InvalidArgument("bad format of filter (expected name=value)".into())
        })?;
        match out.iter_mut().find(|(key, _)| key == k) {
            Some((_, vals)) => vals.push(v.to_string()),
            None => out.push((k.to_string(), vec![v.to_string()])),
        }
    }
    Ok(out)
}

/// Whether `network prune`'s filters select `n`: created before every `until`, with
/// one of the `label`s and none of the `label!`s.
pub(crate) fn prune_keeps(
    n: &Network,
    filters: &[(String, Vec<String>)],
) -> Result<bool, EngineError> {
    let has = |v: &str| match v.split_once('=') {
        Some((k, val)) => n.config.labels.get(k).is_some_and(|x| x == val),
        None => n.config.labels.contains_key(v),
    };
    for (key, vals) in filters {
        let ok = match key.as_str() {
            "until" => {
                let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                let mut ok = true;
                for v in vals {
                    ok &= created < crate::image::list::parse_until(v)?;
                }
                ok
            }
            "label" => vals.iter().any(|v| has(v)),
            "label!" => !vals.iter().any(|v| has(v)),
            other => {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid filter '{other}'"
                )))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}
