//! The container's setup, worked out from its spec before the fork: every path, flag,
//! string and number the child needs, so that the child itself only makes system
//! calls (it is forked from a multi-threaded monitor).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Mount, Spec};

use super::cgroups::{self, CgroupLayout};
use crate::{caps, seccomp_bpf, RuntimeError};

fn unsupported(what: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Spec(format!(
        "kujira's built-in runtime does not support {what}; choose another with --runtime crun"
    ))
}

fn cstr(s: impl AsRef<[u8]>) -> Result<CString, RuntimeError> {
    CString::new(s.as_ref()).map_err(|_| RuntimeError::Spec("a string contains a NUL byte".into()))
}

/// A path inside the rootfs, relative (no leading `/`), for `openat2(IN_ROOT)`.
fn inside(dest: &Path) -> Result<CString, RuntimeError> {
    let rel: PathBuf = dest
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    cstr(rel.as_os_str().as_bytes())
}

/// What a mount step mounts.
#[derive(Debug)]
pub(crate) enum MountKind {
    /// A filesystem by type (`proc`, `tmpfs`, `sysfs`, …).
    Fresh,
    /// A bind of a host path; `dir` says what to create as the mount point.
    Bind { dir: bool, recursive: bool },
    /// `/sys/fs/cgroup` on a v1 host: a tmpfs with each hierarchy mounted under it.
    CgroupV1(Vec<(CString, CString)>),
    /// `/sys/fs/cgroup` on a v2 host.
    CgroupV2,
}

#[derive(Debug)]
pub(crate) struct MountStep {
    pub kind: MountKind,
    pub source: CString,
    pub target: CString,
    pub fstype: CString,
    pub flags: libc::c_ulong,
    pub data: CString,
    /// `MS_PRIVATE`, `MS_SLAVE`, … (with `MS_REC`), applied after the mount.
    pub propagation: libc::c_ulong,
}

#[derive(Debug)]
pub(crate) struct Device {
    pub path: CString,
    pub mode: libc::mode_t,
    pub dev: libc::dev_t,
    pub uid: u32,
    pub gid: u32,
}

/// Capability sets as bit masks (bit n = capability n).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The process-level part shared by a container's init and `exec`.
#[derive(Debug)]
pub(crate) struct ProcessPlan {
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// Where to look for `argv[0]`: itself when it has a `/`, else in each `PATH` entry.
    pub candidates: Vec<CString>,
    pub cwd: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<libc::gid_t>,
    pub caps: CapSets,
    pub last_cap: u32,
    pub no_new_privileges: bool,
    pub rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit, String)>,
    /// The seccomp program (`struct sock_filter`s, 8 bytes each).
    pub seccomp: Option<Vec<u8>>,
}

#[derive(Debug)]
pub(crate) struct InitPlan {
    pub rootfs: CString,
    pub root_readonly: bool,
    /// `CLONE_NEW*` flags for `unshare`.
    pub namespaces: libc::c_int,
    pub hostname: Option<CString>,
    pub mounts: Vec<MountStep>,
    pub devices: Vec<Device>,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    /// `/proc/sys/...` files and the values written into them.
    pub sysctl: Vec<(CString, CString)>,
    pub oom_score_adj: Option<CString>,
    /// The propagation `/` gets in the new mount namespace (`MS_SLAVE | MS_REC`
    /// unless the spec says otherwise).
    pub root_propagation: libc::c_ulong,
    pub terminal: bool,
    pub console_socket: Option<CString>,
    pub process: ProcessPlan,
}

/// Default devices every container gets (runc's list).
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

impl InitPlan {
    pub fn from_spec(
        spec: &Spec,
        bundle: &Path,
        console_socket: Option<&Path>,
        seccomp_cache: &Path,
    ) -> Result<InitPlan, RuntimeError> {
        if spec.hooks().is_some() {
            return Err(unsupported("hooks"));
        }
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| RuntimeError::Spec("the spec has no root".into()))?;
        let rootfs = if root.path().is_absolute() {
            root.path().clone()
        } else {
            bundle.join(root.path())
        };
        let linux = spec
            .linux()
            .as_ref()
            .ok_or_else(|| RuntimeError::Spec("the spec has no linux section".into()))?;
        let mut namespaces = 0;
        for ns in linux.namespaces().iter().flatten() {
            if ns.path().is_some() {
                return Err(unsupported("joining an existing namespace"));
            }
            namespaces |= match ns.typ() {
                LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
                LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
                LinuxNamespaceType::Network => libc::CLONE_NEWNET,
                LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
                LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
                LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
                other => return Err(unsupported(format!("the {other:?} namespace"))),
            };
        }
        if namespaces & libc::CLONE_NEWNS == 0 {
            return Err(unsupported("a container without its own mount namespace"));
        }
        let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        if linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        {
            return Err(unsupported("user namespaces (uid/gid mappings)"));
        }
        if nonempty(linux.mount_label()) {
            return Err(unsupported("SELinux mount labels"));
        }
        if linux.intel_rdt().is_some() {
            return Err(unsupported("Intel RDT"));
        }
        if linux.personality().is_some() {
            return Err(unsupported("personality"));
        }
        let root_propagation = match linux.rootfs_propagation().as_deref() {
            None | Some("") => libc::MS_SLAVE | libc::MS_REC,
            Some(p) => PROPAGATION
                .iter()
                .find(|(n, _)| *n == p)
                .map(|(_, f)| *f)
                .ok_or_else(|| unsupported(format!("rootfsPropagation {p:?}")))?,
        };
        let mut sysctl = Vec::new();
        for (key, value) in linux.sysctl().iter().flatten() {
            if key.contains('/') || key.split('.').any(|c| c.is_empty() || c == "..") {
                return Err(RuntimeError::Spec(format!("invalid sysctl {key:?}")));
            }
            sysctl.push((
                cstr(format!("/proc/sys/{}", key.replace('.', "/")))?,
                cstr(value)?,
            ));
        }
        let layout = cgroups::layout();
        let mut mounts = Vec::new();
        for m in spec.mounts().iter().flatten() {
            mounts.push(mount_step(m, &layout)?);
        }
        let mut devices: Vec<Device> = DEFAULT_DEVICES
            .iter()
            .map(|(p, major, minor)| {
                Ok(Device {
                    path: cstr(p)?,
                    mode: libc::S_IFCHR | 0o666,
                    dev: libc::makedev(*major as u32, *minor as u32),
                    uid: 0,
                    gid: 0,
                })
            })
            .collect::<Result<_, RuntimeError>>()?;
        for d in linux.devices().iter().flatten() {
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
                LinuxDeviceType::B => libc::S_IFBLK,
                LinuxDeviceType::P => libc::S_IFIFO,
                LinuxDeviceType::A => continue,
            };
            let path = cstr(d.path().as_os_str().as_bytes())?;
            devices.retain(|x| x.path != path);
            devices.push(Device {
                path,
                mode: kind | (d.file_mode().unwrap_or(0o666) & 0o7777),
                dev: libc::makedev(d.major() as u32, d.minor() as u32),
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            });
        }
        let paths = |list: &Option<Vec<String>>| -> Result<Vec<CString>, RuntimeError> {
            list.iter().flatten().map(cstr).collect()
        };
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| RuntimeError::Spec("the spec has no process".into()))?;
        if nonempty(process.apparmor_profile()) {
            return Err(unsupported("AppArmor profiles"));
        }
        if nonempty(process.selinux_label()) {
            return Err(unsupported("SELinux labels"));
        }
        let seccomp = seccomp_program(spec, seccomp_cache)?;
        Ok(InitPlan {
            rootfs: cstr(rootfs.as_os_str().as_bytes())?,
            root_readonly: root.readonly().unwrap_or(false),
            namespaces,
            hostname: match spec.hostname() {
                Some(h) if namespaces & libc::CLONE_NEWUTS != 0 => Some(cstr(h)?),
                _ => None,
            },
            mounts,
            devices,
            masked: paths(linux.masked_paths())?,
            readonly: paths(linux.readonly_paths())?,
            sysctl,
            oom_score_adj: process
                .oom_score_adj()
                .map(|v| cstr(v.to_string()))
                .transpose()?,
            root_propagation,
            terminal: process.terminal().unwrap_or(false),
            console_socket: console_socket
                .map(|p| cstr(p.as_os_str().as_bytes()))
                .transpose()?,
            process: ProcessPlan::from_process(process, seccomp)?,
        })
    }
}

/// The spec's seccomp program: the ready one of its annotation, else its filter
/// compiled (once, cached in `cache`).
pub(crate) fn seccomp_program(spec: &Spec, cache: &Path) -> Result<Option<Vec<u8>>, RuntimeError> {
    let ready = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(seccomp_bpf::CRUN_BPF_ANNOTATION));
    if let Some(text) = ready {
        return seccomp_bpf::annotation_bytes(text).map(Some);
    }
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(filter) => seccomp_bpf::cached(filter, cache).map(Some),
        None => Ok(None),
    }
}

impl ProcessPlan {
    pub fn from_process(
        p: &oci_spec::runtime::Process,
        seccomp: Option<Vec<u8>>,
    ) -> Result<ProcessPlan, RuntimeError> {
        let args = p.args().clone().unwrap_or_default();
        let Some(program) = args.first() else {
            return Err(RuntimeError::NoCommand);
        };
        let env = p.env().clone().unwrap_or_default();
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(crate::defaults::DEFAULT_PATH);
        let candidates = if program.contains('/') {
            vec![cstr(program)?]
        } else {
            path.split(':')
                .filter(|d| !d.is_empty())
                .map(|d| cstr(format!("{}/{program}", d.trim_end_matches('/'))))
                .collect::<Result<_, _>>()?
        };
        let mask =
            |list: &Option<std::collections::HashSet<oci_spec::runtime::Capability>>| -> u64 {
                list.iter()
                    .flatten()
                    .filter_map(|c| {
                        let name = serde_json::to_value(c).ok()?;
                        let name = name.as_str()?;
                        caps::ALL_CAPS.iter().position(|x| *x == name)
                    })
                    .fold(0u64, |m, n| m | (1u64 << n))
            };
        let caps = p
            .capabilities()
            .as_ref()
            .map(|c| CapSets {
                bounding: mask(c.bounding()),
                effective: mask(c.effective()),
                permitted: mask(c.permitted()),
                inheritable: mask(c.inheritable()),
                ambient: mask(c.ambient()),
            })
            .unwrap_or_default();
        let mut rlimits = Vec::new();
        for r in p.rlimits().iter().flatten() {
            let name = serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let resource = crate::host::ULIMITS
                .iter()
                .find(|(_, n, _)| *n == name)
                .map(|(_, _, r)| *r)
                .ok_or_else(|| unsupported(format!("the rlimit {name}")))?;
            rlimits.push((
                resource,
                libc::rlimit {
                    rlim_cur: r.soft(),
                    rlim_max: r.hard(),
                },
                name,
            ));
        }
        let user = p.user();
        Ok(ProcessPlan {
            argv: args.iter().map(cstr).collect::<Result<_, _>>()?,
            envp: env.iter().map(cstr).collect::<Result<_, _>>()?,
            candidates,
            cwd: cstr(p.cwd().as_os_str().as_bytes())?,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            caps,
            last_cap: crate::HostFacts::last_cap(),
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            rlimits,
            seccomp,
        })
    }
}

/// Mount flags by option name: (set, clear).
const FLAGS: &[(&str, libc::c_ulong, bool)] = &[
    ("ro", libc::MS_RDONLY, true),
    ("rw", libc::MS_RDONLY, false),
    ("nosuid", libc::MS_NOSUID, true),
    ("suid", libc::MS_NOSUID, false),
    ("nodev", libc::MS_NODEV, true),
    ("dev", libc::MS_NODEV, false),
    ("noexec", libc::MS_NOEXEC, true),
    ("exec", libc::MS_NOEXEC, false),
    ("sync", libc::MS_SYNCHRONOUS, true),
    ("async", libc::MS_SYNCHRONOUS, false),
    ("dirsync", libc::MS_DIRSYNC, true),
    ("mand", libc::MS_MANDLOCK, true),
    ("nomand", libc::MS_MANDLOCK, false),
    ("noatime", libc::MS_NOATIME, true),
    ("atime", libc::MS_NOATIME, false),
    ("nodiratime", libc::MS_NODIRATIME, true),
    ("diratime", libc::MS_NODIRATIME, false),
    ("relatime", libc::MS_RELATIME, true),
    ("norelatime", libc::MS_RELATIME, false),
    ("strictatime", libc::MS_STRICTATIME, true),
    ("nostrictatime", libc::MS_STRICTATIME, false),
];

const PROPAGATION: &[(&str, libc::c_ulong)] = &[
    ("private", libc::MS_PRIVATE),
    ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
    ("shared", libc::MS_SHARED),
    ("rshared", libc::MS_SHARED | libc::MS_REC),
    ("slave", libc::MS_SLAVE),
    ("rslave", libc::MS_SLAVE | libc::MS_REC),
    ("unbindable", libc::MS_UNBINDABLE),
    ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
];

fn mount_step(m: &Mount, layout: &CgroupLayout) -> Result<MountStep, RuntimeError> {
    let mut flags: libc::c_ulong = 0;
    let mut propagation = 0;
    let mut data = Vec::new();
    let mut bind = None;
    for o in m.options().iter().flatten() {
        if let Some((_, f, set)) = FLAGS.iter().find(|(n, _, _)| n == o) {
            if *set {
                flags |= f;
            } else {
                flags &= !f;
            }
        } else if let Some((_, p)) = PROPAGATION.iter().find(|(n, _)| n == o) {
            propagation = *p;
        } else if o == "bind" || o == "rbind" {
            bind = Some(o == "rbind");
        } else if o == "tmpcopyup" || o == "copy-symlink" {
            // crun extensions kujira's specs never ask for.
            return Err(unsupported(format!("the mount option {o}")));
        } else {
            data.push(o.as_str());
        }
    }
    let fstype = m.typ().clone().unwrap_or_default();
    if fstype == "bind" && bind.is_none() {
        bind = Some(false);
    }
    let source = m
        .source()
        .as_ref()
        .map(|s| s.as_os_str().as_bytes().to_vec())
        .unwrap_or_default();
    let kind = if let Some(recursive) = bind {
        let dir = std::fs::metadata(std::ffi::OsStr::from_bytes(&source))
            .map_err(|e| {
                RuntimeError::io(
                    "bind-mounting",
                    PathBuf::from(std::ffi::OsStr::from_bytes(&source)),
                    e,
                )
            })?
            .is_dir();
        MountKind::Bind { dir, recursive }
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        match layout {
            CgroupLayout::V1(hierarchies) => MountKind::CgroupV1(
                hierarchies
                    .iter()
                    .map(|h| Ok((cstr(&h.name)?, cstr(&h.options)?)))
                    .collect::<Result<_, RuntimeError>>()?,
            ),
            CgroupLayout::V2 => MountKind::CgroupV2,
        }
    } else {
        MountKind::Fresh
    };
    Ok(MountStep {
        kind,
        source: cstr(source)?,
        target: inside(m.destination())?,
        fstype: cstr(fstype)?,
        flags,
        data: cstr(data.join(","))?,
        propagation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_become_flags_and_data() {
        let m: Mount = serde_json::from_value(serde_json::json!({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k", "ro"]
        }))
        .unwrap();
        let s = mount_step(&m, &CgroupLayout::V2).unwrap();
        assert_eq!(
            s.flags,
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY
        );
        assert_eq!(s.data.to_str().unwrap(), "mode=1777,size=65536k");
        assert_eq!(s.target.to_str().unwrap(), "dev/shm");
        assert!(matches!(s.kind, MountKind::Fresh));
    }

    fn spec(extra_linux: serde_json::Value, extra_process: serde_json::Value) -> Spec {
        let mut linux = serde_json::json!({"namespaces": [{"type": "mount"}, {"type": "uts"}]});
        let mut process = serde_json::json!({
            "args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/usr/bin:/bin"]
        });
        for (v, extra) in [(&mut linux, extra_linux), (&mut process, extra_process)] {
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
        }
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "h",
            "process": process, "linux": linux,
        }))
        .unwrap()
    }

    #[test]
    fn sysctls_oom_score_and_propagation() {
        let s = spec(
            serde_json::json!({"sysctl": {"net.ipv4.ip_forward": "1"}, "rootfsPropagation": "rprivate"}),
            serde_json::json!({"oomScoreAdj": 500}),
        );
        let plan =
            InitPlan::from_spec(&s, Path::new("/b"), None, Path::new("/nonexistent")).unwrap();
        assert_eq!(plan.rootfs.to_str().unwrap(), "/b/rootfs");
        assert_eq!(
            plan.sysctl,
            vec![(
                cstr("/proc/sys/net/ipv4/ip_forward").unwrap(),
                cstr("1").unwrap()
            )]
        );
        assert_eq!(plan.oom_score_adj, Some(cstr("500").unwrap()));
        assert_eq!(plan.root_propagation, libc::MS_PRIVATE | libc::MS_REC);
        assert_eq!(plan.namespaces, libc::CLONE_NEWNS | libc::CLONE_NEWUTS);
        assert_eq!(
            plan.process.candidates,
            vec![cstr("/usr/bin/sh").unwrap(), cstr("/bin/sh").unwrap()]
        );
        assert_eq!(plan.devices.len(), DEFAULT_DEVICES.len());
    }

    #[test]
    fn what_it_cannot_do_is_refused_by_name() {
        let refused = [
            spec(
                serde_json::json!({}),
                serde_json::json!({"apparmorProfile": "docker-default"}),
            ),
            spec(
                serde_json::json!({"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
                serde_json::json!({}),
            ),
            spec(
                serde_json::json!({"sysctl": {"../../x": "1"}}),
                serde_json::json!({}),
            ),
            spec(
                serde_json::json!({"namespaces": [{"type": "user"}, {"type": "mount"}]}),
                serde_json::json!({}),
            ),
        ];
        for s in refused {
            let e = InitPlan::from_spec(&s, Path::new("/b"), None, Path::new("/x")).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("--runtime crun") || text.contains("invalid sysctl"),
                "{text}"
            );
        }
    }

    #[test]
    fn binds_know_what_they_bind() {
        let m: Mount = serde_json::from_value(serde_json::json!({
            "destination": "/../x/./y", "type": "bind", "source": "/etc/hostname",
            "options": ["rbind", "rprivate", "ro"]
        }))
        .unwrap();
        let s = mount_step(&m, &CgroupLayout::V2).unwrap();
        assert!(matches!(
            s.kind,
            MountKind::Bind {
                dir: false,
                recursive: true
            }
        ));
        assert_eq!(s.target.to_str().unwrap(), "x/y");
        assert_eq!(s.propagation, libc::MS_PRIVATE | libc::MS_REC);
        assert_eq!(s.flags, libc::MS_RDONLY);
        let missing: Mount = serde_json::from_value(serde_json::json!({
            "destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]
        }))
        .unwrap();
        assert!(mount_step(&missing, &CgroupLayout::V2).is_err());
    }
}
