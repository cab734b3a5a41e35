//! A stage's image as it is being built: the config document (as the image config
//! JSON, so fields kujira does not model pass through from the base), its layers,
//! and the history rows BuildKit writes for each instruction.

use std::collections::BTreeMap;

use kujira_store::metadata::NewLayer;
use serde_json::{json, Value};

/// BuildKit's history comment on every row it writes.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

#[derive(Debug, Clone)]
pub struct StageState {
    /// The image config document.
    pub config: Value,
    pub layers: Vec<NewLayer>,
    /// The last step's cache key.
    pub key: String,
    /// The last step's time (RFC 3339): history rows of metadata steps take it, so
    /// an unchanged rebuild writes the same config.
    pub time: String,
    /// `ARG`s declared in this stage, with their values.
    pub args: BTreeMap<String, String>,
}

impl StageState {
    /// `FROM scratch`: an empty config for the target platform.
    pub fn scratch(os: &str, arch: &str) -> Value {
        json!({
            "architecture": arch,
            "os": os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": []
        })
    }

    /// A base image's config, prepared as a stage's start: what describes the base's
    /// own making (its container, its `created`) goes, its triggers are consumed.
    pub fn from_base(mut doc: Value) -> Value {
        if let Some(o) = doc.as_object_mut() {
            for k in [
                "container",
                "container_config",
                "docker_version",
                "parent",
                "comment",
                "author",
            ] {
                o.remove(k);
            }
            if !o.get("config").is_some_and(Value::is_object) {
                o.insert("config".into(), json!({}));
            }
            if !o.get("history").is_some_and(Value::is_array) {
                o.insert("history".into(), json!([]));
            }
        }
        if let Some(c) = doc["config"].as_object_mut() {
            c.remove("OnBuild");
        }
        doc
    }

    pub fn cfg(&self, k: &str) -> &Value {
        &self.config["config"][k]
    }

    pub fn set_cfg(&mut self, k: &str, v: Value) {
        if let Some(c) = self.config["config"].as_object_mut() {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.to_string(), v);
            }
        }
    }

    /// Adds entries to an object field of the config (`ExposedPorts`, `Volumes`,
    /// `Labels`), keeping what the base set.
    pub fn add_keys(&mut self, field: &str, entries: impl IntoIterator<Item = (String, Value)>) {
        let mut map = self.cfg(field).as_object().cloned().unwrap_or_default();
        map.extend(entries);
        self.set_cfg(field, Value::Object(map));
    }

    pub fn env(&self) -> Vec<String> {
        strings(self.cfg("Env"))
    }

    /// Sets `K=V` in the config's `Env`, in place if K is there.
    pub fn set_env(&mut self, k: &str, v: &str) {
        let mut env = self.env();
        let entry = format!("{k}={v}");
        match env.iter_mut().find(|e| e.split('=').next() == Some(k)) {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
        self.set_cfg("Env", json!(env));
    }

    pub fn workdir(&self) -> String {
        self.cfg("WorkingDir")
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("/")
            .to_string()
    }

    pub fn user(&self) -> String {
        self.cfg("User").as_str().unwrap_or_default().to_string()
    }

    pub fn shell(&self) -> Vec<String> {
        let s = strings(self.cfg("Shell"));
        if s.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            s
        }
    }

    /// Appends a history row; `layer` says whether the step added a layer.
    pub fn history(&mut self, created_by: &str, layer: bool) {
        let mut row = json!({
            "created": self.time,
            "created_by": created_by,
            "comment": HISTORY_COMMENT,
        });
        if !layer {
            row["empty_layer"] = json!(true);
        }
        if let Some(h) = self.config["history"].as_array_mut() {
            h.push(row);
        }
    }

    pub fn push_layer(&mut self, l: NewLayer) {
        if let Some(d) = self.config["rootfs"]["diff_ids"].as_array_mut() {
            d.push(json!(l.diff_id.to_string()));
        }
        self.layers.push(l);
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The image's last touches: `--label`s, its `created` time (the last step's, or
/// `SOURCE_DATE_EPOCH`, which also rewrites every history time of this build).
pub fn finish(
    doc: &mut Value,
    state: &StageState,
    labels: &BTreeMap<String, String>,
    epoch: Option<i64>,
) {
    if !labels.is_empty() {
        let mut l = doc["config"]["Labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (k, v) in labels {
            l.insert(k.clone(), json!(v));
        }
        doc["config"]["Labels"] = Value::Object(l);
    }
    let created = match epoch {
        Some(e) => chrono::DateTime::from_timestamp(e, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| state.time.clone()),
        None => state.time.clone(),
    };
    doc["created"] = json!(created);
}

/// Go's `%q` of a string slice, as BuildKit writes `CMD`/`ENTRYPOINT` history:
/// `["sh" "-c" "x"]`.
pub fn go_quoted_list(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\"")))
        .collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of a string slice: `[/data /logs]`.
pub fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_history() {
        let mut s = StageState {
            config: StageState::from_base(
                json!({"config": {"Env": ["PATH=/bin"], "OnBuild": ["RUN x"]}, "container": "x"}),
            ),
            layers: Vec::new(),
            key: String::new(),
            time: "2026-01-01T00:00:00Z".into(),
            args: BTreeMap::new(),
        };
        assert!(s.config.get("container").is_none());
        assert!(s.cfg("OnBuild").is_null());
        s.set_env("A", "1");
        s.set_env("PATH", "/usr/bin");
        assert_eq!(s.env(), vec!["PATH=/usr/bin", "A=1"]);
        s.history("ENV A=1", false);
        assert_eq!(s.config["history"][0]["empty_layer"], json!(true));
        assert_eq!(
            go_quoted_list(&["sh".into(), "-c".into()]),
            "[\"sh\" \"-c\"]"
        );
    }
}
