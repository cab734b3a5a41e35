//! The container record of stores written before containers were kept as Docker's
//! `Config` + `HostConfig`, upgraded when read; the reader writes the row back in
//! the new form.

use std::collections::BTreeMap;

use bollard_stubs::models;
use kujira_runtime::ports::PortMapping;
use serde::Deserialize;

use super::config::{
    device_mapping, map_of, port_map, port_set, ContainerConfig, MountPoint, RestartPolicy,
};
use super::health::HealthConfig;
use crate::network::EndpointSpec;

/// The flat record, field for field as it was written.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LegacyConfig {
    image: String,
    path: String,
    args: Vec<String>,
    cmd: Vec<String>,
    entrypoint: Vec<String>,
    env: Vec<String>,
    working_dir: String,
    user: String,
    hostname: String,
    domainname: String,
    labels: BTreeMap<String, String>,
    tty: bool,
    open_stdin: bool,
    stop_signal: String,
    stop_timeout: Option<i64>,
    exposed_ports: Vec<String>,
    ports: Vec<PortMapping>,
    publish_all: bool,
    restart: RestartPolicy,
    auto_remove: bool,
    runtime: String,
    network: String,
    networks: Vec<EndpointSpec>,
    mounts: Vec<MountPoint>,
    read_only: bool,
    privileged: bool,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    security_opt: Vec<String>,
    memory: i64,
    nano_cpus: i64,
    pids_limit: i64,
    init: bool,
    shm_size: i64,
    sysctls: BTreeMap<String, String>,
    extra_hosts: Vec<(String, String)>,
    devices: Vec<String>,
    healthcheck: Option<HealthConfig>,
    memory_swap: i64,
    memory_reservation: i64,
    cpu_shares: u64,
    oom_score_adj: i32,
    group_add: Vec<String>,
    dns: Vec<String>,
    dns_search: Vec<String>,
    dns_options: Vec<String>,
    pid_mode: String,
    ipc_mode: String,
    uts_mode: String,
    layers: Vec<String>,
}

fn some_vec(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

fn some_str(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl LegacyConfig {
    pub(crate) fn upgrade(self) -> ContainerConfig {
        let network = if self.network == "default" || self.network.is_empty() {
            "bridge".to_string()
        } else {
            self.network
        };
        let binds: Vec<String> = self
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
        let tmpfs = map_of(
            self.mounts
                .iter()
                .filter(|m| m.kind == "tmpfs")
                .map(|m| (m.destination.clone(), String::new())),
        );
        let devices: Vec<models::DeviceMapping> = self
            .devices
            .iter()
            .filter_map(|d| device_mapping(d).ok())
            .collect();
        let host_config = models::HostConfig {
            binds: some_vec(binds),
            network_mode: Some(network.clone()),
            port_bindings: Some(port_map(&self.ports)),
            restart_policy: Some(self.restart.to_api()),
            auto_remove: Some(self.auto_remove),
            runtime: some_str(self.runtime),
            cap_add: some_vec(self.cap_add),
            cap_drop: some_vec(self.cap_drop),
            privileged: Some(self.privileged),
            publish_all_ports: Some(self.publish_all),
            readonly_rootfs: Some(self.read_only),
            security_opt: some_vec(self.security_opt),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            memory: Some(self.memory),
            memory_swap: Some(self.memory_swap),
            memory_reservation: Some(self.memory_reservation),
            nano_cpus: Some(self.nano_cpus),
            cpu_shares: Some(self.cpu_shares as i64),
            pids_limit: (self.pids_limit > 0).then_some(self.pids_limit),
            oom_score_adj: Some(self.oom_score_adj as i64),
            init: self.init.then_some(true),
            shm_size: (self.shm_size > 0).then_some(self.shm_size),
            sysctls: (!self.sysctls.is_empty()).then(|| map_of(self.sysctls)),
            extra_hosts: some_vec(
                self.extra_hosts
                    .iter()
                    .map(|(n, ip)| format!("{n}:{ip}"))
                    .collect(),
            ),
            devices: Some(devices),
            group_add: some_vec(self.group_add),
            dns: Some(self.dns),
            dns_search: Some(self.dns_search),
            dns_options: Some(self.dns_options),
            pid_mode: Some(self.pid_mode),
            ipc_mode: Some(some_str(self.ipc_mode).unwrap_or_else(|| "private".into())),
            uts_mode: Some(self.uts_mode),
            ..Default::default()
        };
        let config = models::ContainerConfig {
            hostname: Some(self.hostname),
            domainname: Some(self.domainname),
            user: Some(self.user),
            tty: Some(self.tty),
            open_stdin: Some(self.open_stdin),
            env: Some(self.env),
            cmd: some_vec(self.cmd),
            entrypoint: some_vec(self.entrypoint),
            image: Some(self.image),
            working_dir: Some(self.working_dir),
            labels: Some(map_of(self.labels)),
            exposed_ports: (!self.exposed_ports.is_empty()).then(|| port_set(self.exposed_ports)),
            stop_signal: some_str(self.stop_signal),
            stop_timeout: self.stop_timeout,
            healthcheck: self.healthcheck.map(|h| h.to_api()),
            ..Default::default()
        };
        ContainerConfig {
            config,
            host_config,
            path: self.path,
            args: self.args,
            layers: self.layers,
            ports: self.ports,
            networks: self.networks,
            mounts: self.mounts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ContainerConfig;

    /// A row as the previous version wrote it (taken from a store of that version).
    const OLD: &str = r#"{"image":"busybox","path":"sh","args":["-c","sleep 1"],"cmd":["sh","-c","sleep 1"],"entrypoint":[],"env":["PATH=/bin","A=1"],"working_dir":"","user":"","hostname":"3f1a2b3c4d5e","domainname":"","labels":{"k":"v"},"tty":true,"open_stdin":false,"stop_signal":"","stop_timeout":3,"exposed_ports":["80/tcp"],"ports":[{"host_ip":"","host_port":8001,"container_port":80,"proto":"tcp"}],"publish_all":false,"restart":{"name":"on-failure","maximum_retry_count":2},"auto_remove":false,"runtime":"","network":"default","networks":[],"mounts":[{"kind":"volume","name":"v1","source":"/s/v1/_data","destination":"/data","mode":"","rw":true},{"kind":"tmpfs","name":"","source":"","destination":"/run","mode":"","rw":true}],"read_only":false,"privileged":false,"cap_add":["NET_ADMIN"],"cap_drop":[],"security_opt":[],"memory":1048576,"nano_cpus":500000000,"pids_limit":0,"init":false,"shm_size":67108864,"sysctls":{},"extra_hosts":[["h","1.2.3.4"]],"devices":["/dev/null:/dev/n:r"],"healthcheck":null,"memory_swap":2097152,"memory_reservation":0,"cpu_shares":0,"oom_score_adj":0,"group_add":[],"dns":[],"dns_search":[],"dns_options":[],"pid_mode":"","ipc_mode":"","uts_mode":"","layers":["sha256:aa"]}"#;

    #[test]
    fn an_old_row_reads_as_docker_config_and_host_config() {
        let c = ContainerConfig::from_stored(OLD).unwrap();
        assert_eq!(c.image(), "busybox");
        assert_eq!(c.path, "sh");
        assert!(c.tty());
        assert_eq!(c.network(), "bridge");
        assert_eq!(c.exposed_ports(), vec!["80/tcp".to_string()]);
        assert_eq!(c.ports[0].host_port, 8001);
        assert_eq!(c.restart().maximum_retry_count, 2);
        assert_eq!(c.stop_timeout(), 3);
        let hc = &c.host_config;
        assert_eq!(hc.memory, Some(1048576));
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert_eq!(hc.binds.as_deref(), Some(&["v1:/data".to_string()][..]));
        assert_eq!(
            hc.extra_hosts.as_deref(),
            Some(&["h:1.2.3.4".to_string()][..])
        );
        assert_eq!(
            hc.devices.as_ref().unwrap()[0].path_in_container.as_deref(),
            Some("/dev/n")
        );
        let bound = &hc.port_bindings.as_ref().unwrap()["80/tcp"];
        assert_eq!(
            bound.as_ref().unwrap()[0].host_port.as_deref(),
            Some("8001")
        );
        // Written back, it is the new form (whose first key the reader's fast path
        // looks for) and reads the same.
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.starts_with("{\"Config\""), "{text}");
        let again = ContainerConfig::from_stored(&text).unwrap();
        assert_eq!(again.host_config, c.host_config);
        assert_eq!(again.config, c.config);
    }

    #[test]
    fn a_damaged_row_is_an_error() {
        assert!(ContainerConfig::from_stored("{").is_err());
        assert!(ContainerConfig::from_stored(r#"{"HostConfig": 3}"#).is_err());
    }
}
