//! Capability names and Docker's `--cap-add` / `--cap-drop` arithmetic.

use crate::defaults::DEFAULT_CAPS;
use crate::RuntimeError;

/// Every capability Linux knows, by number (`CAP_CHOWN` is 0).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities this kernel supports (`/proc/sys/kernel/cap_last_cap`).
pub fn supported(last_cap: u32) -> Vec<String> {
    ALL_CAPS
        .iter()
        .take(last_cap as usize + 1)
        .map(|c| c.to_string())
        .collect()
}

/// `sys_admin`, `SYS_ADMIN`, `cap_sys_admin` → `CAP_SYS_ADMIN`; `all` → `ALL`.
pub fn normalize(name: &str) -> Result<String, RuntimeError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(RuntimeError::UnknownCapability(name.to_string()))
    }
}

/// Docker's rules: start from the default set (or every supported capability when
/// privileged); `--cap-add ALL` gives all, `--cap-drop ALL` removes all but what is
/// explicitly added; otherwise adds are added and drops removed. The result is in
/// capability-number order.
pub fn effective_caps(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
    last_cap: u32,
) -> Result<Vec<String>, RuntimeError> {
    let all = supported(last_cap);
    if privileged {
        return Ok(all);
    }
    let adds = cap_add
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = cap_drop
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut set: Vec<String> = if adds.iter().any(|c| c == "ALL") {
        all.clone()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    if drops.iter().any(|c| c == "ALL") {
        set.clear();
    } else {
        set.retain(|c| !drops.contains(c));
    }
    for add in adds.iter().filter(|c| *c != "ALL") {
        // A capability this kernel lacks can't be granted; Docker refuses it too.
        if !all.contains(add) {
            return Err(RuntimeError::UnknownCapability(add.clone()));
        }
        if !set.contains(add) {
            set.push(add.clone());
        }
    }
    let mut ordered: Vec<String> = all.into_iter().filter(|c| set.contains(c)).collect();
    ordered.dedup();
    Ok(ordered)
}

/// Keeps the capabilities inside the bounding set `bounding` (bit n = capability n):
/// `--privileged` and `--cap-add ALL` quietly get what the host can give, while a
/// capability named in `--cap-add` that the host lacks is a clear error.
pub fn within_bounding(
    caps: Vec<String>,
    bounding: u64,
    cap_add: &[String],
) -> Result<Vec<String>, RuntimeError> {
    let held = |c: &str| {
        ALL_CAPS
            .iter()
            .position(|k| *k == c)
            .is_some_and(|n| n < 64 && bounding & (1u64 << n) != 0)
    };
    for add in cap_add {
        let name = normalize(add)?;
        if name != "ALL" && !held(&name) {
            return Err(RuntimeError::InvalidOption {
                what: "capability",
                reason: format!(
                    "{name} cannot be granted: it is not in this host's capability bounding set"
                ),
            });
        }
    }
    Ok(caps.into_iter().filter(|c| held(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn bounding_set_limits_what_is_granted() {
        let all = effective_caps(true, &[], &[], 40).unwrap();
        // Everything but CAP_SYS_RESOURCE (24), as on this project's machines.
        let bounding = !(1u64 << 24);
        let got = within_bounding(all.clone(), bounding, &[]).unwrap();
        assert_eq!(got.len(), all.len() - 1);
        assert!(!got.iter().any(|c| c == "CAP_SYS_RESOURCE"));
        let err = within_bounding(all, bounding, &s(&["sys_resource"])).unwrap_err();
        assert!(err.to_string().contains("bounding set"), "{err}");
        assert!(within_bounding(s(&["CAP_KILL"]), bounding, &s(&["ALL"])).is_ok());
    }

    #[test]
    fn names_normalise() {
        for (input, want) in [
            ("sys_admin", "CAP_SYS_ADMIN"),
            ("CAP_NET_ADMIN", "CAP_NET_ADMIN"),
            ("cap_kill", "CAP_KILL"),
            ("Net_Raw", "CAP_NET_RAW"),
            ("all", "ALL"),
        ] {
            assert_eq!(normalize(input).unwrap(), want, "{input}");
        }
        assert!(matches!(
            normalize("CAP_NOPE"),
            Err(RuntimeError::UnknownCapability(_))
        ));
    }

    #[test]
    fn arithmetic() {
        let default_len = DEFAULT_CAPS.len();
        type Case<'a> = (
            &'a [&'a str],
            &'a [&'a str],
            usize,
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            // add, drop, expected len, must contain, must not contain
            (
                &[],
                &[],
                default_len,
                &["CAP_CHOWN", "CAP_KILL"],
                &["CAP_SYS_ADMIN"],
            ),
            (
                &["SYS_ADMIN"],
                &[],
                default_len + 1,
                &["CAP_SYS_ADMIN"],
                &[],
            ),
            (
                &[],
                &["chown", "CAP_KILL"],
                default_len - 2,
                &["CAP_SETUID"],
                &["CAP_CHOWN", "CAP_KILL"],
            ),
            (&["ALL"], &[], 41, &["CAP_SYS_ADMIN", "CAP_BPF"], &[]),
            (
                &["ALL"],
                &["NET_ADMIN"],
                40,
                &["CAP_SYS_ADMIN"],
                &["CAP_NET_ADMIN"],
            ),
            (
                &["NET_ADMIN"],
                &["ALL"],
                1,
                &["CAP_NET_ADMIN"],
                &["CAP_CHOWN"],
            ),
            (&[], &["ALL"], 0, &[], &["CAP_CHOWN"]),
            (&["KILL"], &[], default_len, &["CAP_KILL"], &[]),
        ];
        for (add, drop, len, has, hasnt) in cases {
            let got = effective_caps(false, &s(add), &s(drop), 40).unwrap();
            assert_eq!(got.len(), *len, "add {add:?} drop {drop:?}: {got:?}");
            for c in *has {
                assert!(
                    got.iter().any(|g| g == c),
                    "{c} missing for {add:?}/{drop:?}"
                );
            }
            for c in *hasnt {
                assert!(
                    !got.iter().any(|g| g == c),
                    "{c} present for {add:?}/{drop:?}"
                );
            }
        }
    }

    #[test]
    fn privileged_is_every_supported_cap() {
        assert_eq!(
            effective_caps(true, &[], &s(&["ALL"]), 40).unwrap().len(),
            41
        );
        assert_eq!(effective_caps(true, &[], &[], 37).unwrap().len(), 38);
    }

    #[test]
    fn unsupported_cap_refused() {
        assert!(effective_caps(false, &s(&["CAP_BPF"]), &[], 37).is_err());
        assert!(effective_caps(false, &s(&["CAP_WHATEVER"]), &[], 40).is_err());
        assert!(effective_caps(false, &[], &s(&["bogus"]), 40).is_err());
    }
}
