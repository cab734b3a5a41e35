//! Containers run by kujira's built-in runtime and by real OCI runtimes (runc and
//! crun) on the real kernel, from a busybox rootfs on an overlay, with specs from
//! `build_spec`. Needs root.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use kujira_runtime::{
    build_spec, Bundle, CgroupMode, ChildIo, Embedded, HostFacts, ImageRunConfig, OciRuntime,
    ProcessIo, RunOptions, Runtime,
};

const APPLETS: &[&str] = &[
    "sh", "echo", "true", "cat", "id", "hostname", "grep", "mkdir",
];

/// A busybox rootfs as an image's single layer.
fn busybox_layer(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    for d in ["etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nwww:x:33:\n").unwrap();
}

struct Container {
    tmp: tempfile::TempDir,
    runtime: Runtime,
    id: String,
    bundle: Option<Bundle>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn runtime(name: &str, state: PathBuf) -> Runtime {
    if name == kujira_runtime::embedded::NAME {
        return Runtime::Embedded(Embedded::new().with_root(state));
    }
    let rt = OciRuntime::find(name)
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/install-deps.sh)"));
    Runtime::Oci(rt.with_root(state))
}

fn oci(rt: &Runtime) -> &OciRuntime {
    match rt {
        Runtime::Oci(o) => o,
        Runtime::Embedded(_) => panic!("not an OCI runtime binary"),
    }
}

impl Container {
    fn new(runtime_name: &str, opts: RunOptions) -> Container {
        Container::with_layer(runtime_name, opts, |_| {})
    }

    /// A container whose busybox layer `shape` changes first.
    fn with_layer(runtime_name: &str, opts: RunOptions, shape: impl FnOnce(&Path)) -> Container {
        let tmp = tempfile::tempdir().unwrap();
        let lower = tmp.path().join("layer");
        busybox_layer(&lower);
        shape(&lower);
        let id = format!(
            "kujira-test-{}-{}-{}",
            runtime_name,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let opts = RunOptions {
            id: id.clone(),
            rootfs: "rootfs".into(),
            user_rootfs: Some(lower.clone()),
            ..opts
        };
        let image = ImageRunConfig {
            cmd: vec!["sh".into()],
            ..Default::default()
        };
        let spec = build_spec(&image, &opts, &HostFacts::detect()).unwrap();
        let bundle = Bundle::create(
            &tmp.path().join("bundle"),
            &[lower],
            &tmp.path().join("upper"),
            &tmp.path().join("work"),
            &spec,
        )
        .unwrap();
        let runtime = runtime(runtime_name, tmp.path().join("state"));
        Container {
            tmp,
            runtime,
            id,
            bundle: Some(bundle),
        }
    }

    fn upper(&self) -> PathBuf {
        self.tmp.path().join("upper")
    }

    fn lower(&self) -> PathBuf {
        self.tmp.path().join("layer")
    }

    /// Runs the container in the foreground: its exit code and stdout.
    fn run(&self) -> (i32, String) {
        let out = self.tmp.path().join("stdout");
        let err = self.tmp.path().join("stderr");
        let bundle = self.bundle.as_ref().unwrap().dir().to_path_buf();
        let (stdout, stderr) = (
            std::fs::File::create(&out).unwrap(),
            std::fs::File::create(&err).unwrap(),
        );
        let code = match &self.runtime {
            Runtime::Oci(rt) => {
                let io = ProcessIo {
                    stdin: std::process::Stdio::null(),
                    stdout: stdout.into(),
                    stderr: stderr.into(),
                };
                rt.run_with_io(&self.id, &bundle, io).unwrap()
            }
            Runtime::Embedded(e) => {
                let io = ChildIo {
                    stdin: None,
                    stdout: Some(stdout.into()),
                    stderr: Some(stderr.into()),
                };
                e.run(&self.id, &bundle, io).unwrap()
            }
        };
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        if !stderr.is_empty() {
            eprintln!("{} stderr: {stderr}", self.id);
        }
        (code, std::fs::read_to_string(&out).unwrap())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // `run` deletes the container when it exits; this is for failures midway.
        let _ = self.runtime.delete(&self.id, true);
        if let Some(bundle) = self.bundle.take() {
            bundle.remove().expect("bundle removal");
        }
    }
}

fn cmd(args: &[&str]) -> RunOptions {
    RunOptions {
        cmd: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Each runtime kujira runs containers with: its own, runc and crun.
fn every(test: impl Fn(&str)) {
    for rt in [kujira_runtime::embedded::NAME, "runc", "crun"] {
        test(rt);
    }
}

#[test]
fn exit_codes() {
    every(|rt| {
        assert_eq!(Container::new(rt, cmd(&["true"])).run().0, 0, "{rt}");
        assert_eq!(
            Container::new(rt, cmd(&["sh", "-c", "exit 3"])).run().0,
            3,
            "{rt}"
        );
    });
}

#[test]
fn output_user_and_hostname() {
    every(|rt| {
        let (code, out) = Container::new(rt, cmd(&["echo", "hello"])).run();
        assert_eq!((code, out.as_str()), (0, "hello\n"), "{rt}");

        let opts = RunOptions {
            user: Some("www".into()),
            ..cmd(&["sh", "-c", "id -u; id -g; echo $HOME"])
        };
        let (code, out) = Container::new(rt, opts).run();
        assert_eq!((code, out.as_str()), (0, "33\n33\n/var/www\n"), "{rt}");

        let opts = RunOptions {
            user: Some("1234:5678".into()),
            ..cmd(&["sh", "-c", "id -u; id -g"])
        };
        assert_eq!(Container::new(rt, opts).run().1, "1234\n5678\n", "{rt}");

        let opts = RunOptions {
            hostname: Some("kujira-box".into()),
            ..cmd(&["hostname"])
        };
        assert_eq!(Container::new(rt, opts).run().1, "kujira-box\n", "{rt}");
    });
}

#[test]
fn writes_land_in_the_upper_dir() {
    every(|rt| {
        let c = Container::new(
            rt,
            cmd(&[
                "sh",
                "-c",
                "echo changed > /etc/passwd && echo new > /etc/new-file",
            ]),
        );
        assert_eq!(c.run().0, 0, "{rt}");
        assert_eq!(
            std::fs::read_to_string(c.upper().join("etc/new-file")).unwrap(),
            "new\n"
        );
        assert_eq!(
            std::fs::read_to_string(c.upper().join("etc/passwd")).unwrap(),
            "changed\n"
        );
        assert!(!c.lower().join("etc/new-file").exists());
        assert!(std::fs::read_to_string(c.lower().join("etc/passwd"))
            .unwrap()
            .starts_with("root:"));
    });
}

#[test]
fn proc_paths_are_protected() {
    every(|rt| {
        // 'h' only prints help to the kernel log, should the write ever go through.
        let c = Container::new(
            rt,
            cmd(&[
                "sh",
                "-c",
                "echo h > /proc/sysrq-trigger && echo WROTE; cat /proc/kcore | grep -c . ; exit 0",
            ]),
        );
        let (code, out) = c.run();
        assert_eq!(code, 0, "{rt}");
        assert!(!out.contains("WROTE"), "{rt}: sysrq-trigger was writable");
        // kcore is masked by /dev/null: no lines.
        assert_eq!(out.trim(), "0", "{rt}");
    });
}

#[test]
fn memory_limit_applies() {
    let file = match CgroupMode::detect() {
        CgroupMode::V2 => "/sys/fs/cgroup/memory.max",
        _ => "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    };
    every(|rt| {
        let opts = RunOptions {
            memory: Some(64 << 20),
            ..cmd(&["cat", file])
        };
        let (code, out) = Container::new(rt, opts).run();
        assert_eq!((code, out.trim()), (0, "67108864"), "{rt}");
    });
}

/// The `Hard Limit` column of a /proc/<pid>/limits text, by limit name.
fn hard_limits(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter(|l| l.len() > 46)
        .map(|l| {
            let name = l[..26].trim().to_string();
            let hard = l[47..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            (name, hard)
        })
        .collect()
}

#[test]
fn no_rlimit_set_unasked() {
    let host = std::fs::read_to_string("/proc/self/limits").unwrap();
    every(|rt| {
        let (code, out) = Container::new(rt, cmd(&["cat", "/proc/self/limits"])).run();
        assert_eq!(code, 0, "{rt}");
        assert_eq!(hard_limits(&out), hard_limits(&host), "{rt}");
    });
}

#[test]
fn create_start_state_kill_delete() {
    for rt in ["runc", "crun"] {
        let c = Container::new(rt, cmd(&["sh", "-c", "sleep 30"]));
        let bundle = c.bundle.as_ref().unwrap().dir().to_path_buf();
        let r = oci(&c.runtime);
        r.create(&c.id, &bundle, ProcessIo::null()).unwrap();
        let st = r.state(&c.id).unwrap();
        assert_eq!(
            (st.id.as_str(), st.status.as_str()),
            (c.id.as_str(), "created"),
            "{rt}"
        );
        assert!(st.pid > 0);
        r.start(&c.id).unwrap();
        assert_eq!(r.state(&c.id).unwrap().status, "running", "{rt}");
        r.kill(&c.id, "KILL").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while r.state(&c.id).unwrap().status != "stopped" {
            assert!(std::time::Instant::now() < deadline, "{rt}: never stopped");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        r.delete(&c.id, false).unwrap();
        assert!(r.state(&c.id).is_err(), "{rt}");
    }
}

/// The built-in runtime's own lifecycle: created (waiting), started, paused and
/// resumed through its freezer cgroup, exec'd into, killed, deleted with its cgroups.
#[test]
fn builtin_create_start_pause_exec_delete() {
    let c = Container::new(
        kujira_runtime::embedded::NAME,
        cmd(&["sh", "-c", "echo $$ > /tmp/pid; sleep 30"]),
    );
    let Runtime::Embedded(e) = &c.runtime else {
        unreachable!()
    };
    let bundle = c.bundle.as_ref().unwrap().dir().to_path_buf();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let pid = e.create(&c.id, &bundle, None, ChildIo::default()).unwrap();
    assert!(e.has_state(&c.id));
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cgroup.contains(&c.id),
        "the init is in its cgroups: {cgroup}"
    );
    // Created, not started: the command has not run.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!c.upper().join("tmp/pid").exists());
    e.start(&c.id).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !c.upper().join("tmp/pid").exists() {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(c.upper().join("tmp/pid"))
            .unwrap()
            .trim(),
        "1",
        "the command is pid 1 of its own namespace"
    );
    e.pause(&c.id).unwrap();
    let state = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap()
            .to_string()
    };
    let freezer = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/freezer/kujira/{}/freezer.state",
        c.id
    ));
    if let Ok(f) = freezer {
        assert_eq!(f.trim(), "FROZEN");
    }
    e.resume(&c.id).unwrap();
    assert!(!state(pid).contains("(stopped)"));
    let opts = kujira_runtime::ExecOptions {
        args: vec![
            "sh".into(),
            "-c".into(),
            "cat /tmp/pid; id -u; hostname".into(),
        ],
        env: vec!["PATH=/bin".into()],
        user: Some("33:33".into()),
        ..Default::default()
    };
    let mut exec = e.exec_command(&c.id, &opts).unwrap();
    exec.command_mut().stdout(std::process::Stdio::piped());
    let (child, _) = exec.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["1", "33"], "{text}");
    assert_eq!(
        lines[2],
        &c.id[..12],
        "exec is in the container's UTS namespace"
    );
    // SAFETY: kill with plain integers.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    e.delete(&c.id, false).unwrap();
    assert!(!e.has_state(&c.id));
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/kujira/{}", c.id)).exists());
    assert!(e.exec_command(&c.id, &opts).is_err());
}

/// An image whose mount point is a symlink out of the rootfs: the mount lands inside
/// it (or is refused), never on the host.
#[test]
fn mount_points_that_are_symlinks_stay_inside() {
    for rt in [kujira_runtime::embedded::NAME, "crun"] {
        let host = tempfile::tempdir().unwrap();
        let target = host.path().join("victim");
        std::fs::create_dir(&target).unwrap();
        // The image's /dev points at the host directory.
        let c = Container::with_layer(
            rt,
            cmd(&["sh", "-c", "[ -c /dev/null ] && echo ok"]),
            |lower| {
                std::fs::remove_dir(lower.join("dev")).unwrap();
                std::os::unix::fs::symlink(&target, lower.join("dev")).unwrap();
            },
        );
        let (code, out) = c.run();
        if rt == kujira_runtime::embedded::NAME {
            // kujira creates the mount point the symlink names, inside the rootfs.
            assert_eq!((code, out.trim()), (0, "ok"), "{rt}");
        }
        // crun refuses such a mount point instead; either way the host is untouched.
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            0,
            "{rt}: nothing was created or mounted in the host directory"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(target.to_str().unwrap()), "{rt}");
    }
}
