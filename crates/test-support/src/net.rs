//! A private network slot per test store. kujira's default bridge and address
//! pools are host-wide things; two stores on one host (two tests running at once)
//! must not both make `kujira0` with 172.17.0.0/16. Each [`NetSlot`] holds a lock
//! on one slot number N for as long as its store lives and names a `config.toml`
//! that gives the store bridge `kjtN`, subnet 10.N.0.0/24 and pools inside
//! 10.N.0.0/16.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const DIR: &str = "/tmp/kujira-test-nets";

pub struct NetSlot {
    n: u32,
    _lock: File,
    config: PathBuf,
}

impl NetSlot {
    /// The first free slot (1–200).
    pub fn take() -> NetSlot {
        std::fs::create_dir_all(DIR).expect("create the test network slot directory");
        for n in 1..=200u32 {
            let path = Path::new(DIR).join(format!("{n}.lock"));
            let Ok(f) = File::create(&path) else { continue };
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                continue;
            }
            let config = Path::new(DIR).join(format!("{n}.toml"));
            std::fs::write(&config, Self::toml(n)).expect("write the test network config");
            return NetSlot {
                n,
                _lock: f,
                config,
            };
        }
        panic!("no free test network slot in {DIR}");
    }

    fn toml(n: u32) -> String {
        format!(
            "bridge = \"kjt{n}\"\nbip = \"10.{n}.0.1/24\"\ndefault-address-pools = [{{ base = \"10.{n}.0.0/16\", size = 24 }}]\n"
        )
    }

    /// The `config.toml` to pass as `KUJIRA_CONFIG`.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The default bridge's device.
    pub fn bridge(&self) -> String {
        format!("kjt{}", self.n)
    }

    /// The default bridge's gateway (the host's address on it).
    pub fn gateway(&self) -> String {
        format!("10.{}.0.1", self.n)
    }

    /// DNAT elements aimed at this slot's addresses that a test left behind (a
    /// panic with containers still running), so the slot's next user starts clean.
    fn drop_port_elements(&self) {
        let prefix = format!("10.{}.", self.n);
        for map in ["dnat_any", "dnat_addr"] {
            let Ok(out) = std::process::Command::new("nft")
                .args(["-j", "list", "map", "ip", "kujira", map])
                .output()
            else {
                return;
            };
            let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
                continue;
            };
            let elems = doc["nftables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["map"]["elem"].as_array())
                .flatten();
            for e in elems {
                let key = e[0]["concat"].as_array().cloned().unwrap_or_default();
                let to = e[1]["concat"][0].as_str().unwrap_or_default();
                if !to.starts_with(&prefix) {
                    continue;
                }
                let key: Vec<String> = key
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| k.to_string())
                    })
                    .collect();
                let spec = format!("{{ {} }}", key.join(" . "));
                let _ = std::process::Command::new("nft")
                    .args(["delete", "element", "ip", "kujira", map, &spec])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }

    /// Appends settings (`iptables = false`) to the slot's config.
    pub fn append(&self, text: &str) {
        let mut t = std::fs::read_to_string(&self.config).unwrap_or_default();
        t.push_str(text);
        t.push('\n');
        std::fs::write(&self.config, t).expect("append to the test network config");
    }
}

impl Drop for NetSlot {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.bridge()])
            .stderr(std::process::Stdio::null())
            .status();
        self.drop_port_elements();
        // The default bridge's elements in kujira's shared table, one by one (some
        // may never have been added).
        let b = self.bridge();
        for el in [
            format!("bridges {{ \"{b}\" }}"),
            format!("same {{ \"{b}\" . \"{b}\" }}"),
            format!("masq {{ 10.{}.0.0/24 }}", self.n),
        ] {
            let _ = std::process::Command::new("nft")
                .args(["delete", "element", "ip", "kujira"])
                .args(el.split(' '))
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = std::fs::write(&self.config, Self::toml(self.n));
    }
}

/// A stand-in "upstream" host for outbound tests: a network namespace of the test's
/// own, joined to the host by a veth pair on 198.18.N.0/24 (the benchmarking
/// range), serving HTTP with busybox httpd; `/cgi-bin/ip` answers with the address
/// the request came from. No packet leaves the machine.
pub struct Upstream {
    ns: String,
    httpd: std::process::Child,
    _site: tempfile::TempDir,
    n: u32,
}

impl Upstream {
    pub fn start(slot: &NetSlot) -> Upstream {
        let n = slot.n;
        let ns = format!("kjtup{n}");
        let host_if = format!("kjtu{n}");
        let sh = |cmd: &str| {
            let st = std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()
                .expect("run sh");
            assert!(st.success(), "failed: {cmd}");
        };
        // Left over by a killed run of the same slot.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &host_if])
            .stderr(std::process::Stdio::null())
            .status();
        sh(&format!(
            "ip netns add {ns} && ip link add {host_if} type veth peer name eth0 netns {ns} \
             && ip addr add 198.18.{n}.1/24 dev {host_if} && ip link set {host_if} up \
             && ip netns exec {ns} ip addr add 198.18.{n}.2/24 dev eth0 \
             && ip netns exec {ns} ip link set eth0 up && ip netns exec {ns} ip link set lo up"
        ));
        let site = tempfile::tempdir().expect("upstream site dir");
        std::fs::write(site.path().join("index.html"), "hello from upstream\n").expect("index");
        std::fs::create_dir(site.path().join("cgi-bin")).expect("cgi-bin");
        let cgi = site.path().join("cgi-bin/ip");
        std::fs::write(
            &cgi,
            "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n",
        )
        .expect("cgi");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let busybox = crate::tools::require_busybox();
        let httpd = std::process::Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(busybox)
            .args(["httpd", "-f", "-p", "80", "-h"])
            .arg(site.path())
            .spawn()
            .expect("start the upstream httpd");
        let up = Upstream {
            ns,
            httpd,
            _site: site,
            n,
        };
        // Ready when it answers (from the host, straight over the veth).
        let addr = format!("{}:80", up.address());
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                std::time::Instant::now() < end,
                "upstream httpd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        up
    }

    /// The upstream's address.
    pub fn address(&self) -> String {
        format!("198.18.{}.2", self.n)
    }

    /// The host's address on the upstream link (what masquerade makes a
    /// container's traffic come from).
    pub fn host_address(&self) -> String {
        format!("198.18.{}.1", self.n)
    }

    /// Starts a stand-in DNS server on the upstream (UDP 53 at [`Upstream::address`])
    /// that answers `name` with `ip` and anything else with NXDOMAIN; it lives as
    /// long as the test process.
    pub fn serve_dns(&self, name: &str, ip: std::net::Ipv4Addr) {
        let ns_path = format!("/run/netns/{}", self.ns);
        let addr: std::net::Ipv4Addr = self.address().parse().expect("upstream address");
        let name = name.to_ascii_lowercase();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ns = File::open(&ns_path).expect("open the upstream namespace");
            // SAFETY: setns on this thread only, with a namespace file we hold.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns into the upstream namespace");
            let sock = std::net::UdpSocket::bind((addr, 53)).expect("bind the upstream DNS");
            let _ = ready_tx.send(());
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                if let Some(reply) = dns_reply(&buf[..n], &name, ip) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        });
        ready_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the upstream DNS server started");
    }

    /// Runs `args` inside the upstream's namespace.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.httpd.kill();
        let _ = self.httpd.wait();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
    }
}

/// A DNS reply to `q`: one A record for `name`, else NXDOMAIN (hand-made: the test
/// stand-in must not share code with the server it checks).
fn dns_reply(q: &[u8], name: &str, ip: std::net::Ipv4Addr) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    while i < q.len() && q[i] != 0 {
        let len = q[i] as usize;
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + len)?).to_ascii_lowercase());
        i += 1 + len;
    }
    let end = i + 5; // the root label, QTYPE, QCLASS
    let question = q.get(12..end)?;
    let qtype = u16::from_be_bytes([q[end - 4], q[end - 3]]);
    let found = labels.join(".") == name;
    let mut r = Vec::with_capacity(64);
    r.extend_from_slice(&q[0..2]);
    r.extend_from_slice(if found { &[0x81, 0x80] } else { &[0x81, 0x83] });
    let answers: u16 = if found && qtype == 1 { 1 } else { 0 };
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&answers.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(question);
    if answers == 1 {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&ip.octets());
    }
    Some(r)
}
