//! The real Docker CLI (`/usr/local/bin/docker`, 28.x) driving `kujira serve` over a
//! unix socket through the tutorials' flow, on images served by Debian's
//! docker-registry as the docker.io mirror. What the CLI prints is asserted, and
//! the same images and containers are seen by `kujira` on the shared store.

use std::time::Duration;

use kujira_test_support::container::{free_port, http_get_retry, wait_until, Pty};
use kujira_test_support::image;
use kujira_test_support::registry::{Registry, RegistryOptions};
use kujira_test_support::serve::Server;
use kujira_test_support::Kujira;

const SECS: Duration = Duration::from_secs(15);

/// A store, a registry with `busybox` and `nginx` (a busybox httpd) as docker.io
/// images, and the server over the store using that registry as its mirror.
struct Setup {
    k: Kujira,
    reg: Registry,
    s: Server,
}

fn setup() -> Setup {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(image::busybox(), "library/busybox:latest");
    reg.push_image(image::web(), "library/nginx:latest");
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[("KUJIRA_REGISTRY_MIRROR", &reg.url())]);
    Setup { k, reg, s }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // No monitor outlives its test.
        let ids = self.k.run(["ps", "-aq", "--no-trunc"]);
        let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.k.run(args);
        }
    }
}

/// A container's memory limit as its cgroup (v1 or v2) holds it.
fn memory_limit(id: &str) -> String {
    std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/kujira/{id}/memory.limit_in_bytes"
    ))
    .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/kujira/{id}/memory.max")))
    .unwrap()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn pull_prints_dockers_progress_lines_and_the_store_is_shared() {
    let t = setup();
    let remote = t.reg.inspect("library/busybox:latest", &[]);
    let digest = remote["Digest"].as_str().unwrap().to_string();
    let layer = remote["Layers"][0].as_str().unwrap().to_string();
    let id = &layer["sha256:".len().."sha256:".len() + 12];
    let out = t.s.docker_ok(["pull", "busybox"]);
    assert_eq!(
        out,
        format!(
            "Using default tag: latest\nlatest: Pulling from library/busybox\n{id}: Pulling fs layer\n\
             {id}: Verifying Checksum\n{id}: Download complete\n{id}: Pull complete\nDigest: {digest}\n\
             Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"
        )
    );
    let again = t.s.docker_ok(["pull", "busybox:latest"]);
    assert!(again.contains(&format!("{id}: Already exists")), "{again}");
    assert!(again.contains("Status: Image is up to date for busybox:latest"));
    // The CLI sees what the server pulled, the server what the CLI tagged.
    let by_kujira = t.k.ok(["inspect", "-f", "{{.Id}}", "busybox"]);
    let by_docker = t.s.docker_ok(["inspect", "--format", "{{.Id}}", "busybox"]);
    assert_eq!(by_kujira, by_docker);
    t.k.ok(["tag", "busybox", "myuser/busybox:v1.0"]);
    assert_eq!(
        t.s.docker_ok([
            "images",
            "--filter",
            "reference=myuser/*",
            "--format",
            "{{.Repository}}:{{.Tag}}"
        ]),
        "myuser/busybox:v1.0\n"
    );
    // What the registry serves, without a pull: the descriptor and the platform
    // of a single-platform image, from its config.
    let dist = kujira_test_support::http::json(
        &t.s.socket(),
        "GET",
        "/distribution/busybox:latest/json",
        &serde_json::Value::Null,
    );
    assert_eq!(dist.status, 200, "{}", dist.text());
    let doc = dist.json();
    assert_eq!(doc["Descriptor"]["digest"], digest.as_str());
    let (os, arch) = ("linux", std::env::consts::ARCH.replace("x86_64", "amd64"));
    assert_eq!(
        doc["Platforms"],
        serde_json::json!([{"architecture": arch, "os": os}])
    );
    // A missing image is a 404 with the registry's word, exit code 1.
    let missing = format!("{}/library/nosuch:1", t.reg.host());
    let err = t.s.docker_fails(["pull", &missing], 1);
    assert!(err.contains("Error response from daemon"), "{err}");
}

#[test]
fn the_image_commands_of_the_tutorial() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    t.s.docker_ok(["tag", "busybox:latest", "myuser/busybox:v1.0"]);
    let images = t.s.docker_ok(["images"]);
    let rows = lines(&images);
    assert!(
        rows[0].starts_with("REPOSITORY       TAG       IMAGE ID       CREATED"),
        "{images}"
    );
    assert_eq!(rows.len(), 3, "{images}");
    assert!(rows.iter().any(|r| r.starts_with("myuser/busybox   v1.0 ")));
    // The same table as kujira's own (the docker CLI orders one image's
    // repositories as a Go map iterates: at random).
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&images), sorted(&t.k.ok(["images"])));
    let history = t.s.docker_ok(["history", "busybox"]);
    assert!(
        history.starts_with("IMAGE          CREATED ") && history.contains("CREATED BY"),
        "{history}"
    );
    assert_eq!(history, t.k.ok(["history", "busybox"]));
    assert_eq!(
        t.s.docker_ok(["inspect", "--format", "{{len .RootFS.Layers}}", "busybox"]),
        "1\n"
    );
    assert_eq!(
        t.s.docker_ok([
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            "busybox"
        ]),
        t.k.ok([
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            "busybox"
        ])
    );
    let untag = t.s.docker_ok(["rmi", "myuser/busybox:v1.0"]);
    assert_eq!(untag, "Untagged: myuser/busybox:v1.0\n");
    let df = t.s.docker_ok(["system", "df"]);
    assert_eq!(
        lines(&df)[0],
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    );
    assert!(
        lines(&df)[1].starts_with("Images          1         0 "),
        "{df}"
    );
    assert!(
        lines(&df)[4].starts_with("Build Cache     0         0 "),
        "{df}"
    );
    let dfv = t.s.docker_ok(["system", "df", "-v"]);
    assert!(dfv.contains("Images space usage:"), "{dfv}");
    assert!(dfv.contains("\nbusybox      latest "), "{dfv}");
    // rmi -f of an image a container uses untags it, as Docker does.
    t.s.docker_ok(["create", "--name", "user", "busybox", "true"]);
    let err = t.s.docker_fails(["rmi", "busybox"], 1);
    assert!(
        err.contains("conflict") || err.contains("is being used"),
        "{err}"
    );
    let forced = t.s.docker_ok(["rmi", "-f", "busybox"]);
    assert!(forced.contains("Untagged: busybox:latest"), "{forced}");
    t.s.docker_ok(["rm", "user"]);
    let pruned = t.s.docker_ok(["image", "prune", "-af"]);
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert_eq!(t.k.ok(["images", "-q"]), "");
}

#[test]
fn a_web_server_run_detached_with_a_published_port() {
    let t = setup();
    let port = free_port();
    let id = t.s.docker_ok([
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        "nginx",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert!(http_get_retry(port, SECS).contains("Welcome to kujira!"));
    let ps = t.s.docker_ok(["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{ps}");
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert!(ps.contains(&id[..12]));
    // kujira sees the container docker made.
    assert!(t.k.ok(["ps", "-q"]).contains(&id[..12]));
    // exec, and the copy-on-write edit shows through the server.
    t.s.docker_ok([
        "exec",
        "web",
        "sh",
        "-c",
        "echo Modified! > /www/index.html; echo done-by-exec",
    ]);
    assert!(http_get_retry(port, SECS).contains("Modified!"));
    let code =
        t.s.docker(["exec", "web", "sh", "-c", "exit 5"])
            .status()
            .unwrap();
    assert_eq!(code.code(), Some(5));
    let err = t.s.docker_fails(["exec", "web", "nosuchcmd"], 127);
    assert!(err.contains("executable file not found"), "{err}");
    // cp both ways.
    let dir = tempfile::tempdir().unwrap();
    let host_file = dir.path().join("page.html");
    std::fs::write(&host_file, "copied in\n").unwrap();
    t.s.docker_ok(["cp", host_file.to_str().unwrap(), "web:/www/page.html"]);
    assert_eq!(
        t.k.ok(["exec", "web", "cat", "/www/page.html"]),
        "copied in\n"
    );
    let back = dir.path().join("back.html");
    t.s.docker_ok(["cp", "web:/www/index.html", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "Modified!\n");
    let diff = t.s.docker_ok(["diff", "web"]);
    assert!(diff.contains("C /www/index.html"), "{diff}");
    assert!(diff.contains("A /www/page.html"), "{diff}");
    // export: the whole filesystem, the edit included.
    let tarball = dir.path().join("web.tar");
    t.s.docker_ok(["export", "-o", tarball.to_str().unwrap(), "web"]);
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tarball)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.trim_start_matches("./") == "bin/busybox"),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.trim_start_matches("./") == "www/page.html"),
        "{list}"
    );
    // stop, rm.
    assert_eq!(t.s.docker_ok(["stop", "web"]), "web\n");
    let all =
        t.s.docker_ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(all.starts_with("web Exited ("), "{all}");
    assert_eq!(t.s.docker_ok(["rm", "web"]), "web\n");
    assert_eq!(t.k.ok(["ps", "-aq"]), "");
    // The life of the container, as `docker events` and `kujira events` tell it
    // (`--until 0s` is now in whole seconds: let that second pass).
    std::thread::sleep(Duration::from_millis(1100));
    let events = t.s.docker_ok([
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "container=web",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().filter(|a| !a.starts_with("exec")).collect();
    assert_eq!(
        actions,
        ["create", "start", "kill", "die", "stop", "destroy"],
        "{events}"
    );
    let mine = t.k.ok([
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "-f",
        "event=destroy",
    ]);
    assert!(
        mine.contains(&format!("container destroy {id} (image=nginx, name=web)")),
        "{mine}"
    );
}

#[test]
fn a_container_made_by_kujira_is_driven_by_docker() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    let id = t.k.ok([
        "run",
        "-d",
        "--name",
        "bykujira",
        "busybox",
        "sh",
        "-c",
        "echo hello from kujira; exec sleep 600",
    ]);
    let id = id.trim();
    wait_until("the first log line", SECS, || {
        t.s.docker_ok(["logs", "bykujira"]) == "hello from kujira\n"
    });
    assert_eq!(
        t.s.docker_ok(["inspect", "-f", "{{.Id}} {{.State.Status}}", "bykujira"]),
        format!("{id} running\n")
    );
    assert_eq!(t.s.docker_ok(["exec", "bykujira", "echo", "hi"]), "hi\n");
    // update: the live cgroup and the stored config change.
    t.s.docker_ok([
        "update",
        "--memory",
        "64m",
        "--restart",
        "always",
        "bykujira",
    ]);
    assert_eq!(
        t.k.ok([
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
            "bykujira"
        ]),
        "67108864 always\n"
    );
    let limit = memory_limit(id);
    assert_eq!(limit.trim(), "67108864");
    // The same through kujira's own `update`: the names back, the cgroup changed.
    assert_eq!(
        t.k.ok(["update", "-m", "96m", "--pids-limit", "200", "bykujira"]),
        "bykujira\n"
    );
    let limit = memory_limit(id);
    assert_eq!(limit.trim(), "100663296");
    let err = t.k.fails(["update", "-m", "96m", "nosuchcontainer"], 1);
    assert!(err.contains("No such container: nosuchcontainer"), "{err}");
    t.s.docker_ok(["update", "--restart", "no", "bykujira"]);
    assert_eq!(t.s.docker_ok(["stop", "-t", "1", "bykujira"]), "bykujira\n");
    assert_eq!(
        t.k.ok(["inspect", "-f", "{{.State.Status}}", "bykujira"]),
        "exited\n"
    );
    let pruned = t.s.docker_ok(["container", "prune", "-f"]);
    assert!(pruned.contains(id), "{pruned}");
    t.s.docker_ok(["volume", "create", "data"]);
    assert_eq!(t.k.ok(["volume", "ls", "-q"]), "data\n");
    let vp = t.s.docker_ok(["volume", "prune", "-af"]);
    assert!(vp.contains("data"), "{vp}");
}

#[test]
fn attached_runs_keep_streams_stdin_and_exit_codes() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    let mut cmd = t.s.docker([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let piped =
        t.s.docker_stdin(["run", "-i", "--rm", "busybox", "cat"], b"through stdin\n");
    assert!(piped.status.success());
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "through stdin\n");
    // The --rm containers are gone.
    assert_eq!(t.k.ok(["ps", "-aq"]), "");
    // Logs are complete once wait returns.
    t.s.docker_ok([
        "run",
        "--name",
        "counted",
        "busybox",
        "sh",
        "-c",
        "seq 1 500",
    ]);
    let logs = t.s.docker_ok(["logs", "counted"]);
    assert_eq!(logs.lines().count(), 500);
    assert_eq!(
        t.s.docker_ok(["logs", "--tail", "2", "counted"]),
        "499\n500\n"
    );
}

#[test]
fn run_it_rm_sh_through_a_terminal() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    let mut pty = Pty::spawn(t.s.docker(["run", "-it", "--rm", "busybox", "sh"]));
    pty.expect("# ", SECS);
    pty.send("echo hi-$((40+2))\r");
    pty.expect("hi-42", SECS);
    pty.send("exit 7\r");
    assert_eq!(pty.wait(SECS), 7);
    assert_eq!(t.k.ok(["ps", "-aq"]), "");
    // exec -it into a running container too.
    t.s.docker_ok(["run", "-d", "--name", "long", "busybox", "sleep", "600"]);
    let mut pty = Pty::spawn(t.s.docker(["exec", "-it", "long", "sh"]));
    pty.expect("# ", SECS);
    pty.send("echo in-$((1+1))\r");
    pty.expect("in-2", SECS);
    pty.send("exit 4\r");
    assert_eq!(pty.wait(SECS), 4);
}

#[test]
fn errors_read_as_dockerds() {
    let t = setup();
    let err = t.s.docker_fails(["logs", "nosuch"], 1);
    assert_eq!(
        err,
        "Error response from daemon: No such container: nosuch\n"
    );
    let err = t.s.docker_fails(["rmi", "nosuch"], 1);
    assert!(err.contains("No such image: nosuch"), "{err}");
    t.s.docker_ok(["pull", "-q", "busybox"]);
    t.s.docker_ok(["run", "-d", "--name", "busy", "busybox", "sleep", "600"]);
    let err = t.s.docker_fails(["rm", "busy"], 1);
    assert!(err.contains("container is running"), "{err}");
    let err =
        t.s.docker_fails(["run", "--name", "busy", "busybox", "true"], 125);
    assert!(err.contains("is already in use"), "{err}");
    // A version above the server's gets dockerd's 400.
    let out = std::process::Command::new("curl")
        .args(["-s", "--unix-socket"])
        .arg(t.s.socket())
        .arg("http://localhost/v9.99/version")
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("is too new. Maximum supported API version is"),
        "{body}"
    );
}

#[test]
fn health_checks_show_in_ps_inspect_and_events() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    t.s.docker_ok([
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/ok; exec sleep 600",
    ]);
    let status = || {
        t.s.docker_ok(["ps", "--format", "{{.Status}}", "-f", "name=checked"])
    };
    wait_until("healthy", SECS, || status().contains("(healthy)"));
    assert_eq!(
        t.s.docker_ok(["inspect", "-f", "{{.State.Health.Status}}", "checked"]),
        "healthy\n"
    );
    // kujira's own ps reads the same state.
    assert!(t
        .k
        .ok(["ps", "--format", "{{.Status}}"])
        .contains("(healthy)"));
    t.s.docker_ok(["exec", "checked", "rm", "/tmp/ok"]);
    wait_until("unhealthy", SECS, || status().contains("(unhealthy)"));
    let log =
        t.s.docker_ok(["inspect", "-f", "{{json .State.Health.Log}}", "checked"]);
    assert!(log.contains("\"ExitCode\":1"), "{log}");
    let events = t.k.ok([
        "events",
        "--since",
        "5m",
        "--until",
        "0s",
        "--filter",
        "container=checked",
        "--format",
        "{{.Action}}",
    ]);
    assert!(events.contains("health_status: healthy"), "{events}");
}

#[test]
fn networks_through_the_docker_cli() {
    let t = setup();
    let s = &t.s;
    let id = s.docker_ok([
        "network",
        "create",
        "--subnet",
        &format!("{}/24", t.k.net().gateway().replace(".0.1", ".9.0")),
        "appnet",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ls = s.docker_ok(["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(
        lines(&ls),
        ["appnet bridge", "bridge bridge", "host host", "none null"]
    );
    // Seen by kujira too: one store.
    assert!(t.k.ok(["network", "ls", "-q", "--no-trunc"]).contains(id));
    s.docker_ok([
        "run",
        "-d",
        "--name",
        "svc",
        "--network",
        "appnet",
        "--network-alias",
        "api",
        "busybox",
        "sleep",
        "60",
    ]);
    let out = s.docker_ok([
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "sh",
        "-c",
        "busybox ping -c1 -W2 api >/dev/null && echo reached",
    ]);
    assert_eq!(out, "reached\n");
    let members = s.docker_ok([
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}{{end}}",
        "appnet",
    ]);
    assert_eq!(members.trim(), "svc");
    let ip = s.docker_ok([
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.appnet.IPAddress}}",
        "svc",
    ]);
    assert!(
        ip.starts_with(&t.k.net().gateway().replace(".0.1", ".9.")),
        "{ip}"
    );
    let err = s.docker_fails(["network", "rm", "appnet"], 1);
    assert!(err.contains("has active endpoints"), "{err}");
    let err = s.docker_fails(["network", "create", "appnet"], 1);
    assert!(
        err.contains("network with name appnet already exists"),
        "{err}"
    );
    s.docker_ok(["rm", "-f", "svc"]);
    assert_eq!(s.docker_ok(["network", "rm", "appnet"]).trim(), "appnet");
    let err = s.docker_fails(["network", "inspect", "appnet"], 1);
    assert!(err.contains("network appnet not found"), "{err}");
}

/// `/containers/{id}/attach/ws`: a WebSocket client (tungstenite) attached to a
/// running container sends lines to its stdin and reads its output back as raw
/// binary messages.
#[test]
fn attach_over_a_websocket() {
    let t = setup();
    let id = t.s.docker_ok([
        "run",
        "-d",
        "-i",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo \"got $l\"; done",
    ]);
    let id = id.trim();
    let sock = std::os::unix::net::UnixStream::connect(t.s.socket()).unwrap();
    sock.set_read_timeout(Some(SECS)).unwrap();
    let url = format!(
        "ws://localhost/v1.47/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1"
    );
    let (mut ws, resp) = tungstenite::client(url.as_str(), sock).expect("websocket handshake");
    assert_eq!(resp.status(), 101);
    ws.send(tungstenite::Message::text("hello\n")).unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("got hello\n") {
        match ws.read().expect("a message") {
            tungstenite::Message::Binary(b) => got.extend_from_slice(&b),
            tungstenite::Message::Text(t) => got.extend_from_slice(t.as_bytes()),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Raw bytes, no 8-byte stream headers.
    assert_eq!(String::from_utf8_lossy(&got), "got hello\n");
    let _ = ws.close(None);
    t.s.docker_ok(["rm", "-f", id]);
}

/// One container model: the same flags given to `docker create` (through the API)
/// and to `kujira create` (no server) make the same `Config` and `HostConfig`, and
/// `--mount` made by the docker CLI works.
#[test]
fn the_same_flags_make_the_same_container_through_either_front() {
    let t = setup();
    t.s.docker_ok(["pull", "-q", "busybox"]);
    let flags = [
        "-h",
        "same",
        "-e",
        "A=1",
        "-l",
        "k=v",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "9000",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--restart",
        "on-failure:3",
        "--ulimit",
        "nofile=100:200",
        "--tmpfs",
        "/run:size=1m",
        "-v",
        "/cache",
        "--mount",
        "type=tmpfs,dst=/t",
        "--add-host",
        "a:1.2.3.4",
        "--dns",
        "192.0.2.53",
        "-w",
        "/tmp",
        "-u",
        "1000",
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        "3",
        "--health-cmd",
        "true",
        "--cap-add",
        "NET_ADMIN",
        "--security-opt",
        "no-new-privileges",
        "--pids-limit",
        "50",
        "--shm-size",
        "8m",
        "--sysctl",
        "net.ipv4.ip_forward=1",
    ];
    let create = |front: &str| -> String {
        let mut args = vec!["create", "--name", front];
        args.extend(flags);
        args.extend(["busybox", "sh", "-c", "echo hi"]);
        if front == "docker" {
            t.s.docker_ok(args)
        } else {
            t.k.ok(args)
        }
    };
    create("docker");
    create("kujira");
    for part in ["Config", "HostConfig"] {
        let template = format!("{{{{json .{part}}}}}");
        let docker = t.k.ok(["inspect", "-f", &template, "docker"]);
        let kujira = t.k.ok(["inspect", "-f", &template, "kujira"]);
        let docker: serde_json::Value = serde_json::from_str(&docker).unwrap();
        let kujira: serde_json::Value = serde_json::from_str(&kujira).unwrap();
        assert_eq!(docker, kujira, "{part} differs between the fronts");
    }
    let hc = t.k.ok([
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}}",
        "docker",
    ]);
    assert_eq!(
        hc,
        "67108864 134217728 500000000 on-failure:3 {\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]} {\"80/tcp\":{},\"9000/tcp\":{}}\n"
    );
    // And both run the same.
    assert_eq!(t.s.docker_ok(["start", "-a", "docker"]), "hi\n");
    assert_eq!(t.k.ok(["start", "-a", "kujira"]), "hi\n");
    // --mount from the docker CLI arrives as HostConfig.Mounts and is mounted.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "through --mount\n").unwrap();
    let bind = format!("type=bind,src={},dst=/m,readonly", dir.path().display());
    assert_eq!(
        t.s.docker_ok(["run", "--rm", "--mount", &bind, "busybox", "cat", "/m/f"]),
        "through --mount\n"
    );
    t.s.docker_fails(
        ["run", "--rm", "--mount", &bind, "busybox", "touch", "/m/g"],
        1,
    );
    assert!(!dir.path().join("g").exists());
}
