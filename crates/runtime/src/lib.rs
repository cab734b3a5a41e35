//! kujira's container runtime layer.
//!
//! * [`spec`]: the OCI runtime spec (`config.json`) built from an image's config and
//!   Docker-like run options, with Docker's security defaults ([`defaults`]).
//! * [`bundle`]: a bundle directory whose rootfs is an overlay of the image layers plus
//!   the container's copy-on-write upper directory.
//! * [`embedded`]: kujira's own runtime, run in the monitor's process (the default).
//! * [`oci_runtime`]: runs a bundle with an OCI runtime binary (crun, runc, youki).
//! * [`backend`]: either of them, as a container's [`Runtime`].
//! * [`logs`], [`ports`], [`console`]: the pieces of a container's monitor — its
//!   json-file log, its published-port forwarder and its terminal.
//! * [`host`]: facts about the host the spec depends on (rlimits, capabilities,
//!   devices, cgroup layout).
//! * [`seccomp`]: Docker-format seccomp profiles resolved for a container, and
//!   `--security-opt` values.

pub mod backend;
pub mod bundle;
pub mod caps;
pub mod console;
pub mod defaults;
pub mod embedded;
mod error;
pub mod exec;
pub mod host;
pub mod logs;
pub mod oci_runtime;
pub mod ports;
pub mod seccomp;
pub mod seccomp_bpf;
pub mod spec;
pub mod stats;
pub mod user;

pub use backend::Runtime;
pub use bundle::Bundle;
pub use embedded::{update_resources, ChildIo, Embedded};
pub use error::RuntimeError;
pub use exec::ExecCommand;
pub use host::{CgroupMode, HostDevice, HostFacts};
pub use oci_runtime::{ContainerState, ExecOptions, OciRuntime, ProcessIo, RuntimeKind};
pub use seccomp::{parse_security_opt, Seccomp, SecurityOpt};
pub use spec::{build_spec, ImageRunConfig, NetworkMode, RunOptions, Ulimit};
