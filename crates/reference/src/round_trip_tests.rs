//! The fuzz target's properties (see `fuzz/fuzz_targets/parse.rs`), checked
//! over pseudo-random strings so that they also run in CI on stable Rust:
//! no parser panics, and every accepted reference prints as a string that
//! parses back to an equal reference.

use crate::{is_full_identifier, parse_digest, path_match, AnyReference, Reference};

/// xorshift64*: deterministic, so a failure reproduces, and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for test input generation.
        (self.next() % n as u64) as usize
    }
}

/// Pieces of the grammar, plus near misses, so that random concatenations
/// often land on valid or almost valid references.
const TOKENS: &[&str] = &[
    "a",
    "b",
    "z",
    "0",
    "9",
    "A",
    "Z",
    "x",
    "nginx",
    "library",
    "localhost",
    "docker.io",
    "index.docker.io",
    "ghcr.io",
    "example.com",
    "127.0.0.1",
    "[::1]",
    "[fc00::1]",
    "5000",
    ".",
    "_",
    "__",
    "-",
    "--",
    "/",
    "/",
    "/",
    ":",
    ":",
    "@",
    "[",
    "]",
    "sha256:",
    "sha512:",
    "SHA256:",
    "md5:",
    "latest",
    "1.25",
    "v1-rc_2",
    "\u{130}",
    "\u{212a}",
    "é",
    " ",
    "*",
    "?",
    "\\",
];

const HEX: &[u8] = b"0123456789abcdefABCDEF";

fn random_input(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(10) {
        match rng.below(12) {
            // Hex runs of the lengths digests and IDs use.
            0 => {
                let len = [32, 63, 64, 65, 96, 128][rng.below(6)];
                let upper = rng.below(8) == 0;
                for _ in 0..len {
                    let alphabet = if upper { HEX.len() } else { 16 };
                    s.push(char::from(HEX[rng.below(alphabet)]));
                }
            }
            _ => s.push_str(TOKENS[rng.below(TOKENS.len())]),
        }
    }
    s
}

/// The property the fuzz target asserts, for one input.
fn check(input: &str) {
    if let Ok(r) = Reference::parse(input) {
        let printed = r.to_string();
        assert_eq!(
            Reference::parse(&printed).as_ref(),
            Ok(&r),
            "{input:?} -> {printed:?} does not round-trip"
        );
        assert_eq!(Reference::parse_canonical(&printed).as_ref(), Ok(&r));
        assert!(!r.domain().is_empty() || r.path().contains('/'));
        // The familiar form is always valid input, if not always the same
        // reference (`docker.io/a.b/c` shows as `a.b/c`).
        assert!(
            Reference::parse(&r.familiar_string()).is_ok(),
            "familiar form of {input:?} does not parse"
        );
        let _ = r.familiar_match(input);
    }
    if let Ok(r) = Reference::parse_unnormalized(input) {
        assert_eq!(r.to_string(), input);
    }
    if let Ok(r) = AnyReference::parse(input) {
        assert_eq!(AnyReference::parse(&r.to_string()).as_ref(), Ok(&r));
    }
    if let Ok(r) = Reference::parse_with_default_tag(input) {
        assert!(!r.is_name_only());
    }
    let _ = parse_digest(input);
    let _ = is_full_identifier(input);
    let _ = path_match(input, input);
    let _ = path_match(input, "docker.io/library/nginx:latest");
}

#[test]
fn random_strings_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let input = random_input(&mut rng);
        if Reference::parse(&input).is_ok() {
            accepted += 1;
        }
        check(&input);
    }
    // Guards against a generator that only ever exercises error paths.
    assert!(accepted > 500, "only {accepted} inputs parsed");
}

#[test]
fn random_bytes_do_not_panic() {
    let mut rng = Rng(42);
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}
