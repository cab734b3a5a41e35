//! `update`: new resource limits and restart policy for a container. The stored
//! config and the bundle's `config.json` (what the next start uses) change, and a
//! running container's cgroup gets the new limits at once.

use super::{Container, RestartPolicy};
use crate::{Engine, EngineError};

/// What `update` may change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub restart: Option<String>,
}

fn invalid(e: impl ToString) -> EngineError {
    EngineError::InvalidArgument(e.to_string())
}

impl Engine {
    pub fn update_container(&self, c: &Container, opts: &UpdateOptions) -> Result<(), EngineError> {
        let mut cfg = c.config.clone();
        if let Some(r) = &opts.restart {
            let policy = RestartPolicy::parse(r).map_err(invalid)?;
            if cfg.auto_remove && policy.name != "no" {
                return Err(invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            cfg.restart = policy;
        }
        let set = |v: Option<i64>, field: &mut i64| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(opts.memory, &mut cfg.memory);
        set(opts.memory_swap, &mut cfg.memory_swap);
        set(opts.memory_reservation, &mut cfg.memory_reservation);
        set(opts.nano_cpus, &mut cfg.nano_cpus);
        set(opts.pids_limit, &mut cfg.pids_limit);
        if let Some(s) = opts.cpu_shares {
            cfg.cpu_shares = s;
        }
        let positive = |v: i64| (v > 0).then_some(v);
        let limits = kujira_runtime::spec::Limits {
            memory: positive(cfg.memory),
            memory_swap: (cfg.memory_swap != 0).then_some(cfg.memory_swap),
            memory_reservation: positive(cfg.memory_reservation),
            cpus: positive(cfg.nano_cpus).map(|n| n as f64 / 1e9),
            pids_limit: positive(cfg.pids_limit),
            cpu_shares: (cfg.cpu_shares > 0).then_some(cfg.cpu_shares),
        };
        let host = kujira_runtime::host::HostFacts::detect();
        let resources = limits
            .resources(host.swap_accounting)
            .map_err(EngineError::Runtime)?;
        // The bundle's spec, so restarts keep the new limits.
        let spec_path = self.container_paths(c.id()).bundle().join("config.json");
        if let Ok(text) = std::fs::read(&spec_path) {
            let mut spec: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| invalid(format!("reading the container's spec: {e}")))?;
            for key in ["memory", "cpu", "pids"] {
                let v = resources
                    .get(key)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                if let Some(r) = spec["linux"]["resources"].as_object_mut() {
                    if v.is_null() {
                        r.remove(key);
                    } else {
                        r.insert(key.to_string(), v);
                    }
                }
            }
            let tmp = spec_path.with_extension("json.tmp");
            let data = serde_json::to_vec(&spec).map_err(invalid)?;
            std::fs::write(&tmp, data)
                .and_then(|_| std::fs::rename(&tmp, &spec_path))
                .map_err(|e| EngineError::io("writing the container's spec", e))?;
        }
        if c.is_running() {
            let path = format!("/kujira/{}", c.id());
            kujira_runtime::update_resources(&path, &resources).map_err(EngineError::Runtime)?;
        }
        let text = serde_json::to_string(&cfg).map_err(invalid)?;
        self.store.meta.set_container_config(c.id(), &text)?;
        self.emit_container(c, "update", &[]);
        Ok(())
    }
}
