//! A token issuer for the registry's `auth: token` mode: it answers the
//! registry's bearer challenge with real RS256 JWTs whose `x5c` header
//! carries a certificate the registry trusts (its `rootcertbundle`), so the
//! registry verifies them exactly as it verifies Docker Hub's. Signing is
//! done with the `openssl` CLI, the same tool that made the key.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};

use super::http::{HttpRequest, HttpResponse, HttpServer};
use crate::tools::{self, run};

/// The `issuer` the registry is configured to accept.
pub const ISSUER: &str = "kujira-test-issuer";
/// The `service` the registry names in its challenge.
pub const SERVICE: &str = "kujira-test-registry";

/// Who may get which token.
#[derive(Clone, Debug, Default)]
pub struct TokenOptions {
    /// Users who get every action they ask for.
    pub users: Vec<(String, String)>,
    /// Whether requests without credentials get `pull` (else nothing).
    pub anonymous_pull: bool,
}

/// A running issuer.
pub struct TokenIssuer {
    server: HttpServer,
    cert: PathBuf,
    requests: Arc<AtomicU64>,
}

struct Signer {
    key: PathBuf,
    x5c: String,
}

impl TokenIssuer {
    /// Makes a key and self-signed certificate in `dir` and starts serving
    /// `/token`.
    pub fn start(dir: &Path, opts: TokenOptions) -> TokenIssuer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        run(tools::command("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=kujira test token issuer",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let der = run(tools::command("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert))
        .stdout;
        let signer = Arc::new(Signer {
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(der),
        });
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let server = HttpServer::start(move |req| {
            counter.fetch_add(1, Ordering::SeqCst);
            issue(&signer, &opts, req)
        });
        TokenIssuer {
            server,
            cert,
            requests,
        }
    }

    /// The realm URL to configure in the registry.
    pub fn realm(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// The certificate to list as the registry's `rootcertbundle`.
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// How many token requests were served (to check caching).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

fn issue(signer: &Signer, opts: &TokenOptions, req: &HttpRequest) -> HttpResponse {
    let user = match req.headers.get("authorization") {
        Some(a) => {
            let decoded = a
                .strip_prefix("Basic ")
                .and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok());
            let ok = decoded
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .and_then(|(u, p)| {
                    opts.users
                        .iter()
                        .any(|(uu, pp)| uu == u && pp == p)
                        .then(|| u.to_string())
                });
            match ok {
                Some(u) => Some(u),
                None => {
                    return HttpResponse::json(
                        401,
                        &json!({"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]}),
                    )
                }
            }
        }
        None => None,
    };
    let mut access = Vec::new();
    for scope in req.query_all("scope") {
        for one in scope.split(' ') {
            // type:name:actions, where name may contain ':' (a port).
            let mut parts = one.splitn(2, ':');
            let (Some(typ), Some(rest)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || (opts.anonymous_pull && *a == "pull"))
                .collect();
            access.push(json!({"type": typ, "name": name, "actions": granted}));
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    static JTI: AtomicU64 = AtomicU64::new(0);
    let claims = json!({
        "iss": ISSUER,
        "sub": user.clone().unwrap_or_default(),
        "aud": req.query_all("service").first().cloned().unwrap_or_else(|| SERVICE.to_string()),
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", JTI.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let token = sign(signer, &claims);
    HttpResponse::json(
        200,
        &json!({"token": token, "access_token": token, "expires_in": 300}),
    )
}

fn sign(signer: &Signer, claims: &Value) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [signer.x5c]});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut child = tools::command("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&signer.key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl dgst");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst -sign failed");
    format!("{input}.{}", b64(&out.stdout))
}
