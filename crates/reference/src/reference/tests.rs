//! Table-driven checks of the parsers against the behaviour of Docker's
//! distribution/reference package (cases from its normalize_test.go and
//! reference_test.go, plus the quirks its code implies).

use super::*;

const D1: &str = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const HEX1: &str = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const FFF: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const BUSYBOX: &str = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
const HEXNAME: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

const INVALID: &str = "invalid reference format";
const UPPER: &str = "repository name must be lowercase";
const TOO_LONG: &str = "repository name must not be more than 255 characters";

/// Expected outcome of a normalising parse that succeeds.
struct Good {
    input: String,
    domain: &'static str,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
    full: String,
    familiar_name: String,
    familiar: String,
}

/// Builds a [`Good`]; the full and familiar strings follow from the parts.
fn good(
    input: &str,
    domain: &'static str,
    path: &str,
    tag: Option<&str>,
    digest: Option<&str>,
    familiar_name: &str,
) -> Good {
    let suffix = format!(
        "{}{}",
        tag.map(|t| format!(":{t}")).unwrap_or_default(),
        digest.map(|d| format!("@{d}")).unwrap_or_default()
    );
    let full = if domain.is_empty() {
        format!("{path}{suffix}")
    } else {
        format!("{domain}/{path}{suffix}")
    };
    Good {
        input: input.to_owned(),
        domain,
        path: path.to_owned(),
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
        full,
        familiar_name: familiar_name.to_owned(),
        familiar: format!("{familiar_name}{suffix}"),
    }
}

#[rustfmt::skip]
fn good_cases() -> Vec<Good> {
    let hub = "docker.io";
    let mut cases = vec![
        // (input, domain, path, tag, digest, familiar name)
        good("nginx", hub, "library/nginx", None, None, "nginx"),
        good("nginx:1.25", hub, "library/nginx", Some("1.25"), None, "nginx"),
        good("library/nginx", hub, "library/nginx", None, None, "nginx"),
        good("docker.io/nginx", hub, "library/nginx", None, None, "nginx"),
        good("docker.io/library/nginx:latest", hub, "library/nginx", Some("latest"), None, "nginx"),
        good("index.docker.io/nginx", hub, "library/nginx", None, None, "nginx"),
        good("index.docker.io/library/nginx", hub, "library/nginx", None, None, "nginx"),
        good("index.docker.io/fooo/bar", hub, "fooo/bar", None, None, "fooo/bar"),
        good("myuser/app", hub, "myuser/app", None, None, "myuser/app"),
        good("docker/docker", hub, "docker/docker", None, None, "docker/docker"),
        good("docker.io/docker/docker", hub, "docker/docker", None, None, "docker/docker"),
        good("nonlibrary/ubuntu", hub, "nonlibrary/ubuntu", None, None, "nonlibrary/ubuntu"),
        good("other/library", hub, "other/library", None, None, "other/library"),
        good("library/foo/bar", hub, "library/foo/bar", None, None, "library/foo/bar"),
        good("docker.io/library/foo/bar", hub, "library/foo/bar", None, None, "library/foo/bar"),
        good("store/foo/bar", hub, "store/foo/bar", None, None, "store/foo/bar"),
        good("a/b/c/d/e", hub, "a/b/c/d/e", None, None, "a/b/c/d/e"),
        good("test_com/foo", hub, "test_com/foo", None, None, "test_com/foo"),
        good("ubuntu-12.04-base", hub, "library/ubuntu-12.04-base", None, None, "ubuntu-12.04-base"),
        good("docker-rules/docker", hub, "docker-rules/docker", None, None, "docker-rules/docker"),
        good("docker---rules/docker", hub, "docker---rules/docker", None, None, "docker---rules/docker"),
        good("doc/docker", hub, "doc/docker", None, None, "doc/docker"),
        good("d/docker", hub, "d/docker", None, None, "d/docker"),
        good("jess/t", hub, "jess/t", None, None, "jess/t"),
        good("dock__er/docker", hub, "dock__er/docker", None, None, "dock__er/docker"),
        good("dbcc1", hub, "library/dbcc1", None, None, "dbcc1"),
        // A "domain" on Docker Hub's path is shown bare, though it would then
        // parse as a registry; Docker does the same.
        good("docker.io/foo.bar/x", hub, "foo.bar/x", None, None, "foo.bar/x"),
        // A single component is never a domain, even when it looks like one.
        good("localhost", hub, "library/localhost", None, None, "localhost"),
        good("localhost:5000", hub, "library/localhost", Some("5000"), None, "localhost"),
        good("example.com:8000", hub, "library/example.com", Some("8000"), None, "example.com"),
        good("192.168.0.1", hub, "library/192.168.0.1", None, None, "192.168.0.1"),
        good("192.168.0.1:80", hub, "library/192.168.0.1", Some("80"), None, "192.168.0.1"),
        good("foo_bar.com:8080", hub, "library/foo_bar.com", Some("8080"), None, "foo_bar.com"),
        good("lowercase:Uppercase", hub, "library/lowercase", Some("Uppercase"), None, "lowercase"),
        good("foo:_tag", hub, "library/foo", Some("_tag"), None, "foo"),
        good("foo:1.0-RC_2.x", hub, "library/foo", Some("1.0-RC_2.x"), None, "foo"),
        good("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", hub,
            "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", None, None,
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
        good(&HEX1[..63], hub, &format!("library/{}", &HEX1[..63]), None, None, &HEX1[..63]),
        // With a host in front, 64 hex digits are a name, not an image ID.
        good(&format!("docker.io/{HEXNAME}"), hub, &format!("library/{HEXNAME}"), None, None, HEXNAME),
        good(&format!("redis@{D1}"), hub, "library/redis", None, Some(D1), "redis"),
        good(&format!("busybox:latest@{BUSYBOX}"), hub, "library/busybox", Some("latest"), Some(BUSYBOX), "busybox"),
        good(&format!("dmcgowan/myapp@{D1}"), hub, "dmcgowan/myapp", None, Some(D1), "dmcgowan/myapp"),
        good(&format!("docker.io/dmcgowan/myapp@{D1}"), hub, "dmcgowan/myapp", None, Some(D1), "dmcgowan/myapp"),
        good("ghcr.io/owner/image", "ghcr.io", "owner/image", None, None, "ghcr.io/owner/image"),
        good("ghcr.io/owner/image:v1", "ghcr.io", "owner/image", Some("v1"), None, "ghcr.io/owner/image"),
        // Only Docker Hub gets the library/ namespace.
        good("gcr.io/busybox", "gcr.io", "busybox", None, None, "gcr.io/busybox"),
        good("gcr.io/library/busybox", "gcr.io", "library/busybox", None, None, "gcr.io/library/busybox"),
        good("localhost/fooo", "localhost", "fooo", None, None, "localhost/fooo"),
        good("localhost/fooo/bar", "localhost", "fooo/bar", None, None, "localhost/fooo/bar"),
        good("localhost/library/debian", "localhost", "library/debian", None, None, "localhost/library/debian"),
        good("localhost:5000/x", "localhost:5000", "x", None, None, "localhost:5000/x"),
        good("LOCALDOMAIN/fooo", "LOCALDOMAIN", "fooo", None, None, "LOCALDOMAIN/fooo"),
        good("LOCALDOMAIN/fooo/bar", "LOCALDOMAIN", "fooo/bar", None, None, "LOCALDOMAIN/fooo/bar"),
        // An upper-case first component can only be a host name.
        good("Foo/bar", "Foo", "bar", None, None, "Foo/bar"),
        good("FOO/bar", "FOO", "bar", None, None, "FOO/bar"),
        good("Docker/docker", "Docker", "docker", None, None, "Docker/docker"),
        good("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", None, None, "127.0.0.1:5000/docker/docker"),
        good("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", None, None, "127.0.0.1:8000/privatebase"),
        good("192.168.0.1:8/debian", "192.168.0.1:8", "debian", None, None, "192.168.0.1:8/debian"),
        good("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", None, None, "192.168.0.2:25000/debian"),
        good("example.com/private/moonbase", "example.com", "private/moonbase", None, None, "example.com/private/moonbase"),
        good("example.com:8000/privatebasee", "example.com:8000", "privatebasee", None, None, "example.com:8000/privatebasee"),
        good("test.com/foo", "test.com", "foo", None, None, "test.com/foo"),
        good("test.com:8080/foo", "test.com:8080", "foo", None, None, "test.com:8080/foo"),
        good("test-com:8080/foo", "test-com:8080", "foo", None, None, "test-com:8080/foo"),
        good("xn--n3h.com/foo", "xn--n3h.com", "foo", None, None, "xn--n3h.com/foo"),
        good("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", None, None, "xn--n3h.com:18080/foo"),
        good("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
            Some("some-long-tag"), None, "sub-dom1.foo.com/bar/baz/quux"),
        good("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
            Some("test.example.com"), None, "b.gcr.io/test.example.com/my-app"),
        good(&format!("xn--7o8h.com/myimage:xn--7o8h.com@{FFF}"), "xn--7o8h.com", "myimage",
            Some("xn--7o8h.com"), Some(FFF), "xn--7o8h.com/myimage"),
        good(&format!("test:5000/repo@{FFF}"), "test:5000", "repo", None, Some(FFF), "test:5000/repo"),
        good(&format!("test:5000/repo:tag@{FFF}"), "test:5000", "repo", Some("tag"), Some(FFF), "test:5000/repo"),
        good("[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", None, None, "[fc00::1]:5000/docker"),
        good("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
            None, None, "[fc00:1:2:3:4:5:6:7]:5000/library/debian"),
        good("[::1]:5000/foo", "[::1]:5000", "foo", None, None, "[::1]:5000/foo"),
        good("[2001:db8::1]/repo:tag", "[2001:db8::1]", "repo", Some("tag"), None, "[2001:db8::1]/repo"),
        good(&format!("[2001:db8::1]:5000/repo:tag@{FFF}"), "[2001:db8::1]:5000", "repo",
            Some("tag"), Some(FFF), "[2001:db8::1]:5000/repo"),
        // A first component with '.' that is no valid host name (it holds
        // '_') is still a valid path component: Docker then keeps the whole
        // name as a path with no domain at all.
        good("foo_bar.com/x", "", "foo_bar.com/x", None, None, "foo_bar.com/x"),
        good("a_b.c/x/y:t", "", "a_b.c/x/y", Some("t"), None, "a_b.c/x/y"),
    ];

    let sha512 = format!("sha512:{}", "f".repeat(128));
    cases.push(good(&format!("validname@{sha512}"), hub, "library/validname", None, Some(&sha512), "validname"));
    let a255 = "a".repeat(255);
    cases.push(good(&format!("example.com/{a255}:tag"), "example.com", &a255, Some("tag"), None,
        &format!("example.com/{a255}")));
    // The 255-byte limit is on the path alone.
    let deep = format!("{}a", "a/".repeat(127));
    cases.push(good(&format!("{deep}:tag-puts-this-over-max"), hub, &deep, Some("tag-puts-this-over-max"), None, &deep));
    let tag128 = "t".repeat(128);
    cases.push(good(&format!("foo:{tag128}"), hub, "library/foo", Some(&tag128), None, "foo"));
    cases
}

#[rustfmt::skip]
fn bad_cases() -> Vec<(String, String)> {
    let mut cases: Vec<(String, String)> = [
        ("", INVALID),
        ("https://github.com/docker/docker", INVALID),
        ("-docker", INVALID),
        ("-docker/docker", INVALID),
        ("-docker.io/docker/docker", INVALID),
        ("docker///docker", INVALID),
        ("docker.io/docker///docker", INVALID),
        ("[fc00::1]", INVALID),
        ("[fc00::1]:5000", INVALID),
        ("fc00::1:5000/debian", INVALID),
        ("[fe80::1%eth0]:5000/debian", INVALID),
        ("[fe80::1%@invalidzone]:5000/repo", INVALID),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", INVALID),
        ("docker-/docker", INVALID),
        ("-docker-/docker", INVALID),
        ("____/____", INVALID),
        ("_docker/_docker", INVALID),
        ("dock..er/docker", INVALID),
        ("dock_.er/docker", INVALID),
        ("dock-.er/docker", INVALID),
        ("docker/", INVALID),
        ("/docker", INVALID),
        (":justtag", INVALID),
        ("@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", INVALID),
        ("aa/asdf$$^/aa", INVALID),
        ("foo:", INVALID),
        ("foo@", INVALID),
        ("foo:tag@", INVALID),
        ("foo:tag:tag", INVALID),
        ("foo:-tag", INVALID),
        ("foo:.tag", INVALID),
        ("foo:ta/g", INVALID),
        ("a:b:c", INVALID),
        ("foo/bar:tag/baz", INVALID),
        ("foo bar", INVALID),
        ("nginx ", INVALID),
        ("ñandu", INVALID),
        ("foo@sha256:abc", INVALID),
        ("foo@@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", INVALID),
        ("foo@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff@x", INVALID),
        ("repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid checksum digest length"),
        ("validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "unsupported digest algorithm"),
        ("foo@md5:ffffffffffffffffffffffffffffffff", "unsupported digest algorithm"),
        ("foo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "invalid checksum digest format"),
        ("foo:tag@SHA256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "invalid checksum digest format"),
        // The host is taken for a domain because of its case; once that fails
        // Docker only reports that lower-casing would have helped.
        ("FOO__BAR/baz", UPPER),
        ("\u{130}/x", UPPER),
        ("\u{212a}/x", UPPER),
    ]
    .iter()
    .map(|(input, err)| (input.to_string(), err.to_string()))
    .collect();

    for (input, part) in [
        ("Nginx", "library/Nginx"),
        ("Uppercase:tag", "library/Uppercase"),
        ("docker/Docker", "docker/Docker"),
        ("docker.io/docker/Docker", "docker/Docker"),
        ("docker.io/Foo:tag", "library/Foo"),
        ("index.docker.io/Foo", "library/Foo"),
        ("test:5000/Uppercase/lowercase:tag", "Uppercase/lowercase"),
        ("Foo/Bar", "Bar"),
        // Docker looks only up to the first ':' and names exactly that.
        ("foo/Bar@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "foo/Bar@sha256"),
        ("foo@SHA256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "library/foo@SHA256"),
    ] {
        cases.push((input.to_owned(),
            format!("invalid reference format: repository name ({part}) must be lowercase")));
    }

    cases.push((HEXNAME.to_owned(),
        format!("invalid repository name ({HEXNAME}), cannot specify 64-byte hexadecimal strings")));
    cases.push((format!("foo:{}", "t".repeat(129)), INVALID.to_owned()));
    cases.push((format!("example.com/{}", "a".repeat(256)), TOO_LONG.to_owned()));
    cases.push((format!("domain/{}:tag", "a".repeat(256)), TOO_LONG.to_owned()));
    // "library/" counts towards the limit.
    cases.push(("a".repeat(248), TOO_LONG.to_owned()));
    cases.push((format!("{}/docker", ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4].join("_")),
        TOO_LONG.to_owned()));
    cases
}

#[test]
fn normalized_parse_accepts() {
    for c in good_cases() {
        let r = Reference::parse(&c.input).unwrap_or_else(|e| panic!("{}: {e}", c.input));
        assert_eq!(r.domain(), c.domain, "domain of {}", c.input);
        assert_eq!(r.path(), c.path, "path of {}", c.input);
        assert_eq!(r.tag(), c.tag.as_deref(), "tag of {}", c.input);
        assert_eq!(r.digest(), c.digest.as_deref(), "digest of {}", c.input);
        assert_eq!(r.to_string(), c.full, "string of {}", c.input);
        assert_eq!(
            r.familiar_name(),
            c.familiar_name,
            "familiar name of {}",
            c.input
        );
        assert_eq!(
            r.familiar_string(),
            c.familiar,
            "familiar string of {}",
            c.input
        );
        let name = if c.domain.is_empty() {
            c.path.clone()
        } else {
            format!("{}/{}", c.domain, c.path)
        };
        assert_eq!(r.name(), name, "name of {}", c.input);
        assert_eq!(c.input.parse::<Reference>().as_ref(), Ok(&r));
        // The full form is canonical and parses back to the same reference.
        assert_eq!(
            Reference::parse(&c.full).as_ref(),
            Ok(&r),
            "reparse of {}",
            c.full
        );
        assert_eq!(Reference::parse_canonical(&c.full).as_ref(), Ok(&r));
    }
}

#[test]
fn normalized_parse_rejects() {
    for (input, want) in bad_cases() {
        match Reference::parse(&input) {
            Ok(r) => panic!("{input:?} parsed as {r}, want error {want:?}"),
            Err(e) => assert_eq!(e.to_string(), want, "error for {input:?}"),
        }
    }
}

#[test]
fn default_tag() {
    let cases = [
        ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
        ("ghcr.io/o/i", "ghcr.io/o/i:latest", "ghcr.io/o/i:latest"),
    ];
    for (input, full, familiar) in cases {
        let r = Reference::parse_with_default_tag(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), full);
        assert_eq!(r.familiar_string(), familiar);
    }
    // A digest alone pins the image; no tag is invented.
    let r =
        Reference::parse_with_default_tag(&format!("nginx@{D1}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.tag(), None);
    assert_eq!(r.familiar_string(), format!("nginx@{D1}"));
    assert_eq!(
        Reference::parse_with_default_tag("Nginx").map_err(|e| e.to_string()),
        Err(
            "invalid reference format: repository name (library/Nginx) must be lowercase"
                .to_owned()
        )
    );
}

#[test]
fn docker_ref() {
    let sum = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    let cases = [
        (
            "busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            format!("busybox@{sum}"),
            format!("docker.io/library/busybox@{sum}"),
        ),
        (
            "library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "library/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "gcr.io/library/busybox".to_owned(),
            "gcr.io/library/busybox:latest".to_owned(),
        ),
        (
            format!("gcr.io/library/busybox:latest@{sum}"),
            format!("gcr.io/library/busybox@{sum}"),
        ),
    ];
    for (input, want) in cases {
        let r = Reference::parse_docker_ref(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), want, "{input}");
        assert!(Reference::parse_unnormalized(&want).is_ok());
    }
}

#[test]
fn canonical_only() {
    assert!(Reference::parse_canonical("docker.io/library/nginx").is_ok());
    assert!(Reference::parse_canonical("ghcr.io/o/i:v1").is_ok());
    for input in [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "index.docker.io/library/nginx",
    ] {
        assert_eq!(
            Reference::parse_canonical(input),
            Err(ReferenceError::NameNotCanonical),
            "{input}"
        );
    }
    assert_eq!(
        Reference::parse_canonical("-x"),
        Err(ReferenceError::InvalidFormat)
    );
}

/// Docker's non-normalising `Parse`: (input, domain, name, tag, digest) or
/// the error.
#[test]
#[rustfmt::skip]
fn unnormalized_parse() {
    type Row = (String, Result<(&'static str, String, Option<&'static str>, Option<&'static str>), ReferenceError>);
    let ok = |input: &str, domain: &'static str, name: &str, tag, digest| -> Row {
        (input.to_owned(), Ok((domain, name.to_owned(), tag, digest)))
    };
    let err = |input: &str, e: ReferenceError| -> Row { (input.to_owned(), Err(e)) };
    use ReferenceError::*;
    let a255 = "a".repeat(255);
    let deep = format!("{}a", "a/".repeat(127));
    let rows: Vec<Row> = vec![
        ok("test_com", "", "test_com", None, None),
        ok("test.com:tag", "", "test.com", Some("tag"), None),
        ok("test.com:5000", "", "test.com", Some("5000"), None),
        ok("test.com/repo:tag", "test.com", "test.com/repo", Some("tag"), None),
        ok("test:5000/repo", "test:5000", "test:5000/repo", None, None),
        ok("test:5000/repo:tag", "test:5000", "test:5000/repo", Some("tag"), None),
        ok(&format!("test:5000/repo@{FFF}"), "test:5000", "test:5000/repo", None, Some(FFF)),
        ok(&format!("test:5000/repo:tag@{FFF}"), "test:5000", "test:5000/repo", Some("tag"), Some(FFF)),
        err("", NameEmpty),
        err(":justtag", InvalidFormat),
        err(&format!("@{FFF}"), InvalidFormat),
        err("repo@sha256:ffffffffffffffffffffffffffffffffff", ChecksumInvalidLength),
        err(&format!("validname@invaliddigest:{}", &FFF[7..]), DigestUnsupported),
        err("Uppercase:tag", NameContainsUppercase),
        err("test:5000/Uppercase/lowercase:tag", NameContainsUppercase),
        ok("lowercase:Uppercase", "", "lowercase", Some("Uppercase"), None),
        err(&format!("domain/{}:tag", "a".repeat(256)), NameTooLong),
        ok(&format!("{deep}:tag-puts-this-over-max"), "a", &deep, Some("tag-puts-this-over-max"), None),
        err("aa/asdf$$^/aa", InvalidFormat),
        ok("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", None, None),
        ok("foo_bar.com:8080", "", "foo_bar.com", Some("8080"), None),
        ok("foo/foo_bar.com:8080", "foo", "foo/foo_bar.com", Some("8080"), None),
        ok("192.168.1.1", "", "192.168.1.1", None, None),
        ok("192.168.1.1:tag", "", "192.168.1.1", Some("tag"), None),
        ok("192.168.1.1:5000", "", "192.168.1.1", Some("5000"), None),
        ok("192.168.1.1/repo", "192.168.1.1", "192.168.1.1/repo", None, None),
        ok("192.168.1.1:5000/repo", "192.168.1.1:5000", "192.168.1.1:5000/repo", None, None),
        ok("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "192.168.1.1:5000/repo", Some("5050"), None),
        err("[2001:db8::1]", InvalidFormat),
        err("[2001:db8::1]:5000", InvalidFormat),
        err("[2001:db8::1]:tag", InvalidFormat),
        ok("[2001:db8::1]/repo", "[2001:db8::1]", "[2001:db8::1]/repo", None, None),
        ok("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "[2001:db8:1:2:3:4:5:6]/repo", Some("tag"), None),
        ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", None, None),
        ok(&format!("[2001:db8::1]:5000/repo:tag@{FFF}"), "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo",
            Some("tag"), Some(FFF)),
        ok("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "[2001:db8::]:5000/repo", None, None),
        ok("[::1]:5000/repo", "[::1]:5000", "[::1]:5000/repo", None, None),
        err("[fe80::1%eth0]:5000/repo", InvalidFormat),
        err("[fe80::1%@invalidzone]:5000/repo", InvalidFormat),
        ok(&format!("example.com/{a255}:tag"), "example.com", &format!("example.com/{a255}"), Some("tag"), None),
        err(&format!("example.com/{}", "a".repeat(256)), NameTooLong),
    ];
    for (input, want) in rows {
        let got = Reference::parse_unnormalized(&input);
        match want {
            Err(e) => assert_eq!(got, Err(e), "{input}"),
            Ok((domain, name, tag, digest)) => {
                let r = got.unwrap_or_else(|e| panic!("{input}: {e}"));
                assert_eq!(r.domain(), domain, "{input}");
                assert_eq!(r.name(), name, "{input}");
                assert_eq!(r.tag(), tag, "{input}");
                assert_eq!(r.digest(), digest, "{input}");
                assert_eq!(r.to_string(), input, "unnormalised parse keeps the text");
            }
        }
    }
}

#[test]
fn any_reference() {
    let cases = [
        (
            "redis".to_owned(),
            "docker.io/library/redis".to_owned(),
            false,
        ),
        (
            "redis:latest".to_owned(),
            "docker.io/library/redis:latest".to_owned(),
            false,
        ),
        (
            "docker.io/library/redis:latest".to_owned(),
            "docker.io/library/redis:latest".to_owned(),
            false,
        ),
        (
            format!("redis@{D1}"),
            format!("docker.io/library/redis@{D1}"),
            false,
        ),
        (
            format!("docker.io/library/redis@{D1}"),
            format!("docker.io/library/redis@{D1}"),
            false,
        ),
        (
            "dmcgowan/myapp".to_owned(),
            "docker.io/dmcgowan/myapp".to_owned(),
            false,
        ),
        (
            "dmcgowan/myapp:latest".to_owned(),
            "docker.io/dmcgowan/myapp:latest".to_owned(),
            false,
        ),
        (
            "docker.io/mcgowan/myapp:latest".to_owned(),
            "docker.io/mcgowan/myapp:latest".to_owned(),
            false,
        ),
        (
            format!("dmcgowan/myapp@{D1}"),
            format!("docker.io/dmcgowan/myapp@{D1}"),
            false,
        ),
        (HEX1.to_owned(), D1.to_owned(), true),
        (D1.to_owned(), D1.to_owned(), true),
        (
            HEX1[..63].to_owned(),
            format!("docker.io/library/{}", &HEX1[..63]),
            false,
        ),
        (
            "dbcc1".to_owned(),
            "docker.io/library/dbcc1".to_owned(),
            false,
        ),
    ];
    for (input, want, is_digest) in cases {
        let r = AnyReference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), want, "{input}");
        assert_eq!(matches!(r, AnyReference::Digest(_)), is_digest, "{input}");
        assert_eq!(r.as_named().is_none(), is_digest);
        assert_eq!(input.parse::<AnyReference>().as_ref(), Ok(&r));
    }
    assert_eq!(
        AnyReference::parse(HEX1)
            .ok()
            .and_then(|r| r.digest().map(str::to_owned)),
        Some(D1.to_owned())
    );
    assert_eq!(
        AnyReference::parse("-x"),
        Err(ReferenceError::InvalidFormat)
    );
    // A digest-shaped string with an unknown algorithm is tried as a name,
    // and then reads as a name with a tag.
    let md5 =
        AnyReference::parse(&format!("md5:{}", &HEX1[..32])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        md5.to_string(),
        format!("docker.io/library/md5:{}", &HEX1[..32])
    );
    // So is a short image ID with its prefix.
    let short = AnyReference::parse("sha256:dbcc1c").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(short.to_string(), "docker.io/library/sha256:dbcc1c");
}

#[test]
fn familiar_match() {
    let cases = [
        ("foo", "foo/**/ba[rz]", false),
        ("foo/any/bat", "foo/**/ba[rz]", false),
        ("foo/a/bar", "foo/**/ba[rz]", true),
        ("foo/b/baz", "foo/**/ba[rz]", true),
        ("foo/c/baz:tag", "foo/**/ba[rz]", true),
        ("foo/c/baz:tag", "foo/*/baz:tag", true),
        ("foo/c/baz:tag", "foo/c/baz:tag", true),
        ("example.com/foo/c/baz:tag", "*/foo/c/baz", true),
        ("example.com/foo/c/baz:tag", "example.com/foo/c/baz", true),
        ("nginx:latest", "nginx", true),
        ("nginx:latest", "ngi*", true),
        ("nginx:latest", "library/nginx", false),
        ("nginx:latest", "docker.io/library/nginx", false),
        (D1, "sha256:*", true),
    ];
    for (input, pattern, want) in cases {
        let r = AnyReference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.familiar_match(pattern), Ok(want), "{input} ~ {pattern}");
    }
    let foo = AnyReference::parse("foo").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(foo.familiar_match("[-x]"), Err(ReferenceError::BadPattern));
}

#[test]
fn modifiers() {
    let base = Reference::parse("nginx").unwrap_or_else(|e| panic!("{e}"));
    let tagged = base.with_tag("1.25").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tagged.to_string(), "docker.io/library/nginx:1.25");
    assert_eq!(base.with_tag("-foo"), Err(ReferenceError::InvalidTagFormat));
    assert_eq!(base.with_tag(""), Err(ReferenceError::InvalidTagFormat));

    let both = tagged.with_digest(D1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(both.familiar_string(), format!("nginx:1.25@{D1}"));
    assert_eq!(
        both.to_string(),
        format!("docker.io/library/nginx:1.25@{D1}")
    );
    // Retagging keeps the digest, as Docker's WithTag does.
    let retagged = both.with_tag("x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retagged.familiar_string(), format!("nginx:x@{D1}"));
    assert_eq!(
        base.with_digest("foo"),
        Err(ReferenceError::InvalidDigestFormat)
    );
    assert_eq!(
        base.with_digest("sha256:ffffffffffffffffffffffffffffffffff"),
        Err(ReferenceError::ChecksumInvalidLength)
    );

    assert_eq!(both.without_tag_or_digest(), base);
    assert!(base.is_name_only());
    assert!(!both.is_name_only());
    assert_eq!(base.clone().with_default_tag().tag(), Some("latest"));
    assert_eq!(both.clone().with_default_tag(), both);
}
