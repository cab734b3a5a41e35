//! `kujira serve -H tcp://…` with TLS, as dockerd's `--tlsverify`: the real docker
//! CLI with a client certificate gets in; without one it is refused; plain TCP on a
//! non-loopback address is refused outright. Certificates are made by openssl.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kujira_test_support::container::free_port;
use kujira_test_support::Kujira;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed
/// by the CA (what dockerd's "protect the daemon socket" guide makes).
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage = clientAuth\n").unwrap();
    for (who, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={who}"),
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                &format!("{who}.pem"),
            ],
        );
    }
}

#[test]
fn tlsverify_lets_in_only_clients_the_ca_signed() {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    make_certs(d);
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let mut server = k
        .cmd([
            "serve",
            "-H",
            &host,
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "--tlscert",
            &p("server.pem"),
            "--tlskey",
            &p("server-key.pem"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "serve did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = tempfile::tempdir().unwrap();
    let docker = |args: &[&str]| {
        Command::new("/usr/local/bin/docker")
            .env("DOCKER_CONFIG", config.path())
            .env_remove("DOCKER_HOST")
            .args(["-H", &host])
            .args(args)
            .output()
            .unwrap()
    };
    let (ca, cert, key) = (p("ca.pem"), p("client.pem"), p("client-key.pem"));
    let with_cert = |args: &[&str]| {
        let mut all = vec![
            "--tlsverify",
            "--tlscacert",
            &ca,
            "--tlscert",
            &cert,
            "--tlskey",
            &key,
        ];
        all.extend_from_slice(args);
        docker(&all)
    };
    let ok = with_cert(&["version", "--format", "{{.Server.Os}}"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "linux\n");
    let ps = with_cert(&["ps", "-aq"]);
    assert!(
        ps.status.success(),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    // No client certificate: the handshake fails, nothing is served.
    let refused = docker(&[
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "version",
        "--format",
        "{{.Server.Os}}",
    ]);
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("linux"));
    assert!(!refused.status.success());
    // Plain HTTP at a TLS port gets nothing either.
    let plain = docker(&["version", "--format", "{{.Server.Os}}"]);
    assert!(!plain.status.success());
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn plain_tcp_beyond_loopback_is_refused() {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let port = free_port();
    let out = k
        .cmd(["serve", "-H", &format!("tcp://0.0.0.0:{port}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tlsverify"), "{err}");
}
