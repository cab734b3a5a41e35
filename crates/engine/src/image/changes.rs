//! Dockerfile instructions applied to an image config by `import -c` (and later
//! `commit -c`): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL.

use std::collections::HashMap;

use oci_spec::image::Config;

use crate::EngineError;

/// Applies one instruction such as `CMD ["nginx", "-g", "daemon off;"]`.
pub fn apply(config: &mut Config, change: &str) -> Result<(), EngineError> {
    let change = change.trim();
    let (word, rest) = change
        .split_once(|c: char| c.is_whitespace())
        .map(|(w, r)| (w, r.trim()))
        .unwrap_or((change, ""));
    let bad = |why: &str| EngineError::InvalidArgument(format!("{} {why}", word.to_uppercase()));
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.set_cmd(Some(command(rest)));
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command(rest)));
        }
        "USER" => {
            config.set_user(Some(rest.to_string()));
        }
        "WORKDIR" => {
            config.set_working_dir(Some(rest.to_string()));
        }
        "STOPSIGNAL" => {
            config.set_stop_signal(Some(rest.to_string()));
        }
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in pairs(rest).ok_or_else(|| bad("requires at least one argument"))? {
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
            for (k, v) in pairs(rest).ok_or_else(|| bad("requires at least one argument"))? {
                labels.insert(k, v);
            }
            config.set_labels(Some(labels));
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for p in rest.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_lowercase()
                } else {
                    format!("{p}/tcp")
                };
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                if num.parse::<u16>().is_err() || !["tcp", "udp", "sctp"].contains(&proto) {
                    return Err(EngineError::InvalidArgument(format!(
                        "invalid containerPort: {num}"
                    )));
                }
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            config.set_exposed_ports(Some(ports));
        }
        "VOLUME" => {
            let mut vols = config.volumes().clone().unwrap_or_default();
            let list = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest)
                    .map_err(|_| bad("requires a JSON array"))?
            } else {
                rest.split_whitespace().map(String::from).collect()
            };
            vols.extend(list);
            config.set_volumes(Some(vols));
        }
        "" => return Err(EngineError::InvalidArgument("empty change".into())),
        other => {
            return Err(EngineError::InvalidArgument(format!(
                "{other} is not a valid change command"
            )))
        }
    }
    Ok(())
}

/// Exec form `["a", "b"]` as is; shell form wrapped in `/bin/sh -c`, as Docker does.
fn command(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), rest.to_string()]
}

/// `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form.
fn pairs(rest: &str) -> Option<Vec<(String, String)>> {
    if rest.is_empty() {
        return None;
    }
    let words = split_words(rest);
    if !words.first()?.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Splits on unquoted white space, removing quotes and backslash escapes.
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_dockerfile_instructions() {
        let mut c = Config::default();
        apply(&mut c, r#"CMD ["nginx", "-g", "daemon off;"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT /docker-entrypoint.sh").unwrap();
        apply(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut c, "ENV LEGACY some value").unwrap();
        apply(&mut c, "ENV A=3").unwrap();
        apply(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply(&mut c, "LABEL maintainer=me version=1.0").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        apply(&mut c, "USER nobody").unwrap();
        assert_eq!(c.cmd().clone().unwrap(), ["nginx", "-g", "daemon off;"]);
        assert_eq!(
            c.entrypoint().clone().unwrap(),
            ["/bin/sh", "-c", "/docker-entrypoint.sh"]
        );
        assert_eq!(
            c.env().clone().unwrap(),
            ["B=two words", "LEGACY=some value", "A=3"]
        );
        assert_eq!(c.exposed_ports().clone().unwrap(), ["80/tcp", "53/udp"]);
        assert_eq!(c.labels().clone().unwrap()["version"], "1.0");
        assert_eq!(c.working_dir().as_deref(), Some("/srv"));
        assert_eq!(c.user().as_deref(), Some("nobody"));
    }

    #[test]
    fn rejects_unknown_and_bad() {
        let mut c = Config::default();
        assert!(apply(&mut c, "RUN rm -rf /").is_err());
        assert!(apply(&mut c, "EXPOSE http").is_err());
        assert!(apply(&mut c, "ENV").is_err());
    }
}
