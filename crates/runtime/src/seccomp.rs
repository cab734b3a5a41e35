//! Seccomp filtering: profiles in Docker's JSON format (the shape of Docker's and
//! containers-common's `seccomp.json`, or already in the OCI spec's form) resolved
//! into the OCI spec's `linux.seccomp` for one container on this host, and the
//! `--security-opt` values that choose them.
//!
//! A Docker profile is conditional: entries apply only with some capabilities, on
//! some architectures or from some kernel version on. The OCI runtime knows none of
//! that, so the conditions are settled here, once, for the container's effective
//! capabilities, the host's architecture and the running kernel.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::RuntimeError;

/// Which seccomp filter a container gets (`--security-opt seccomp=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Seccomp {
    /// The first of [`DEFAULT_PROFILE_PATHS`] that exists, else [`BUILTIN_PROFILE`].
    #[default]
    Default,
    /// No filter at all (`seccomp=unconfined`).
    Unconfined,
    /// A profile file, in Docker's or the OCI spec's format.
    Profile(PathBuf),
}

/// Where [`Seccomp::Default`] looks for a profile, in order: an administrator's
/// choice for kujira, then the one containers-common ships for podman and buildah.
pub const DEFAULT_PROFILE_PATHS: &[&str] = &[
    "/etc/kujira/seccomp.json",
    "/usr/share/containers/seccomp.json",
];

/// The profile used when no file is installed: everything allowed but the calls a
/// default Docker container can't make, each lifted by the capability that Docker
/// lets make it (so `--cap-add` works as with Docker; `--privileged` is unconfined).
///
/// Unlike Docker's own profile it allows by default and lists the denials: a
/// hand-written allow list that missed a syscall some libc uses would break programs
/// in ways much harder to diagnose than a missed denial would weaken the filter.
pub const BUILTIN_PROFILE: &str = r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_PPC64LE", "subArchitectures": []},
    {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []}
  ],
  "syscalls": [
    {
      "comment": "The kernel keyring is not namespaced; the rest are obsolete interfaces with a history of bugs. Docker refuses them whatever the capabilities.",
      "names": ["add_key", "request_key", "keyctl", "nfsservctl", "vm86", "vm86old",
                "uselib", "sysfs", "_sysctl", "ustat", "create_module"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1
    },
    {
      "comment": "Rebooting or replacing the host's kernel.",
      "names": ["reboot", "kexec_load", "kexec_file_load"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_BOOT"]}
    },
    {
      "comment": "Loading code into the host's kernel.",
      "names": ["init_module", "finit_module", "delete_module"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_MODULE"]}
    },
    {
      "comment": "Mounting (old and new API), swap and quotas. unshare is allowed, so a process can hold CAP_SYS_ADMIN in a user namespace of its own; this keeps mount code out of its reach there too.",
      "names": ["mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount",
                "fspick", "move_mount", "open_tree", "swapon", "swapoff", "quotactl",
                "lookup_dcookie"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_ADMIN"]}
    },
    {
      "comment": "Kernel attack surface; CAP_BPF and CAP_PERFMON split these off CAP_SYS_ADMIN in Linux 5.8.",
      "names": ["bpf"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}
    },
    {
      "names": ["perf_event_open"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_PERFMON"]}
    },
    {
      "comment": "Process accounting writes host-wide records.",
      "names": ["acct"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_PACCT"]}
    },
    {
      "comment": "The clock is not namespaced.",
      "names": ["settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
                "clock_adjtime", "clock_adjtime64"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_TIME"]}
    },
    {
      "comment": "File handles reach files outside the container's root (the 'shocker' breakout).",
      "names": ["open_by_handle_at", "name_to_handle_at"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_DAC_READ_SEARCH"]}
    },
    {
      "comment": "Raw I/O port access.",
      "names": ["iopl", "ioperm"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_RAWIO"]}
    },
    {
      "comment": "Inspecting other processes' kernel state.",
      "names": ["kcmp", "userfaultfd"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_PTRACE"]}
    },
    {
      "comment": "Before Linux 4.8 ptrace could bypass seccomp; from 4.8 Docker allows these to everyone, so strace and gdb work in a default container.",
      "names": ["ptrace", "process_vm_readv", "process_vm_writev"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_PTRACE"], "minKernel": "4.8"}
    },
    {
      "comment": "NUMA placement affects other tenants of the host's memory.",
      "names": ["mbind", "set_mempolicy", "move_pages", "migrate_pages"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYS_NICE"]}
    },
    {
      "comment": "The kernel log is the host's.",
      "names": ["syslog"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "excludes": {"caps": ["CAP_SYSLOG"]}
    }
  ]
}"#;

impl Seccomp {
    /// The profile this names, or `None` for unconfined.
    pub fn profile(&self) -> Result<Option<Profile>, RuntimeError> {
        match self {
            Seccomp::Unconfined => Ok(None),
            Seccomp::Profile(path) => Profile::load(path).map(Some),
            Seccomp::Default => {
                default_profile(DEFAULT_PROFILE_PATHS.iter().map(Path::new)).map(Some)
            }
        }
    }

    /// The `linux.seccomp` section for a container with these effective
    /// capabilities on this host, or `None` for unconfined.
    pub fn filter(&self, caps: &[String]) -> Result<Option<LinuxSeccomp>, RuntimeError> {
        let Some(profile) = self.profile()? else {
            return Ok(None);
        };
        Ok(Some(profile.resolve(&Target::host(caps)?)))
    }
}

fn default_profile<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Profile, RuntimeError> {
    for path in paths {
        // A file that is there but unreadable or broken is an error: falling back to
        // another profile would silently change what containers may do.
        match path.try_exists() {
            Ok(true) => return Profile::load(path),
            Ok(false) => {}
            Err(e) => return Err(RuntimeError::io("looking for the seccomp profile", path, e)),
        }
    }
    Profile::builtin()
}

/// A kernel version, `major.minor[.patch]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    /// A kernel release as uname gives it (`6.1.0-18-amd64`): the version is its
    /// leading `major.minor[.patch]`, whatever the distribution appends.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let end = release
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(release.len());
        Self::parse(release[..end].trim_end_matches('.'))
    }

    /// Exactly `major.minor[.patch]`, as a profile's `minKernel` gives it.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut parts = s.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = match parts.next() {
            None => 0,
            Some(p) => p?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a profile is resolved for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The machine as uname names it (`x86_64`, `aarch64`, …).
    pub machine: String,
    pub kernel: KernelVersion,
    /// The container's effective capabilities (`CAP_SYS_ADMIN`, …).
    pub caps: Vec<String>,
}

impl Target {
    /// This host, for a container with these capabilities.
    pub fn host(caps: &[String]) -> Result<Target, RuntimeError> {
        let (release, machine) = uname()?;
        let kernel = KernelVersion::from_release(&release).ok_or_else(|| {
            RuntimeError::Spec(format!(
                "resolving the seccomp profile: unrecognised kernel release {release:?}"
            ))
        })?;
        Ok(Target {
            machine,
            kernel,
            caps: caps.to_vec(),
        })
    }
}

/// The kernel's release and machine names.
fn uname() -> Result<(String, String), RuntimeError> {
    // SAFETY: utsname is plain character arrays, valid zeroed; uname only writes them.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(RuntimeError::Spec(format!(
            "resolving the seccomp profile: uname: {}",
            std::io::Error::last_os_error()
        )));
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok((field(&u.release), field(&u.machine)))
}

/// An architecture as the host, the OCI spec and profiles' `arches` name it.
struct ArchInfo {
    /// uname's names for it.
    machines: &'static [&'static str],
    scmp: Arch,
    /// The names `includes.arches` / `excludes.arches` use: Go's GOARCH, as Docker
    /// matches them, and the kernel's name, as people write them.
    names: &'static [&'static str],
}

const ARCHES: &[ArchInfo] = &[
    ArchInfo {
        machines: &["x86_64", "amd64"],
        scmp: Arch::ScmpArchX86_64,
        names: &["amd64", "x86_64"],
    },
    ArchInfo {
        machines: &["aarch64", "arm64"],
        scmp: Arch::ScmpArchAarch64,
        names: &["arm64", "aarch64"],
    },
    ArchInfo {
        machines: &["armv6l", "armv7l", "armv8l", "arm"],
        scmp: Arch::ScmpArchArm,
        names: &["arm"],
    },
    ArchInfo {
        machines: &["i386", "i486", "i586", "i686"],
        scmp: Arch::ScmpArchX86,
        names: &["386", "x86"],
    },
    ArchInfo {
        machines: &["ppc64le"],
        scmp: Arch::ScmpArchPpc64le,
        names: &["ppc64le"],
    },
    ArchInfo {
        machines: &["s390x"],
        scmp: Arch::ScmpArchS390x,
        names: &["s390x"],
    },
    ArchInfo {
        machines: &["riscv64"],
        scmp: Arch::ScmpArchRiscv64,
        names: &["riscv64"],
    },
    ArchInfo {
        machines: &["loongarch64"],
        scmp: Arch::ScmpArchLoongarch64,
        names: &["loong64", "loongarch64"],
    },
];

fn arch_info(machine: &str) -> Option<&'static ArchInfo> {
    ARCHES.iter().find(|a| a.machines.contains(&machine))
}

/// A parsed and checked seccomp profile, not yet resolved for a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    default_action: LinuxSeccompAction,
    default_errno_ret: Option<u32>,
    /// Docker's form: each native architecture with the ones it can also run.
    arch_map: Vec<(Arch, Vec<Arch>)>,
    /// The OCI form: the architectures, as they are.
    architectures: Vec<Arch>,
    flags: Vec<LinuxSeccompFilterFlag>,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq)]
struct Rule {
    names: Vec<String>,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    args: Vec<LinuxSeccompArg>,
    includes: Condition,
    excludes: Condition,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Condition {
    /// Normalised `CAP_…` names.
    caps: Vec<String>,
    /// Lower-case architecture names.
    arches: Vec<String>,
    min_kernel: Option<KernelVersion>,
}

// The file's shape. Docker's extra fields (`comment`, `errno`, `defaultErrno`) are
// documentation and ignored; actions, operators and the like stay strings here so a
// bad one is reported with the entry it is in, not as a serde position.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: String,
    default_errno_ret: Option<u32>,
    arch_map: Option<Vec<RawArchMap>>,
    architectures: Option<Vec<String>>,
    flags: Option<Vec<String>>,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
    syscalls: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    names: Option<Vec<String>>,
    /// Docker's profiles before 1.12 named one syscall per entry.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<RawArg>>,
    includes: Option<RawCondition>,
    excludes: Option<RawCondition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCondition {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

const ACTIONS: &str = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, \
     SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG, SCMP_ACT_NOTIFY";

/// The oci-spec value serde would read from this string, if any: checking with the
/// same names the spec is later deserialised with keeps the two from disagreeing.
fn oci_name<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn normalise_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

impl Profile {
    /// The built-in profile ([`BUILTIN_PROFILE`]).
    pub fn builtin() -> Result<Profile, RuntimeError> {
        Profile::parse(BUILTIN_PROFILE, "(built-in)")
    }

    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Profile, RuntimeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RuntimeError::io("reading the seccomp profile", path, e))?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// Parses a profile; `origin` (its path) only names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, RuntimeError> {
        let bad = |reason: String| RuntimeError::SeccompProfile {
            origin: origin.to_string(),
            reason,
        };
        let raw: RawProfile =
            serde_json::from_str(text).map_err(|e| bad(format!("not a seccomp profile: {e}")))?;
        let action = |name: &str, place: &str| {
            oci_name::<LinuxSeccompAction>(name).ok_or_else(|| {
                bad(format!(
                    "{place}: unknown action {name:?} (expected one of {ACTIONS})"
                ))
            })
        };
        let arch = |name: &str, place: &str| {
            oci_name::<Arch>(name)
                .ok_or_else(|| bad(format!("{place}: unknown architecture {name:?}")))
        };

        let default_action = action(&raw.default_action, "defaultAction")?;
        let arch_map = raw
            .arch_map
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let main = arch(&m.architecture, "archMap")?;
                let subs = m
                    .sub_architectures
                    .iter()
                    .flatten()
                    .map(|s| arch(s, "archMap"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((main, subs))
            })
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        let architectures = raw
            .architectures
            .unwrap_or_default()
            .iter()
            .map(|a| arch(a, "architectures"))
            .collect::<Result<Vec<_>, _>>()?;
        if !arch_map.is_empty() && !architectures.is_empty() {
            return Err(bad(
                "give either archMap (Docker's form) or architectures (the OCI form), not both"
                    .into(),
            ));
        }
        let flags = raw
            .flags
            .unwrap_or_default()
            .iter()
            .map(|f| oci_name(f).ok_or_else(|| bad(format!("flags: unknown flag {f:?}"))))
            .collect::<Result<Vec<_>, _>>()?;

        let mut rules = Vec::new();
        for (i, r) in raw.syscalls.unwrap_or_default().into_iter().enumerate() {
            let names: Vec<String> = r.names.into_iter().flatten().chain(r.name).collect();
            let place = describe_entry(i, &names);
            let args = r
                .args
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    if a.index > 5 {
                        return Err(bad(format!(
                            "{place}: argument index {} is out of range (syscalls have 6 arguments, 0-5)",
                            a.index
                        )));
                    }
                    let op: LinuxSeccompOperator = oci_name(&a.op).ok_or_else(|| {
                        bad(format!("{place}: unknown argument operator {:?}", a.op))
                    })?;
                    let mut arg = LinuxSeccompArgBuilder::default()
                        .index(a.index)
                        .value(a.value)
                        .op(op);
                    if let Some(two) = a.value_two {
                        arg = arg.value_two(two);
                    }
                    arg.build().map_err(|e| bad(format!("{place}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let condition =
                |c: Option<RawCondition>, what: &str| -> Result<Condition, RuntimeError> {
                    let Some(c) = c else {
                        return Ok(Condition::default());
                    };
                    let min_kernel = match c.min_kernel.as_deref().map(str::trim) {
                        None | Some("") => None,
                        Some(k) => Some(KernelVersion::parse(k).ok_or_else(|| {
                            bad(format!(
                            "{place}: {what}.minKernel {k:?} is not a kernel version like \"4.8\""
                        ))
                        })?),
                    };
                    Ok(Condition {
                        caps: c.caps.iter().flatten().map(|c| normalise_cap(c)).collect(),
                        arches: c
                            .arches
                            .iter()
                            .flatten()
                            .map(|a| a.trim().to_ascii_lowercase())
                            .collect(),
                        min_kernel,
                    })
                };
            rules.push(Rule {
                action: action(&r.action, &place)?,
                errno_ret: r.errno_ret,
                args,
                includes: condition(r.includes, "includes")?,
                excludes: condition(r.excludes, "excludes")?,
                names,
            });
        }

        Ok(Profile {
            default_action,
            default_errno_ret: raw.default_errno_ret,
            arch_map,
            architectures,
            flags,
            listener_path: raw.listener_path,
            listener_metadata: raw.listener_metadata,
            rules,
        })
    }

    /// The filter for one container: only the entries whose conditions it meets,
    /// and the architectures this host runs. Beyond Docker's conditions, an
    /// `excludes.minKernel` drops its entry from that kernel on: how the built-in
    /// profile says "denied only on kernels where it was dangerous".
    pub fn resolve(&self, target: &Target) -> LinuxSeccomp {
        let host = arch_info(&target.machine);
        let caps: Vec<String> = target.caps.iter().map(|c| normalise_cap(c)).collect();
        let arch_names: &[&str] = host.map_or(&[], |h| h.names);
        let has_cap = |c: &String| caps.contains(c);
        let on_arch = |a: &String| arch_names.contains(&a.as_str());
        let reached = |k: &Option<KernelVersion>| k.is_some_and(|k| target.kernel >= k);

        let applies = |r: &Rule| {
            let inc = &r.includes;
            let exc = &r.excludes;
            // Includes must all hold; any one exclusion drops the entry.
            inc.caps.iter().all(has_cap)
                && (inc.arches.is_empty() || inc.arches.iter().any(on_arch))
                && (inc.min_kernel.is_none() || reached(&inc.min_kernel))
                && !exc.caps.iter().any(has_cap)
                && !exc.arches.iter().any(on_arch)
                && !reached(&exc.min_kernel)
        };

        let mut architectures: Vec<Arch> = Vec::new();
        let wanted: Vec<Arch> = if self.arch_map.is_empty() {
            self.architectures.clone()
        } else {
            // No entry for this host leaves the list empty, which the runtime reads
            // as the native architecture alone.
            self.arch_map
                .iter()
                .filter(|(main, _)| host.is_some_and(|h| h.scmp == *main))
                .flat_map(|(main, subs)| std::iter::once(*main).chain(subs.iter().copied()))
                .collect()
        };
        for a in wanted {
            if !architectures.contains(&a) {
                architectures.push(a);
            }
        }

        let syscalls: Vec<LinuxSyscall> = self
            .rules
            .iter()
            .filter(|r| !r.names.is_empty() && applies(r))
            .map(|r| {
                let mut s = LinuxSyscall::default();
                s.set_names(r.names.clone());
                s.set_action(r.action);
                s.set_errno_ret(r.errno_ret);
                s.set_args((!r.args.is_empty()).then(|| r.args.clone()));
                s
            })
            .collect();

        let mut out = LinuxSeccomp::default();
        out.set_default_action(self.default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!architectures.is_empty()).then_some(architectures));
        out.set_flags((!self.flags.is_empty()).then(|| self.flags.clone()));
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
        out
    }
}

/// `syscalls entry 3 (mount, umount2, …)`, to point at an entry in a long file.
fn describe_entry(index: usize, names: &[String]) -> String {
    let mut shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        shown.push_str(", …");
    }
    format!("syscalls entry {index} ({shown})")
}

/// One `--security-opt` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityOpt {
    Seccomp(Seccomp),
    NoNewPrivileges(bool),
    /// `apparmor=PROFILE`: accepted so Docker command lines work; kujira applies
    /// no AppArmor profile.
    AppArmor(String),
    /// `label=…` (SELinux): accepted and ignored likewise.
    Label(String),
}

/// Parses one `--security-opt` value: `seccomp=unconfined|builtin|PATH`,
/// `no-new-privileges[=BOOL]`, `apparmor=…`, `label=…`, each also with Docker's
/// older `:` instead of `=`.
pub fn parse_security_opt(s: &str) -> Result<SecurityOpt, RuntimeError> {
    let err = |reason: &str| RuntimeError::InvalidSecurityOpt {
        value: s.to_string(),
        reason: reason.to_string(),
    };
    // The first separator ends the key, so values may contain the other one:
    // `label=user:USER`, `seccomp:/profiles/a=b.json`.
    let (key, value) = match s.find(['=', ':']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    match (key, value) {
        ("no-new-privileges", None) => Ok(SecurityOpt::NoNewPrivileges(true)),
        ("no-new-privileges", Some(v)) => parse_bool(v)
            .map(SecurityOpt::NoNewPrivileges)
            .ok_or_else(|| err("no-new-privileges takes true or false")),
        ("seccomp", Some("unconfined")) => Ok(SecurityOpt::Seccomp(Seccomp::Unconfined)),
        // Docker's name for its default profile, to override a configured one.
        ("seccomp", Some("builtin")) => Ok(SecurityOpt::Seccomp(Seccomp::Default)),
        ("seccomp", Some(v)) if !v.is_empty() => {
            Ok(SecurityOpt::Seccomp(Seccomp::Profile(PathBuf::from(v))))
        }
        ("seccomp", _) => Err(err("seccomp takes \"unconfined\" or the path of a profile")),
        ("apparmor", Some(v)) if !v.is_empty() => Ok(SecurityOpt::AppArmor(v.to_string())),
        ("label", Some(v)) if !v.is_empty() => Ok(SecurityOpt::Label(v.to_string())),
        ("apparmor" | "label", _) => Err(err("a value is required")),
        _ => Err(err(
            "expected seccomp=…, no-new-privileges[=true|false], apparmor=… or label=…",
        )),
    }
}

/// Go's strconv.ParseBool, which Docker parses these flags with.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::DEFAULT_CAPS;
    use LinuxSeccompAction::{ScmpActAllow as Allow, ScmpActErrno as Errno};

    const CONTAINERS_COMMON: &str = "/usr/share/containers/seccomp.json";

    fn containers_common() -> Profile {
        assert!(
            Path::new(CONTAINERS_COMMON).exists(),
            "{CONTAINERS_COMMON} is missing: run scripts/install-deps.sh \
             (package golang-github-containers-common, which skopeo depends on)"
        );
        Profile::load(Path::new(CONTAINERS_COMMON)).unwrap()
    }

    fn kernel(s: &str) -> KernelVersion {
        KernelVersion::parse(s).unwrap()
    }

    /// Docker's default capabilities plus `add`, on `machine` with Linux `k`.
    fn target(machine: &str, k: &str, add: &[&str]) -> Target {
        Target {
            machine: machine.into(),
            kernel: kernel(k),
            caps: DEFAULT_CAPS
                .iter()
                .chain(add)
                .map(|c| c.to_string())
                .collect(),
        }
    }

    fn x86_64(add: &[&str]) -> Target {
        target("x86_64", "6.1", add)
    }

    /// What the filter does to a call of `name` that no argument condition picks
    /// out: the action of the unconditional entries naming it, else the default.
    fn verdict(f: &LinuxSeccomp, name: &str) -> LinuxSeccompAction {
        let actions: Vec<LinuxSeccompAction> = f
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.names().iter().any(|n| n == name))
            .filter(|s| s.args().as_ref().is_none_or(|a| a.is_empty()))
            .map(|s| s.action())
            .collect();
        match actions.split_first() {
            None => f.default_action(),
            Some((first, rest)) => {
                assert!(
                    rest.iter().all(|a| a == first),
                    "{name}: conflicting rules {actions:?}"
                );
                *first
            }
        }
    }

    fn allows(f: &LinuxSeccomp, name: &str) -> bool {
        verdict(f, name) == Allow
    }

    fn rules_for<'a>(f: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        f.syscalls()
            .iter()
            .flatten()
            .filter(|s| s.names().iter().any(|n| n == name))
            .collect()
    }

    fn parse(text: &str) -> Result<Profile, RuntimeError> {
        Profile::parse(text, "test.json")
    }

    fn reason(r: Result<Profile, RuntimeError>) -> String {
        match r {
            Err(RuntimeError::SeccompProfile { origin, reason }) => {
                assert_eq!(origin, "test.json");
                reason
            }
            other => panic!("expected a profile error, got {other:?}"),
        }
    }

    #[test]
    fn containers_common_for_default_caps() {
        let f = containers_common().resolve(&x86_64(&[]));
        assert_eq!(f.default_action(), Errno);
        assert_eq!(f.default_errno_ret(), Some(38));
        assert_eq!(
            f.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        for name in ["read", "write", "execve", "clone", "arch_prctl", "socket"] {
            assert!(allows(&f, name), "{name}");
        }
        for name in [
            "kexec_load",
            "init_module",
            "finit_module",
            "bpf",
            "vhangup",
            "iopl",
        ] {
            assert!(!allows(&f, name), "{name}");
        }
        let kexec = rules_for(&f, "kexec_load");
        assert_eq!(kexec.len(), 1);
        assert_eq!(kexec[0].errno_ret(), Some(1));
        // Unlike Docker's profile (and the built-in one), containers-common does not
        // filter mount at all: it leaves it to the kernel's own CAP_SYS_ADMIN check.
        assert!(allows(&f, "mount"));
        // Arm-only calls are not in an x86_64 filter at all.
        assert!(rules_for(&f, "breakpoint").is_empty());
    }

    #[test]
    fn containers_common_capabilities_lift_denials() {
        let p = containers_common();
        let admin = p.resolve(&x86_64(&["CAP_SYS_ADMIN"]));
        assert!(allows(&admin, "bpf"));
        assert!(allows(&admin, "mount"));
        assert!(!allows(&admin, "init_module"));
        let module = p.resolve(&x86_64(&["CAP_SYS_MODULE"]));
        assert!(allows(&module, "init_module"));
        assert!(!allows(&module, "bpf"));
        // Lower-case and unprefixed capability names are the same capabilities.
        assert_eq!(p.resolve(&x86_64(&["sys_admin"])), admin);
    }

    #[test]
    fn argument_conditions_are_kept() {
        // Without CAP_AUDIT_WRITE only audit netlink sockets are refused, by two
        // argument-matching rules that must reach the spec intact.
        let mut t = x86_64(&[]);
        t.caps.retain(|c| c != "CAP_AUDIT_WRITE");
        let f = containers_common().resolve(&t);
        let socket = rules_for(&f, "socket");
        assert!(!socket.is_empty());
        assert!(socket.iter().all(|s| s.args().is_some()), "{socket:?}");
        let deny = socket
            .iter()
            .find(|s| s.action() == Errno)
            .expect("a socket ERRNO rule");
        assert_eq!(deny.errno_ret(), Some(22));
        let args = deny.args().clone().unwrap_or_default();
        assert_eq!(args.len(), 2);
        assert_eq!(args[0].index(), 0);
        assert_eq!(args[0].value(), 16);
        assert_eq!(args[0].value_two(), Some(0));
        assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpEq);
        assert_eq!(args[1].index(), 2);
        assert_eq!(args[1].value(), 9);

        // With it, the unconditional allow alone is left.
        let f = containers_common().resolve(&x86_64(&[]));
        let socket = rules_for(&f, "socket");
        assert_eq!(socket.len(), 1);
        assert!(socket[0].args().is_none());
    }

    #[test]
    fn arch_filtering() {
        let p = containers_common();
        let arm = p.resolve(&target("aarch64", "6.1", &[]));
        assert_eq!(
            arm.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
        assert!(allows(&arm, "breakpoint"));
        assert!(allows(&arm, "cacheflush"));
        assert!(!allows(&arm, "arch_prctl"));
        assert!(!allows(&arm, "modify_ldt"));
        let x86 = p.resolve(&x86_64(&[]));
        assert!(!allows(&x86, "breakpoint"));
        assert!(allows(&x86, "modify_ldt"));

        // A host the archMap doesn't list gets no architectures (the runtime's
        // native one) and none of the arch-specific entries.
        let other = p.resolve(&target("riscv64", "6.1", &[]));
        assert_eq!(other.architectures(), &None);
        assert!(!allows(&other, "arch_prctl"));
        assert!(allows(&other, "read"));

        let excl = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
                {"names": ["b"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["x86_64"]}}
            ]}"#,
        )
        .unwrap();
        let f = excl.resolve(&x86_64(&[]));
        assert!(allows(&f, "a"));
        assert!(!allows(&f, "b"));
        let f = excl.resolve(&target("aarch64", "6.1", &[]));
        assert!(!allows(&f, "a"));
        assert!(allows(&f, "b"));
    }

    #[test]
    fn min_kernel() {
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}},
                {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.8"}},
                {"names": ["patch"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10.3"}}
            ]}"#,
        )
        .unwrap();
        for (k, new, old, patch) in [
            ("5.4", false, true, false),
            ("5.8", true, false, false),
            ("5.10.2", true, false, false),
            ("5.10.3", true, false, true),
            ("6.1", true, false, true),
        ] {
            let f = p.resolve(&target("x86_64", k, &[]));
            assert_eq!(allows(&f, "new"), new, "new on {k}");
            assert_eq!(allows(&f, "old"), old, "old on {k}");
            assert_eq!(allows(&f, "patch"), patch, "patch on {k}");
        }
    }

    #[test]
    fn kernel_versions() {
        for (release, want) in [
            ("6.18.44-fc-v669", (6, 18, 44)),
            ("6.1.0-18-amd64", (6, 1, 0)),
            ("5.15.0", (5, 15, 0)),
            ("4.8", (4, 8, 0)),
            ("5.4.0.", (5, 4, 0)),
            ("6.9+rc1", (6, 9, 0)),
        ] {
            let v = KernelVersion::from_release(release).unwrap();
            assert_eq!((v.major, v.minor, v.patch), want, "{release}");
        }
        for bad in ["", "6", "x.1", "6.1.2.3", "-1.2"] {
            assert!(KernelVersion::from_release(bad).is_none(), "{bad}");
        }
        for bad in ["4.8-rc1", "4", "four.eight", "4.8.1.1", "4..8"] {
            assert!(KernelVersion::parse(bad).is_none(), "{bad}");
        }
        assert!(kernel("4.8") < kernel("4.10"));
        assert!(kernel("4.8.0") == kernel("4.8"));
    }

    #[test]
    fn builtin_profile() {
        let p = Profile::builtin().unwrap();
        let f = p.resolve(&x86_64(&[]));
        assert_eq!(f.default_action(), Allow);
        assert_eq!(
            f.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        for name in [
            "read",
            "write",
            "clone",
            "unshare",
            "setns",
            "personality",
            "ptrace",
        ] {
            assert!(allows(&f, name), "{name}");
        }
        for name in [
            "mount",
            "umount2",
            "pivot_root",
            "fsopen",
            "open_tree",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "reboot",
            "swapon",
            "acct",
            "settimeofday",
            "clock_settime",
            "keyctl",
            "add_key",
            "bpf",
            "perf_event_open",
            "open_by_handle_at",
            "userfaultfd",
            "iopl",
            "kcmp",
            "syslog",
            "mbind",
            "_sysctl",
        ] {
            assert_eq!(verdict(&f, name), Errno, "{name}");
            for rule in rules_for(&f, name) {
                assert_eq!(rule.errno_ret(), Some(1), "{name} is EPERM");
            }
        }
    }

    #[test]
    fn builtin_capabilities_lift_denials() {
        let p = Profile::builtin().unwrap();
        for (cap, calls) in [
            (
                "CAP_SYS_ADMIN",
                &["mount", "umount2", "pivot_root", "fsmount", "bpf"][..],
            ),
            (
                "CAP_SYS_MODULE",
                &["init_module", "finit_module", "delete_module"],
            ),
            ("CAP_SYS_BOOT", &["reboot", "kexec_load"]),
            (
                "CAP_SYS_TIME",
                &["settimeofday", "clock_settime", "adjtimex"],
            ),
            ("CAP_SYS_PTRACE", &["kcmp", "userfaultfd"]),
            ("CAP_BPF", &["bpf"]),
            ("CAP_PERFMON", &["perf_event_open"]),
            ("CAP_SYSLOG", &["syslog"]),
        ] {
            let f = p.resolve(&x86_64(&[cap]));
            for call in calls {
                assert!(allows(&f, call), "{call} with {cap}");
            }
        }
        let admin = p.resolve(&x86_64(&["CAP_SYS_ADMIN"]));
        assert!(!allows(&admin, "init_module"));
        // The keyring is refused whatever the capabilities.
        let all = p.resolve(&x86_64(crate::caps::ALL_CAPS));
        assert!(!allows(&all, "keyctl"));
        assert!(allows(&all, "mount"));
    }

    #[test]
    fn builtin_ptrace_depends_on_the_kernel() {
        let p = Profile::builtin().unwrap();
        assert!(!allows(&p.resolve(&target("x86_64", "4.4", &[])), "ptrace"));
        assert!(!allows(
            &p.resolve(&target("x86_64", "4.4", &[])),
            "process_vm_readv"
        ));
        assert!(allows(
            &p.resolve(&target("x86_64", "4.4", &["CAP_SYS_PTRACE"])),
            "ptrace"
        ));
        assert!(allows(&p.resolve(&target("x86_64", "4.8", &[])), "ptrace"));
    }

    #[test]
    fn oci_form_and_extras() {
        let p = parse(
            r#"{
                "defaultAction": "SCMP_ACT_KILL_PROCESS",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "listenerPath": "/run/agent.sock",
                "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
                    {"name": "getpid", "action": "SCMP_ACT_LOG"},
                    {"names": [], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_MASKED_EQ"}]}
                ]
            }"#,
        )
        .unwrap();
        // The architectures are the profile's, whatever the host.
        let f = p.resolve(&target("aarch64", "6.1", &[]));
        assert_eq!(f.default_action(), LinuxSeccompAction::ScmpActKillProcess);
        assert_eq!(f.default_errno_ret(), Some(1));
        assert_eq!(
            f.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..])
        );
        assert_eq!(
            f.flags().as_deref(),
            Some(&[LinuxSeccompFilterFlag::SeccompFilterFlagLog][..])
        );
        assert_eq!(
            f.listener_path().as_deref(),
            Some(Path::new("/run/agent.sock"))
        );
        let calls = f.syscalls().clone().unwrap_or_default();
        // The entry without names is gone.
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert_eq!(calls[1].errno_ret(), Some(7));
        assert_eq!(calls[2].names(), &["getpid".to_string()]);
        let args = calls[3].args().clone().unwrap_or_default();
        assert_eq!(args[0].value_two(), None);
        assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);

        // What it resolves to is what the spec reads back.
        let text = serde_json::to_string(&f).unwrap();
        let back: LinuxSeccomp = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn entries_that_end_up_empty_are_dropped() {
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["x"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}}
            ]}"#,
        )
        .unwrap();
        let f = p.resolve(&x86_64(&["CAP_SYS_ADMIN"]));
        assert_eq!(f.syscalls(), &None);
        let f = p.resolve(&x86_64(&["CAP_SYS_ADMIN", "CAP_BPF"]));
        assert_eq!(f.syscalls().as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn bad_profiles() {
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [}"#,
        ));
        assert!(
            r.starts_with("not a seccomp profile:") && r.contains("line 1"),
            "{r}"
        );
        let r = reason(parse("[]"));
        assert!(r.starts_with("not a seccomp profile:"), "{r}");
        let r = reason(parse(r#"{"syscalls": []}"#));
        assert!(r.contains("defaultAction"), "{r}");

        let r = reason(parse(r#"{"defaultAction": "SCMP_ACT_PERMIT"}"#));
        assert!(
            r.contains("defaultAction: unknown action \"SCMP_ACT_PERMIT\"")
                && r.contains("SCMP_ACT_ALLOW"),
            "{r}"
        );
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mount", "umount", "umount2", "pivot_root"], "action": "deny"}
            ]}"#,
        ));
        assert!(
            r.contains("syscalls entry 1 (mount, umount, umount2, …): unknown action \"deny\""),
            "{r}"
        );
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
        ));
        assert!(
            r.contains("unknown argument operator \"SCMP_CMP_ABOUT\""),
            "{r}"
        );
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        ));
        assert!(r.contains("argument index 6"), "{r}");
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_VAX"}]}"#,
        ));
        assert!(r.contains("unknown architecture \"SCMP_ARCH_VAX\""), "{r}");
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"],
                "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}"#,
        ));
        assert!(r.contains("includes.minKernel \"four\""), "{r}");
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
        ));
        assert!(r.contains("not both"), "{r}");
        let r = reason(parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["FAST"]}"#,
        ));
        assert!(r.contains("unknown flag \"FAST\""), "{r}");

        let missing = Profile::load(Path::new("/nonexistent/seccomp.json"));
        assert!(
            matches!(&missing, Err(RuntimeError::Io { context, .. }) if context.contains("seccomp")),
            "{missing:?}"
        );
        let msg = missing.unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/seccomp.json"), "{msg}");
    }

    #[test]
    fn default_source_is_the_first_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let present = dir.path().join("present.json");
        std::fs::write(&present, r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap();
        let p = default_profile([missing.as_path(), present.as_path()]).unwrap();
        assert_eq!(p.default_action, LinuxSeccompAction::ScmpActLog);
        let p = default_profile([missing.as_path()]).unwrap();
        assert_eq!(p, Profile::builtin().unwrap());

        // A broken file is not skipped in favour of the next.
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{").unwrap();
        let r = default_profile([broken.as_path(), present.as_path()]);
        assert!(
            matches!(r, Err(RuntimeError::SeccompProfile { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn sources() {
        assert_eq!(Seccomp::Unconfined.filter(&[]).unwrap(), None);
        assert!(Seccomp::Default.filter(&[]).unwrap().is_some());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap();
        let f = Seccomp::Profile(path).filter(&[]).unwrap().unwrap();
        assert_eq!(f.default_action(), LinuxSeccompAction::ScmpActLog);
    }

    #[test]
    fn host_target() {
        let t = Target::host(&["CAP_KILL".to_string()]).unwrap();
        assert!(t.kernel >= kernel("3.10"), "{t:?}");
        assert!(!t.machine.is_empty());
        assert_eq!(t.caps, vec!["CAP_KILL".to_string()]);
    }

    #[test]
    fn security_opts() {
        use SecurityOpt::*;
        for (input, want) in [
            ("seccomp=unconfined", Seccomp(super::Seccomp::Unconfined)),
            ("seccomp:unconfined", Seccomp(super::Seccomp::Unconfined)),
            ("seccomp=builtin", Seccomp(super::Seccomp::Default)),
            (
                "seccomp=/etc/p.json",
                Seccomp(super::Seccomp::Profile("/etc/p.json".into())),
            ),
            (
                "seccomp:/p/a=b:c.json",
                Seccomp(super::Seccomp::Profile("/p/a=b:c.json".into())),
            ),
            (
                "seccomp=rel/p.json",
                Seccomp(super::Seccomp::Profile("rel/p.json".into())),
            ),
            ("no-new-privileges", NoNewPrivileges(true)),
            ("no-new-privileges=true", NoNewPrivileges(true)),
            ("no-new-privileges:true", NoNewPrivileges(true)),
            ("no-new-privileges=false", NoNewPrivileges(false)),
            ("no-new-privileges:false", NoNewPrivileges(false)),
            ("no-new-privileges=1", NoNewPrivileges(true)),
            ("apparmor=unconfined", AppArmor("unconfined".into())),
            ("apparmor:docker-default", AppArmor("docker-default".into())),
            ("label=disable", Label("disable".into())),
            ("label=user:USER", Label("user:USER".into())),
            ("label:type:svirt_t", Label("type:svirt_t".into())),
        ] {
            assert_eq!(parse_security_opt(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "seccomp",
            "seccomp=",
            "no-new-privileges=maybe",
            "no-new-privileges=",
            "apparmor",
            "label=",
            "systempaths=unconfined",
            "bogus",
            "Seccomp=unconfined",
        ] {
            let err = parse_security_opt(bad).unwrap_err();
            assert!(
                matches!(&err, RuntimeError::InvalidSecurityOpt { value, .. } if value == bad),
                "{bad}: {err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("invalid --security-opt: {bad:?}: ")),
                "{msg}"
            );
        }
    }
}
