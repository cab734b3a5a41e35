//! `kujira serve` under load and faults: many concurrent mixed requests, clients
//! that hang up mid-stream, the server killed with SIGKILL under load, memory over
//! many requests, and a corpus of malformed requests. After each, the store is
//! consistent (`system check`) and nothing is left: no container, mount or monitor.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kujira_test_support::container::wait_until;
use kujira_test_support::http::{self, Response};
use kujira_test_support::image::{big_image, busybox_docker_archive};
use kujira_test_support::kujira::mounts_under;
use kujira_test_support::registry::{Registry, RegistryOptions};
use kujira_test_support::serve::Server;
use kujira_test_support::{assert_unchanged, Kujira, StoreSnapshot};
use serde_json::json;

const SECS: Duration = Duration::from_secs(20);

fn with_busybox() -> (Kujira, Server) {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    k.ok([
        "load",
        "-q",
        "-i",
        busybox_docker_archive().to_str().unwrap(),
    ]);
    let s = Server::start(&k, &[]);
    (k, s)
}

fn ok(r: &Response, what: &str) {
    assert!(
        (200..300).contains(&r.status) || r.status == 101,
        "{what}: {} {}",
        r.status,
        r.text()
    );
}

fn create(sock: &Path, cmd: &[&str]) -> String {
    let r = http::json(
        sock,
        "POST",
        "/containers/create",
        &json!({"Image": "busybox", "Cmd": cmd}),
    );
    ok(&r, "create");
    r.json()["Id"].as_str().unwrap().to_string()
}

/// `POST /containers/{id}/{action}` (start, stop, …) or `DELETE` with `force`.
fn act(sock: &Path, id: &str, action: &str) {
    let r = match action {
        "remove" => http::json(
            sock,
            "DELETE",
            &format!("/containers/{id}?force=1"),
            &json!(null),
        ),
        _ => http::json(
            sock,
            "POST",
            &format!("/containers/{id}/{action}"),
            &json!(null),
        ),
    };
    ok(&r, action);
}

/// An exec through the API, its hijacked stream read to the end.
fn exec(sock: &Path, id: &str, cmd: &[&str]) -> Vec<u8> {
    let r = http::json(
        sock,
        "POST",
        &format!("/containers/{id}/exec"),
        &json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true}),
    );
    ok(&r, "exec create");
    let exec_id = r.json()["Id"].as_str().unwrap().to_string();
    let r = http::request(
        sock,
        "POST",
        &format!("/exec/{exec_id}/start"),
        &[
            ("Content-Type", "application/json"),
            ("Connection", "Upgrade"),
            ("Upgrade", "tcp"),
        ],
        br#"{"Detach":false,"Tty":false}"#,
    )
    .expect("exec start answered");
    ok(&r, "exec start");
    r.body
}

/// The container-monitor processes of the store at `root`.
fn monitors(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains("container-monitor") && cmd.contains(&root) {
            found.push(cmd);
        }
    }
    found
}

fn assert_nothing_left(k: &Kujira) {
    assert_eq!(k.ok(["ps", "-aq"]), "", "containers left");
    wait_until("monitors to exit", SECS, || monitors(k.root()).is_empty());
    assert_eq!(mounts_under(k.root()), Vec::<PathBuf>::new(), "mounts left");
    k.ok(["system", "check"]);
}

#[test]
fn two_hundred_concurrent_mixed_requests_leave_nothing_behind() {
    let (k, s) = with_busybox();
    let sock = s.socket();
    let anchor = create(&sock, &["sleep", "600"]);
    act(&sock, &anchor, "start");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let sock = sock.clone();
            let anchor = anchor.clone();
            std::thread::spawn(move || {
                let mut requests = 0;
                for i in 0..5 {
                    ok(
                        &http::json(&sock, "GET", "/containers/json?all=1", &json!(null)),
                        "list",
                    );
                    ok(
                        &http::json(
                            &sock,
                            "GET",
                            &format!("/containers/{anchor}/json"),
                            &json!(null),
                        ),
                        "inspect",
                    );
                    ok(
                        &http::json(&sock, "GET", "/images/json", &json!(null)),
                        "images",
                    );
                    let id = create(
                        &sock,
                        &["sh", "-c", &format!("echo t{t}i{i}; exec sleep 600")],
                    );
                    ok(
                        &http::json(
                            &sock,
                            "POST",
                            &format!("/containers/{id}/start"),
                            &json!(null),
                        ),
                        "start",
                    );
                    let out = exec(&sock, &id, &["echo", "from-exec"]);
                    assert!(
                        String::from_utf8_lossy(&out).contains("from-exec"),
                        "{out:?}"
                    );
                    let logs = http::json(
                        &sock,
                        "GET",
                        &format!("/containers/{id}/logs?stdout=1"),
                        &json!(null),
                    );
                    ok(&logs, "logs");
                    ok(
                        &http::json(
                            &sock,
                            "DELETE",
                            &format!("/containers/{id}?force=1"),
                            &json!(null),
                        ),
                        "remove",
                    );
                    // list, inspect, images, create, start, exec create+start, logs, remove
                    requests += 9;
                }
                requests
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(total >= 200, "{total} requests");
    let left = k.ok(["ps", "-aq", "--no-trunc"]);
    assert_eq!(left.trim(), anchor, "only the anchor is left");
    ok(
        &http::json(
            &sock,
            "DELETE",
            &format!("/containers/{anchor}?force=1"),
            &json!(null),
        ),
        "remove anchor",
    );
    assert_nothing_left(&k);
}

/// Reads a little of a streamed answer, then hangs up.
fn hang_up_after(sock: &Path, method: &str, path: &str, extra: &str, bytes: usize) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(SECS)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n{extra}\r\n"
    )
    .unwrap();
    let mut got = vec![0u8; bytes];
    let mut n = 0;
    while n < bytes {
        match s.read(&mut got[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    assert!(n > 0, "{path} answered nothing");
}

#[test]
fn clients_that_hang_up_mid_stream_leave_no_broken_state() {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(&big_image(24, 2), "library/big:latest");
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    k.ok([
        "load",
        "-q",
        "-i",
        busybox_docker_archive().to_str().unwrap(),
    ]);
    let s = Server::start(&k, &[("KUJIRA_REGISTRY_MIRROR", &reg.url())]);
    let sock = s.socket();
    // Mid-pull: the pull finishes or rolls back; the store stays consistent.
    hang_up_after(
        &sock,
        "POST",
        "/images/create?fromImage=big&tag=latest",
        "",
        64,
    );
    // Mid-logs of a chatty container, and mid-attach to it.
    let chatty = create(&sock, &["sh", "-c", "seq 1 200000; exec sleep 600"]);
    act(&sock, &chatty, "start");
    hang_up_after(
        &sock,
        "GET",
        &format!("/containers/{chatty}/logs?stdout=1&follow=1"),
        "",
        4096,
    );
    hang_up_after(
        &sock,
        "POST",
        &format!("/containers/{chatty}/attach?stream=1&stdout=1&stdin=1"),
        "Connection: Upgrade\r\nUpgrade: tcp\r\n",
        64,
    );
    // The container lives on and still answers an exec.
    assert!(exec(&sock, &chatty, &["echo", "still-here"]).ends_with(b"still-here\n"));
    // Mid-copy and mid-export of a stopped container: its rootfs is unmounted again.
    let stopped = create(&sock, &["true"]);
    hang_up_after(
        &sock,
        "GET",
        &format!("/containers/{stopped}/archive?path=/bin"),
        "",
        1024,
    );
    hang_up_after(
        &sock,
        "GET",
        &format!("/containers/{stopped}/export"),
        "",
        1024,
    );
    wait_until("the copy's and the export's mount to go", SECS, || {
        !mounts_under(k.root())
            .iter()
            .any(|m| m.to_string_lossy().contains(&stopped))
    });
    // The interrupted pull is either whole or absent; a new one completes.
    wait_until("the pull to settle", Duration::from_secs(60), || {
        k.run(["system", "check"]).status.success()
    });
    let r = http::json(
        &sock,
        "POST",
        "/images/create?fromImage=big&tag=latest",
        &json!(null),
    );
    ok(&r, "pull again");
    assert!(r.text().contains("Status: "), "{}", r.text());
    for id in [&chatty, &stopped] {
        ok(
            &http::json(
                &sock,
                "DELETE",
                &format!("/containers/{id}?force=1"),
                &json!(null),
            ),
            "remove",
        );
    }
    assert_nothing_left(&k);
}

#[test]
fn serve_killed_under_load_leaves_the_store_consistent_and_containers_running() {
    let (k, mut s) = with_busybox();
    let sock = s.socket();
    let survivor = create(&sock, &["sleep", "600"]);
    act(&sock, &survivor, "start");
    let load: Vec<_> = (0..4)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = http::request(
                        &sock,
                        "POST",
                        "/containers/create",
                        &[("Content-Type", "application/json")],
                        br#"{"Image":"busybox","Cmd":["true"]}"#,
                    );
                    let Some(r) = r else { return };
                    if let Some(id) = serde_json::from_slice::<serde_json::Value>(&r.body)
                        .ok()
                        .and_then(|v| v["Id"].as_str().map(str::to_string))
                    {
                        let _ =
                            http::request(&sock, "DELETE", &format!("/containers/{id}"), &[], b"");
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    s.kill();
    for t in load {
        t.join().unwrap();
    }
    k.ok(["system", "check"]);
    assert_eq!(
        k.ok(["inspect", "-f", "{{.State.Status}}", &survivor]),
        "running\n"
    );
    // A new server over the same store sees the survivor and drives it.
    let s2 = Server::start(&k, &[]);
    let list = http::json(&s2.socket(), "GET", "/containers/json", &json!(null));
    assert!(list.text().contains(&survivor), "{}", list.text());
    // What the killed server was making is removed like any container.
    let all = k.ok(["ps", "-aq", "--no-trunc"]);
    for id in all.split_whitespace() {
        ok(
            &http::json(
                &s2.socket(),
                "DELETE",
                &format!("/containers/{id}?force=1"),
                &json!(null),
            ),
            "remove",
        );
    }
    assert_nothing_left(&k);
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn server_memory_stays_flat_over_ten_thousand_requests() {
    let (k, s) = with_busybox();
    let sock = s.socket();
    let id = create(&sock, &["true"]);
    let hammer = |n: usize| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sock = sock.clone();
                let id = id.clone();
                std::thread::spawn(move || {
                    for i in 0..n / 4 {
                        let path = match (i + t) % 4 {
                            0 => "/_ping".to_string(),
                            1 => "/containers/json?all=1".to_string(),
                            2 => format!("/containers/{id}/json"),
                            _ => "/images/json".to_string(),
                        };
                        let r = http::request(&sock, "GET", &path, &[], b"").expect("answer");
                        assert_eq!(r.status, 200, "{path}: {}", r.text());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    };
    hammer(1000);
    let before = rss_kb(s.pid());
    hammer(10_000);
    let after = rss_kb(s.pid());
    assert!(
        after <= before + 8 * 1024,
        "RSS grew from {before} kB to {after} kB over 10,000 requests"
    );
    ok(
        &http::json(&sock, "DELETE", &format!("/containers/{id}"), &json!(null)),
        "remove",
    );
    assert_nothing_left(&k);
}

#[test]
fn malformed_requests_get_clear_4xx_and_change_nothing() {
    let (k, s) = with_busybox();
    let sock = s.socket();
    let stopped = create(&sock, &["true"]);
    let before = StoreSnapshot::take(k.root());
    let post_create = |body: &[u8]| {
        http::request(
            &sock,
            "POST",
            "/containers/create",
            &[("Content-Type", "application/json")],
            body,
        )
        .expect("an answer")
    };
    let cases: Vec<(&str, Response, u16, &str)> = vec![
        ("bad JSON", post_create(b"{not json"), 400, "invalid JSON"),
        (
            "wrong type",
            post_create(br#"{"Image": 5}"#),
            400,
            "invalid JSON",
        ),
        (
            "wrong nested type",
            post_create(br#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#),
            400,
            "invalid JSON",
        ),
        (
            "bad reference",
            post_create(br#"{"Image":"Bad::Ref"}"#),
            400,
            "",
        ),
        (
            "missing image",
            post_create(br#"{"Image":"nosuch:1"}"#),
            404,
            "No such image",
        ),
        (
            "bad filters",
            http::json(
                &sock,
                "GET",
                "/containers/json?filters=notjson",
                &serde_json::Value::Null,
            ),
            400,
            "invalid filter",
        ),
        (
            "bad pull reference",
            http::json(
                &sock,
                "POST",
                "/images/create?fromImage=UPPER&tag=x",
                &serde_json::Value::Null,
            ),
            400,
            "",
        ),
        (
            "version too new",
            http::json(&sock, "GET", "/v1.99/version", &serde_json::Value::Null),
            400,
            "too new",
        ),
        (
            "unknown endpoint",
            http::json(&sock, "GET", "/no/such/endpoint", &serde_json::Value::Null),
            404,
            "page not found",
        ),
        (
            // Resolved inside the container's root: the host's /etc/shadow is not there.
            "archive path traversal",
            http::json(
                &sock,
                "GET",
                &format!("/containers/{stopped}/archive?path=/../../../../etc/shadow"),
                &serde_json::Value::Null,
            ),
            404,
            "Could not find the file",
        ),
    ];
    for (what, r, status, words) in &cases {
        assert_eq!(r.status, *status, "{what}: {}", r.text());
        assert!(r.text().contains(words), "{what}: {}", r.text());
        if r.status >= 400 {
            assert!(r.json()["message"].is_string(), "{what}: {}", r.text());
        }
    }
    // A giant body is refused, not buffered.
    let giant = vec![b'x'; 8 << 20];
    let r = post_create(&giant);
    assert_eq!(r.status, 413, "{}", r.text());
    // A giant header gets an error or a close, and the server goes on.
    let long = "a".repeat(2 << 20);
    let r = http::request(&sock, "GET", "/_ping", &[("X-Long", &long)], b"");
    assert!(r.is_none_or(|r| r.status >= 400), "giant header accepted");
    // An upload whose entries climb out of the target lands nowhere outside.
    let escape = std::env::temp_dir().join(format!("kujira-escape-{}", std::process::id()));
    let mut tar = Vec::new();
    {
        let name = format!("../../../../../../..{}", escape.display());
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(b"00000000004\0");
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| *b as u32).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        tar.extend_from_slice(&header);
        let mut data = [0u8; 512];
        data[..4].copy_from_slice(b"evil");
        tar.extend_from_slice(&data);
        tar.extend_from_slice(&[0u8; 1024]);
    }
    let r = http::request(
        &sock,
        "PUT",
        &format!("/containers/{stopped}/archive?path=/tmp"),
        &[("Content-Type", "application/x-tar")],
        &tar,
    )
    .expect("an answer");
    assert!(
        r.status >= 400 && r.status < 500,
        "{} {}",
        r.status,
        r.text()
    );
    assert!(
        !escape.exists(),
        "the upload escaped to {}",
        escape.display()
    );
    // The server still answers, and nothing in the store changed.
    ok(
        &http::json(&sock, "GET", "/_ping", &serde_json::Value::Null),
        "ping after",
    );
    assert_unchanged(&before, &StoreSnapshot::take(k.root()));
    ok(
        &http::json(
            &sock,
            "DELETE",
            &format!("/containers/{stopped}"),
            &serde_json::Value::Null,
        ),
        "remove",
    );
    assert_nothing_left(&k);
}

#[test]
fn concurrent_tags_and_container_churn_never_see_a_locked_database() {
    let (k, s) = with_busybox();
    let sock = s.socket();
    let mut threads = Vec::new();
    for t in 0..3 {
        let sock = sock.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..30 {
                let r = http::json(
                    &sock,
                    "POST",
                    &format!("/images/busybox/tag?repo=churn/t{t}&tag=v{i}"),
                    &json!(null),
                );
                ok(&r, "tag");
            }
        }));
    }
    for _ in 0..2 {
        let sock = sock.clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..10 {
                let id = create(&sock, &["true"]);
                act(&sock, &id, "start");
                act(&sock, &id, "remove");
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let tags = k.ok([
        "images",
        "--format",
        "{{.Repository}}",
        "--filter",
        "reference=churn/*",
    ]);
    assert_eq!(tags.lines().count(), 90, "{tags}");
    assert_nothing_left(&k);
}

#[test]
fn x_registry_auth_carries_credentials_for_one_push_and_pull() {
    use base64::Engine as _;
    let reg = Registry::start(RegistryOptions::plain().htpasswd("alice", "s3cret"));
    let (k, s) = with_busybox();
    let sock = s.socket();
    let target = format!("{}/private/bb", reg.host());
    k.ok(["tag", "busybox", &format!("{target}:1")]);
    let push_path = format!("/images/{target}/push?tag=1");
    // No credentials: the registry's refusal, as the stream's last message.
    let r = http::json(&sock, "POST", &push_path, &json!(null));
    assert!(r.text().contains("errorDetail"), "{}", r.text());
    let auth = base64::engine::general_purpose::URL_SAFE.encode(
        json!({"username": "alice", "password": "s3cret", "serveraddress": reg.host()}).to_string(),
    );
    let with = |path: &str| {
        http::request(
            &sock,
            "POST",
            path,
            &[("X-Registry-Auth", auth.as_str())],
            b"",
        )
        .expect("an answer")
    };
    let r = with(&push_path);
    assert!(r.text().contains("1: digest: sha256:"), "{}", r.text());
    assert!(!r.text().contains("errorDetail"), "{}", r.text());
    k.ok(["rmi", &format!("{target}:1")]);
    let r = with(&format!("/images/create?fromImage={target}&tag=1"));
    assert!(r.text().contains("Status: "), "{}", r.text());
    assert!(k
        .ok(["images", "--format", "{{.Repository}}"])
        .contains(&target));
    // The credentials were for those requests only: nothing was stored.
    k.ok(["rmi", &format!("{target}:1")]);
    let r = http::json(
        &sock,
        "POST",
        &format!("/images/create?fromImage={target}&tag=1"),
        &json!(null),
    );
    assert!(
        r.status >= 400 || r.text().contains("errorDetail"),
        "{}",
        r.text()
    );
    assert_nothing_left(&k);
}

/// The server's children in state Z (exited, not yet waited for).
fn zombie_children(pid: u32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // Fields after the command name: state, ppid, …
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 2 && f[0] == "Z" && f[1] == pid.to_string()
        })
        .collect()
}

#[test]
fn monitors_of_detached_containers_are_reaped_by_the_server() {
    let (k, s) = with_busybox();
    for _ in 0..3 {
        s.docker_ok(["run", "-d", "busybox", "true"]);
    }
    wait_until("the containers to exit", Duration::from_secs(10), || {
        k.ok(["ps", "-q"]).trim().is_empty()
    });
    wait_until("no zombie monitors", Duration::from_secs(5), || {
        zombie_children(s.pid()).is_empty()
    });
    // A second round after the first: still none (they are reaped as they end).
    s.docker_ok(["run", "-d", "busybox", "true"]);
    wait_until("the container to exit", Duration::from_secs(10), || {
        k.ok(["ps", "-q"]).trim().is_empty()
    });
    wait_until("no zombie monitors", Duration::from_secs(5), || {
        zombie_children(s.pid()).is_empty()
    });
    k.ok(["container", "prune", "-f"]);
}
