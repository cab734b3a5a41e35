//! Seccomp filters compiled once to BPF and kept. Compiling a Docker-sized allow-list
//! with libseccomp is the slowest step of starting a container with crun (≈ 20 ms of
//! a ≈ 45 ms `crun run`, measured on these machines); the compiled program depends
//! only on the filter, so kujira compiles each distinct filter once, caches it under
//! the store's `run/seccomp/<sha256>.bpf`, and hands crun the ready program through
//! its `run.oci.seccomp_bpf_data` annotation.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use crate::RuntimeError;

/// The annotation crun reads a ready BPF program from (base64), instead of compiling
/// the spec's `linux.seccomp`.
pub const CRUN_BPF_ANNOTATION: &str = "run.oci.seccomp_bpf_data";

fn err(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::SeccompProfile {
        origin: "the container's filter".into(),
        reason: reason.to_string(),
    }
}

/// An enum of oci-spec as the string its JSON spells (`SCMP_ACT_ALLOW`, …).
fn spelled<T: serde::Serialize>(v: &T) -> Result<String, RuntimeError> {
    match serde_json::to_value(v).map_err(err)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(err(format!("unexpected value {other}"))),
    }
}

fn action(name: &str, errno: Option<u32>) -> Result<ScmpAction, RuntimeError> {
    let errno = match name {
        "SCMP_ACT_ERRNO" => Some(errno.unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_TRACE" => Some(errno.unwrap_or(libc::EPERM as u32) as i32),
        _ => None,
    };
    ScmpAction::from_str(name, errno).map_err(err)
}

/// Compiles `filter` to a BPF program for the host, as libseccomp would for the
/// runtime. Syscalls this libseccomp does not know are skipped, as runtimes do.
pub fn compile(filter: &LinuxSeccomp) -> Result<Vec<u8>, RuntimeError> {
    let default = action(
        &spelled(&filter.default_action())?,
        filter.default_errno_ret(),
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(err)?;
    for arch in filter.architectures().iter().flatten() {
        let name = spelled(arch)?;
        let a: ScmpArch = name.parse().map_err(err)?;
        // The native architecture is in every new filter already.
        if a != ScmpArch::native() {
            ctx.add_arch(a).map_err(err)?;
        }
    }
    for rule in filter.syscalls().iter().flatten() {
        let act = action(&spelled(&rule.action())?, rule.errno_ret())?;
        if act == default {
            continue;
        }
        let mut cmps = Vec::new();
        for a in rule.args().iter().flatten() {
            let op = spelled(&a.op())?;
            let op: ScmpCompareOp = if op == "SCMP_CMP_MASKED_EQ" {
                ScmpCompareOp::MaskedEqual(a.value())
            } else {
                op.parse().map_err(err)?
            };
            let datum = match op {
                ScmpCompareOp::MaskedEqual(_) => a.value_two().unwrap_or(0),
                _ => a.value(),
            };
            cmps.push(ScmpArgCompare::new(a.index() as u32, op, datum));
        }
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if cmps.is_empty() {
                ctx.add_rule(act, sc)
            } else {
                ctx.add_rule_conditional(act, sc, &cmps)
            };
            // A rule libseccomp cannot express on some architecture is skipped,
            // as runc and crun skip it.
            let _ = added;
        }
    }
    let mut file = tempfile::tempfile().map_err(|e| err(format!("a scratch file: {e}")))?;
    ctx.export_bpf(&file).map_err(err)?;
    let mut out = Vec::new();
    file.rewind().map_err(|e| err(e.to_string()))?;
    file.read_to_end(&mut out).map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// The cached program of `filter` in `dir`, compiled and stored (atomically) on a miss.
pub fn cached(filter: &LinuxSeccomp, dir: &Path) -> Result<Vec<u8>, RuntimeError> {
    let key = serde_json::to_vec(filter).map_err(err)?;
    let digest = hex::encode(Sha256::digest(&key));
    let path: PathBuf = dir.join(format!("{digest}.bpf"));
    if let Ok(bytes) = std::fs::read(&path) {
        if !bytes.is_empty() && bytes.len() % 8 == 0 {
            return Ok(bytes);
        }
    }
    let bytes = compile(filter)?;
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io("creating", dir, e))?;
    // Unique per writer: threads of one process (parallel build stages, the API
    // server's requests) compile the same filter at once.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{digest}.{}.{seq}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| RuntimeError::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| RuntimeError::io("writing", &path, e))?;
    Ok(bytes)
}

/// The annotation value crun wants: the program in base64.
pub fn annotation_value(bpf: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bpf)
}

/// The program an annotation carries (the inverse of [`annotation_value`]).
pub fn annotation_bytes(text: &str) -> Result<Vec<u8>, RuntimeError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| err(format!("the {CRUN_BPF_ANNOTATION} annotation: {e}")))?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(err(format!(
            "the {CRUN_BPF_ANNOTATION} annotation is not a BPF program"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::Seccomp;

    #[test]
    fn compiles_and_caches_the_default_filter() {
        let caps: Vec<String> = crate::defaults::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect();
        let filter = Seccomp::Default
            .filter(&caps)
            .expect("the default profile (scripts/install-deps.sh installs containers-common)")
            .expect("a filter");
        let bpf = compile(&filter).unwrap();
        // A BPF program is a list of 8-byte instructions; Docker's allow-list is long.
        assert_eq!(bpf.len() % 8, 0);
        assert!(bpf.len() / 8 > 100, "only {} instructions", bpf.len() / 8);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cached(&filter, dir.path()).unwrap(), bpf);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(cached(&filter, dir.path()).unwrap(), bpf);
        // Another capability set is another program.
        let mut more = caps.clone();
        more.push("CAP_SYS_ADMIN".into());
        let other = Seccomp::Default.filter(&more).unwrap().unwrap();
        assert_ne!(cached(&other, dir.path()).unwrap(), bpf);
        assert!(!annotation_value(&bpf).is_empty());
        // Threads of one process caching the same filter at once all get it.
        let fresh = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| cached(&filter, fresh.path())))
                .collect();
            for h in handles {
                assert_eq!(h.join().unwrap().unwrap(), bpf);
            }
        });
        assert_eq!(std::fs::read_dir(fresh.path()).unwrap().count(), 1);
    }
}
