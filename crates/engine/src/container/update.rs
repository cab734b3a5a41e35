//! `update`: new resource limits and restart policy for a container. The stored
//! config and the bundle's `config.json` (what the next start uses) change, and a
//! running container's cgroup gets the new limits at once.

use bollard_stubs::models::ContainerUpdateBody;

use super::{Container, RestartPolicy};
use crate::{Engine, EngineError};

fn invalid(e: impl ToString) -> EngineError {
    EngineError::InvalidArgument(e.to_string())
}

impl Engine {
    /// Applies Docker's update body: a field left out (or zero, which a Go client
    /// cannot tell from left out) keeps its value.
    pub fn update_container(
        &self,
        c: &Container,
        body: &ContainerUpdateBody,
    ) -> Result<(), EngineError> {
        let mut cfg = c.config.clone();
        let hc = &mut cfg.host_config;
        if let Some(p) = body
            .restart_policy
            .as_ref()
            .filter(|p| p.name.as_ref().is_some_and(|n| !n.to_string().is_empty()))
        {
            let policy = RestartPolicy::from_api_checked(Some(p)).map_err(invalid)?;
            if hc.auto_remove.unwrap_or(false) && policy.name != "no" {
                return Err(invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            hc.restart_policy = Some(policy.to_api());
        }
        for (asked, field) in [
            (body.memory, &mut hc.memory),
            (body.memory_swap, &mut hc.memory_swap),
            (body.memory_reservation, &mut hc.memory_reservation),
            (body.nano_cpus, &mut hc.nano_cpus),
            (body.pids_limit, &mut hc.pids_limit),
            (body.cpu_shares, &mut hc.cpu_shares),
        ] {
            if let Some(v) = asked.filter(|v| *v != 0) {
                *field = Some(v);
            }
        }
        let positive = |v: Option<i64>| v.filter(|v| *v > 0);
        let limits = kujira_runtime::spec::Limits {
            memory: positive(hc.memory),
            memory_swap: hc.memory_swap.filter(|s| *s != 0),
            memory_reservation: positive(hc.memory_reservation),
            cpus: positive(hc.nano_cpus).map(|n| n as f64 / 1e9),
            pids_limit: positive(hc.pids_limit),
            cpu_shares: positive(hc.cpu_shares).map(|s| s as u64),
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
