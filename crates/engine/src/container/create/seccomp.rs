//! The container's seccomp filter compiled once, ahead of its starts.

use crate::{Engine, EngineError};

impl Engine {
    /// For the built-in runtime and crun, the container's seccomp filter as a ready
    /// BPF program (compiled once per distinct filter and cached under
    /// `run/seccomp/`), which spares the start its slowest step; other runtimes
    /// compile `linux.seccomp` themselves.
    pub(crate) fn precompile_seccomp(
        &self,
        spec: &mut oci_spec::runtime::Spec,
        rt: &kujira_runtime::Runtime,
    ) -> Result<(), EngineError> {
        use kujira_runtime::seccomp_bpf;
        if !rt.takes_compiled_seccomp() {
            return Ok(());
        }
        let Some(filter) = spec.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
            return Ok(());
        };
        let bpf = seccomp_bpf::cached(&filter, &self.root().join("run/seccomp"))
            .map_err(EngineError::Runtime)?;
        let mut notes = spec.annotations().clone().unwrap_or_default();
        notes.insert(
            seccomp_bpf::CRUN_BPF_ANNOTATION.to_string(),
            seccomp_bpf::annotation_value(&bpf),
        );
        spec.set_annotations(Some(notes));
        // The runtime takes the program and nothing else: the filter's JSON (a few
        // hundred syscalls) need not be written, nor parsed at every start.
        if let Some(linux) = spec.linux_mut() {
            linux.set_seccomp(None);
        }
        Ok(())
    }
}
