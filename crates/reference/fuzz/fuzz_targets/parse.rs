//! Fuzz target for the reference parsers: none may panic, and every accepted
//! reference must print as a string that parses back to an equal reference,
//! since kujira stores references as their printed form.

#![no_main]

use kujira_reference::{parse_digest, path_match, AnyReference, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // References arrive as Rust strings, so only valid UTF-8 is of interest.
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(r) = Reference::parse(input) {
        let printed = r.to_string();
        assert_eq!(
            Reference::parse(&printed).as_ref(),
            Ok(&r),
            "{input:?} printed as {printed:?} does not round-trip"
        );
        assert_eq!(Reference::parse_canonical(&printed).as_ref(), Ok(&r));
        assert!(Reference::parse(&r.familiar_string()).is_ok());
        let _ = r.familiar_match(input);
    }
    if let Ok(r) = Reference::parse_unnormalized(input) {
        assert_eq!(r.to_string(), input);
    }
    if let Ok(r) = AnyReference::parse(input) {
        assert_eq!(AnyReference::parse(&r.to_string()).as_ref(), Ok(&r));
    }
    let _ = Reference::parse_with_default_tag(input);
    let _ = Reference::parse_docker_ref(input);
    let _ = parse_digest(input);
    let _ = path_match(input, "docker.io/library/nginx:latest");
});
