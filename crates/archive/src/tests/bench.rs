//! Throughput of extraction on a ~100 MB layer. Ignored by default; run with
//! `cargo test --release -p kujira-archive -- --ignored --nocapture`.

use std::time::Instant;

use super::*;

/// ~100 MB: a few big files plus many small ones, like a typical image.
fn layer() -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    // Half random, half repetitive text: compresses roughly like binaries.
    let mut chunk = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| {
                if i % 2048 < 1024 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                } else {
                    b"lorem ipsum dolor sit amet "[i % 27]
                }
            })
            .collect()
    };
    let mut t = Tar::new();
    for i in 0..4 {
        t.file(&format!("big/blob{i}"), 0o644, &chunk(15 << 20));
    }
    for d in 0..40 {
        t.dir(&format!("small/d{d}/"), 0o755);
        for f in 0..100 {
            t.file(&format!("small/d{d}/f{f}"), 0o644, &chunk(10_000));
        }
    }
    t.finish()
}

#[test]
#[ignore]
fn extraction_throughput() {
    let data = layer();
    let gz = gzip(&data);
    let zs = zstd(&data);
    let mb = data.len() as f64 / 1e6;
    eprintln!(
        "layer: {mb:.1} MB uncompressed, {} entries; gzip {:.1} MB, zstd {:.1} MB",
        4 + 40 * 101,
        gz.len() as f64 / 1e6,
        zs.len() as f64 / 1e6
    );
    for (label, input) in [("plain", &data), ("gzip", &gz), ("zstd", &zs)] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let s = Scratch::new();
            let start = Instant::now();
            let stats = s.extract(input).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(stats.diff_id, sha(&data));
        }
        eprintln!(
            "{label:>5}: {:.3} s, {:.0} MB/s of uncompressed tar",
            best,
            mb / best
        );
    }
}
