//! Credentials in Docker's `config.json` format, so `docker login` and
//! `kujira login` share them: the `auths` map (base64 `auth`, or
//! `username`/`password`), and the `credHelpers` / `credsStore` helpers
//! (`docker-credential-<name>` with the `get`/`store`/`erase` protocol).
//! Writes keep every key kujira does not know and replace the file
//! atomically, so a crash never leaves a truncated config.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even in debug output or panics.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `https://host/v1/`, `http://host`, `host` → `host`: how Docker matches
/// `auths` keys written by different tools and versions.
fn normalize(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn read_config(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Config {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_slice(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(Error::Config {
            path: path.to_path_buf(),
            reason: "not a JSON object".to_string(),
        }),
        Err(e) => Err(Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// The helper configured for `key`: its `credHelpers` entry, else
/// `credsStore`.
fn helper_for(config: &Map<String, Value>, key: &str) -> Option<String> {
    if let Some(Value::Object(helpers)) = config.get("credHelpers") {
        for (k, v) in helpers {
            if k == key || normalize(k) == normalize(key) {
                if let Some(h) = v.as_str().filter(|h| !h.is_empty()) {
                    return Some(h.to_string());
                }
            }
        }
    }
    config
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(String::from)
}

fn auths_entry<'a>(config: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    let Some(Value::Object(auths)) = config.get("auths") else {
        return None;
    };
    auths
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .or_else(|| auths.iter().find(|(k, _)| normalize(k) == normalize(key)))
}

/// Credentials for `key` (`https://index.docker.io/v1/` or `host[:port]`)
/// from the `config.json` at `path`; `None` when there are none.
pub async fn lookup(path: &Path, key: &str) -> Result<Option<Credentials>> {
    let Some(config) = read_config(path)? else {
        return Ok(None);
    };
    if let Some(helper) = helper_for(&config, key) {
        return helper_get(&helper, key).await;
    }
    let Some((_, entry)) = auths_entry(&config, key) else {
        return Ok(None);
    };
    let bad = |reason: String| Error::Config {
        path: path.to_path_buf(),
        reason: format!("auths[{key:?}]: {reason}"),
    };
    if let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| bad(format!("invalid base64 in \"auth\": {e}")))?;
        let raw = String::from_utf8(raw).map_err(|_| bad("\"auth\" is not UTF-8".into()))?;
        let (u, p) = raw
            .split_once(':')
            .ok_or_else(|| bad("\"auth\" is not username:password".into()))?;
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    let field = |f: &str| entry.get(f).and_then(Value::as_str).map(String::from);
    match (field("username"), field("password")) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Ok(Some(Credentials { username, password }))
        }
        _ => Ok(None),
    }
}

/// Stores credentials for `key`: through the configured helper (leaving an
/// empty `auths` entry, as Docker does, so `config.json` still lists the
/// registry), else base64 in `auths`.
pub async fn store(path: &Path, key: &str, creds: &Credentials) -> Result<()> {
    let mut config = read_config(path)?.unwrap_or_default();
    let entry = match helper_for(&config, key) {
        Some(helper) => {
            let msg = serde_json::json!({
                "ServerURL": key,
                "Username": creds.username,
                "Secret": creds.password,
            });
            run_helper(&helper, "store", msg.to_string().as_bytes()).await?;
            Value::Object(Map::new())
        }
        None => {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", creds.username, creds.password));
            serde_json::json!({ "auth": auth })
        }
    };
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Value::Object(a) = auths {
        // Drop other spellings of the same registry so the new credentials
        // are the ones found.
        a.retain(|k, _| k == key || normalize(k) != normalize(key));
        a.insert(key.to_string(), entry);
    }
    write_config(path, &config)
}

/// Removes credentials for `key` (every spelling of it) from `auths` and
/// from the helper. Returns whether there were any.
pub async fn erase(path: &Path, key: &str) -> Result<bool> {
    let Some(mut config) = read_config(path)? else {
        return Ok(false);
    };
    let mut found = false;
    if let Some(helper) = helper_for(&config, key) {
        match run_helper(&helper, "erase", key.as_bytes()).await {
            Ok(_) => found = true,
            Err(Error::CredentialHelper { detail, .. }) if is_not_found(&detail) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(Value::Object(a)) = config.get_mut("auths") {
        let before = a.len();
        a.retain(|k, _| normalize(k) != normalize(key));
        found |= a.len() != before;
    }
    if found {
        write_config(path, &config)?;
    }
    Ok(found)
}

/// Writes `config` to `path` through a temporary file in the same
/// directory and a rename, mode 0600 (it holds secrets).
fn write_config(path: &Path, config: &Map<String, Value>) -> Result<()> {
    use std::io::Write;
    let cfg_err = |p: &Path, e: std::io::Error| Error::Config {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    // Replace a symlinked config's target, not the link (dotfile managers
    // symlink config.json).
    let target: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| cfg_err(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.json.")
        .tempfile_in(dir)
        .map_err(|e| cfg_err(dir, e))?;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(config, &mut ser).map_err(|e| Error::Config {
        path: target.clone(),
        reason: e.to_string(),
    })?;
    buf.push(b'\n');
    tmp.write_all(&buf).map_err(|e| cfg_err(&target, e))?;
    tmp.as_file().sync_all().map_err(|e| cfg_err(&target, e))?;
    tmp.persist(&target)
        .map_err(|e| cfg_err(&target, e.error))?;
    Ok(())
}

fn is_not_found(detail: &str) -> bool {
    detail.contains("credentials not found")
}

async fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>> {
    let out = match run_helper(helper, "get", key.as_bytes()).await {
        Ok(o) => o,
        Err(Error::CredentialHelper { detail, .. }) if is_not_found(&detail) => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_slice(&out).map_err(|e| Error::CredentialHelper {
        helper: helper.to_string(),
        detail: format!("`get` did not print JSON: {e}"),
    })?;
    let field = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    let (username, password) = (field("Username"), field("Secret"));
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials { username, password }))
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin and
/// returns its stdout; a failure carries the helper's own message.
async fn run_helper(helper: &str, action: &str, input: &[u8]) -> Result<Vec<u8>> {
    let program = format!("docker-credential-{helper}");
    let err = |detail: String| Error::CredentialHelper {
        helper: helper.to_string(),
        detail,
    };
    let mut child = tokio::process::Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is judged by its exit
        // status below, not by this write.
        let _ = stdin.write_all(input).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| err(format!("{action}: {e}")))?;
    if !out.status.success() {
        let mut msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(stderr.trim());
        }
        return Err(err(format!("{action} failed ({}): {msg}", out.status)));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn auths_read_write_keep_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/config.json");
        assert_eq!(lookup(&p, "r:1").await.unwrap(), None);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"auths":{"https://r:1/v2/":{"auth":"dTpw"},"o":{"username":"a","password":"b"}},"psFormat":"x"}"#,
        )
        .unwrap();
        let c = lookup(&p, "r:1").await.unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        let c = lookup(&p, "o").await.unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a", "b"));
        let new = Credentials {
            username: "me".into(),
            password: "s:cret".into(),
        };
        store(&p, "r:1", &new).await.unwrap();
        assert_eq!(lookup(&p, "r:1").await.unwrap(), Some(new));
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert!(v["auths"].get("https://r:1/v2/").is_none());
        assert!(erase(&p, "r:1").await.unwrap());
        assert!(!erase(&p, "r:1").await.unwrap());
        assert_eq!(lookup(&p, "r:1").await.unwrap(), None);
        assert!(lookup(&p, "o").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn malformed_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"auths":{"r":{"auth":"!!"}}}"#).unwrap();
        let e = lookup(&p, "r").await.unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("base64"), "{e}");
        std::fs::write(&p, "[").unwrap();
        assert!(lookup(&p, "r").await.is_err());
    }
}
