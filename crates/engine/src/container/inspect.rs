//! Container `inspect`: Docker's JSON shape (`Id`, `State`, `Config`, `HostConfig`,
//! `NetworkSettings`, `Mounts`, …), so `--format '{{.State.Status}}'` and friends work.

use serde_json::{json, Map, Value};

use super::Container;
use crate::Engine;

/// Fields that are Go maps in Docker's types (templates print them `map[…]`).
pub const MAP_FIELDS: &[&str] = &[
    "Config.ExposedPorts",
    "Config.Labels",
    "Config.Volumes",
    "NetworkSettings.Ports",
    "NetworkSettings.Networks",
    "HostConfig.PortBindings",
    "GraphDriver.Data",
];

impl Engine {
    pub fn inspect_container(&self, c: &Container, size: bool) -> Value {
        let cfg = &c.config;
        let st = &c.row.state;
        let paths = self.container_paths(c.id());
        let zero = "0001-01-01T00:00:00Z";
        let or_zero = |s: &str| {
            if s.is_empty() {
                zero.to_string()
            } else {
                s.to_string()
            }
        };
        let exposed = cfg.exposed_ports();
        let mut bindings: Map<String, Value> = Map::new();
        for p in &cfg.ports {
            let key = format!("{}/{}", p.container_port, p.proto.as_str());
            let entry = bindings.entry(key).or_insert_with(|| json!([]));
            if let Some(arr) = entry.as_array_mut() {
                arr.push(json!({"HostIp": p.host_ip, "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() }}));
            }
        }
        let mut net_ports: Map<String, Value> = Map::new();
        if c.is_running() {
            for e in &exposed {
                net_ports.insert(e.clone(), Value::Null);
            }
            for (k, v) in &bindings {
                let vv: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| {
                        let ip = b["HostIp"]
                            .as_str()
                            .filter(|s| !s.is_empty())
                            .unwrap_or("0.0.0.0");
                        json!({"HostIp": ip, "HostPort": b["HostPort"]})
                    })
                    .collect();
                net_ports.insert(k.clone(), Value::Array(vv));
            }
        }
        let mounts: Vec<Value> = cfg
            .mounts
            .iter()
            .map(|m| {
                let mut v = json!({
                    "Type": m.kind,
                    "Source": m.source,
                    "Destination": m.destination,
                    "Mode": m.mode,
                    "RW": m.rw,
                    "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
                });
                if m.kind == "volume" {
                    v["Name"] = json!(m.name);
                    v["Driver"] = json!("local");
                }
                v
            })
            .collect();
        let upper = paths.upper();
        // As Docker's: the init layer first, then the image's layers, top first.
        let lower: Vec<String> = std::iter::once(paths.init().display().to_string())
            .chain(
                cfg.layers
                    .iter()
                    .filter_map(|l| crate::Digest::parse(l).ok())
                    .map(|d| self.store.layers.diff_dir(&d).display().to_string()),
            )
            .collect();
        let mut doc = json!({
            "Id": c.id(),
            "Created": c.row.created,
            "Path": cfg.path,
            "Args": cfg.args,
            "State": {
                "Status": st.status,
                "Running": matches!(st.status.as_str(), "running" | "paused"),
                "Paused": st.status == "paused",
                "Restarting": st.status == "restarting",
                "OOMKilled": st.oom_killed,
                "Dead": st.status == "dead",
                "Pid": if c.is_running() { st.pid } else { 0 },
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": or_zero(&st.started_at),
                "FinishedAt": or_zero(&st.finished_at),
            },
            "Image": c.row.image_id,
            "ResolvConfPath": paths.dir.join("resolv.conf"),
            "HostnamePath": paths.dir.join("hostname"),
            "HostsPath": paths.dir.join("hosts"),
            "LogPath": paths.log(c.id()),
            "Name": format!("/{}", c.name()),
            "RestartCount": st.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": Value::Null,
            "HostConfig": docker_doc(HOST_CONFIG_DEFAULTS, &cfg.host_config),
            "GraphDriver": {
                "Data": {
                    "LowerDir": lower.join(":"),
                    "MergedDir": paths.rootfs(),
                    "UpperDir": upper,
                    "WorkDir": paths.work(),
                },
                "Name": "overlay2",
            },
            "Mounts": mounts,
            "Config": docker_doc(CONFIG_DEFAULTS, &cfg.config),
            "NetworkSettings": {
                "SandboxKey": if c.is_running() && st.pid > 0 { format!("/proc/{}/ns/net", st.pid) } else { String::new() },
                "Ports": net_ports,
                "Networks": self.container_networks(c),
            },
        });
        // The default bridge's endpoint also at the top, as dockerd still fills it.
        let bridge = doc["NetworkSettings"]["Networks"]["bridge"].clone();
        for key in [
            "IPAddress",
            "Gateway",
            "MacAddress",
            "IPPrefixLen",
            "EndpointID",
        ] {
            doc["NetworkSettings"][key] = if bridge.is_null() {
                if key == "IPPrefixLen" {
                    json!(0)
                } else {
                    json!("")
                }
            } else {
                bridge[key].clone()
            };
        }
        if size {
            let rw = kujira_store::layers::tree_size(&upper).unwrap_or(0);
            let image = crate::Digest::parse(&c.row.image_id)
                .ok()
                .and_then(|d| self.store.meta.image(&d).ok().flatten())
                .map(|r| r.size)
                .unwrap_or(0);
            doc["SizeRw"] = json!(rw);
            doc["SizeRootFs"] = json!(rw + image);
        }
        // As dockerd: present only for a container with a health check.
        if let Some(h) = self.health_of(c) {
            doc["State"]["Health"] = json!(h);
        }
        doc
    }
}

/// dockerd's `Config` fields, as it prints them for a container that set none.
const CONFIG_DEFAULTS: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":null,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}}"#;

/// dockerd's `HostConfig` fields, as it prints them for a container that set none.
const HOST_CONFIG_DEFAULTS: &str = r#"{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"json-file","Config":{}},"NetworkMode":"bridge","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"private","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"private","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"Tmpfs":null,"UTSMode":"","UsernsMode":"","ShmSize":67108864,"Runtime":"","Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null}"#;

/// The fields of `Config` and `HostConfig` that are maps (Go prints them sorted;
/// the models hold `HashMap`s).
const MODEL_MAPS: &[&str] = &[
    "ExposedPorts",
    "Volumes",
    "Labels",
    "PortBindings",
    "Tmpfs",
    "Sysctls",
    "StorageOpt",
    "Annotations",
];

/// One of Docker's models as dockerd prints it: every field, the stored values
/// over the defaults in the defaults' order, the maps in key order.
fn docker_doc(defaults: &str, model: &impl serde::Serialize) -> Value {
    let mut doc: Value = serde_json::from_str(defaults).unwrap_or_else(|_| json!({}));
    if let (Some(out), Ok(Value::Object(stored))) =
        (doc.as_object_mut(), serde_json::to_value(model))
    {
        for (k, v) in stored {
            let v = match v {
                Value::Object(m) if MODEL_MAPS.contains(&k.as_str()) => {
                    let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Object(pairs.into_iter().collect())
                }
                other => other,
            };
            out.insert(k, v);
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::{docker_doc, CONFIG_DEFAULTS, HOST_CONFIG_DEFAULTS};

    #[test]
    fn stored_values_over_every_default_field() {
        let hc = bollard_stubs::models::HostConfig {
            memory: Some(1 << 20),
            sysctls: Some(
                [("b".to_string(), "2".to_string()), ("a".into(), "1".into())]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        let doc = docker_doc(HOST_CONFIG_DEFAULTS, &hc);
        assert_eq!(doc["Memory"], 1 << 20);
        assert_eq!(doc["NetworkMode"], "bridge");
        let keys: Vec<&String> = doc["Sysctls"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        let c = docker_doc(
            CONFIG_DEFAULTS,
            &bollard_stubs::models::ContainerConfig::default(),
        );
        assert_eq!(c["Cmd"], serde_json::Value::Null);
        assert_eq!(c["Tty"], false);
    }
}
