//! Platforms (`os/arch[/variant]`) and how an entry of a manifest list or
//! OCI index is chosen for one, following containerd's matching rules that
//! Docker uses: architecture aliases normalised, `arm64` meaning `arm64/v8`,
//! `arm` meaning `arm/v7`, and a requested variant matched exactly.

use std::fmt;

/// An image platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]` (what `--platform` takes); `arch` alone
    /// means Linux. Aliases such as `x86_64` and `aarch64` are normalised.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(*v)),
            _ => {
                return Err(format!(
                    "invalid platform {s:?}: expected os/arch[/variant]"
                ))
            }
        };
        if os.is_empty() || arch.is_empty() || variant == Some("") {
            return Err(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            ));
        }
        let (architecture, variant) = normalize_arch(arch, variant);
        Ok(Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        })
    }

    /// The platform of this machine (Linux and the CPU kujira was built
    /// for).
    pub fn host() -> Platform {
        let (architecture, variant) = normalize_arch(std::env::consts::ARCH, None);
        Platform {
            os: "linux".to_string(),
            architecture,
            variant,
        }
    }

    /// Whether an index entry declaring `os/arch/variant` satisfies this
    /// requested platform.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        let (arch, variant) = normalize_arch(arch, variant.filter(|v| !v.is_empty()));
        if !os.eq_ignore_ascii_case(&self.os) || arch != self.architecture {
            return false;
        }
        match (&self.variant, &variant) {
            (Some(want), Some(have)) => want == have,
            // An entry without a variant is taken for the architecture's
            // default one.
            (Some(want), None) => default_variant(&arch) == Some(want.as_str()),
            (None, _) => true,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

/// containerd's `normalizeArch`.
fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.map(|v| v.to_ascii_lowercase());
    match arch.as_str() {
        "i386" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), variant.filter(|v| v != "8" && v != "v8")),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => (
            "arm".into(),
            match variant.as_deref() {
                None | Some("7") => Some("v7".into()),
                Some("5") | Some("6") | Some("8") => variant.map(|v| format!("v{v}")),
                _ => variant,
            },
        ),
        _ => (arch, variant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(Platform::parse("arm64").unwrap().os, "linux");
        assert!(Platform::parse("linux/").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn matching() {
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert!(arm64.matches("linux", "arm64", Some("v8")));
        assert!(arm64.matches("linux", "arm64", None));
        assert!(!arm64.matches("linux", "amd64", None));
        let armv6 = Platform::parse("linux/arm/v6").unwrap();
        assert!(!armv6.matches("linux", "arm", Some("v7")));
        assert!(!armv6.matches("linux", "arm", None));
        assert!(armv6.matches("linux", "arm", Some("v6")));
        let armv7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(armv7.matches("linux", "arm", None));
        assert!(!Platform::parse("linux/amd64")
            .unwrap()
            .matches("windows", "amd64", None));
    }
}
