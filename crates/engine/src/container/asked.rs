//! Docker's create body (`Config` + `HostConfig`) read the way dockerd reads it:
//! which mounts, published ports, rlimits and devices it asks for, in the runtime's
//! terms. The CLI builds the same body from its flags, so these are the only readers.

use bollard_stubs::models::{ContainerCreateBody, HostConfig, MountTypeEnum};
use kujira_runtime::ports::PortMapping;
use kujira_runtime::Ulimit;

use crate::EngineError;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(msg.into())
}

/// The mounts asked for, as `SRC:DEST[:OPTS]` binds and volumes (`DEST` alone: an
/// anonymous volume) and `DEST[:OPTS]` tmpfs mounts: `HostConfig.Binds`,
/// `HostConfig.Mounts`, `HostConfig.Tmpfs` and the `Config.Volumes` that no bind
/// covers (docker-compose sends both for one path).
pub(crate) fn mounts(
    body: &ContainerCreateBody,
    hc: &HostConfig,
) -> Result<(Vec<String>, Vec<String>), EngineError> {
    let mut volumes: Vec<String> = hc.binds.clone().unwrap_or_default();
    let mut tmpfs: Vec<String> = hc
        .tmpfs
        .iter()
        .flatten()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}:{v}")
            }
        })
        .collect();
    for m in hc.mounts.iter().flatten() {
        let target = m
            .target
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("invalid mount config: Target must not be empty"))?;
        let ro = if m.read_only.unwrap_or(false) {
            ":ro"
        } else {
            ""
        };
        let source = m.source.clone().unwrap_or_default();
        match &m.typ {
            Some(MountTypeEnum::BIND) => {
                if source.is_empty() {
                    return Err(invalid(
                        "invalid mount config for type \"bind\": field Source must not be empty",
                    ));
                }
                volumes.push(format!("{source}:{target}{ro}"));
            }
            Some(MountTypeEnum::VOLUME | MountTypeEnum::EMPTY) | None => {
                volumes.push(if source.is_empty() {
                    target
                } else {
                    format!("{source}:{target}{ro}")
                })
            }
            Some(MountTypeEnum::TMPFS) => {
                let opts = m.tmpfs_options.as_ref();
                let mut options = Vec::new();
                if let Some(s) = opts.and_then(|o| o.size_bytes).filter(|s| *s > 0) {
                    options.push(format!("size={s}"));
                }
                if let Some(mode) = opts.and_then(|o| o.mode).filter(|m| *m > 0) {
                    options.push(format!("mode={mode:o}"));
                }
                tmpfs.push(if options.is_empty() {
                    target
                } else {
                    format!("{target}:{}", options.join(","))
                });
            }
            Some(other) => {
                return Err(invalid(format!(
                    "invalid mount config: mount type {other} is not supported"
                )))
            }
        }
    }
    let clean = |d: &str| d.trim_end_matches('/').to_string();
    let bound: Vec<String> = volumes
        .iter()
        .filter_map(|b| b.split(':').nth(1))
        .map(clean)
        .collect();
    let mut anonymous: Vec<&String> = body.volumes.iter().flatten().map(|(k, _)| k).collect();
    anonymous.sort();
    for k in anonymous {
        if !bound.contains(&clean(k)) {
            volumes.push(k.clone());
        }
    }
    tmpfs.sort();
    Ok((volumes, tmpfs))
}

/// `HostConfig.PortBindings`: every binding of every `PORT/PROTO` key (a key
/// without bindings, or a binding without a host port, gets any free port).
pub(crate) fn port_mappings(hc: &HostConfig) -> Result<Vec<PortMapping>, EngineError> {
    let mut keys: Vec<_> = hc.port_bindings.iter().flatten().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (port, bindings) in keys {
        let parse = |spec: String| PortMapping::parse(&spec).map_err(|e| invalid(e.to_string()));
        let bindings = bindings.as_deref().unwrap_or_default();
        if bindings.is_empty() {
            out.extend(parse(port.clone())?);
        }
        for b in bindings {
            let ip = b.host_ip.as_deref().unwrap_or_default();
            let host = b.host_port.as_deref().unwrap_or_default();
            out.extend(parse(match (ip.is_empty(), host.is_empty()) {
                (true, true) => port.clone(),
                (true, false) => format!("{host}:{port}"),
                (false, _) => format!("{ip}:{host}:{port}"),
            })?);
        }
    }
    Ok(out)
}

/// `Config.ExposedPorts` after the image's, then every published port, in order
/// and once each (`PORT` alone is TCP).
pub(crate) fn exposed_ports(
    body: &ContainerCreateBody,
    image: &[String],
    published: &[PortMapping],
) -> Vec<String> {
    let mut asked: Vec<&String> = body
        .exposed_ports
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    asked.sort();
    let asked = asked.into_iter().map(|e| {
        if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        }
    });
    let published = published
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.proto.as_str()));
    let mut out: Vec<String> = Vec::new();
    for e in image.iter().cloned().chain(asked).chain(published) {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// `PublishAllPorts`: every exposed port not published yet, on any free host port.
pub(crate) fn publish_all(
    exposed: &[String],
    ports: &mut Vec<PortMapping>,
) -> Result<(), EngineError> {
    for e in exposed {
        let already = ports
            .iter()
            .any(|p| format!("{}/{}", p.container_port, p.proto.as_str()) == *e);
        if !already {
            ports.extend(PortMapping::parse(e).map_err(|e| invalid(e.to_string()))?);
        }
    }
    Ok(())
}

/// `HostConfig.Ulimits` (`-1`: unlimited).
pub(crate) fn ulimits(hc: &HostConfig) -> Result<Vec<Ulimit>, EngineError> {
    let value = |v: Option<i64>| match v {
        Some(n) if n < 0 => u64::MAX,
        Some(n) => n as u64,
        None => 0,
    };
    hc.ulimits
        .iter()
        .flatten()
        .map(|u| {
            let name = u
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("invalid ulimit: a name is required"))?;
            let soft = value(u.soft);
            let hard = u.hard.map_or(soft, |h| value(Some(h)));
            if soft > hard {
                return Err(invalid(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
                )));
            }
            Ok(Ulimit { name, soft, hard })
        })
        .collect()
}

/// `HostConfig.Devices` as the runtime's `HOST:CONTAINER:PERMISSIONS`.
pub(crate) fn devices(hc: &HostConfig) -> Result<Vec<String>, EngineError> {
    hc.devices
        .iter()
        .flatten()
        .map(|d| {
            let host = d
                .path_on_host
                .clone()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| invalid("invalid device mapping: PathOnHost is required"))?;
            let inside = d
                .path_in_container
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| host.clone());
            let perms = d
                .cgroup_permissions
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rwm".into());
            Ok(format!("{host}:{inside}:{perms}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard_stubs::models::{
        ContainerCreateBody, HostConfig, Mount, MountTypeEnum, PortBinding, ResourcesUlimits,
    };

    #[test]
    fn config_volumes_covered_by_a_bind_are_not_anonymous() {
        let body = ContainerCreateBody {
            volumes: Some(HashMap::from([
                ("/data".to_string(), HashMap::new()),
                ("/cache".to_string(), HashMap::new()),
            ])),
            ..Default::default()
        };
        let hc = HostConfig {
            binds: Some(vec!["/srv:/data/:ro".into()]),
            mounts: Some(vec![Mount {
                target: Some("/run".into()),
                typ: Some(MountTypeEnum::TMPFS),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let (volumes, tmpfs) = super::mounts(&body, &hc).unwrap();
        assert_eq!(volumes, vec!["/srv:/data/:ro".to_string(), "/cache".into()]);
        assert_eq!(tmpfs, vec!["/run".to_string()]);
    }

    #[test]
    fn port_bindings_and_limits() {
        let hc = HostConfig {
            port_bindings: Some(HashMap::from([
                (
                    "80/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some("8001".into()),
                    }]),
                ),
                ("53/udp".to_string(), None),
            ])),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(100),
                hard: Some(-1),
            }]),
            ..Default::default()
        };
        let ports = super::port_mappings(&hc).unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!((ports[0].container_port, ports[0].host_port), (53, 0));
        assert_eq!(
            (ports[1].host_ip.as_str(), ports[1].host_port),
            ("127.0.0.1", 8001)
        );
        let u = super::ulimits(&hc).unwrap();
        assert_eq!((u[0].soft, u[0].hard), (100, u64::MAX));
        let bad = HostConfig {
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(10),
                hard: Some(5),
            }]),
            ..Default::default()
        };
        assert!(super::ulimits(&bad).is_err());
    }
}
