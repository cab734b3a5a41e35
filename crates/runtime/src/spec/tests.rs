use super::*;
use crate::host::{CgroupMode, HostDevice};

fn host() -> HostFacts {
    HostFacts {
        env: [("FROM_HOST".to_string(), "hostval".to_string())]
            .into_iter()
            .collect(),
        hostname: "the-host".into(),
        hard_limits: [("nofile".to_string(), 20000u64)].into_iter().collect(),
        last_cap: 40,
        cap_bounding: u64::MAX,
        devices: vec![HostDevice {
            path: "/dev/sda".into(),
            kind: 'b',
            major: 8,
            minor: 0,
            mode: 0o660,
            uid: 0,
            gid: 6,
        }],
        cgroup: CgroupMode::Hybrid,
        swap_accounting: true,
    }
}

fn opts() -> RunOptions {
    RunOptions {
        id: "0123456789abcdef0123".into(),
        rootfs: "/nonexistent-rootfs".into(),
        ..Default::default()
    }
}

fn image() -> ImageRunConfig {
    ImageRunConfig {
        cmd: vec!["sh".into()],
        ..Default::default()
    }
}

fn build(image: &ImageRunConfig, opts: &RunOptions) -> Value {
    serde_json::to_value(build_spec(image, opts, &host()).unwrap()).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn cmd_and_entrypoint_rules() {
    // image entrypoint, image cmd, --entrypoint, args, expected
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a [&'a str]>,
        &'a [&'a str],
        Option<&'a [&'a str]>,
    );
    let cases: &[Case] = &[
        (&[], &["sh"], None, &[], Some(&["sh"])),
        (&[], &["sh"], None, &["echo", "hi"], Some(&["echo", "hi"])),
        (&["/ep"], &["a"], None, &[], Some(&["/ep", "a"])),
        (
            &["/ep"],
            &["a"],
            None,
            &["b", "c"],
            Some(&["/ep", "b", "c"]),
        ),
        // --entrypoint drops the image's CMD.
        (&["/ep"], &["a"], Some(&["/other"]), &[], Some(&["/other"])),
        (
            &[],
            &["a"],
            Some(&["/other"]),
            &["x"],
            Some(&["/other", "x"]),
        ),
        // --entrypoint "" clears the entrypoint; args become the command.
        (
            &["/ep"],
            &["a"],
            Some(&[""]),
            &["echo", "x"],
            Some(&["echo", "x"]),
        ),
        (&["/ep"], &["a"], Some(&[]), &["echo"], Some(&["echo"])),
        // ... and with no args there is no command at all.
        (&["/ep"], &["a"], Some(&[""]), &[], None),
        (&[], &[], None, &[], None),
    ];
    for (ep, cmd, ep_flag, args, want) in cases {
        let img = ImageRunConfig {
            entrypoint: sv(ep),
            cmd: sv(cmd),
            ..Default::default()
        };
        let o = RunOptions {
            entrypoint: ep_flag.map(sv),
            cmd: sv(args),
            ..opts()
        };
        match (build_spec(&img, &o, &host()), want) {
            (Ok(spec), Some(want)) => {
                let got = spec.process().as_ref().unwrap().args().clone().unwrap();
                assert_eq!(got, sv(want), "{ep:?} {cmd:?} {ep_flag:?} {args:?}");
            }
            (Err(RuntimeError::NoCommand), None) => {}
            (got, want) => panic!("{ep:?} {cmd:?} {ep_flag:?} {args:?}: {got:?} want {want:?}"),
        }
    }
    assert_eq!(RuntimeError::NoCommand.to_string(), "No command specified");
}

#[test]
fn environment_merge_order() {
    let img = ImageRunConfig {
        env: sv(&["A=image", "B=image", "PATH=/image/bin"]),
        ..image()
    };
    let o = RunOptions {
        env: sv(&[
            "B=flag1",
            "C=flag",
            "B=flag2",
            "FROM_HOST",
            "NOT_ON_HOST",
            "EMPTY=",
        ]),
        ..opts()
    };
    let spec = build(&img, &o);
    assert_eq!(
        strs(&spec["process"]["env"]),
        sv(&[
            "PATH=/image/bin",
            "HOSTNAME=0123456789ab",
            "A=image",
            "B=flag2",
            "C=flag",
            "FROM_HOST=hostval",
            "EMPTY=",
            "HOME=/",
        ])
    );
}

#[test]
fn default_path_term_and_home() {
    let spec = build(
        &image(),
        &RunOptions {
            tty: true,
            ..opts()
        },
    );
    assert_eq!(
        strs(&spec["process"]["env"]),
        sv(&[
            &format!("PATH={}", defaults::DEFAULT_PATH),
            "HOSTNAME=0123456789ab",
            "TERM=xterm",
            "HOME=/",
        ])
    );
    assert_eq!(spec["process"]["terminal"], json!(true));
    // HOME from -e wins over the passwd home.
    let spec = build(
        &image(),
        &RunOptions {
            env: sv(&["HOME=/custom"]),
            ..opts()
        },
    );
    let env = strs(&spec["process"]["env"]);
    assert!(env.contains(&"HOME=/custom".to_string()));
    assert_eq!(env.iter().filter(|e| e.starts_with("HOME=")).count(), 1);
}

#[test]
fn hostname_rules() {
    assert_eq!(build(&image(), &opts())["hostname"], json!("0123456789ab"));
    let o = RunOptions {
        hostname: Some("web".into()),
        ..opts()
    };
    assert_eq!(build(&image(), &o)["hostname"], json!("web"));
    let o = RunOptions {
        network: NetworkMode::Host,
        ..opts()
    };
    assert_eq!(build(&image(), &o)["hostname"], json!("the-host"));
}

#[test]
fn user_from_rootfs() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.path().join("etc/group"), "www:x:33:\nextra:x:99:www\n").unwrap();
    let base = RunOptions {
        rootfs: "rootfs".into(),
        user_rootfs: Some(root.path().into()),
        ..opts()
    };
    // Image's USER applies; -u overrides.
    let img = ImageRunConfig {
        user: "www".into(),
        ..image()
    };
    let spec = build(&img, &base);
    assert_eq!(
        spec["process"]["user"],
        json!({"uid": 33, "gid": 33, "additionalGids": [99]})
    );
    assert!(strs(&spec["process"]["env"]).contains(&"HOME=/var/www".to_string()));
    let spec = build(
        &img,
        &RunOptions {
            user: Some("0".into()),
            ..base.clone()
        },
    );
    assert_eq!(spec["process"]["user"], json!({"uid": 0, "gid": 0}));
    assert!(strs(&spec["process"]["env"]).contains(&"HOME=/root".to_string()));
    let spec = build(
        &image(),
        &RunOptions {
            user: Some("1000:1000".into()),
            ..base.clone()
        },
    );
    assert_eq!(spec["process"]["user"], json!({"uid": 1000, "gid": 1000}));
    let err = build_spec(
        &image(),
        &RunOptions {
            user: Some("ghost".into()),
            ..base
        },
        &host(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user ghost: no matching entries in passwd file"
    );
}

#[test]
fn workdir_rules() {
    assert_eq!(build(&image(), &opts())["process"]["cwd"], json!("/"));
    let img = ImageRunConfig {
        working_dir: "/app".into(),
        ..image()
    };
    assert_eq!(build(&img, &opts())["process"]["cwd"], json!("/app"));
    let o = RunOptions {
        workdir: Some("/flag".into()),
        ..opts()
    };
    assert_eq!(build(&img, &o)["process"]["cwd"], json!("/flag"));
    let o = RunOptions {
        workdir: Some("rel".into()),
        ..opts()
    };
    assert!(build_spec(&img, &o, &host()).is_err());
}

#[test]
fn default_security() {
    let spec = build(&image(), &opts());
    let caps = &spec["process"]["capabilities"];
    for set in ["bounding", "effective", "permitted"] {
        let mut got = strs(&caps[set]);
        got.sort();
        let mut want = sv(defaults::DEFAULT_CAPS);
        want.sort();
        assert_eq!(got, want, "{set}");
    }
    assert!(caps.get("inheritable").is_none() || strs(&caps["inheritable"]).is_empty());
    assert_eq!(
        strs(&spec["linux"]["maskedPaths"]),
        sv(defaults::MASKED_PATHS)
    );
    assert_eq!(
        strs(&spec["linux"]["readonlyPaths"]),
        sv(defaults::READONLY_PATHS)
    );
    assert!(spec["linux"]
        .get("devices")
        .is_none_or(|d| d.as_array().is_none_or(|a| a.is_empty())));
    let rules = spec["linux"]["resources"]["devices"].as_array().unwrap();
    assert_eq!(rules[0]["allow"], json!(false));
    assert!(rules
        .iter()
        .any(|r| r["major"] == json!(1) && r["minor"] == json!(3)));
    assert_eq!(spec["process"]["noNewPrivileges"], json!(false));
    assert!(spec["process"].get("rlimits").is_none());
    assert_eq!(spec["root"]["readonly"], json!(false));
    let mounts: Vec<&str> = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    assert_eq!(
        mounts,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    let m = spec["mounts"].as_array().unwrap();
    assert!(strs(&m[3]["options"]).contains(&"ro".into()));
    assert!(strs(&m[4]["options"]).contains(&"ro".into()));
    assert!(strs(&m[6]["options"]).contains(&"size=67108864".into()));
}

#[test]
fn privileged_is_all_caps_no_masks_all_devices() {
    let spec = build(
        &image(),
        &RunOptions {
            privileged: true,
            cap_drop: sv(&["ALL"]),
            ..opts()
        },
    );
    assert_eq!(strs(&spec["process"]["capabilities"]["bounding"]).len(), 41);
    assert!(spec["linux"].get("maskedPaths").is_none());
    assert!(spec["linux"].get("readonlyPaths").is_none());
    assert_eq!(spec["linux"]["devices"][0]["path"], json!("/dev/sda"));
    assert_eq!(spec["linux"]["devices"][0]["type"], json!("b"));
    assert_eq!(
        spec["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    let m = spec["mounts"].as_array().unwrap();
    assert!(!strs(&m[3]["options"]).contains(&"ro".into()));
}

#[test]
fn cap_flags_reach_the_spec() {
    let o = RunOptions {
        cap_add: sv(&["sys_admin"]),
        cap_drop: sv(&["CAP_CHOWN", "net_raw"]),
        ..opts()
    };
    let got = strs(&build(&image(), &o)["process"]["capabilities"]["effective"]);
    assert!(got.contains(&"CAP_SYS_ADMIN".into()));
    assert!(!got.contains(&"CAP_CHOWN".into()));
    assert!(!got.contains(&"CAP_NET_RAW".into()));
    let o = RunOptions {
        cap_add: sv(&["NOT_A_CAP"]),
        ..opts()
    };
    assert!(matches!(
        build_spec(&image(), &o, &host()),
        Err(RuntimeError::UnknownCapability(_))
    ));
}

#[test]
fn namespaces_by_network_mode() {
    let kinds = |o: &RunOptions| -> Vec<String> {
        build(&image(), o)["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect()
    };
    let all = sv(&["pid", "ipc", "uts", "mount", "network", "cgroup"]);
    assert_eq!(kinds(&opts()), all);
    assert_eq!(
        kinds(&RunOptions {
            network: NetworkMode::None,
            ..opts()
        }),
        all
    );
    assert_eq!(
        kinds(&RunOptions {
            network: NetworkMode::Host,
            ..opts()
        }),
        sv(&["pid", "ipc", "uts", "mount", "cgroup"])
    );
}

#[test]
fn resources() {
    let o = RunOptions {
        memory: Some(64 << 20),
        cpus: Some(1.5),
        pids_limit: Some(100),
        ..opts()
    };
    let r = &build(&image(), &o)["linux"]["resources"];
    assert_eq!(r["memory"]["limit"], json!(64 << 20));
    assert_eq!(r["cpu"]["quota"], json!(150000));
    assert_eq!(r["cpu"]["period"], json!(100000));
    assert_eq!(r["pids"]["limit"], json!(100));
    let r = &build(&image(), &opts())["linux"]["resources"];
    assert!(r.get("memory").is_none() && r.get("cpu").is_none() && r.get("pids").is_none());
    assert!(build_spec(
        &image(),
        &RunOptions {
            memory: Some(1024),
            ..opts()
        },
        &host()
    )
    .is_err());
    assert!(build_spec(
        &image(),
        &RunOptions {
            cpus: Some(-1.0),
            ..opts()
        },
        &host()
    )
    .is_err());
    assert_eq!(
        build(&image(), &opts())["linux"]["cgroupsPath"],
        json!("/kujira/0123456789abcdef0123")
    );
}

#[test]
fn rlimits_only_when_asked_and_never_above_the_hard_limit() {
    let ok = RunOptions {
        ulimits: vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 20000,
        }],
        ..opts()
    };
    assert_eq!(
        build(&image(), &ok)["process"]["rlimits"],
        json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 20000}])
    );
    let too_high = RunOptions {
        ulimits: vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 1 << 20,
        }],
        ..opts()
    };
    let err = build_spec(&image(), &too_high, &host())
        .unwrap_err()
        .to_string();
    assert!(err.contains("nofile") && err.contains("20000"), "{err}");
    let inverted = RunOptions {
        ulimits: vec![Ulimit {
            name: "nproc".into(),
            soft: 10,
            hard: 5,
        }],
        ..opts()
    };
    assert!(build_spec(&image(), &inverted, &host()).is_err());
    let unknown = RunOptions {
        ulimits: vec![Ulimit {
            name: "bogus".into(),
            soft: 1,
            hard: 1,
        }],
        ..opts()
    };
    assert!(build_spec(&image(), &unknown, &host()).is_err());
}

#[test]
fn flags_no_new_privileges_readonly() {
    let spec = build(
        &image(),
        &RunOptions {
            no_new_privileges: true,
            read_only: true,
            ..opts()
        },
    );
    assert_eq!(spec["process"]["noNewPrivileges"], json!(true));
    assert_eq!(spec["root"]["readonly"], json!(true));
}

#[test]
fn bind_and_tmpfs_mounts() {
    let o = RunOptions {
        binds: sv(&["/srv/data:/data/deep/", "/etc/hosts:/x:ro"]),
        tmpfs: sv(&["/run:size=1m,exec", "/dev/shm"]),
        ..opts()
    };
    let spec = build(&image(), &o);
    let m = spec["mounts"].as_array().unwrap();
    let dests: Vec<&str> = m
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    // /dev/shm from --tmpfs replaces the default one; shallow before deep, binds
    // before tmpfs at equal depth.
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/x",
            "/run",
            "/data/deep",
            "/dev/shm"
        ]
    );
    assert_eq!(m[6]["type"], json!("bind"));
    assert_eq!(strs(&m[6]["options"]), sv(&["rbind", "rprivate", "ro"]));
    assert_eq!(strs(&m[8]["options"]), sv(&["rbind", "rprivate"]));
    assert_eq!(
        strs(&m[7]["options"]),
        sv(&["nosuid", "nodev", "size=1m", "exec"])
    );
    for bad in ["relative:/x", "/a:relative", "/a:/", "/a:/b:bogus", "/a"] {
        let o = RunOptions {
            binds: sv(&[bad]),
            ..opts()
        };
        assert!(
            matches!(
                build_spec(&image(), &o, &host()),
                Err(RuntimeError::InvalidMount { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn stop_signal_annotation_and_valid_json() {
    let img = ImageRunConfig {
        stop_signal: Some("SIGQUIT".into()),
        ..image()
    };
    let spec = build_spec(&img, &opts(), &host()).unwrap();
    let text = serde_json::to_string(&spec).unwrap();
    let back: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
    assert_eq!(
        spec.annotations()
            .as_ref()
            .unwrap()
            .get("org.kujira.stop-signal")
            .map(String::as_str),
        Some("SIGQUIT")
    );
}

/// The `linux.seccomp` rule naming `call` without argument conditions, if any.
fn seccomp_rule<'a>(seccomp: &'a Value, call: &str) -> Option<&'a Value> {
    seccomp["syscalls"].as_array()?.iter().find(|r| {
        strs(&r["names"]).iter().any(|n| n == call) && r.get("args").is_none_or(Value::is_null)
    })
}

#[test]
fn default_seccomp_profile() {
    let common = std::path::Path::new("/usr/share/containers/seccomp.json");
    assert!(
        common.exists(),
        "{} is missing: run scripts/install-deps.sh (package golang-github-containers-common)",
        common.display()
    );
    let spec = build(&image(), &opts());
    let seccomp = &spec["linux"]["seccomp"];
    assert!(seccomp.is_object(), "{spec:#}");
    // An administrator's /etc/kujira/seccomp.json would take precedence.
    if !std::path::Path::new("/etc/kujira/seccomp.json").exists() {
        assert_eq!(seccomp["defaultAction"], json!("SCMP_ACT_ERRNO"));
        assert_eq!(seccomp["defaultErrnoRet"], json!(38));
        let read = seccomp_rule(seccomp, "read").expect("a rule for read");
        assert_eq!(read["action"], json!("SCMP_ACT_ALLOW"));
        // Settled for the default capabilities: bpf (CAP_SYS_ADMIN) stays refused.
        let bpf = seccomp_rule(seccomp, "bpf").expect("a rule for bpf");
        assert_eq!(bpf["action"], json!("SCMP_ACT_ERRNO"));
    }
    let back: Spec = serde_json::from_value(spec).unwrap();
    assert!(back.linux().as_ref().unwrap().seccomp().is_some());
}

#[test]
fn privileged_and_unconfined_have_no_seccomp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap();
    for seccomp in [Seccomp::Default, Seccomp::Profile(path.clone())] {
        let o = RunOptions {
            privileged: true,
            seccomp,
            ..opts()
        };
        assert!(build(&image(), &o)["linux"].get("seccomp").is_none());
    }
    let o = RunOptions {
        seccomp: Seccomp::Unconfined,
        ..opts()
    };
    assert!(build(&image(), &o)["linux"].get("seccomp").is_none());
}

#[test]
fn seccomp_profile_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("builtin.json");
    std::fs::write(&path, crate::seccomp::BUILTIN_PROFILE).unwrap();
    let o = RunOptions {
        seccomp: Seccomp::Profile(path.clone()),
        ..opts()
    };
    let spec = build(&image(), &o);
    let seccomp = &spec["linux"]["seccomp"];
    assert_eq!(seccomp["defaultAction"], json!("SCMP_ACT_ALLOW"));
    let mount = seccomp_rule(seccomp, "mount").expect("a rule for mount");
    assert_eq!(mount["action"], json!("SCMP_ACT_ERRNO"));
    assert_eq!(mount["errnoRet"], json!(1));

    // The capabilities the profile is settled for are the container's own.
    let o = RunOptions {
        seccomp: Seccomp::Profile(path.clone()),
        cap_add: sv(&["SYS_ADMIN"]),
        ..opts()
    };
    let spec = build(&image(), &o);
    assert!(seccomp_rule(&spec["linux"]["seccomp"], "mount").is_none());
    assert!(seccomp_rule(&spec["linux"]["seccomp"], "init_module").is_some());

    let o = RunOptions {
        seccomp: Seccomp::Profile(dir.path().join("missing.json")),
        ..opts()
    };
    assert!(matches!(
        build_spec(&image(), &o, &host()),
        Err(RuntimeError::Io { .. })
    ));
    std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
    let o = RunOptions {
        seccomp: Seccomp::Profile(path),
        ..opts()
    };
    assert!(matches!(
        build_spec(&image(), &o, &host()),
        Err(RuntimeError::SeccompProfile { .. })
    ));
}
