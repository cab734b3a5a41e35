//! `events`: what changed in the store, from every process that shares it. Each
//! change is a row in the store's event log; readers follow the log by sequence
//! number, so `kujira events` sees what the API server did and the reverse.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::{Engine, EngineError};

/// One event, in the JSON form dockerd sends on `/events`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// The pre-1.22 fields some clients still read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// `events --filter` (`type`, `event`, `container`, `image`, `volume`, `network`,
/// `label`): values of one key are alternatives, different keys must all match.
#[derive(Debug, Default, Clone)]
pub struct EventFilters {
    by_key: BTreeMap<String, Vec<String>>,
}

impl EventFilters {
    pub fn parse(args: &[String]) -> Result<EventFilters, EngineError> {
        let mut f = EventFilters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                EngineError::InvalidArgument("bad format of filter (expected name=value)".into())
            })?;
            match k {
                "type" | "event" | "container" | "image" | "volume" | "network" | "label"
                | "daemon" | "scope" => {}
                other => {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            }
            f.by_key
                .entry(k.to_string())
                .or_default()
                .push(v.to_string());
        }
        Ok(f)
    }

    fn matches(&self, e: &Event) -> bool {
        self.by_key.iter().all(|(k, vals)| {
            let name = e.actor.attributes.get("name").map(String::as_str);
            vals.iter().any(|v| match k.as_str() {
                "type" => e.kind == *v,
                "event" => e.action == *v || e.action.split(':').next() == Some(v),
                "container" => {
                    e.kind == "container" && (e.actor.id.starts_with(v.as_str()) || name == Some(v))
                }
                "image" => {
                    (e.kind == "image" && (e.actor.id == *v || name == Some(v)))
                        || e.actor.attributes.get("image") == Some(v)
                }
                "volume" => e.kind == "volume" && e.actor.id == *v,
                "network" => e.kind == "network" && (e.actor.id == *v || name == Some(v)),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => e.actor.attributes.get(lk).map(String::as_str) == Some(lv),
                    None => e.actor.attributes.contains_key(v.as_str()),
                },
                _ => true,
            })
        })
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn to_event(row: kujira_store::metadata::EventRow) -> Event {
    let attributes: BTreeMap<String, String> =
        serde_json::from_str(&row.attributes).unwrap_or_default();
    let legacy = matches!(row.kind.as_str(), "container" | "image");
    Event {
        status: legacy.then(|| row.action.clone()),
        id: legacy.then(|| row.actor.clone()),
        from: (row.kind == "container")
            .then(|| attributes.get("image").cloned())
            .flatten(),
        kind: row.kind,
        action: row.action,
        actor: Actor {
            id: row.actor,
            attributes,
        },
        scope: "local".into(),
        time: row.time_nano / 1_000_000_000,
        time_nano: row.time_nano,
    }
}

/// Where a read of the log stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Follow the log for as long as the sink wants more.
    Forever,
    /// Events up to this time (Unix nanoseconds); waits for it when it is ahead.
    Time(i64),
}

impl Engine {
    /// Appends an event; a failure to log never fails the change it describes.
    pub fn emit(&self, kind: &str, action: &str, actor: &str, attributes: &[(&str, &str)]) {
        let attrs: BTreeMap<&str, &str> = attributes.iter().copied().collect();
        let json = serde_json::to_string(&attrs).unwrap_or_else(|_| "{}".into());
        let _ = self
            .store
            .meta
            .record_event(now_nanos(), kind, action, actor, &json);
    }

    /// A container event with Docker's attributes: its image, name and labels.
    pub(crate) fn emit_container(
        &self,
        c: &crate::container::Container,
        action: &str,
        extra: &[(&str, &str)],
    ) {
        self.emit_container_of(c.id(), c.name(), &c.config, action, extra);
    }

    pub(crate) fn emit_container_of(
        &self,
        id: &str,
        name: &str,
        config: &crate::container::ContainerConfig,
        action: &str,
        extra: &[(&str, &str)],
    ) {
        let labels = config.labels();
        let mut attrs: Vec<(&str, &str)> = vec![("image", config.image()), ("name", name)];
        attrs.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        attrs.extend_from_slice(extra);
        self.emit("container", action, id, &attrs);
    }

    /// The exit code a container last died with, from the log (a container that
    /// removed itself has no row left to ask).
    pub fn last_exit_code(&self, id: &str) -> Option<i64> {
        let row = self.store.meta.last_event_of(id, "die").ok()??;
        let attrs: BTreeMap<String, String> = serde_json::from_str(&row.attributes).ok()?;
        attrs.get("exitCode")?.parse().ok()
    }

    /// Events from `since` (Unix nanoseconds; `None`: from now) to `until`, each
    /// given to `sink` until it returns false. Between polls the sink is asked with
    /// `None` whether it still wants more (a reader that went away).
    pub fn events(
        &self,
        since: Option<i64>,
        until: Until,
        filters: &EventFilters,
        mut sink: impl FnMut(Option<&Event>) -> bool,
    ) -> Result<(), EngineError> {
        let (mut seq, since) = match since {
            Some(t) => (0, t),
            None => (self.store.meta.last_event_seq()?, 0),
        };
        let mut idle = Duration::from_millis(10);
        loop {
            let rows = self.store.meta.events_after(seq, since)?;
            let got = !rows.is_empty();
            for row in rows {
                seq = row.seq;
                if let Until::Time(t) = until {
                    if row.time_nano > t {
                        return Ok(());
                    }
                }
                let e = to_event(row);
                if filters.matches(&e) && !sink(Some(&e)) {
                    return Ok(());
                }
            }
            if let Until::Time(t) = until {
                if now_nanos() > t {
                    return Ok(());
                }
            }
            // Polling the log: a few hundred microseconds per look, and the
            // writers need no channel to their readers.
            idle = if got {
                Duration::from_millis(10)
            } else {
                (idle * 2).min(Duration::from_millis(200))
            };
            std::thread::sleep(idle);
            if !sink(None) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: 0,
            time_nano: 0,
            status: None,
            id: None,
            from: None,
        }
    }

    #[test]
    fn filters_of_one_key_are_alternatives_and_keys_all_apply() {
        let f = EventFilters::parse(&[
            "type=container".into(),
            "event=start".into(),
            "event=die".into(),
        ])
        .unwrap();
        assert!(f.matches(&ev("container", "start", "abc", &[])));
        assert!(f.matches(&ev("container", "die", "abc", &[])));
        assert!(!f.matches(&ev("container", "create", "abc", &[])));
        assert!(!f.matches(&ev("image", "start", "abc", &[])));
        let by_name = EventFilters::parse(&["container=web".into()]).unwrap();
        assert!(by_name.matches(&ev("container", "start", "abc", &[("name", "web")])));
        assert!(EventFilters::parse(&["colour=red".into()]).is_err());
    }
}
