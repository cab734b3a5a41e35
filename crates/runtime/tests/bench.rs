//! `cargo test -p kujira-runtime --release --test bench -- --ignored --nocapture`:
//! time `run` of `true` on a prepared bundle with crun and runc (the floor kujira's
//! own `run` is measured against).

use std::time::{Duration, Instant};

use kujira_runtime::{
    build_spec, Bundle, HostFacts, ImageRunConfig, OciRuntime, ProcessIo, RunOptions,
};

#[test]
#[ignore]
fn run_true_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("layer");
    std::fs::create_dir_all(lower.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", lower.join("bin/true")).unwrap();
    for d in ["etc", "proc", "sys", "dev"] {
        std::fs::create_dir_all(lower.join(d)).unwrap();
    }
    let opts = RunOptions {
        id: "kujira-bench".into(),
        rootfs: "rootfs".into(),
        user_rootfs: Some(lower.clone()),
        cmd: vec!["true".into()],
        network: kujira_runtime::NetworkMode::None,
        ..Default::default()
    };
    let spec = build_spec(&ImageRunConfig::default(), &opts, &HostFacts::detect()).unwrap();
    let bundle = Bundle::create(
        &tmp.path().join("bundle"),
        &[lower],
        &tmp.path().join("upper"),
        &tmp.path().join("work"),
        &spec,
    )
    .unwrap();
    for name in ["crun", "runc"] {
        let Some(rt) = OciRuntime::find(name) else {
            println!("{name}: not installed");
            continue;
        };
        let rt = rt.with_root(tmp.path().join(format!("state-{name}")));
        let mut times: Vec<Duration> = Vec::new();
        for i in 0..25 {
            let id = format!("kujira-bench-{name}-{i}");
            let start = Instant::now();
            let code = rt
                .run_with_io(&id, bundle.dir(), ProcessIo::null())
                .unwrap();
            times.push(start.elapsed());
            assert_eq!(code, 0);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name} run true: min {:.1} ms, median {:.1} ms, max {:.1} ms (25 runs)",
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    bundle.remove().unwrap();
}
