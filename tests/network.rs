//! Networks end to end: the default bridge with outbound masquerade, user-defined
//! networks with DNS by name, published ports through DNAT, live connect and
//! disconnect, `--network container:`, crashes and bad input. Real kernel bridges,
//! veth pairs and nftables; each store has a private bridge and subnet
//! (`kujira_test_support::net`), and traffic goes only between its containers, the
//! host and a stand-in upstream namespace the test makes. Needs root.

use std::collections::BTreeSet;
use std::time::Duration;

use kujira_test_support::container::{free_port, wait_until};
use kujira_test_support::net::Upstream;
use kujira_test_support::Kujira;

const SECS: Duration = Duration::from_secs(15);

fn kujira() -> Kujira {
    // Its containers go when it drops (the harness removes them).
    Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"))
}

/// `rm -f` of every container of the store; `kill_after` kills the `rm` itself
/// that soon (a crash mid-removal).
fn rm_all(k: &Kujira, kill_after: Option<Duration>) {
    let all: Vec<String> = k
        .ok(["ps", "-aq"])
        .split_whitespace()
        .map(String::from)
        .collect();
    if all.is_empty() {
        return;
    }
    let mut args = vec!["rm".to_string(), "-f".to_string()];
    args.extend(all);
    match kill_after {
        None => {
            k.ok(args);
        }
        Some(d) => {
            let mut rm = k
                .cmd(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(d);
            let _ = rm.kill();
            let _ = rm.wait();
        }
    }
}

fn sh(k: &Kujira, net: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(net);
    args.extend(["busybox", "sh", "-c", script]);
    k.ok(args)
}

fn ip_of(k: &Kujira, name: &str, network: &str) -> String {
    k.ok([
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        name,
    ])
    .trim()
    .to_string()
}

/// `run -d` of busybox httpd serving /etc on port 80, with `extra` flags; its ID.
fn httpd(k: &Kujira, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(extra);
    args.extend([
        "busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
    ]);
    k.ok(args).trim().to_string()
}

/// `GET http://ADDR:PORT/hostname` from the host (busybox wget), the body or "".
fn fetch_hostname(addr: &str, port: u16) -> String {
    let out = std::process::Command::new("busybox")
        .args(["wget", "-qO-", &format!("http://{addr}:{port}/hostname")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn links() -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn default_bridge_gives_an_address_and_reaches_upstream_through_masquerade() {
    let k = kujira();
    let up = Upstream::start(k.net());
    let gw = k.net().gateway();
    let prefix = gw.trim_end_matches(".1");
    let out = sh(
        &k,
        &[],
        &format!(
            "busybox ip -4 addr show eth0; busybox ip route; cat /etc/hosts; echo HOSTNAME=$(busybox hostname); busybox wget -qO- http://{}/cgi-bin/ip",
            up.address()
        ),
    );
    assert!(out.contains(&format!("inet {prefix}.")), "{out}");
    assert!(out.contains(&format!("default via {gw} dev eth0")), "{out}");
    // /etc/hosts maps the container's own address to its hostname, as Docker's.
    let host = out
        .lines()
        .find_map(|l| l.strip_prefix("HOSTNAME="))
        .unwrap()
        .to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{prefix}.")) && l.ends_with(&format!("\t{host}"))),
        "{out}"
    );
    // The upstream saw the host's address: the container's was masqueraded.
    assert!(
        out.trim_end()
            .trim_end_matches(']')
            .ends_with(&up.host_address()),
        "{out}"
    );
    // The bridge exists with the gateway, and the container's veth went with it.
    let addr = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", &k.net().bridge()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&addr.stdout).contains(&format!("{gw}/24")));
}

#[test]
fn user_networks_resolve_names_and_aliases_and_stay_apart() {
    let k = kujira();
    k.ok(["network", "create", "front"]);
    k.ok(["network", "create", "back"]);
    let id = k
        .ok([
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            "front",
            "--network-alias",
            "svc",
            "busybox",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ])
        .trim()
        .to_string();
    let short = &id[..12];
    let out = sh(
        &k,
        &["--network", "front"],
        &format!(
            "cat /etc/resolv.conf; for i in $(busybox seq 50); do busybox wget -qO- http://srv/ >/dev/null 2>&1; [ $? -ne 1 ] && break; busybox sleep 0.1; done; for n in srv svc {short} srv.front; do busybox wget -qO- http://$n/hostname; done"
        ),
    );
    assert!(out.starts_with("nameserver 127.0.0.11\n"), "{out}");
    assert_eq!(out.matches(short).count(), 4, "{out}");
    // Another network neither resolves the name nor reaches the address.
    let ip = ip_of(&k, "srv", "front");
    let out = sh(
        &k,
        &["--network", "back"],
        &format!(
            "busybox nslookup srv >/dev/null 2>&1 && echo resolved; busybox ping -c1 -W1 {ip} >/dev/null 2>&1 && echo reached; echo done"
        ),
    );
    assert_eq!(out, "done\n");
    // Removing a network in use is refused, as Docker's "active endpoints".
    let err = k.fails(["network", "rm", "front"], 1);
    assert!(err.contains("has active endpoints"), "{err}");
}

#[test]
fn names_follow_containers_that_start_and_are_renamed_later() {
    let k = kujira();
    k.ok(["network", "create", "n1"]);
    let wait_for = |name: &str| {
        format!(
            "for i in $(busybox seq 150); do busybox nslookup {name} >/dev/null 2>&1 && {{ echo found {name}; exit 0; }}; busybox sleep 0.1; done; exit 1"
        )
    };
    k.ok([
        "run",
        "-d",
        "--name",
        "asker",
        "--network",
        "n1",
        "busybox",
        "sh",
        "-c",
        &wait_for("late"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    k.ok([
        "run",
        "-d",
        "--name",
        "late",
        "--network",
        "n1",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(k.ok(["wait", "asker"]).trim(), "0");
    assert!(k.ok(["logs", "asker"]).contains("found late"));
    k.ok(["rename", "late", "later"]);
    let out = sh(&k, &["--network", "n1"], &wait_for("later"));
    assert!(out.contains("found later"), "{out}");
    // A stopped container's name is gone at once.
    k.ok(["stop", "-t", "1", "later"]);
    let out = sh(
        &k,
        &["--network", "n1"],
        "busybox nslookup later >/dev/null 2>&1 && echo still || echo gone",
    );
    assert_eq!(out, "gone\n");
}

#[test]
fn internal_networks_have_no_way_out() {
    let k = kujira();
    let up = Upstream::start(k.net());
    k.ok(["network", "create", "--internal", "sealed"]);
    let out = sh(
        &k,
        &["--network", "sealed"],
        &format!(
            "busybox ip route; busybox wget -qO- http://{}/ >/dev/null 2>&1 && echo out || echo blocked",
            up.address()
        ),
    );
    assert!(!out.contains("default"), "{out}");
    assert!(out.ends_with("blocked\n"), "{out}");
    let inspect = k.ok(["network", "inspect", "-f", "{{.Internal}}", "sealed"]);
    assert_eq!(inspect, "true\n");
}

#[test]
fn published_ports_answer_from_the_host_another_container_and_upstream() {
    let k = kujira();
    let up = Upstream::start(k.net());
    let port = free_port();
    let p = format!("{port}:80");
    let id = httpd(&k, &["--name", "pub", "-p", &p]);
    let short = &id[..12];
    let gw = k.net().gateway();
    let fetch = |addr: &str| fetch_hostname(addr, port);
    // Loopback: the userland forwarder, as docker-proxy.
    wait_until("the published port", SECS, || {
        fetch("127.0.0.1").contains(short)
    });
    // The host's own non-loopback address: kernel DNAT (the output hook).
    assert!(fetch(&gw).contains(short));
    // Another container, through the host's address.
    let out = sh(
        &k,
        &[],
        &format!("busybox wget -qO- http://{gw}:{port}/hostname"),
    );
    assert!(out.contains(short), "{out}");
    // A machine outside (the upstream namespace): DNAT on the way in.
    let out = up.exec(&[
        "busybox",
        "wget",
        "-qO-",
        &format!("http://{}:{port}/hostname", up.host_address()),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(short),
        "{out:?}"
    );
    // The DNAT element goes when the container stops.
    k.ok(["stop", "-t", "1", "pub"]);
    let fw = std::process::Command::new("nft")
        .args(["list", "map", "ip", "kujira", "dnat_any"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&fw.stdout).contains(&format!(". {port} :")));
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let k = kujira();
    k.ok(["network", "create", "side"]);
    k.ok(["run", "-d", "--name", "cc", "busybox", "sleep", "60"]);
    k.ok(["network", "connect", "--alias", "extra", "side", "cc"]);
    let addrs = k.ok(["exec", "cc", "busybox", "ip", "-4", "-o", "addr"]);
    assert!(addrs.contains("eth0") && addrs.contains("eth1"), "{addrs}");
    let ip = ip_of(&k, "cc", "side");
    assert!(addrs.contains(&ip), "{addrs} {ip}");
    let nets = k.ok(["ps", "--filter", "name=cc", "--format", "{{.Networks}}"]);
    assert_eq!(nets, "bridge,side\n");
    let out = sh(
        &k,
        &["--network", "side"],
        "busybox ping -c1 -W2 extra >/dev/null && echo up",
    );
    assert_eq!(out, "up\n");
    k.ok(["network", "disconnect", "side", "cc"]);
    let addrs = k.ok(["exec", "cc", "busybox", "ip", "-4", "-o", "addr"]);
    assert!(!addrs.contains("eth1"), "{addrs}");
    let containers = k.ok(["network", "inspect", "-f", "{{len .Containers}}", "side"]);
    assert_eq!(containers, "0\n");
    let err = k.fails(["network", "disconnect", "side", "cc"], 1);
    assert!(err.contains("is not connected to network side"), "{err}");
}

#[test]
fn container_network_mode_shares_the_namespace() {
    let k = kujira();
    k.ok(["run", "-d", "--name", "base", "busybox", "sleep", "60"]);
    let ip = ip_of(&k, "base", "bridge");
    assert!(!ip.is_empty());
    let out = k.ok([
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
    ]);
    assert!(out.contains(&format!("{ip}/")), "{out}");
}

#[test]
fn concurrent_runs_get_distinct_addresses() {
    let k = kujira();
    k.ok(["network", "create", "many"]);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let k = &k;
                s.spawn(move || k.ok(["run", "-d", "--network", "many", "busybox", "sleep", "120"]))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let out = k.ok([
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.IPv4Address}} {{end}}",
        "many",
    ]);
    let addrs: BTreeSet<&str> = out.split_whitespace().collect();
    assert_eq!(addrs.len(), 50, "{out}");
}

#[test]
fn bad_network_input_gets_dockers_errors_and_makes_nothing() {
    let k = kujira();
    let n = k.net().gateway();
    let base = n.trim_end_matches(".0.1");
    k.ok([
        "network",
        "create",
        "--subnet",
        &format!("{base}.5.0/24"),
        "x1",
    ]);
    let before = k.ok(["network", "ls", "-q"]);
    let err = k.fails(
        [
            "network",
            "create",
            "--subnet",
            &format!("{base}.5.128/25"),
            "x2",
        ],
        1,
    );
    assert!(
        err.contains("Pool overlaps with other one on this address space"),
        "{err}"
    );
    let err = k.fails(
        [
            "network",
            "create",
            "--subnet",
            &format!("{base}.300.0/24"),
            "x3",
        ],
        1,
    );
    assert!(err.contains("invalid CIDR address"), "{err}");
    let err = k.fails(["network", "create", "x1"], 1);
    assert!(err.contains("network with name x1 already exists"), "{err}");
    let err = k.fails(["network", "create", "--gateway", "10.0.0.1", "x4"], 1);
    assert!(err.contains("corresponding subnet"), "{err}");
    assert_eq!(k.ok(["network", "ls", "-q"]), before);
    let err = k.fails(["run", "--rm", "--network", "nope", "busybox", "true"], 125);
    assert!(err.contains("network nope not found"), "{err}");
    let err = k.fails(["network", "inspect", "nope"], 1);
    assert!(err.contains("network nope not found"), "{err}");
    // A taken address: the second container is refused and holds nothing.
    let ip = format!("{base}.5.10");
    k.ok([
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "x1",
        "--ip",
        &ip,
        "busybox",
        "sleep",
        "60",
    ]);
    let err = k.fails(
        [
            "run",
            "-d",
            "--name",
            "second",
            "--network",
            "x1",
            "--ip",
            &ip,
            "busybox",
            "sleep",
            "60",
        ],
        125,
    );
    assert!(err.contains("Address already in use"), "{err}");
    let members = k.ok([
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "x1",
    ]);
    assert_eq!(members.trim(), "first");
    let err = k.fails(["network", "rm", "bridge"], 1);
    assert!(
        err.contains("pre-defined network and cannot be removed"),
        "{err}"
    );
}

#[test]
fn prune_removes_unused_networks_only() {
    let k = kujira();
    k.ok(["network", "create", "used"]);
    k.ok(["network", "create", "unused"]);
    k.ok(["run", "-d", "--network", "used", "busybox", "sleep", "60"]);
    k.ok(["network", "create", "--label", "team=a", "tagged"]);
    let out = k.ok(["network", "prune", "-f", "--filter", "label=team=b"]);
    assert_eq!(out, "");
    let out = k.ok(["network", "prune", "-f", "--filter", "label=team=a"]);
    assert_eq!(out, "Deleted Networks:\ntagged\n");
    let err = k.fails(["network", "prune", "-f", "--filter", "colour=red"], 1);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let out = k.ok(["network", "prune", "-f"]);
    assert_eq!(out, "Deleted Networks:\nunused\n");
    let names = k.ok(["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "bridge\nhost\nnone\nused\n");
    let custom = k.ok([
        "network",
        "ls",
        "-q",
        "--filter",
        "type=custom",
        "--no-trunc",
    ]);
    assert_eq!(custom.lines().count(), 1);
}

/// SIGKILL of the CLI during create/start and of `rm`, and of a running
/// container's monitor, twenty times: afterwards no veth, lease or DNAT element of
/// this store is left once the next commands have run.
#[test]
fn crashes_leave_nothing_stale() {
    let k = kujira();
    k.ok(["network", "create", "crashnet"]);
    let mut ids = BTreeSet::new();
    let mut ports = Vec::new();
    for i in 0..20u64 {
        let port = free_port().to_string();
        ports.push(port.clone());
        let mut child = k
            .cmd([
                "run",
                "-d",
                "--network",
                "crashnet",
                "-p",
                &format!("{port}:80"),
                "busybox",
                "sleep",
                "60",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(10 + (i * 7) % 60));
        let _ = child.kill();
        let _ = child.wait();
        for id in k.ok(["ps", "-aq", "--no-trunc"]).split_whitespace() {
            ids.insert(id.to_string());
        }
        if i % 3 == 1 {
            // The monitor of a running one dies too.
            if let Some(id) = k.ok(["ps", "-q", "--no-trunc"]).split_whitespace().next() {
                if let Some(pid) = kujira_test_support::container::monitor_pid(id) {
                    // SAFETY: kill with a pid and a signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        if i % 3 == 2 {
            rm_all(&k, Some(Duration::from_millis(5 + i % 20)));
        }
    }
    rm_all(&k, None);
    let members = k.ok([
        "network",
        "inspect",
        "-f",
        "{{len .Containers}}",
        "crashnet",
    ]);
    assert_eq!(members, "0\n");
    wait_until("stale veths to go", SECS, || {
        let l = links();
        !ids.iter().any(|id| l.contains(&format!("kv{}", &id[..9])))
    });
    let fw = std::process::Command::new("nft")
        .args(["list", "table", "ip", "kujira"])
        .output()
        .unwrap();
    let fw = String::from_utf8_lossy(&fw.stdout).into_owned();
    for p in &ports {
        assert!(
            !fw.contains(&format!("tcp . {p} :")),
            "stale DNAT for {p}: {fw}"
        );
    }
    k.ok(["network", "rm", "crashnet"]);
}

#[test]
fn other_names_go_to_the_containers_dns_servers() {
    let k = kujira();
    let up = Upstream::start(k.net());
    up.serve_dns("upstream.example", "192.0.2.77".parse().unwrap());
    k.ok(["network", "create", "resolving"]);
    let out = sh(
        &k,
        &["--network", "resolving", "--dns", &up.address()],
        "cat /etc/resolv.conf; busybox nslookup upstream.example",
    );
    // The container asks the embedded server, which asks the --dns server.
    assert!(out.starts_with("nameserver 127.0.0.11\n"), "{out}");
    assert!(out.contains("192.0.2.77"), "{out}");
}

#[test]
fn legacy_links_write_hosts_entries() {
    let k = kujira();
    let id = k
        .ok(["run", "-d", "--name", "dbserver", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let ip = ip_of(&k, "dbserver", "bridge");
    let out = sh(
        &k,
        &["--link", "dbserver:db"],
        "cat /etc/hosts; busybox ping -c1 -W2 db >/dev/null && echo reached",
    );
    assert!(
        out.contains(&format!("{ip}\tdb {} dbserver", &id[..12])),
        "{out}"
    );
    assert!(out.ends_with("reached\n"), "{out}");
    let err = k.fails(
        ["run", "--rm", "--link", "nosuch:db", "busybox", "true"],
        125,
    );
    assert!(err.contains("nosuch"), "{err}");
}

#[test]
fn iptables_false_leaves_the_firewall_alone() {
    let k = kujira();
    k.net().append("iptables = false");
    let port = free_port();
    let id = httpd(&k, &["-p", &format!("{port}:80")]);
    // Ports still answer, through the forwarder.
    wait_until("the forwarded port", SECS, || {
        fetch_hostname("127.0.0.1", port).contains(&id[..12])
    });
    let fw = std::process::Command::new("nft")
        .args(["list", "table", "ip", "kujira"])
        .output()
        .unwrap();
    let fw = String::from_utf8_lossy(&fw.stdout).into_owned();
    assert!(!fw.contains(&format!("\"{}\"", k.net().bridge())), "{fw}");
    assert!(!fw.contains(&format!(". {port} :")), "{fw}");
}

#[test]
fn build_steps_reach_out_through_the_default_bridge() {
    let k = kujira();
    let up = Upstream::start(k.net());
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM busybox\nRUN busybox wget -qO- http://{}/cgi-bin/ip > /seen-from\n",
            up.address()
        ),
    )
    .unwrap();
    k.ok([
        "build",
        "-q",
        "-t",
        "netbuild",
        ctx.path().to_str().unwrap(),
    ]);
    let seen = k.ok(["run", "--rm", "netbuild", "cat", "/seen-from"]);
    assert!(seen.contains(&up.host_address()), "{seen}");
    // The step's lease went with it.
    let members = k.ok(["network", "inspect", "-f", "{{len .Containers}}", "bridge"]);
    assert_eq!(members, "0\n");
}
