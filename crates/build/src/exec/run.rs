//! `RUN`: its `--mount`s (cache, bind, tmpfs, secret) and `--network`, and running
//! the command on the step's rootfs with its output streamed to the progress.

use std::io::Read;
use std::path::PathBuf;

use kujira_runtime::NetworkMode;
use sha2::{Digest as _, Sha256};

/// One `--mount=…`.
#[derive(Debug, Clone, PartialEq)]
pub enum Mount {
    Cache {
        id: String,
        target: String,
    },
    Bind {
        source: String,
        target: String,
        from: Option<String>,
        rw: bool,
    },
    Tmpfs {
        target: String,
    },
    Secret {
        id: String,
        target: String,
        required: bool,
    },
}

/// Parses `type=cache,target=/root/.cache,…` (BuildKit's csv form).
pub fn parse_mount(spec: &str, workdir: &str) -> Result<Mount, String> {
    let mut kind = "bind".to_string();
    let mut kv = std::collections::BTreeMap::new();
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "type" => kind = v.to_string(),
            "target" | "dst" | "destination" => {
                kv.insert("target", v.to_string());
            }
            "source" | "src" => {
                kv.insert("source", v.to_string());
            }
            "id" | "from" | "sharing" | "mode" | "uid" | "gid" | "size" | "readonly" | "ro"
            | "rw" | "readwrite" | "required" | "env" => {
                kv.insert(k, v.to_string());
            }
            other => return Err(format!("unexpected key '{other}' in '{part}'")),
        }
    }
    let abs = |t: &str| {
        if t.starts_with('/') {
            t.to_string()
        } else {
            format!("{}/{t}", workdir.trim_end_matches('/'))
        }
    };
    let target = kv.get("target").map(|t| abs(t));
    let need_target = || {
        target
            .clone()
            .ok_or_else(|| format!("mount {spec}: target is required"))
    };
    Ok(match kind.as_str() {
        "cache" => {
            let target = need_target()?;
            Mount::Cache {
                id: kv.get("id").cloned().unwrap_or_else(|| target.clone()),
                target,
            }
        }
        "bind" => Mount::Bind {
            source: kv.get("source").cloned().unwrap_or_default(),
            target: need_target()?,
            from: kv.get("from").cloned(),
            rw: kv.contains_key("rw") || kv.contains_key("readwrite"),
        },
        "tmpfs" => Mount::Tmpfs {
            target: need_target()?,
        },
        "secret" => {
            let id = kv
                .get("id")
                .cloned()
                .or_else(|| {
                    target
                        .as_ref()
                        .and_then(|t| t.rsplit('/').next().map(String::from))
                })
                .ok_or_else(|| format!("mount {spec}: secret id is required"))?;
            Mount::Secret {
                target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                required: kv
                    .get("required")
                    .is_some_and(|v| v.is_empty() || v == "true"),
                id,
            }
        }
        other => return Err(format!("unsupported mount type \"{other}\"")),
    })
}

/// Where a cache mount's directory lives: under the store, named by its id, kept
/// across builds until `builder prune`.
pub fn cache_dir(store_root: &std::path::Path, id: &str) -> PathBuf {
    let h = hex::encode(Sha256::digest(id.as_bytes()));
    store_root.join("build").join("cache-mounts").join(&h[..32])
}

/// `--network` of a `RUN`, over the build's default.
pub fn network(flag: Option<&str>, default: NetworkMode) -> Result<NetworkMode, String> {
    match flag {
        None | Some("default") => Ok(default),
        Some("none") => Ok(NetworkMode::None),
        Some("host") => Ok(NetworkMode::Host),
        Some(other) => Err(format!("unsupported network mode \"{other}\"")),
    }
}

/// Reads a step's combined output until the process closes it, handing each chunk
/// to `sink`; the last 4 KiB are kept for the error message of a failing step.
pub fn pump(mut r: std::io::PipeReader, sink: &(dyn Fn(&[u8]) + Sync)) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                sink(&buf[..n]);
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 4096 {
                    tail.drain(..tail.len() - 4096);
                }
            }
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_as_buildkit() {
        assert_eq!(
            parse_mount("type=cache,target=/root/.cache", "/").unwrap(),
            Mount::Cache {
                id: "/root/.cache".into(),
                target: "/root/.cache".into()
            }
        );
        assert_eq!(
            parse_mount("type=secret,id=tok", "/").unwrap(),
            Mount::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false
            }
        );
        assert!(matches!(
            parse_mount("source=x,target=src", "/w").unwrap(),
            Mount::Bind { target, .. } if target == "/w/src"
        ));
        assert!(parse_mount("type=bogus,target=/x", "/").is_err());
        assert!(parse_mount("type=cache", "/").is_err());
    }
}
