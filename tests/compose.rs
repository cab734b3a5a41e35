//! Debian's docker-compose (1.29, compose v1 over docker-py) against `kujira serve`:
//! a two-service project on its own network, the web service publishing a port and
//! reaching the other by its service name; then scale and down. Needs root.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kujira_test_support::container::{free_port, wait_until};
use kujira_test_support::serve::Server;
use kujira_test_support::Kujira;

const SECS: Duration = Duration::from_secs(20);

fn compose(s: &Server, dir: &Path, args: &[&str]) -> String {
    let out = Command::new("docker-compose")
        .current_dir(dir)
        .args(["-p", "demo"])
        .args(args)
        .env("DOCKER_HOST", s.host())
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
        .output()
        .expect("run docker-compose (scripts/install-deps.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "docker-compose {args:?} failed:\n{text}\nserver log:\n{}",
        s.log()
    );
    text
}

fn get(port: u16, path: &str) -> String {
    let out = Command::new("busybox")
        .args(["wget", "-qO-", &format!("http://127.0.0.1:{port}{path}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn compose_up_scale_down_on_a_project_network() {
    let k = Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[]);
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("cgi-bin")).unwrap();
    std::fs::write(site.join("index.html"), "front page\n").unwrap();
    // The web service asks the api service, by its name, for every request.
    std::fs::write(
        site.join("cgi-bin/api"),
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nbusybox wget -qO- http://api/hostname\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        site.join("cgi-bin/api"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        format!(
            "version: \"3\"\nservices:\n  web:\n    image: busybox\n    command: busybox httpd -f -p 80 -h /www\n    ports:\n      - \"{port}:80\"\n    volumes:\n      - ./site:/www\n  api:\n    image: busybox\n    command: busybox httpd -f -p 80 -h /etc\n"
        ),
    )
    .unwrap();
    compose(&s, dir.path(), &["up", "-d"]);
    let nets = k.ok(["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|n| n == "demo_default"), "{nets}");
    wait_until("the web service", SECS, || get(port, "/") == "front page\n");
    let api_host = k.ok(["ps", "-q", "--filter", "name=demo_api_1"]);
    let api_host = api_host.trim();
    assert_eq!(api_host.len(), 12);
    wait_until("web to reach api by name", SECS, || {
        get(port, "/cgi-bin/api").trim() == api_host
    });

    compose(&s, dir.path(), &["up", "-d", "--scale", "api=2"]);
    let apis = k.ok(["ps", "-q", "--filter", "name=demo_api"]);
    let apis: Vec<&str> = apis.split_whitespace().collect();
    assert_eq!(apis.len(), 2, "{apis:?}");
    // The service name answers with both replicas.
    let members = k.ok([
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "demo_default",
    ]);
    assert_eq!(members.split_whitespace().count(), 3, "{members}");
    // The service name answers with both replicas' addresses (which one a client
    // takes is its resolver's choice: glibc sorts them).
    let ips: Vec<String> = apis
        .iter()
        .map(|a| {
            k.ok([
                "inspect",
                "-f",
                "{{(index .NetworkSettings.Networks \"demo_default\").IPAddress}}",
                a,
            ])
            .trim()
            .to_string()
        })
        .collect();
    let answer = k.ok(["exec", "demo_web_1", "busybox", "nslookup", "api"]);
    for ip in &ips {
        assert!(answer.contains(ip.as_str()), "{answer} lacks {ip}");
    }
    compose(&s, dir.path(), &["down"]);
    assert_eq!(k.ok(["ps", "-aq"]), "");
    let nets = k.ok(["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("demo_default"), "{nets}");
}
