//! Containers run by real OCI runtimes (runc and crun) on the real kernel, from a
//! busybox rootfs on an overlay, with specs from `build_spec`. Needs root.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use kujira_runtime::{
    build_spec, Bundle, CgroupMode, HostFacts, ImageRunConfig, OciRuntime, ProcessIo, RunOptions,
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
    runtime: OciRuntime,
    id: String,
    bundle: Option<Bundle>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn runtime(name: &str) -> OciRuntime {
    OciRuntime::find(name)
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/install-deps.sh)"))
}

impl Container {
    fn new(runtime_name: &str, opts: RunOptions) -> Container {
        let tmp = tempfile::tempdir().unwrap();
        let lower = tmp.path().join("layer");
        busybox_layer(&lower);
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
        let runtime = runtime(runtime_name).with_root(tmp.path().join("state"));
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
        let io = ProcessIo {
            stdin: std::process::Stdio::null(),
            stdout: std::fs::File::create(&out).unwrap().into(),
            stderr: std::fs::File::create(&err).unwrap().into(),
        };
        let bundle = self.bundle.as_ref().unwrap().dir().to_path_buf();
        let code = self.runtime.run_with_io(&self.id, &bundle, io).unwrap();
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

fn both(test: impl Fn(&str)) {
    for rt in ["runc", "crun"] {
        test(rt);
    }
}

#[test]
fn exit_codes() {
    both(|rt| {
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
    both(|rt| {
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
    both(|rt| {
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
    both(|rt| {
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
    both(|rt| {
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
    both(|rt| {
        let (code, out) = Container::new(rt, cmd(&["cat", "/proc/self/limits"])).run();
        assert_eq!(code, 0, "{rt}");
        assert_eq!(hard_limits(&out), hard_limits(&host), "{rt}");
    });
}

#[test]
fn create_start_state_kill_delete() {
    both(|rt| {
        let c = Container::new(rt, cmd(&["sh", "-c", "sleep 30"]));
        let bundle = c.bundle.as_ref().unwrap().dir().to_path_buf();
        c.runtime.create(&c.id, &bundle, ProcessIo::null()).unwrap();
        let st = c.runtime.state(&c.id).unwrap();
        assert_eq!(
            (st.id.as_str(), st.status.as_str()),
            (c.id.as_str(), "created"),
            "{rt}"
        );
        assert!(st.pid > 0);
        c.runtime.start(&c.id).unwrap();
        assert_eq!(c.runtime.state(&c.id).unwrap().status, "running", "{rt}");
        c.runtime.kill(&c.id, "KILL").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.runtime.state(&c.id).unwrap().status != "stopped" {
            assert!(std::time::Instant::now() < deadline, "{rt}: never stopped");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        c.runtime.delete(&c.id, false).unwrap();
        assert!(c.runtime.state(&c.id).is_err(), "{rt}");
    });
}
