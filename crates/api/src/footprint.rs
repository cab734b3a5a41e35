//! The idle server's footprint. Most of an idle `kujira serve`'s resident memory
//! is the binary's own code, faulted in 64 KiB at a time around every page the
//! CLI's start-up touched (the kernel's fault-around). The code mapping is
//! advised random access (single-page faults from now on) and its pages are let
//! go: they stay in the page cache and come back on first use. Only the
//! executable's `r-xp` mappings are touched — text is never written, so dropping
//! it loses nothing (relocated data lives in other mappings).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Set by every request; cleared when the code is shed again.
static BUSY_SINCE_SHED: AtomicBool = AtomicBool::new(false);
static LAST_REQUEST_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Called for each request.
pub fn note_request() {
    LAST_REQUEST_MS.store(now_ms(), Ordering::Relaxed);
    BUSY_SINCE_SHED.store(true, Ordering::Relaxed);
}

/// Sheds the code again once the server has been idle a while after work (an
/// import or a pull touches a few megabytes of code it will not need at rest).
pub async fn shed_when_idle() {
    const QUIET: Duration = Duration::from_secs(5);
    loop {
        tokio::time::sleep(QUIET).await;
        let quiet_for = now_ms().saturating_sub(LAST_REQUEST_MS.load(Ordering::Relaxed));
        if quiet_for >= QUIET.as_millis() as u64 && BUSY_SINCE_SHED.swap(false, Ordering::Relaxed) {
            shed_startup_code();
        }
    }
}

pub fn shed_startup_code() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let exe = exe.to_string_lossy().into_owned();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        if perms != "r-xp" || line.split_whitespace().nth(5) != Some(exe.as_str()) {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: advice on a mapping of our own executable's text, which is
        // read-only and file-backed: its pages are refaulted from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
