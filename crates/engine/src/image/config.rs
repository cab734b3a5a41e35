//! Image configurations: the OCI type from `oci-spec`, plus the few Docker-only fields
//! (`comment`, `docker_version`, `Healthcheck`, `OnBuild`…) that `inspect` shows and
//! the OCI type does not carry.

use oci_spec::image::ImageConfiguration;
use serde::Deserialize;

use crate::{Digest, EngineError};

/// A parsed config with its Docker extras.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub oci: ImageConfiguration,
    pub extras: DockerExtras,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DockerExtras {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub docker_version: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub config: Option<DockerConfigExtras>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DockerConfigExtras {
    #[serde(rename = "Healthcheck", default)]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(rename = "OnBuild", default)]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "ArgsEscaped", default)]
    pub args_escaped: Option<bool>,
    #[serde(rename = "Shell", default)]
    pub shell: Option<Vec<String>>,
}

impl ImageConfig {
    pub fn parse(digest: &Digest, bytes: &[u8]) -> Result<ImageConfig, EngineError> {
        let invalid = |reason: String| EngineError::InvalidConfig {
            digest: digest.to_string(),
            reason,
        };
        let oci: ImageConfiguration =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let extras: DockerExtras =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        for d in oci.rootfs().diff_ids() {
            Digest::parse(d).map_err(|_| invalid(format!("invalid diff ID {d:?}")))?;
        }
        Ok(ImageConfig { oci, extras })
    }

    pub fn diff_ids(&self) -> Vec<Digest> {
        // Validated in `parse`.
        self.oci
            .rootfs()
            .diff_ids()
            .iter()
            .filter_map(|d| Digest::parse(d).ok())
            .collect()
    }

    /// Labels as a JSON object string, for the metadata's label filters.
    pub fn labels_json(&self) -> String {
        let labels: std::collections::BTreeMap<&String, &String> = self
            .oci
            .config()
            .as_ref()
            .and_then(|c| c.labels().as_ref())
            .map(|l| l.iter().collect())
            .unwrap_or_default();
        serde_json::to_string(&labels).unwrap_or_else(|_| "{}".into())
    }

    pub fn created_unix(&self) -> i64 {
        self.oci
            .created()
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0)
    }
}

/// The host's platform in OCI terms, for choosing from multi-platform indexes.
pub fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}
