//! Crash safety: `kujira load` killed with SIGKILL at many points leaves a store that
//! `system check` finds consistent (at most garbage, never damage), and a retry loads
//! the image completely.

use std::time::{Duration, Instant};

use kujira_test_support::{image, Kujira};

#[test]
fn load_killed_at_many_points_leaves_a_consistent_store() {
    let img = image::big_image(24, 4);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("big.tar");
    img.to_docker_archive(&archive, "big:latest");
    let archive = archive.to_str().unwrap().to_string();

    // How long an uninterrupted load takes here, to spread the kills over it: timed
    // on the same store once it exists (a first load also creates the store).
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    k.ok(["load", "-i", &archive]);
    k.ok(["rmi", "big:latest"]);
    let start = Instant::now();
    k.ok(["load", "-i", &archive]);
    let full = start.elapsed().max(Duration::from_millis(20));
    k.ok(["rmi", "big:latest"]);

    let mut killed_mid_way = 0;
    for step in 0..16u32 {
        let at = full * step / 14;
        let mut child = k.cmd(["load", "-i", &archive]).spawn().unwrap();
        std::thread::sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            killed_mid_way += 1;
        }
        let _ = child.wait();
        let check = k.run(["system", "check"]);
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success(),
            "after a kill at {at:?} the store is damaged:\n{report}{}",
            String::from_utf8_lossy(&check.stderr)
        );
        // Either the image is there completely or not at all.
        let images = k.ok(["images", "-q"]);
        if !images.is_empty() {
            assert_eq!(
                k.ok(["inspect", "-f", "{{.Id}}", "big:latest"]).trim(),
                img.image_id()
            );
            k.ok(["rmi", "big:latest"]);
        }
    }
    assert!(
        killed_mid_way >= 5,
        "only {killed_mid_way} kills landed mid-load"
    );

    // A retry succeeds, and the leftovers are only garbage that --repair removes.
    assert_eq!(k.ok(["load", "-i", &archive]), "Loaded image: big:latest\n");
    let repaired = k.ok(["system", "check", "--repair", "--verify-content"]);
    assert!(repaired.contains("store is consistent"), "{repaired}");
    let after = k.ok(["system", "check"]);
    assert!(!after.contains("garbage:"), "{after}");
    assert_eq!(
        k.ok(["inspect", "-f", "{{.Id}}", "big:latest"]).trim(),
        img.image_id()
    );
}
