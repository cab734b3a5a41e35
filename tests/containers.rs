//! Containers end to end, as the tutorials run them: the real kujira binary, real
//! overlayfs, namespaces and cgroups, crun (and runc), images built by umoci/skopeo
//! from Debian's busybox-static. Needs root.

use std::time::{Duration, Instant};

use kujira_test_support::container::{
    free_port, http_get, http_get_retry, monitor_pid, udp_echo_binary, wait_until, Pty,
};
use kujira_test_support::image::{busybox_docker_archive, web_docker_archive};
use kujira_test_support::Kujira;

const SECS: Duration = Duration::from_secs(10);

fn kujira() -> Kujira {
    Kujira::new(env!("CARGO_BIN_EXE_kujira"))
}

/// A store with `busybox:latest` and `web:latest` loaded.
fn with_images() -> Kujira {
    let k = kujira();
    k.ok([
        "load",
        "-q",
        "-i",
        busybox_docker_archive().to_str().unwrap(),
    ]);
    k.ok(["load", "-q", "-i", web_docker_archive().to_str().unwrap()]);
    k
}

/// Removes every container of the store when the test ends, passing or not, so no
/// monitor outlives its test.
struct Cleanup<'a>(&'a Kujira);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.0.run(["ps", "-aq", "--no-trunc"]);
        let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.0.run(args);
        }
    }
}

fn inspect(k: &Kujira, fmt: &str, name: &str) -> String {
    k.ok(["inspect", "-f", fmt, name]).trim().to_string()
}

#[test]
fn three_containers_from_one_image_answer_on_three_ports() {
    let k = with_images();
    let _c = Cleanup(&k);
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    for (i, p) in ports.iter().enumerate() {
        let id = k.ok([
            "run",
            "-d",
            "--name",
            &format!("web{}", i + 1),
            "-p",
            &format!("{p}:80"),
            "web",
        ]);
        assert_eq!(id.trim().len(), 64, "run -d prints the full ID: {id:?}");
    }
    for p in &ports {
        assert_eq!(http_get_retry(*p, SECS), "Welcome to kujira!\n");
    }
    let ps = k.ok(["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines.len(), 4, "{ps}");
    assert!(lines[0].starts_with("CONTAINER ID   IMAGE"), "{ps}");
    for (i, p) in ports.iter().enumerate() {
        let line = lines
            .iter()
            .find(|l| l.ends_with(&format!("web{}", i + 1)))
            .unwrap_or_else(|| panic!("web{} missing: {ps}", i + 1));
        assert!(line.contains(&format!("0.0.0.0:{p}->80/tcp")), "{line}");
        assert!(line.contains("Up "), "{line}");
    }
    // One image however many containers.
    assert_eq!(k.ok(["images", "-q", "web"]).lines().count(), 1);
    let start = Instant::now();
    assert_eq!(k.ok(["stop", "web1", "web2", "web3"]), "web1\nweb2\nweb3\n");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "stop waited for a timeout"
    );
    assert_eq!(k.ok(["ps", "-q"]), "");
    assert!(
        http_get(ports[0]).is_err(),
        "a stopped container's port still answers"
    );
    let all = k.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(
        all.lines().filter(|l| l.contains("Exited (0)")).count(),
        3,
        "{all}"
    );
    assert_eq!(k.ok(["rm", "web1", "web2", "web3"]), "web1\nweb2\nweb3\n");
    assert_eq!(k.ok(["ps", "-a", "-q"]), "");
    // The image stays.
    assert_eq!(k.ok(["images", "-q", "web"]).lines().count(), 1);
}

#[test]
fn copy_on_write_edit_is_visible_and_gone_with_the_container() {
    let k = with_images();
    let _c = Cleanup(&k);
    let port = free_port();
    k.ok([
        "run",
        "-d",
        "--name",
        "cow-test",
        "-p",
        &format!("{port}:80"),
        "web",
    ]);
    assert_eq!(http_get_retry(port, SECS), "Welcome to kujira!\n");
    k.ok([
        "exec",
        "cow-test",
        "sh",
        "-c",
        "echo 'Hello from Container!' > /www/index.html",
    ]);
    assert_eq!(http_get_retry(port, SECS), "Hello from Container!\n");
    let diff = k.ok(["diff", "cow-test"]);
    assert_eq!(diff, "C /www\nC /www/index.html\n");
    let size = k.ok(["ps", "-s", "--format", "{{.Size}}"]);
    assert!(size.starts_with("22B (virtual "), "{size}");
    k.ok(["rm", "-f", "cow-test"]);
    k.ok([
        "run",
        "-d",
        "--name",
        "cow-test2",
        "-p",
        &format!("{port}:80"),
        "web",
    ]);
    assert_eq!(http_get_retry(port, SECS), "Welcome to kujira!\n");
    k.ok(["rm", "-f", "cow-test2"]);
}

#[test]
fn run_it_rm_drives_a_shell_through_a_terminal() {
    let k = with_images();
    let _c = Cleanup(&k);
    let mut pty = Pty::spawn(k.cmd(["run", "-it", "--rm", "busybox", "sh"]));
    pty.expect("# ", SECS);
    pty.send("echo $((6*7)); tty\r");
    pty.expect("42", SECS);
    pty.expect("/dev/pts/0", SECS);
    pty.send("exit 3\r");
    assert_eq!(pty.wait(SECS), 3);
    assert_eq!(k.ok(["ps", "-aq"]), "", "--rm left the container");
}

#[test]
fn exit_codes_are_dockers() {
    let k = with_images();
    let _c = Cleanup(&k);
    assert_eq!(k.ok(["run", "--rm", "busybox", "echo", "hello"]), "hello\n");
    k.fails(["run", "--rm", "busybox", "sh", "-c", "exit 7"], 7);
    let err = k.fails(["run", "--rm", "busybox", "no-such-command"], 127);
    assert!(err.contains("no-such-command"), "{err}");
    let err = k.fails(["run", "--rm", "busybox", "/etc/passwd"], 126);
    assert!(err.to_lowercase().contains("permission denied"), "{err}");
    let err = k.fails(["run", "--rm", "no-such-image-here"], 125);
    assert!(err.contains("no-such-image-here"), "{err}");
    k.fails(["run", "--bogus-flag", "busybox"], 125);
    assert_eq!(k.ok(["ps", "-aq"]), "", "failed --rm runs left containers");
    // A name in use.
    k.ok(["create", "--name", "taken", "busybox"]);
    let err = k.fails(["create", "--name", "taken", "busybox"], 125);
    assert!(
        err.contains("The container name \"/taken\" is already in use"),
        "{err}"
    );
}

#[test]
fn exec_runs_in_the_container_with_its_options() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run", "-d", "--name", "box", "-e", "FOO=bar", "busybox", "sleep", "1000",
    ]);
    assert_eq!(k.ok(["exec", "box", "sh", "-c", "echo $FOO"]), "bar\n");
    assert_eq!(
        k.ok([
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "box",
            "sh",
            "-c",
            "echo $X $PWD"
        ]),
        "1 /tmp\n"
    );
    // `-e NAME` takes the caller's value (the client resolves it, as the docker
    // CLI does); a name the caller has not set is left out.
    let out = k
        .cmd([
            "exec",
            "-e",
            "FROM_CALLER",
            "-e",
            "UNSET_IN_CALLER",
            "box",
            "sh",
            "-c",
            "echo ${FROM_CALLER}-${UNSET_IN_CALLER:-unset}",
        ])
        .env("FROM_CALLER", "passed")
        .env_remove("UNSET_IN_CALLER")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "passed-unset\n");
    assert_eq!(k.ok(["exec", "-u", "nobody", "box", "id", "-u"]), "65534\n");
    assert_eq!(
        k.ok(["exec", "box", "cat", "/etc/hostname"]).trim(),
        &inspect(&k, "{{.Id}}", "box")[..12]
    );
    k.fails(["exec", "box", "sh", "-c", "exit 4"], 4);
    let err = k.fails(["exec", "box", "no-such-command"], 127);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    // The exec'd process is in the container's cgroups (its cgroup namespace's root).
    let cg = k.ok(["exec", "box", "cat", "/proc/self/cgroup"]);
    assert!(cg.lines().all(|l| l.ends_with(":/")), "{cg}");
    // Detached: back at once, the command runs on.
    k.ok([
        "exec",
        "-d",
        "box",
        "sh",
        "-c",
        "sleep 0.3; echo later > /tmp/d",
    ]);
    assert!(k.run(["exec", "box", "cat", "/tmp/d"]).status.code() != Some(0));
    wait_until("the detached exec finishes", SECS, || {
        k.run(["exec", "box", "cat", "/tmp/d"]).stdout == b"later\n"
    });
    // With a terminal of its own in the container's devpts.
    let tty = k.ok(["exec", "-t", "box", "busybox", "tty"]);
    assert!(tty.starts_with("/dev/pts/"), "{tty:?}");
    let top = k.ok(["top", "box"]);
    assert!(top.contains("sleep 1000"), "{top}");
    k.ok(["stop", "-t", "0", "box"]);
    let err = k.fails(["exec", "box", "true"], 1);
    assert!(err.contains("is not running"), "{err}");
}

#[test]
fn stop_waits_for_a_pid1_that_ignores_sigterm_then_kills() {
    let k = with_images();
    let _c = Cleanup(&k);
    // sleep as PID 1 has no SIGTERM handler, so the kernel ignores SIGTERM for it.
    k.ok([
        "run", "-d", "--name", "stubborn", "busybox", "sleep", "1000",
    ]);
    let start = Instant::now();
    k.ok(["stop", "-t", "2", "stubborn"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "stop returned after {took:?}"
    );
    assert!(took < Duration::from_secs(6), "stop took {took:?}");
    assert_eq!(
        inspect(&k, "{{.State.Status}} {{.State.ExitCode}}", "stubborn"),
        "exited 137"
    );
    // A shell that traps TERM stops at once.
    k.ok([
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    let start = Instant::now();
    k.ok(["stop", "polite"]);
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(inspect(&k, "{{.State.ExitCode}}", "polite"), "0");
}

#[test]
fn detached_rm_and_restart_policies() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok(["run", "-d", "--rm", "--name", "gone", "busybox", "true"]);
    wait_until("--rm of a detached container", SECS, || {
        k.ok(["ps", "-aq"]).is_empty()
    });

    k.ok([
        "run",
        "-d",
        "--name",
        "retry",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    wait_until("two restarts then exited", SECS, || {
        inspect(&k, "{{.State.Status}} {{.RestartCount}}", "retry") == "exited 2"
    });
    assert_eq!(inspect(&k, "{{.State.ExitCode}}", "retry"), "1");
    // `always` restarts until stopped; stop wins.
    k.ok([
        "run",
        "-d",
        "--name",
        "forever",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 0",
    ]);
    wait_until("a restart", SECS, || {
        inspect(&k, "{{.RestartCount}}", "forever")
            .parse::<i64>()
            .unwrap_or(0)
            >= 1
    });
    k.ok(["stop", "forever"]);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(inspect(&k, "{{.State.Status}}", "forever"), "exited");
    k.fails(
        ["run", "--rm", "--restart", "always", "busybox", "true"],
        125,
    );
}

#[test]
fn mount_flag_binds_volumes_and_tmpfs() {
    let k = with_images();
    let _c = Cleanup(&k);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "mounted\n").unwrap();
    let bind = format!(
        "type=bind,source={},target=/data,readonly",
        host.path().display()
    );
    assert_eq!(
        k.ok([
            "run",
            "--rm",
            "--mount",
            &bind,
            "busybox",
            "cat",
            "/data/in.txt"
        ]),
        "mounted\n"
    );
    let out = k.run([
        "run",
        "--rm",
        "--mount",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo x > /data/nope",
    ]);
    assert_ne!(out.status.code(), Some(0), "a readonly bind was writable");
    assert!(!host.path().join("nope").exists());
    // A named volume by --mount is the same volume as by -v.
    k.ok([
        "run",
        "--rm",
        "--mount",
        "src=mvol,dst=/v",
        "busybox",
        "sh",
        "-c",
        "echo kept > /v/f",
    ]);
    assert_eq!(
        k.ok(["run", "--rm", "-v", "mvol:/v", "busybox", "cat", "/v/f"]),
        "kept\n"
    );
    let df = k.ok([
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(df.contains("tmpfs") && df.contains("size=1024k"), "{df}");
    k.ok(["create", "--name", "mnt", "--mount", &bind, "busybox"]);
    assert_eq!(
        inspect(
            &k,
            "{{range .HostConfig.Mounts}}{{.Type}} {{.Target}} {{.ReadOnly}}{{end}}",
            "mnt"
        ),
        "bind /data true"
    );
    // Docker's CLI errors, before anything is made.
    for bad in [
        "type=bind,target=/x",
        "type=nfs,dst=/x",
        "dst=/x,colour=red",
        "src=a",
    ] {
        k.fails(["run", "--rm", "--mount", bad, "busybox", "true"], 125);
    }
    assert_eq!(
        k.ok(["ps", "-aq"]).lines().count(),
        1,
        "a failed --mount made a container"
    );
}

/// A container row as the version before the one container model wrote it (flat
/// fields of kujira's own) is read, started and inspected as Docker's Config and
/// HostConfig, and written back in the new form when first read.
#[test]
fn a_container_row_of_the_previous_version_is_upgraded() {
    let k = with_images();
    let _c = Cleanup(&k);
    let id = k.ok([
        "create", "--name", "old", "-e", "A=1", "-m", "32m", "busybox", "sh", "-c", "echo $A",
    ]);
    let id = id.trim();
    let old = r#"{"image":"busybox","path":"sh","args":["-c","echo $A"],"cmd":["sh","-c","echo $A"],"entrypoint":[],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1"],"working_dir":"","user":"","hostname":"","domainname":"","labels":{"era":"old"},"tty":false,"open_stdin":false,"stop_signal":"","stop_timeout":null,"exposed_ports":[],"ports":[],"publish_all":false,"restart":{"name":"no","maximum_retry_count":0},"auto_remove":false,"runtime":"","network":"none","networks":[],"mounts":[],"read_only":false,"privileged":false,"cap_add":[],"cap_drop":[],"security_opt":[],"memory":33554432,"nano_cpus":0,"pids_limit":0,"init":false,"shm_size":67108864,"sysctls":{},"extra_hosts":[],"devices":[],"healthcheck":null,"memory_swap":67108864,"memory_reservation":0,"cpu_shares":0,"oom_score_adj":0,"group_add":[],"dns":[],"dns_search":[],"dns_options":[],"pid_mode":"","ipc_mode":"","uts_mode":"","layers":[]}"#;
    let layers = inspect(&k, "{{json .GraphDriver.Data.LowerDir}}", "old");
    assert!(!layers.is_empty());
    let sql = format!(
        "UPDATE containers SET config = json_set('{}', '$.layers', (SELECT json_extract(config, '$.Layers') FROM containers WHERE id = '{id}')) WHERE id = '{id}';",
        old.replace('\'', "''")
    );
    let out = std::process::Command::new("sqlite3")
        .arg(k.root().join("kujira.db"))
        .arg(&sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        inspect(
            &k,
            "{{.Config.Labels.era}} {{.HostConfig.Memory}} {{.HostConfig.NetworkMode}} {{json .Config.Cmd}}",
            "old"
        ),
        "old 33554432 none [\"sh\",\"-c\",\"echo $A\"]"
    );
    assert_eq!(k.ok(["start", "-a", "old"]), "1\n");
    let stored = std::process::Command::new("sqlite3")
        .arg(k.root().join("kujira.db"))
        .arg(format!("SELECT config FROM containers WHERE id = '{id}'"))
        .output()
        .unwrap();
    let stored = String::from_utf8_lossy(&stored.stdout);
    assert!(stored.contains("\"HostConfig\""), "{stored}");
}

#[test]
fn bind_mounts_and_volumes() {
    let k = with_images();
    let _c = Cleanup(&k);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "from the host\n").unwrap();
    let spec = format!("{}:/data", host.path().display());
    assert_eq!(
        k.ok(["run", "--rm", "-v", &spec, "busybox", "cat", "/data/in.txt"]),
        "from the host\n"
    );
    k.ok([
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo back > /data/out.txt",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("out.txt")).unwrap(),
        "back\n"
    );
    let ro = format!("{spec}:ro");
    let out = k.run([
        "run",
        "--rm",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "echo x > /data/nope",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!host.path().join("nope").exists());
    // A named volume outlives its containers.
    k.ok([
        "run",
        "--rm",
        "-v",
        "kept:/v",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /v/f",
    ]);
    assert_eq!(
        k.ok(["run", "--rm", "-v", "kept:/v", "busybox", "cat", "/v/f"]),
        "persisted\n"
    );
    assert!(k.ok(["volume", "ls", "-q"]).contains("kept"));
    k.ok(["volume", "rm", "kept"]);
    assert_eq!(k.ok(["volume", "ls", "-q"]), "");
}

#[test]
fn a_memory_limit_stops_a_hog() {
    let k = with_images();
    let _c = Cleanup(&k);
    let out = k.run([
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "web",
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
    assert_eq!(inspect(&k, "{{.State.OOMKilled}}", "hog"), "true");
    assert_eq!(inspect(&k, "{{.HostConfig.Memory}}", "hog"), "16777216");
}

#[test]
fn commit_then_run_and_diff_lists_changes() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run",
        "--name",
        "cc",
        "web",
        "sh",
        "-c",
        "echo hi > /greeting; rm /www/index.html; echo x >> /etc/passwd",
    ]);
    assert_eq!(
        k.ok(["diff", "cc"]),
        "C /etc\nC /etc/passwd\nA /greeting\nC /www\nD /www/index.html\n"
    );
    let id = k.ok([
        "commit",
        "-m",
        "snapshot",
        "-c",
        "CMD [\"cat\", \"/greeting\"]",
        "cc",
        "snap:1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(k.ok(["run", "--rm", "snap:1"]), "hi\n");
    let out = k.run(["run", "--rm", "snap:1", "cat", "/www/index.html"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the deleted file came back: {out:?}"
    );
    let layers = k.ok(["inspect", "-f", "{{len .RootFS.Layers}}", "snap:1"]);
    let base = k.ok(["inspect", "-f", "{{len .RootFS.Layers}}", "web"]);
    assert_eq!(
        layers.trim().parse::<u32>().unwrap(),
        base.trim().parse::<u32>().unwrap() + 1
    );
    let history = k.ok(["history", "snap:1"]);
    assert!(
        history.lines().nth(1).unwrap().contains("snapshot"),
        "{history}"
    );
    // The image of a container cannot go while the container exists.
    let err = k.fails(["rmi", "web"], 1);
    assert!(
        err.contains("container") && err.contains("is using its referenced image"),
        "{err}"
    );
}

#[test]
fn logs_and_ps_formats() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run",
        "--name",
        "talker",
        "-l",
        "role=demo",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two; echo err >&2",
    ]);
    let out = k.run(["logs", "talker"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    k.ok([
        "run",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "echo a; echo b; echo c",
    ]);
    assert_eq!(k.ok(["logs", "--tail", "2", "counter"]), "b\nc\n");
    k.ok(["rm", "counter"]);
    let ts = k.ok(["logs", "-t", "talker"]);
    assert!(
        ts.lines().all(|l| l.contains('T') && l.contains("Z ")),
        "{ts}"
    );
    let ps = k.ok([
        "ps",
        "-a",
        "--format",
        "{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Labels}}",
    ]);
    assert!(
        ps.starts_with("talker|busybox|\"sh -c 'echo one; ec…\"|Exited (0) "),
        "{ps}"
    );
    assert!(ps.trim_end().ends_with("|role=demo"), "{ps}");
    assert_eq!(
        k.ok([
            "ps",
            "-a",
            "-f",
            "label=role=demo",
            "--format",
            "{{.Names}}"
        ]),
        "talker\n"
    );
    assert_eq!(k.ok(["ps", "-a", "-f", "status=running", "-q"]), "");
    assert_eq!(
        k.ok(["ps", "-a", "-f", "exited=0", "--format", "{{.Names}}"]),
        "talker\n"
    );
    k.ok(["rename", "talker", "speaker"]);
    assert_eq!(inspect(&k, "{{.Name}}", "speaker"), "/speaker");
    let prune = k.ok(["container", "prune", "-f"]);
    assert!(prune.starts_with("Deleted Containers:\n"), "{prune}");
    assert_eq!(k.ok(["ps", "-aq"]), "");
}

#[test]
fn a_dead_monitor_never_leaves_a_ghost_running() {
    let k = with_images();
    let _c = Cleanup(&k);
    let id = k
        .ok(["run", "-d", "busybox", "sleep", "4242"])
        .trim()
        .to_string();
    let pid = monitor_pid(&id).expect("the container's monitor");
    // SAFETY: killing the monitor we just found.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // Gone, or a zombie: its files (and so its lock) are closed only late in its
    // exit, after its command line has already vanished.
    wait_until("the monitor to die", SECS, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    });
    // The leader can show as a zombie while its other threads are still exiting
    // (and still hold its files): the lock goes with the last of them.
    wait_until(
        "ps to show the dead monitor's container as exited",
        SECS,
        || {
            let status = k.ok(["ps", "-a", "--format", "{{.Status}}"]);
            assert!(
                status.starts_with("Up") || status.starts_with("Exited (255)"),
                "{status}"
            );
            status.starts_with("Exited (255)")
        },
    );
    assert_eq!(k.ok(["ps", "-q"]), "");
    // The container's processes went with it.
    let procs = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x004242\x00"));
    assert!(!procs, "the container's sleep survived its monitor");
    k.ok(["rm", &id]);
}

#[test]
fn escapes_from_a_default_container_fail() {
    let k = with_images();
    let _c = Cleanup(&k);
    let sh = |script: &str| k.run(["run", "--rm", "web", "sh", "-c", script]);
    // Host paths it was not given: its / is its own.
    let marker = format!("/tmp/kujira-escape-{}", std::process::id());
    let out = sh(&format!("echo pwned > {marker}; cat {marker}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pwned\n");
    assert!(!std::path::Path::new(&marker).exists(), "wrote a host path");
    let out = sh("echo b > /proc/sysrq-trigger");
    assert_ne!(out.status.code(), Some(0), "sysrq-trigger is writable");
    let out = sh("mkdir -p /mnt/x && mount -t tmpfs none /mnt/x");
    assert_ne!(out.status.code(), Some(0), "mount worked");
    let out = sh("head -c 64 /dev/zero > /tmp/m.ko; insmod /tmp/m.ko");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("not permitted"), "insmod: {err}");
    // Host processes are out of sight, so out of ptrace's reach.
    let me = std::process::id();
    let out = sh(&format!(
        "test -e /proc/{me}/status && echo visible; ls /proc | grep -c '^[0-9]'"
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("visible"), "a host pid is visible: {text}");
    assert!(
        text.trim().parse::<u32>().unwrap() <= 4,
        "sees many processes: {text}"
    );
    // A host port that was not published is not reachable from inside.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = sh(&format!(
        "echo hi | nc -w 1 127.0.0.1 {port} && echo connected"
    ));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("connected"),
        "reached the host's port"
    );
    // And a container port that was not published is not reachable from the host:
    // the server inside listens on 80, and nothing on the host does for it.
    k.ok(["run", "-d", "--name", "private", "web"]);
    let ports = k.ok(["port", "private"]);
    assert_eq!(ports, "");
}

#[test]
fn other_runtimes_run_the_same_bundle() {
    let k = with_images();
    let _c = Cleanup(&k);
    for rt in ["runc", "crun"] {
        assert_eq!(
            k.ok(["run", "--rm", "--runtime", rt, "busybox", "echo", rt]),
            format!("{rt}\n")
        );
    }
    let err = k.fails(
        [
            "run",
            "--rm",
            "--runtime",
            "no-such-runtime",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(
        err.contains("unknown or invalid runtime name: no-such-runtime"),
        "{err}"
    );
}

#[test]
fn system_df_counts_the_copy_on_write_layer() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /blob",
    ]);
    let df = k.ok([
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}",
    ]);
    assert!(df.contains("Containers 1 0 100kB"), "{df}");
    let v = k.ok(["system", "df", "-v"]);
    assert!(v.contains("writer"), "{v}");
    let out = k.ok(["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert_eq!(k.ok(["ps", "-aq"]), "");
}

#[test]
fn cp_in_both_directions_stays_inside_the_container() {
    let k = with_images();
    let _c = Cleanup(&k);
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("note.txt");
    std::fs::write(&src, "copied in\n").unwrap();
    k.ok(["run", "-d", "--name", "cpbox", "web", "sleep", "1000"]);
    k.ok(["cp", src.to_str().unwrap(), "cpbox:/www/"]);
    assert_eq!(
        k.ok(["exec", "cpbox", "cat", "/www/note.txt"]),
        "copied in\n"
    );
    k.ok(["cp", src.to_str().unwrap(), "cpbox:/www/renamed.txt"]);
    assert_eq!(
        k.ok(["exec", "cpbox", "cat", "/www/renamed.txt"]),
        "copied in\n"
    );
    // A file named like a whiteout is copied as a file; it deletes nothing.
    k.ok(["cp", src.to_str().unwrap(), "cpbox:/www/.wh.index.html"]);
    assert_eq!(
        k.ok([
            "exec",
            "cpbox",
            "cat",
            "/www/.wh.index.html",
            "/www/index.html"
        ]),
        "copied in\nWelcome to kujira!\n"
    );
    let out = host.path().join("index.html");
    k.ok(["cp", "cpbox:/www/index.html", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Welcome to kujira!\n"
    );
    let dir = host.path().join("www-copy");
    k.ok(["cp", "cpbox:/www", dir.to_str().unwrap()]);
    assert!(dir.join("note.txt").is_file() && dir.join("index.html").is_file());
    // A symlink inside the container resolves inside it, never on the host.
    let marker = format!("kujira-cp-{}", std::process::id());
    k.ok(["exec", "cpbox", "ln", "-s", "/tmp", "/www/out"]);
    let named = host.path().join(&marker);
    std::fs::write(&named, "x").unwrap();
    k.ok(["cp", named.to_str().unwrap(), "cpbox:/www/out/"]);
    assert!(
        !std::path::Path::new("/tmp").join(&marker).exists(),
        "cp followed a container symlink onto the host"
    );
    assert_eq!(
        k.ok(["exec", "cpbox", "cat", &format!("/tmp/{marker}")]),
        "x"
    );
    // A stopped container too, through its overlay.
    k.ok(["stop", "-t", "0", "cpbox"]);
    k.ok(["cp", src.to_str().unwrap(), "cpbox:/late.txt"]);
    let tar = k.run(["cp", "cpbox:/late.txt", "-"]);
    assert!(tar.status.success());
    assert!(String::from_utf8_lossy(&tar.stdout).contains("copied in"));
    let err = k.fails(
        ["cp", "cpbox:/no/such/file", host.path().to_str().unwrap()],
        1,
    );
    assert!(
        err.contains("Could not find the file /no/such/file"),
        "{err}"
    );
}

#[test]
fn attach_and_follow_a_running_container() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo done >&2; exit 4",
    ]);
    // Both start before the first line; both end when the container does.
    let follow = k
        .cmd(["logs", "-f", "ticker"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = k.run(["attach", "ticker"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tick 1\ntick 2\ntick 3\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "done\n");
    let follow = follow.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&follow.stdout),
        "tick 1\ntick 2\ntick 3\n"
    );
    // stdin of a `-i` container reaches it through attach.
    k.ok([
        "run",
        "-d",
        "-i",
        "--name",
        "echoer",
        "busybox",
        "sh",
        "-c",
        "read line; echo got $line",
    ]);
    let out = k.with_stdin(["attach", "echoer"], "hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    let err = k.fails(["attach", "ticker"], 1);
    assert!(
        err.contains("You cannot attach to a stopped container"),
        "{err}"
    );
}

#[test]
fn ports_udp_publish_all_and_bound_only_where_asked() {
    let k = with_images();
    let _c = Cleanup(&k);
    // TCP bound on 127.0.0.1 only: another loopback address does not answer.
    let port = free_port();
    k.ok([
        "run",
        "-d",
        "--name",
        "local",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "web",
    ]);
    assert_eq!(http_get_retry(port, SECS), "Welcome to kujira!\n");
    assert!(
        std::net::TcpStream::connect(("127.0.0.2", port)).is_err(),
        "bound beyond 127.0.0.1"
    );
    assert_eq!(k.ok(["port", "local", "80"]), format!("127.0.0.1:{port}\n"));
    // The same host port twice is Docker's error, and the second container is not left running.
    let err = k.fails(
        [
            "run",
            "-d",
            "--name",
            "clash",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "web",
        ],
        125,
    );
    assert!(err.contains("port is already allocated"), "{err}");
    // -P: every exposed port on a free host port.
    k.ok(["run", "-d", "--name", "all", "-P", "web"]);
    let mapping = k.ok(["port", "all"]);
    let host_port: u16 = mapping
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{mapping}"));
    assert!(mapping.starts_with("80/tcp -> 0.0.0.0:"), "{mapping}");
    assert_eq!(http_get_retry(host_port, SECS), "Welcome to kujira!\n");
    // UDP: a datagram to the published port reaches the container, and its reply
    // comes back to the sender.
    let uport = free_port();
    let echo = format!("{}:/udp-echo:ro", udp_echo_binary().display());
    k.ok([
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        &echo,
        "-p",
        &format!("127.0.0.1:{uport}:9000/udp"),
        "busybox",
        "/udp-echo",
        "9000",
    ]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reply = Vec::new();
    wait_until("a UDP reply through the forwarder", SECS, || {
        let _ = sock.send_to(b"ping over udp", ("127.0.0.1", uport));
        let mut buf = [0u8; 256];
        match sock.recv(&mut buf) {
            Ok(n) => {
                reply = buf[..n].to_vec();
                true
            }
            Err(_) => false,
        }
    });
    assert_eq!(reply, b"echo: ping over udp");
}

#[test]
fn many_containers_start_at_once() {
    let k = with_images();
    let _c = Cleanup(&k);
    let children: Vec<_> = (0..10)
        .map(|_| {
            k.cmd(["run", "-d", "busybox", "sleep", "1000"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(k.ok(["ps", "-q"]).lines().count(), 10);
    let names = k.ok(["ps", "--format", "{{.Names}}"]);
    let unique: std::collections::BTreeSet<&str> = names.lines().collect();
    assert_eq!(unique.len(), 10, "{names}");
}

#[test]
fn run_flags_shape_the_container() {
    let k = with_images();
    let _c = Cleanup(&k);
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        k.ok(a)
    };
    assert_eq!(run(&["-w", "/tmp", "web", "pwd"]), "/tmp\n");
    assert_eq!(run(&["-u", "nobody", "web", "id", "-un"]), "nobody\n");
    assert!(run(&["-u", "123:456", "web", "id"]).starts_with("uid=123 gid=456"));
    assert_eq!(
        run(&["-h", "myhost", "web", "cat", "/etc/hostname"]),
        "myhost\n"
    );
    assert_eq!(
        run(&["--entrypoint", "echo", "web", "via", "entrypoint"]),
        "via entrypoint\n"
    );
    let env = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(env.path(), "# comment\nFROM_FILE=yes\n").unwrap();
    assert_eq!(
        run(&[
            "-e",
            "A=1",
            "--env-file",
            env.path().to_str().unwrap(),
            "web",
            "sh",
            "-c",
            "echo $A $FROM_FILE"
        ]),
        "1 yes\n"
    );
    // --read-only with a writable tmpfs.
    let out = k.run([
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "web",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f && echo no > /etc/f",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    assert_ne!(
        out.status.code(),
        Some(0),
        "the read-only rootfs took a write"
    );
    // Capabilities: chown needs CAP_CHOWN, which --cap-drop removes.
    k.ok(["run", "--rm", "web", "chown", "nobody", "/tmp"]);
    let out = k.run([
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        "web",
        "chown",
        "nobody",
        "/tmp",
    ]);
    assert_ne!(out.status.code(), Some(0));
    // --privileged may mount; the default may not (see the escapes test).
    k.ok([
        "run",
        "--rm",
        "--privileged",
        "web",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m",
    ]);
    // Networks: none has only loopback; host shares the host's interfaces.
    let ifaces = run(&["--network", "none", "web", "sh", "-c", "ls /sys/class/net"]);
    assert_eq!(ifaces.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    // (Other tests' bridges and veths, `kj…`/`kv…`, come and go meanwhile.)
    let stable = |names: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = names
            .into_iter()
            .filter(|n| !["kj", "kv", "kujira"].iter().any(|p| n.starts_with(p)))
            .collect();
        v.sort();
        v
    };
    let host_ifaces = stable(
        std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
    );
    let seen = run(&["--network", "host", "web", "sh", "-c", "ls /sys/class/net"]);
    let seen = stable(seen.split_whitespace().map(String::from).collect());
    assert_eq!(seen, host_ifaces);
    // --pids-limit stops a fork bomb's growth.
    let out = k.run([
        "run",
        "--rm",
        "--pids-limit",
        "8",
        "web",
        "sh",
        "-c",
        "for i in $(seq 20); do sleep 5 & done; wait",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("can't fork"),
        "{out:?}"
    );
    // --cpus becomes a CFS quota.
    k.ok(["create", "--name", "cpu", "--cpus", "0.5", "web"]);
    assert_eq!(inspect(&k, "{{.HostConfig.NanoCpus}}", "cpu"), "500000000");
    // --init runs the command under Docker's init path.
    assert_eq!(
        run(&["--init", "web", "cat", "/proc/1/cmdline"]),
        "/sbin/docker-init\0--\0cat\0/proc/1/cmdline\0"
    );
    // pause / unpause / restart.
    k.ok([
        "run",
        "-d",
        "--name",
        "pz",
        "web",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    k.ok(["pause", "pz"]);
    assert_eq!(inspect(&k, "{{.State.Status}}", "pz"), "paused");
    assert!(k.ok(["ps", "--format", "{{.Status}}"]).contains("(Paused)"));
    k.ok(["unpause", "pz"]);
    assert_eq!(inspect(&k, "{{.State.Status}}", "pz"), "running");
    let before = inspect(&k, "{{.State.StartedAt}}", "pz");
    k.ok(["restart", "pz"]);
    assert_eq!(inspect(&k, "{{.State.Status}}", "pz"), "running");
    assert_ne!(inspect(&k, "{{.State.StartedAt}}", "pz"), before);
    k.ok(["kill", "-s", "TERM", "pz"]);
    wait_until("the killed container to exit", SECS, || {
        inspect(&k, "{{.State.Status}}", "pz") == "exited"
    });
}

#[test]
fn a_new_volume_starts_with_the_images_files() {
    let k = with_images();
    let _c = Cleanup(&k);
    // /www holds index.html in the image: a fresh volume there gets a copy.
    assert_eq!(
        k.ok([
            "run",
            "--rm",
            "-v",
            "site:/www",
            "web",
            "cat",
            "/www/index.html"
        ]),
        "Welcome to kujira!\n"
    );
    k.ok([
        "run",
        "--rm",
        "-v",
        "site:/www",
        "web",
        "sh",
        "-c",
        "echo changed > /www/index.html",
    ]);
    assert_eq!(
        k.ok([
            "run",
            "--rm",
            "-v",
            "site:/www",
            "web",
            "cat",
            "/www/index.html"
        ]),
        "changed\n"
    );
    let inspect = k.ok(["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "site"]);
    assert_eq!(inspect.trim(), "site local");
    // A volume in use cannot go; unused ones are pruned with -a.
    k.ok(["create", "--name", "holder", "-v", "site:/data", "busybox"]);
    let err = k.fails(["volume", "rm", "site"], 1);
    assert!(err.contains("volume is in use"), "{err}");
    k.ok(["rm", "holder"]);
    let pruned = k.ok(["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("site"), "{pruned}");
}

#[test]
fn an_images_volumes_become_anonymous_volumes() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok(["create", "--name", "base", "web", "true"]);
    k.ok(["commit", "-c", "VOLUME /www", "base", "withvol"]);
    k.ok(["rm", "base"]);
    // The anonymous volume starts with the image's files and outlives the process.
    k.ok([
        "run",
        "--name",
        "v1",
        "withvol",
        "sh",
        "-c",
        "cat /www/index.html > /www/copy",
    ]);
    let names = k.ok(["volume", "ls", "-q"]);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].len() == 64 && names[0].chars().all(|c| c.is_ascii_hexdigit()));
    let mounts = inspect(
        &k,
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
        "v1",
    );
    assert_eq!(mounts.trim(), format!("volume {} /www", names[0]));
    k.ok(["rm", "-v", "v1"]);
    assert_eq!(k.ok(["volume", "ls", "-q"]), "");
    // A -v for the same path replaces it; --rm takes its anonymous volumes along.
    k.ok([
        "run",
        "--rm",
        "-v",
        "/tmp/kujira-not-a-volume:/www",
        "withvol",
        "true",
    ]);
    k.ok(["run", "--rm", "withvol", "true"]);
    assert_eq!(k.ok(["volume", "ls", "-q"]), "");
    let _ = std::fs::remove_dir_all("/tmp/kujira-not-a-volume");
}

#[test]
fn foreground_run_passes_stdin_and_signals() {
    let k = with_images();
    let _c = Cleanup(&k);
    // -i: the caller's stdin, whose end is the container's end of input.
    let out = k.with_stdin(["run", "-i", "--rm", "busybox", "cat"], "piped through\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped through\n");
    // Without -i the container reads nothing (and does not wait for input).
    let out = k.with_stdin(["run", "--rm", "busybox", "cat"], "ignored\n");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // A signal to the CLI reaches the container's process (Docker's sig-proxy).
    let mut child = k
        .cmd([
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    // Read in a thread so that a lost signal fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        let _ = tx.send(rest);
    });
    let rest = rx
        .recv_timeout(SECS)
        .expect("the container never got the signal");
    assert_eq!(rest, "got TERM\n");
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

/// A host whose `/sys/fs/cgroup` is cgroup2 only, made in a private mount namespace
/// (the v1 hierarchies hidden, cgroup2 mounted in their place): kujira's runtime takes
/// its v2 path — one cgroup directory, device rules as a BPF program, cgroup2 mounted
/// in the container — and the container runs and is cleaned up.
#[test]
fn a_cgroup_v2_only_layout_runs_containers_too() {
    let k = with_images();
    let _c = Cleanup(&k);
    let inside = "[ -f /sys/fs/cgroup/cgroup.controllers ] && echo cgroup2; \
        cat /dev/null && echo null-ok; \
        busybox mknod /tmp/mem c 1 1 && ! head -c1 /tmp/mem 2>/dev/null && echo mem-denied";
    let out = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --make-rslave / && umount -l /sys/fs/cgroup && \
             mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"",
        ])
        .arg(k.bin())
        .arg("--root")
        .arg(k.root())
        .args(["run", "--rm", "web", "sh", "-c", inside])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cgroup2\nnull-ok\nmem-denied\n"
    );
    assert_eq!(k.ok(["ps", "-aq"]), "");
}

#[test]
fn info_counts_containers_and_names_the_runtimes() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok(["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    k.ok(["create", "--name", "made", "busybox", "true"]);
    let info = k.ok(["info"]);
    for line in [
        " Containers: 2\n",
        "  Running: 1\n",
        "  Paused: 0\n",
        "  Stopped: 1\n",
        " Default Runtime: kujira\n",
        " Logging Driver: json-file\n",
    ] {
        assert!(info.contains(line), "{line:?} in {info}");
    }
    assert!(info.contains(" Runtimes: kujira crun runc\n"), "{info}");
    assert_eq!(
        k.ok([
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.DefaultRuntime}}"
        ])
        .trim(),
        "2 1 kujira"
    );
}

#[test]
fn stats_reads_cpu_memory_and_pids_from_the_cgroups() {
    let k = with_images();
    let _c = Cleanup(&k);
    k.ok([
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    k.ok([
        "run",
        "-d",
        "--name",
        "idle",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000; true",
    ]);
    k.ok(["create", "--name", "never", "busybox", "true"]);
    let table = k.ok(["stats", "--no-stream"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        [
            "CONTAINER",
            "ID",
            "NAME",
            "CPU",
            "%",
            "MEM",
            "USAGE",
            "/",
            "LIMIT",
            "MEM",
            "%",
            "NET",
            "I/O",
            "BLOCK",
            "I/O",
            "PIDS"
        ]
    );
    assert_eq!(lines.count(), 2, "running containers only: {table}");
    let f = "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}";
    let busy = k.ok(["stats", "--no-stream", "--format", f, "busy"]);
    let fields: Vec<&str> = busy.split_whitespace().collect();
    let cpu: f64 = fields[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 1.0, "a spinning shell uses CPU: {busy}");
    assert_eq!(fields[4], "64MiB", "the memory limit: {busy}");
    assert_eq!(fields[5], "1");
    let idle = k.ok(["stats", "--no-stream", "--format", f, "idle"]);
    assert!(idle.trim().ends_with(" 3"), "sh and two sleeps: {idle}");
    let all = k.ok([
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.MemUsage}}",
    ]);
    assert!(all.contains("never 0B / 0B"), "{all}");
    let err = k.fails(["stats", "--no-stream", "nosuch"], 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
}

#[test]
fn shm_size_sysctls_and_extra_hosts() {
    let k = with_images();
    let _c = Cleanup(&k);
    for runtime in ["kujira", "crun"] {
        let out = k.ok([
            "run",
            "--rm",
            "--runtime",
            runtime,
            "--shm-size",
            "1m",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=12345",
            "--add-host",
            "db:10.1.2.3",
            "web",
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; grep -w db /etc/hosts; grep /dev/shm /proc/mounts",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..3],
            ["1", "12345", "10.1.2.3\tdb"],
            "{runtime}: {out}"
        );
        assert!(lines[3].contains("size=1024k"), "{runtime}: {out}");
    }
    // The host's own settings are untouched.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax")
            .unwrap()
            .trim(),
        "12345"
    );
    for (flag, value) in [
        ("--sysctl", "kernel.hostname=x"),
        ("--add-host", "nope"),
        ("--add-host", "db:not-an-ip"),
        ("--shm-size", "0"),
    ] {
        k.fails(["run", "--rm", flag, value, "busybox", "true"], 125);
    }
    k.fails(
        [
            "run",
            "--rm",
            "--network",
            "host",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "true",
        ],
        125,
    );
    k.ok([
        "create",
        "--name",
        "hc",
        "--shm-size",
        "2m",
        "--add-host",
        "a:1.2.3.4",
        "busybox",
    ]);
    assert_eq!(
        inspect(
            &k,
            "{{.HostConfig.ShmSize}} {{.HostConfig.ExtraHosts}}",
            "hc"
        ),
        "2097152 [a:1.2.3.4]"
    );
}

#[test]
fn pid_ipc_and_uts_of_the_host() {
    let k = with_images();
    let _c = Cleanup(&k);
    let ns = |kind: &str| std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for runtime in ["kujira", "crun"] {
        let out = k.ok([
            "run", "--rm", "--runtime", runtime, "--pid", "host", "--ipc", "host", "--uts",
            "host", "web", "sh", "-c",
            "stat -c %N /proc/self/ns/pid /proc/self/ns/ipc /proc/self/ns/uts | tr -d \"'\"; hostname",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        for (line, kind) in lines.iter().zip(["pid", "ipc", "uts"]) {
            assert!(
                line.ends_with(ns(kind).to_str().unwrap()),
                "{runtime}: {kind}: {line}"
            );
        }
        assert_eq!(lines[3], host_name.trim(), "{runtime}");
    }
    // By default each is the container's own.
    let own = k.ok([
        "run",
        "--rm",
        "web",
        "stat",
        "-c",
        "%N",
        "/proc/self/ns/pid",
    ]);
    assert!(!own.trim().ends_with(ns("pid").to_str().unwrap()), "{own}");
    let err = k.fails(["run", "--rm", "--pid", "bogus", "busybox", "true"], 125);
    assert!(err.contains("invalid PID mode: bogus"), "{err}");
    k.ok(["create", "--name", "pm", "--pid", "host", "busybox"]);
    assert_eq!(
        inspect(&k, "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}", "pm"),
        "host private"
    );
}

#[test]
fn devices_are_given_only_when_asked() {
    if !std::path::Path::new("/dev/loop1").exists() {
        eprintln!("no /dev/loop0 and /dev/loop1 on this host: nothing to give");
        return;
    }
    let k = with_images();
    let _c = Cleanup(&k);
    let script = "[ -b /dev/loop0 ] && cat /dev/loop0 && echo given; \
                  [ -b /dev/xdisk ] && cat /dev/xdisk && echo read-only; \
                  echo x 2>/dev/null > /dev/xdisk || echo no-write";
    for runtime in ["kujira", "crun"] {
        let out = k.ok([
            "run",
            "--rm",
            "--runtime",
            runtime,
            "--device",
            "/dev/loop0",
            "--device",
            "/dev/loop1:/dev/xdisk:r",
            "web",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(out, "given\nread-only\nno-write\n", "{runtime}");
    }
    // Without --device the same node, made inside, cannot be opened.
    let out = k.run([
        "run",
        "--rm",
        "web",
        "sh",
        "-c",
        "busybox mknod /tmp/l b 7 0 && cat /tmp/l",
    ]);
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    let err = k.fails(
        [
            "run",
            "--rm",
            "--device",
            "/etc/hostname",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("not a device node"), "{err}");
    k.ok([
        "create",
        "--name",
        "dv",
        "--device",
        "/dev/loop0:/dev/d:r",
        "busybox",
    ]);
    assert_eq!(
        inspect(
            &k,
            "{{range .HostConfig.Devices}}{{.PathOnHost}} {{.PathInContainer}} {{.CgroupPermissions}}{{end}}",
            "dv"
        ),
        "/dev/loop0 /dev/d r"
    );
}

#[test]
fn memory_swap_reservation_shares_oom_score_and_groups() {
    let k = with_images();
    let _c = Cleanup(&k);
    let id = k
        .ok([
            "run",
            "-d",
            "-m",
            "64m",
            "--memory-swap",
            "100m",
            "--memory-reservation",
            "32m",
            "--cpu-shares",
            "512",
            "--oom-score-adj",
            "300",
            "--group-add",
            "123",
            "web",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let cg = |ctrl: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}/kujira/{id}/{file}"))
            .map(|s| s.trim().to_string())
            .ok()
    };
    if cg("memory", "memory.limit_in_bytes").is_some() {
        assert_eq!(cg("memory", "memory.limit_in_bytes").unwrap(), "67108864");
        assert_eq!(
            cg("memory", "memory.soft_limit_in_bytes").unwrap(),
            "33554432"
        );
        if let Some(sw) = cg("memory", "memory.memsw.limit_in_bytes") {
            assert_eq!(sw, "104857600");
        }
        assert_eq!(cg("cpu", "cpu.shares").unwrap(), "512");
    }
    assert_eq!(
        k.ok(["exec", &id, "cat", "/proc/1/oom_score_adj"]).trim(),
        "300"
    );
    let status = k.ok(["exec", &id, "grep", "^Groups", "/proc/1/status"]);
    assert!(status.contains("123"), "{status}");
    assert_eq!(
        inspect(
            &k,
            "{{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} {{.HostConfig.OomScoreAdj}}",
            &id
        ),
        "104857600 33554432 512 300"
    );
    // Docker's checks.
    for args in [
        &["--memory-swap", "10m"][..],
        &["-m", "64m", "--memory-swap", "10m"][..],
        &["--oom-score-adj", "2000"][..],
        &["--group-add", "no-such-group"][..],
    ] {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend_from_slice(args);
        cmd.extend(["busybox", "true"]);
        k.fails(cmd, 125);
    }
}

#[test]
fn dns_flags_and_cidfile() {
    let k = with_images();
    let _c = Cleanup(&k);
    let out = k.ok([
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert_eq!(
        out,
        "nameserver 192.0.2.53\nsearch example.test\noptions ndots:3\n"
    );
    k.fails(
        ["run", "--rm", "--dns", "not-an-ip", "busybox", "true"],
        125,
    );
    let dir = tempfile::tempdir().unwrap();
    let cid = dir.path().join("cid");
    let cid_arg = cid.to_str().unwrap();
    k.ok([
        "create",
        "--cidfile",
        cid_arg,
        "--name",
        "withcid",
        "busybox",
    ]);
    assert_eq!(
        std::fs::read_to_string(&cid).unwrap(),
        inspect(&k, "{{.Id}}", "withcid")
    );
    let err = k.fails(["create", "--cidfile", cid_arg, "busybox"], 125);
    assert!(err.contains("Container ID file found"), "{err}");
}
