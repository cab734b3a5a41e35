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
        let mut exposed = Map::new();
        for e in &cfg.exposed_ports {
            exposed.insert(e.clone(), json!({}));
        }
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
            for e in &cfg.exposed_ports {
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
        let binds: Vec<String> = cfg
            .mounts
            .iter()
            .filter(|m| m.kind != "tmpfs")
            .map(|m| {
                let src = if m.kind == "volume" {
                    &m.name
                } else {
                    &m.source
                };
                if m.mode.is_empty() {
                    format!("{src}:{}", m.destination)
                } else {
                    format!("{src}:{}:{}", m.destination, m.mode)
                }
            })
            .collect();
        let tmpfs: Map<String, Value> = cfg
            .mounts
            .iter()
            .filter(|m| m.kind == "tmpfs")
            .map(|m| (m.destination.clone(), json!("")))
            .collect();
        let mut labels = Map::new();
        for (k, v) in &cfg.labels {
            labels.insert(k.clone(), json!(v));
        }
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
            "HostConfig": {
                "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
                "ContainerIDFile": "",
                "LogConfig": {"Type": "json-file", "Config": {}},
                "NetworkMode": if cfg.network == "default" { "bridge" } else { cfg.network.as_str() },
                "PortBindings": bindings,
                "RestartPolicy": {"Name": cfg.restart.name, "MaximumRetryCount": cfg.restart.maximum_retry_count},
                "AutoRemove": cfg.auto_remove,
                "CapAdd": if cfg.cap_add.is_empty() { Value::Null } else { json!(cfg.cap_add) },
                "CapDrop": if cfg.cap_drop.is_empty() { Value::Null } else { json!(cfg.cap_drop) },
                "Privileged": cfg.privileged,
                "PublishAllPorts": cfg.publish_all,
                "ReadonlyRootfs": cfg.read_only,
                "SecurityOpt": if cfg.security_opt.is_empty() { Value::Null } else { json!(cfg.security_opt) },
                "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
                "Runtime": if cfg.runtime.is_empty() { self.runtime("").map(|r| r.name()).unwrap_or_default() } else { cfg.runtime.clone() },
                "Memory": cfg.memory,
                "MemorySwap": cfg.memory_swap,
                "MemoryReservation": cfg.memory_reservation,
                "CpuShares": cfg.cpu_shares,
                "OomScoreAdj": cfg.oom_score_adj,
                "Dns": cfg.dns,
                "DnsSearch": cfg.dns_search,
                "DnsOptions": cfg.dns_options,
                "GroupAdd": if cfg.group_add.is_empty() { Value::Null } else { json!(cfg.group_add) },
                "NanoCpus": cfg.nano_cpus,
                "PidsLimit": if cfg.pids_limit > 0 { json!(cfg.pids_limit) } else { Value::Null },
                "Init": if cfg.init { json!(true) } else { Value::Null },
                "Devices": cfg.devices.iter().filter_map(|d| kujira_runtime::spec::split_device(d).ok()).map(|(host, inside, perms)| {
                    json!({"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms})
                }).collect::<Vec<_>>(),
                "PidMode": cfg.pid_mode,
                "IpcMode": if cfg.ipc_mode.is_empty() { "private" } else { cfg.ipc_mode.as_str() },
                "UTSMode": cfg.uts_mode,
                "ShmSize": if cfg.shm_size > 0 { cfg.shm_size } else { kujira_runtime::defaults::SHM_SIZE as i64 },
                "Sysctls": if cfg.sysctls.is_empty() { Value::Null } else { json!(cfg.sysctls) },
                "ExtraHosts": if cfg.extra_hosts.is_empty() { Value::Null } else { json!(cfg.extra_hosts.iter().map(|(n, ip)| format!("{n}:{ip}")).collect::<Vec<_>>()) },
                "MaskedPaths": kujira_runtime::defaults::MASKED_PATHS,
                "ReadonlyPaths": kujira_runtime::defaults::READONLY_PATHS,
            },
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
            "Config": {
                "Hostname": cfg.hostname,
                "Domainname": cfg.domainname,
                "User": cfg.user,
                "AttachStdin": false,
                "AttachStdout": false,
                "AttachStderr": false,
                "ExposedPorts": if exposed.is_empty() { Value::Null } else { Value::Object(exposed) },
                "Tty": cfg.tty,
                "OpenStdin": cfg.open_stdin,
                "StdinOnce": false,
                "Env": cfg.env,
                "Cmd": if cfg.cmd.is_empty() { Value::Null } else { json!(cfg.cmd) },
                "Image": cfg.image,
                "Volumes": Value::Null,
                "WorkingDir": cfg.working_dir,
                "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
                "OnBuild": Value::Null,
                "Labels": labels,
                "StopSignal": if cfg.stop_signal.is_empty() { Value::Null } else { json!(cfg.stop_signal) },
                "StopTimeout": cfg.stop_timeout,
            },
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
        if cfg.stop_timeout.is_none() {
            if let Some(o) = doc["Config"].as_object_mut() {
                o.remove("StopTimeout");
            }
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
        if let Some(hc) = cfg.healthcheck.as_ref() {
            doc["Config"]["Healthcheck"] = json!(hc);
        }
        doc
    }
}
