//! The stage graph: the target stage, the stages it needs (others are skipped), and
//! what each waits for (`FROM <stage>`, `COPY --from`, `RUN --mount=from=`). Also the
//! build arguments as the file and `--build-arg` settle them.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::expand::Lexer;
use crate::dockerfile::{Dockerfile, Inst};
use crate::BuildError;

/// Build arguments every Dockerfile may use without declaring them (BuildKit's
/// proxy args) and the platform args it predefines.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The host's platform in Docker's spelling.
pub fn host_platform() -> (&'static str, &'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch, if arch == "arm" { "v7" } else { "" })
}

/// `TARGETPLATFORM`, `BUILDARCH` and the rest, for `--platform` (default the host's).
pub fn platform_args(platform: Option<&str>) -> BTreeMap<String, String> {
    let (os, arch, variant) = host_platform();
    let build = if variant.is_empty() {
        format!("{os}/{arch}")
    } else {
        format!("{os}/{arch}/{variant}")
    };
    let target = platform
        .map(str::to_string)
        .unwrap_or_else(|| build.clone());
    let mut parts = target.split('/');
    let (tos, tarch, tvar) = (
        parts.next().unwrap_or(os).to_string(),
        parts.next().unwrap_or(arch).to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut m = BTreeMap::new();
    m.insert("BUILDPLATFORM".into(), build);
    m.insert("BUILDOS".into(), os.into());
    m.insert("BUILDARCH".into(), arch.into());
    m.insert("BUILDVARIANT".into(), variant.into());
    m.insert("TARGETPLATFORM".into(), target.clone());
    m.insert("TARGETOS".into(), tos);
    m.insert("TARGETARCH".into(), tarch);
    m.insert("TARGETVARIANT".into(), tvar);
    m
}

pub struct Plan {
    /// The stage the image comes from.
    pub target: usize,
    /// Stages to build, dependencies before dependants.
    pub needed: Vec<usize>,
    /// Per stage: the stages it reads from.
    pub deps: Vec<BTreeSet<usize>>,
    /// The global `ARG`s' values (for `FROM` lines and `ARG NAME` in a stage).
    pub global_args: BTreeMap<String, String>,
    /// `--build-arg` values (environment lookups done).
    pub build_args: BTreeMap<String, String>,
    /// Each stage's base image reference after expansion (or the stage it starts from).
    pub bases: Vec<Base>,
}

#[derive(Debug, Clone)]
pub enum Base {
    Scratch,
    Stage(usize),
    Image(String),
}

/// Finds a stage by `AS` name or index, as `--from` and `FROM` do.
pub fn find_stage(df: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    let lower = name.to_lowercase();
    if let Some(i) = df.stages[..before.min(df.stages.len())]
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Some(i);
    }
    name.parse::<usize>().ok().filter(|i| *i < before)
}

/// Splits `ARG` arguments into `(name, default)` pairs.
pub fn arg_pairs(
    lex: &Lexer,
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>, String> {
    let words = lex.process_words(raw, env).map_err(|e| e.to_string())?;
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect())
}

impl Plan {
    pub fn new(
        df: &Dockerfile,
        target: Option<&str>,
        build_args: &[(String, Option<String>)],
    ) -> Result<Plan, BuildError> {
        let lex = Lexer::new(df.escape);
        let mut given = BTreeMap::new();
        for (k, v) in build_args {
            let v = match v {
                Some(v) => Some(v.clone()),
                None => std::env::var(k).ok(),
            };
            if let Some(v) = v {
                given.insert(k.clone(), v);
            }
        }
        let mut global: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in platform_args(None) {
            global.insert(k, v);
        }
        for a in &df.global_args {
            let Inst::Arg(raws) = &a.inst else { continue };
            for raw in raws {
                let env = |k: &str| global.get(k).cloned();
                let pairs = arg_pairs(&lex, raw, &env).map_err(|message| BuildError::Step {
                    line: a.line,
                    end_line: a.end_line,
                    message,
                    exit_code: None,
                })?;
                for (k, default) in pairs {
                    if let Some(v) = given.get(&k).cloned().or(default) {
                        global.insert(k, v);
                    } else {
                        global.remove(&k);
                    }
                }
            }
        }
        let target = match target {
            Some(t) => find_stage(df, t, df.stages.len())
                .filter(|i| df.stages[*i].name.is_some() || t.parse::<usize>().is_err())
                .ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "failed to solve: target stage \"{t}\" could not be found"
                    ))
                })?,
            None => df.stages.len() - 1,
        };
        let mut deps = vec![BTreeSet::new(); df.stages.len()];
        let mut bases = Vec::new();
        for (i, s) in df.stages.iter().enumerate() {
            let env = |k: &str| global.get(k).cloned();
            let image = lex
                .process_word(&s.from.image, &env)
                .map_err(|e| BuildError::Step {
                    line: s.from.line,
                    end_line: s.from.line,
                    message: e.to_string(),
                    exit_code: None,
                })?;
            let base = if image.eq_ignore_ascii_case("scratch") {
                Base::Scratch
            } else if let Some(d) =
                find_stage(df, &image, i).filter(|d| df.stages[*d].name.is_some())
            {
                deps[i].insert(d);
                Base::Stage(d)
            } else if image.is_empty() {
                return Err(BuildError::Step {
                    line: s.from.line,
                    end_line: s.from.line,
                    message: "base name (${...}) should not be blank".into(),
                    exit_code: None,
                });
            } else {
                Base::Image(image)
            };
            bases.push(base);
            for step in &s.steps {
                let froms: Vec<&str> = match &step.inst {
                    Inst::Copy { flags, .. } => flags
                        .iter()
                        .filter(|(k, _)| k == "from")
                        .map(|(_, v)| v.as_str())
                        .collect(),
                    Inst::Run { flags, .. } => flags
                        .iter()
                        .filter(|(k, _)| k == "mount")
                        .filter_map(|(_, v)| v.split(',').find_map(|kv| kv.strip_prefix("from=")))
                        .collect(),
                    _ => Vec::new(),
                };
                for f in froms {
                    let f = lex.process_word(f, &env).unwrap_or_else(|_| f.to_string());
                    if let Some(d) = find_stage(df, &f, i) {
                        deps[i].insert(d);
                    } else if find_stage(df, &f, df.stages.len()).is_some() {
                        return Err(BuildError::Step {
                            line: step.line,
                            end_line: step.end_line,
                            message: format!(
                                "invalid from flag value {f}: refers to a later stage"
                            ),
                            exit_code: None,
                        });
                    }
                }
            }
        }
        let mut needed = Vec::new();
        let mut seen = BTreeSet::new();
        fn visit(
            i: usize,
            deps: &[BTreeSet<usize>],
            seen: &mut BTreeSet<usize>,
            out: &mut Vec<usize>,
        ) {
            if !seen.insert(i) {
                return;
            }
            for d in &deps[i] {
                visit(*d, deps, seen, out);
            }
            out.push(i);
        }
        visit(target, &deps, &mut seen, &mut needed);
        Ok(Plan {
            target,
            needed,
            deps,
            global_args: global,
            build_args: given,
            bases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    #[test]
    fn target_prunes_and_orders_stages() {
        let df = parse(
            "ARG BASE=busybox\nFROM $BASE AS base\nFROM base AS a\nRUN true\nFROM base AS b\nFROM scratch AS unused\nFROM base\nCOPY --from=a /x /x\nCOPY --from=b /y /y\n",
        )
        .unwrap();
        let p = Plan::new(&df, None, &[]).unwrap();
        assert_eq!(p.target, 4);
        assert_eq!(p.needed, vec![0, 1, 2, 4]);
        assert!(matches!(&p.bases[0], Base::Image(i) if i == "busybox"));
        let p = Plan::new(&df, Some("a"), &[("BASE".into(), Some("alpine".into()))]).unwrap();
        assert_eq!(p.needed, vec![0, 1]);
        assert!(matches!(&p.bases[0], Base::Image(i) if i == "alpine"));
        assert!(Plan::new(&df, Some("nope"), &[]).is_err());
    }
}
