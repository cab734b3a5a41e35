//! One stage, instruction by instruction: `FROM` (and the base's `ONBUILD`
//! triggers), the metadata instructions that only edit the config, and the
//! filesystem steps (`RUN`, `COPY`/`ADD`, `WORKDIR`) that are looked up in the build
//! cache and otherwise run on a fresh overlay.

use std::collections::BTreeMap;
use std::time::Instant;

use kujira_engine::container::step::{lower_dirs, StepProcess, StepRootfs};
use kujira_engine::image::pull::PullOptions;
use kujira_store::metadata::CacheRecord;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::config::{go_list, go_quoted_list, strings, StageState};
use super::copy::{self, SourceEntry};
use super::run::{self as run_mod, Mount};
use super::{key, lookup, rootfs, Shared};
use crate::dockerfile::expand::Lexer;
use crate::dockerfile::{parse_trigger, CommandForm, Inst, Located, Source};
use crate::plan::{arg_pairs, find_stage, Base, PROXY_ARGS};
use crate::progress::Event;
use crate::BuildError;

struct StageRun<'s, 'a> {
    sh: &'s Shared<'a>,
    index: usize,
    lex: Lexer,
    /// Filesystem steps so far (FROM is 1), and their total: `[2/4]`.
    fs_done: usize,
    fs_total: usize,
    /// `Step N/M` of the legacy builder.
    step: usize,
    steps_total: usize,
    cmd_set: bool,
}

fn is_fs(i: &Inst) -> bool {
    matches!(i, Inst::Run { .. } | Inst::Copy { .. } | Inst::Workdir(_))
}

fn now(sh: &Shared<'_>) -> (String, i64) {
    let t = match sh.epoch() {
        Some(e) => chrono::DateTime::from_timestamp(e, 0).unwrap_or_else(chrono::Utc::now),
        None => chrono::Utc::now(),
    };
    (
        t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        chrono::Utc::now().timestamp(),
    )
}

fn new_record(sh: &Shared<'_>, key: &str, parent: &str, description: &str) -> CacheRecord {
    let (created, unix) = now(sh);
    CacheRecord {
        key: key.to_string(),
        parent: (!parent.is_empty()).then(|| parent.to_string()),
        layer: None,
        kind: "regular".into(),
        description: description.to_string(),
        size: 0,
        created,
        created_unix: unix,
        last_used_unix: unix,
        usage_count: 1,
    }
}

/// The instruction as the Dockerfile spells it (continuations joined), for progress.
fn source_text(sh: &Shared<'_>, l: &Located) -> String {
    let lines: Vec<&str> = sh
        .df
        .text
        .lines()
        .skip(l.line.saturating_sub(1))
        .take(l.end_line + 1 - l.line)
        .collect();
    let mut out = String::new();
    for line in lines {
        let t = line.trim_end();
        if t.trim_start().starts_with('#') && !out.is_empty() {
            continue;
        }
        match t.strip_suffix(sh.df.escape) {
            Some(rest) => {
                out.push_str(rest.trim_start());
            }
            None => {
                out.push_str(t.trim_start());
                if matches!(l.inst, Inst::Run { .. }) || matches!(l.inst, Inst::Copy { .. }) {
                    // A heredoc's body is not part of the step's name.
                    break;
                }
                out.push(' ');
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn run_stage(sh: &Shared<'_>, index: usize) -> Result<StageState, BuildError> {
    let stage = &sh.df.stages[index];
    let steps_before: usize = sh.df.stages[..index]
        .iter()
        .map(|s| 1 + s.steps.len())
        .sum();
    let mut r = StageRun {
        sh,
        index,
        lex: Lexer::new(sh.df.escape),
        fs_done: 0,
        fs_total: 1 + stage.steps.iter().filter(|s| is_fs(&s.inst)).count(),
        step: steps_before,
        steps_total: sh.df.stages.iter().map(|s| 1 + s.steps.len()).sum(),
        cmd_set: false,
    };
    let (mut state, triggers) = r.from()?;
    for t in triggers {
        let inst = parse_trigger(&t)?;
        let located = Located {
            line: stage.from.line,
            end_line: stage.from.line,
            inst,
        };
        r.instruction(&mut state, &located)?;
    }
    for step in &stage.steps {
        r.instruction(&mut state, step)?;
    }
    Ok(state)
}

impl StageRun<'_, '_> {
    fn label(&mut self) -> String {
        self.fs_done += 1;
        if self.sh.df.stages.len() > 1 {
            format!(
                "[{} {}/{}]",
                self.sh.df.stages[self.index].display_name(),
                self.fs_done,
                self.fs_total
            )
        } else {
            format!("[{}/{}]", self.fs_done, self.fs_total)
        }
    }

    fn legacy_step(&mut self, text: &str) {
        self.step += 1;
        self.sh.progress.event(Event::Step {
            step: self.step,
            total: self.steps_total,
            text,
        });
    }

    fn fail(&self, l: &Located, message: String) -> BuildError {
        BuildError::Step {
            line: l.line,
            end_line: l.end_line,
            message,
            exit_code: None,
        }
    }

    /// `FROM`: the base's state and its `ONBUILD` triggers.
    fn from(&mut self) -> Result<(StageState, Vec<String>), BuildError> {
        let sh = self.sh;
        let stage = &sh.df.stages[self.index];
        let from_text = match &stage.name {
            Some(n) => format!("FROM {} AS {n}", stage.from.image),
            None => format!("FROM {}", stage.from.image),
        };
        self.legacy_step(&from_text);
        let label = self.label();
        let platform = stage
            .from
            .platform
            .as_deref()
            .or(sh.opts.platform.as_deref());
        match &sh.plan.bases[self.index] {
            Base::Scratch => {
                let (os, arch, _) = crate::plan::host_platform();
                let k = key("", &["FROM scratch", platform.unwrap_or("")]);
                let rec = self.record_cached(&k, "", "FROM scratch")?;
                let state = StageState {
                    config: StageState::scratch(os, arch),
                    layers: Vec::new(),
                    key: k,
                    time: rec.created,
                    args: BTreeMap::new(),
                };
                Ok((state, Vec::new()))
            }
            Base::Stage(d) => {
                let mut state = (*sh.stage_result(*d)?).clone();
                state.args.clear();
                let triggers = strings(&state.config["config"]["OnBuild"]);
                state.config = StageState::from_base(state.config);
                Ok((state, triggers))
            }
            Base::Image(name) => {
                let v = sh.vertices.next();
                let reference = kujira_reference::Reference::parse(name)
                    .map(|r| r.or_latest().to_string())
                    .unwrap_or_else(|_| name.clone());
                sh.progress.event(Event::Start {
                    vertex: v,
                    name: &format!("[internal] load metadata for {reference}"),
                });
                let started = Instant::now();
                let found = if sh.opts.pull {
                    None
                } else {
                    sh.engine()?.find_image(name).map_err(BuildError::from)?
                };
                let id = match found {
                    Some(f) => f.id,
                    None => {
                        let opts = PullOptions {
                            platform: platform.map(str::to_string),
                            auth: None,
                        };
                        match sh.engine()?.pull(name, &opts, &|_| {}) {
                            Ok(p) => p.id,
                            Err(e) => {
                                let msg = format!("{reference}: failed to resolve source metadata for {reference}: {e}");
                                sh.progress.event(Event::Error {
                                    vertex: v,
                                    message: &msg,
                                });
                                return Err(BuildError::Step {
                                    line: stage.from.line,
                                    end_line: stage.from.line,
                                    message: msg,
                                    exit_code: None,
                                });
                            }
                        }
                    }
                };
                sh.progress.event(Event::Done {
                    vertex: v,
                    seconds: started.elapsed().as_secs_f64(),
                });
                let fv = sh.vertices.next();
                sh.progress.event(Event::Start {
                    vertex: fv,
                    name: &format!("{label} FROM {reference}"),
                });
                let bytes = sh
                    .engine()?
                    .store
                    .blobs
                    .read(&id)
                    .map_err(BuildError::from)?;
                let doc: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| BuildError::Invalid(format!("image {id}: bad config: {e}")))?;
                let layers = sh
                    .engine()?
                    .store
                    .meta
                    .image_layers(&id)
                    .map_err(BuildError::from)?;
                let triggers = strings(&doc["config"]["OnBuild"]);
                let k = key("", &["FROM", id.as_str()]);
                let rec = self.record_cached(&k, "", &from_text)?;
                sh.progress.event(Event::Done {
                    vertex: fv,
                    seconds: started.elapsed().as_secs_f64(),
                });
                sh.progress.event(Event::StepResult {
                    id: &id.hex()[..12],
                    cached: false,
                });
                Ok((
                    StageState {
                        config: StageState::from_base(doc),
                        layers,
                        key: k,
                        time: rec.created,
                        args: BTreeMap::new(),
                    },
                    triggers,
                ))
            }
        }
    }

    /// A record with no layer for `key`: the cached one, or a new one made now.
    fn record_cached(
        &self,
        k: &str,
        parent: &str,
        description: &str,
    ) -> Result<CacheRecord, BuildError> {
        if let Some(r) = self.sh.engine()?.cache_hit(k)? {
            return Ok(r);
        }
        let rec = new_record(self.sh, k, parent, description);
        Ok(self.sh.engine()?.cache_step(rec, None, &[], None)?)
    }

    fn instruction(&mut self, state: &mut StageState, l: &Located) -> Result<(), BuildError> {
        let text = source_text(self.sh, l);
        self.legacy_step(&text);
        let env_fn = lookup(state);
        let word = |w: &str| {
            self.lex
                .process_word(w, &env_fn)
                .map_err(|e| self.fail(l, e.to_string()))
        };
        let words = |w: &str| {
            self.lex
                .process_words(w, &env_fn)
                .map_err(|e| self.fail(l, e.to_string()))
        };
        let pairs = |raw: &str| -> Result<Vec<(String, String)>, BuildError> {
            let ws = words(raw)?;
            if ws.first().is_some_and(|w| !w.contains('=')) {
                // The legacy `ENV KEY value with spaces` form.
                let (k, rest) = raw
                    .trim()
                    .split_once(char::is_whitespace)
                    .unwrap_or((raw.trim(), ""));
                let v = self
                    .lex
                    .process_word(rest.trim(), &env_fn)
                    .map_err(|e| self.fail(l, e.to_string()))?;
                return Ok(vec![(k.to_string(), v)]);
            }
            Ok(ws
                .into_iter()
                .map(|w| {
                    let (k, v) = w.split_once('=').unwrap_or((&w, ""));
                    (k.to_string(), v.to_string())
                })
                .collect())
        };
        match &l.inst {
            Inst::Arg(raws) => {
                let mut set = Vec::new();
                for raw in raws {
                    let ps = arg_pairs(&self.lex, raw, &env_fn).map_err(|m| self.fail(l, m))?;
                    for (k, default) in ps {
                        let v = self
                            .sh
                            .plan
                            .build_args
                            .get(&k)
                            .cloned()
                            .or(default.clone())
                            .or_else(|| self.sh.plan.global_args.get(&k).cloned());
                        set.push((k, v, default));
                    }
                }
                drop(env_fn);
                let mut shown = Vec::new();
                for (k, v, default) in set {
                    shown.push(match default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    if let Some(v) = v {
                        state.args.insert(k, v);
                    }
                }
                state.history(&format!("ARG {}", shown.join(" ")), false);
            }
            Inst::Env(raw) => {
                let ps = pairs(raw)?;
                drop(env_fn);
                for (k, v) in &ps {
                    state.set_env(k, v);
                }
                let shown: Vec<String> = ps.iter().map(|(k, v)| format!("{k}={v}")).collect();
                state.history(&format!("ENV {}", shown.join(" ")), false);
            }
            Inst::Label(raw) => {
                let ps = pairs(raw)?;
                drop(env_fn);
                state.add_keys("Labels", ps.iter().map(|(k, v)| (k.clone(), json!(v))));
                let shown: Vec<String> = ps.iter().map(|(k, v)| format!("{k}={v}")).collect();
                state.history(&format!("LABEL {}", shown.join(" ")), false);
            }
            Inst::Maintainer(m) => {
                drop(env_fn);
                state.config["author"] = json!(m);
                state.history(&format!("MAINTAINER {m}"), false);
            }
            Inst::Cmd(c) | Inst::Entrypoint(c) => {
                drop(env_fn);
                let list = match c {
                    CommandForm::Exec(v) => v.clone(),
                    CommandForm::Shell(s) => {
                        let mut sh = state.shell();
                        sh.push(s.clone());
                        sh
                    }
                };
                let is_cmd = matches!(l.inst, Inst::Cmd(_));
                if is_cmd {
                    self.cmd_set = true;
                    state.set_cfg("Cmd", json!(list));
                    state.history(&format!("CMD {}", go_quoted_list(&list)), false);
                } else {
                    state.set_cfg("Entrypoint", json!(list));
                    if !self.cmd_set {
                        // Docker: an ENTRYPOINT resets a CMD inherited from the base.
                        state.set_cfg("Cmd", serde_json::Value::Null);
                    }
                    state.history(&format!("ENTRYPOINT {}", go_quoted_list(&list)), false);
                }
            }
            Inst::Expose(ports) => {
                let mut exp = Vec::new();
                for p in ports {
                    for w in words(p)? {
                        exp.extend(expand_ports(&w).map_err(|m| self.fail(l, m))?);
                    }
                }
                drop(env_fn);
                state.add_keys("ExposedPorts", exp.iter().map(|p| (p.clone(), json!({}))));
                exp.sort();
                exp.dedup();
                let shown: Vec<String> = exp.iter().map(|p| format!("{p}:{{}}")).collect();
                state.history(&format!("EXPOSE map[{}]", shown.join(" ")), false);
            }
            Inst::Volume(vs) => {
                let mut list = Vec::new();
                for v in vs {
                    list.push(word(v)?);
                }
                drop(env_fn);
                if list.iter().any(|v| v.is_empty()) {
                    return Err(self.fail(l, "VOLUME specified can not be an empty string".into()));
                }
                state.add_keys("Volumes", list.iter().map(|v| (v.clone(), json!({}))));
                state.history(&format!("VOLUME {}", go_list(&list)), false);
            }
            Inst::User(v) | Inst::Stopsignal(v) => {
                let (field, name) = match l.inst {
                    Inst::User(_) => ("User", "USER"),
                    _ => ("StopSignal", "STOPSIGNAL"),
                };
                let v = word(v)?;
                drop(env_fn);
                state.set_cfg(field, json!(v));
                state.history(&format!("{name} {v}"), false);
            }
            Inst::Shell(list) => {
                drop(env_fn);
                state.set_cfg("Shell", json!(list));
                state.history(&format!("SHELL {}", go_list(list)), false);
            }
            Inst::Onbuild(t) => {
                drop(env_fn);
                let mut list = strings(state.cfg("OnBuild"));
                list.push(t.clone());
                state.set_cfg("OnBuild", json!(list));
                state.history(&format!("ONBUILD {t}"), false);
            }
            Inst::Healthcheck { flags, cmd } => {
                drop(env_fn);
                let hc = healthcheck(flags, cmd.as_ref()).map_err(|m| self.fail(l, m))?;
                let shown = healthcheck_history(&hc);
                state.set_cfg("Healthcheck", hc);
                state.history(&format!("HEALTHCHECK {shown}"), false);
            }
            Inst::Workdir(w) => {
                let w = word(w)?;
                drop(env_fn);
                let path = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", state.workdir().trim_end_matches('/'))
                };
                let path = normalize(&path);
                state.set_cfg("WorkingDir", json!(path));
                let label = self.label();
                let created_by = format!("WORKDIR {path}");
                let k = key(&state.key, &["WORKDIR", &path]);
                let owner = state.user();
                self.fs_step_with(
                    state,
                    l,
                    &label,
                    &text,
                    &created_by,
                    k,
                    &[],
                    |_, _, step, _| {
                        let root = step.rootfs();
                        let owner = if owner.is_empty() {
                            None
                        } else {
                            rootfs::lookup_owner(&root, &owner).ok()
                        };
                        rootfs::mkdir_all(&root, &path, owner)
                            .map(|_| ())
                            .map_err(|e| format!("mkdir {path}: {e}"))
                    },
                )?;
            }
            Inst::Run {
                flags,
                cmd,
                heredocs,
            } => {
                drop(env_fn);
                self.run(state, l, &text, flags, cmd, heredocs)?;
            }
            Inst::Copy {
                add,
                flags,
                srcs,
                dest,
            } => {
                let dest = word(dest)?;
                let mut expanded = Vec::new();
                for s in srcs {
                    expanded.push(match s {
                        Source::Path(p) => Source::Path(word(p)?),
                        Source::HereDoc { content, expand } => Source::HereDoc {
                            content: if *expand {
                                expand_heredoc(&self.lex, content, &env_fn)
                                    .map_err(|m| self.fail(l, m))?
                            } else {
                                content.clone()
                            },
                            expand: *expand,
                        },
                    });
                }
                let mut fl = Vec::new();
                for (k, v) in flags {
                    fl.push((k.clone(), word(v)?));
                }
                drop(env_fn);
                self.copy(state, l, &text, *add, &fl, &expanded, &dest)?;
            }
        }
        self.sh.progress.event(Event::StepResult {
            id: state
                .key
                .trim_start_matches("sha256:")
                .get(..12)
                .unwrap_or_default(),
            cached: false,
        });
        Ok(())
    }

    /// A filesystem step: the cached result for `k`, or `apply` run on a fresh overlay
    /// of the stage's layers (with mount points `points`) and its changes recorded.
    #[allow(clippy::too_many_arguments)]
    fn fs_step_with(
        &mut self,
        state: &mut StageState,
        l: &Located,
        label: &str,
        text: &str,
        created_by: &str,
        k: String,
        points: &[(String, bool)],
        apply: impl FnOnce(&Shared<'_>, &StageState, &mut StepRootfs, usize) -> Result<(), String>,
    ) -> Result<(), BuildError> {
        let sh = self.sh;
        let v = sh.vertices.next();
        sh.progress.event(Event::Start {
            vertex: v,
            name: &format!("{label} {text}"),
        });
        let started = Instant::now();
        if !sh.opts.no_cache {
            if let Some(rec) = sh.engine()?.cache_hit(&k)? {
                sh.progress.event(Event::Cached { vertex: v });
                sh.progress.event(Event::StepResult {
                    id: "cache",
                    cached: true,
                });
                apply_record(state, rec, created_by);
                return Ok(());
            }
        }
        let result = (|| -> Result<CacheRecord, BuildError> {
            let engine = sh.engine()?;
            let mut step = engine.mount_step(&lower_dirs(&engine, &state.layers), points)?;
            let outcome = apply(sh, state, &mut step, v);
            if let Err(m) = outcome {
                step.remove();
                return Err(self.fail(l, m));
            }
            let rec = new_record(sh, &k, &state.key, text);
            let upper = step.upper();
            step.finish();
            let clamp = sh.epoch().map(|e| e.max(0) as u64);
            let r = sh
                .engine()?
                .cache_step(rec, Some(&upper), &state.layers, clamp);
            step.remove();
            Ok(r?)
        })();
        match result {
            Ok(rec) => {
                sh.progress.event(Event::Done {
                    vertex: v,
                    seconds: started.elapsed().as_secs_f64(),
                });
                apply_record(state, rec, created_by);
                Ok(())
            }
            Err(e) => {
                sh.progress.event(Event::Error {
                    vertex: v,
                    message: &e.to_string(),
                });
                Err(e)
            }
        }
    }

    fn run(
        &mut self,
        state: &mut StageState,
        l: &Located,
        text: &str,
        flags: &[(String, String)],
        cmd: &CommandForm,
        heredocs: &[crate::dockerfile::HereDoc],
    ) -> Result<(), BuildError> {
        let sh = self.sh;
        let workdir = state.workdir();
        let mut mounts = Vec::new();
        let mut network = None;
        for (k, v) in flags {
            match k.as_str() {
                "mount" => {
                    mounts.push(run_mod::parse_mount(v, &workdir).map_err(|m| self.fail(l, m))?)
                }
                "network" => network = Some(v.as_str()),
                "security" => {}
                other => return Err(self.fail(l, format!("unknown flag: {other}"))),
            }
        }
        let network = run_mod::network(network, sh.opts.network).map_err(|m| self.fail(l, m))?;
        let args: Vec<String> = match cmd {
            CommandForm::Exec(v) => v.clone(),
            CommandForm::Shell(s) => {
                let mut list = state.shell();
                let script = match heredocs.first() {
                    Some(h) if s.trim().is_empty() => h.content.clone(),
                    Some(h) => {
                        // The shell reads the heredoc itself, where the file put it.
                        let delim = if h.expand {
                            "<<KUJIRA_EOF"
                        } else {
                            "<<'KUJIRA_EOF'"
                        };
                        let mark = crate::dockerfile::HEREDOC_MARK;
                        let line = if s.contains(mark) {
                            s.trim().replace(mark, delim)
                        } else {
                            format!("{} {delim}", s.trim())
                        };
                        format!("{line}\n{}KUJIRA_EOF\n", h.content)
                    }
                    None => s.clone(),
                };
                list.push(script);
                list
            }
        };
        let mut args_env = state.args.clone();
        for (k, v) in &sh.plan.build_args {
            if is_proxy_arg(k) {
                args_env.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut env = state.env();
        for (k, v) in &args_env {
            if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                env.push(format!("{k}={v}"));
            }
        }
        // What the mounts bring in is part of the key: a bind's content, a stage's key.
        let mut mount_keys = Vec::new();
        let mut stage_views: Vec<StepRootfs> = Vec::new();
        let mut binds = Vec::new();
        let mut tmpfs = Vec::new();
        let mut points = Vec::new();
        let mut cache_ids = Vec::new();
        for m in &mounts {
            match m {
                Mount::Cache { id, target } => {
                    let dir = run_mod::cache_dir(&sh.engine()?.root(), id);
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
                    binds.push(format!("{}:{target}", dir.display()));
                    points.push((target.clone(), false));
                    mount_keys.push(format!("cache:{id}:{target}"));
                    cache_ids.push((id.clone(), dir));
                }
                Mount::Tmpfs { target } => {
                    tmpfs.push(target.clone());
                    points.push((target.clone(), false));
                    mount_keys.push(format!("tmpfs:{target}"));
                }
                Mount::Secret {
                    id,
                    target,
                    required,
                } => match sh.opts.secrets.get(id) {
                    Some(src) => {
                        binds.push(format!("{}:{target}:ro", src.display()));
                        points.push((target.clone(), true));
                        mount_keys.push(format!("secret:{id}:{target}"));
                    }
                    None if *required => {
                        return Err(self.fail(l, format!("secret {id}: not found")));
                    }
                    None => {}
                },
                Mount::Bind {
                    source,
                    target,
                    from,
                    rw: _,
                } => {
                    let (host, k) = match from {
                        None => {
                            let rel = crate::context::clean_rel(source).unwrap_or_default();
                            let host = sh
                                .ctx
                                .host_path(&rel)
                                .map_err(|e| self.fail(l, e.to_string()))?;
                            let sum = sh
                                .ctx
                                .checksum(&[rel])
                                .map_err(|e| self.fail(l, e.to_string()))?;
                            (host, sum)
                        }
                        Some(f) => {
                            let (layers, k) = self.source_layers(l, f)?;
                            let view = sh
                                .engine()?
                                .mount_step(&lower_dirs(&*sh.engine()?, &layers), &[])?;
                            let host = rootfs::resolve(&view.rootfs(), &format!("/{source}"), true)
                                .map_err(|e| self.fail(l, e.to_string()))?;
                            stage_views.push(view);
                            (host, format!("{k}:{source}"))
                        }
                    };
                    let is_file = host.is_file();
                    // Read-only, as BuildKit's default; a writable bind's writes are not
                    // kept by BuildKit either, and must never reach the user's context.
                    binds.push(format!("{}:{target}:ro", host.display()));
                    points.push((target.clone(), is_file));
                    mount_keys.push(format!("bind:{k}:{target}"));
                }
            }
        }
        let net_name = match network {
            kujira_runtime::NetworkMode::Host => "host",
            kujira_runtime::NetworkMode::None => "none",
            kujira_runtime::NetworkMode::Private => "default",
        };
        let args_json = json!(args).to_string();
        let env_json = json!(env).to_string();
        let user = state.user();
        let k = key(
            &state.key,
            &[
                "RUN",
                &args_json,
                &env_json,
                &user,
                &workdir,
                net_name,
                &mount_keys.join("\n"),
            ],
        );
        let mut shown_args = String::new();
        if !args_env.is_empty() {
            let kv: Vec<String> = args_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            shown_args = format!("|{} {} ", kv.len(), kv.join(" "));
        }
        let created_by = format!("RUN {shown_args}{} # buildkit", args.join(" "));
        let label = self.label();
        let shown = args.join(" ");
        let result = self.fs_step_with(
            state,
            l,
            &label,
            text,
            &created_by,
            k,
            &points,
            |sh, _st, step, v| {
                let (reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
                let err_writer = writer.try_clone().map_err(|e| format!("pipe: {e}"))?;
                let process = StepProcess {
                    args: args.clone(),
                    env: env.clone(),
                    workdir: workdir.clone(),
                    user: user.clone(),
                    network,
                    binds: binds.clone(),
                    tmpfs: tmpfs.clone(),
                    stdout: Some(writer.into()),
                    stderr: Some(err_writer.into()),
                };
                let progress = sh.progress;
                let status = std::thread::scope(|scope| {
                    let pump = scope.spawn(move || {
                        run_mod::pump(reader, &|data| {
                            progress.event(Event::Output { vertex: v, data })
                        })
                    });
                    let status = match sh.engine() {
                        Ok(e) => e.run_step(step, process).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = pump.join();
                    status
                });
                match status {
                    Ok(0) => Ok(()),
                    Ok(code) => Err(format!(
                        "process \"{shown}\" did not complete successfully: exit code: {code}"
                    )),
                    Err(e) => Err(format!("process \"{shown}\" could not be run: {e}")),
                }
            },
        );
        drop(stage_views);
        if let Err(BuildError::Step { message, .. }) = &result {
            if let Some(code) = message
                .rsplit("exit code: ")
                .next()
                .and_then(|c| c.trim().parse::<i32>().ok())
            {
                return Err(BuildError::Step {
                    line: l.line,
                    end_line: l.end_line,
                    message: message.clone(),
                    exit_code: Some(code),
                });
            }
        }
        result?;
        for (id, dir) in cache_ids {
            let size = kujira_store::layers::tree_size(&dir).unwrap_or(0);
            let mut rec = new_record(
                sh,
                &format!("cachemount:{id}"),
                "",
                &format!("cached mount {id} from exec {shown}"),
            );
            rec.kind = "exec.cachemount".into();
            rec.size = size;
            if let Some(old) = sh.engine()?.cache_hit(&rec.key)? {
                rec.created = old.created;
                rec.created_unix = old.created_unix;
                rec.usage_count = old.usage_count;
            }
            sh.engine()?.cache_step(rec, None, &[], None)?;
        }
        Ok(())
    }

    /// The layers and key of a `--from` source: an earlier stage, or an image.
    fn source_layers(
        &self,
        l: &Located,
        from: &str,
    ) -> Result<(Vec<kujira_store::metadata::NewLayer>, String), BuildError> {
        let sh = self.sh;
        if let Some(d) = find_stage(sh.df, from, self.index) {
            let s = sh.stage_result(d)?;
            return Ok((s.layers.clone(), s.key.clone()));
        }
        let id = match sh.engine()?.find_image(from)? {
            Some(f) => f.id,
            None => {
                let opts = PullOptions {
                    platform: sh.opts.platform.clone(),
                    auth: None,
                };
                sh.engine()?
                    .pull(from, &opts, &|_| {})
                    .map_err(|e| {
                        self.fail(
                            l,
                            format!("failed to resolve source metadata for {from}: {e}"),
                        )
                    })?
                    .id
            }
        };
        Ok((sh.engine()?.store.meta.image_layers(&id)?, id.to_string()))
    }

    #[allow(clippy::too_many_arguments)]
    fn copy(
        &mut self,
        state: &mut StageState,
        l: &Located,
        text: &str,
        add: bool,
        flags: &[(String, String)],
        srcs: &[Source],
        dest: &str,
    ) -> Result<(), BuildError> {
        let sh = self.sh;
        let name = if add { "ADD" } else { "COPY" };
        let mut from = None;
        let mut chown = None;
        let mut chmod = None;
        let mut checksum = None;
        let mut parents = false;
        let mut shown_flags = Vec::new();
        for (k, v) in flags {
            match k.as_str() {
                "from" => from = Some(v.clone()),
                "chown" => chown = Some(v.clone()),
                "chmod" => {
                    chmod = Some(
                        u32::from_str_radix(v, 8)
                            .map_err(|_| self.fail(l, format!("invalid chmod parameter: {v}")))?,
                    )
                }
                "checksum" if add => checksum = Some(v.clone()),
                "link" | "keep-git-dir" => {}
                "parents" => parents = v.is_empty() || v == "true",
                other => return Err(self.fail(l, format!("unknown flag: {other}"))),
            }
            if k != "link" {
                shown_flags.push(if v.is_empty() {
                    format!("--{k}")
                } else {
                    format!("--{k}={v}")
                });
            }
        }
        let workdir = state.workdir();
        let dest_abs = if dest.starts_with('/') {
            dest.to_string()
        } else {
            let d = format!("{}/{dest}", workdir.trim_end_matches('/'));
            if dest.ends_with('/') || dest == "." {
                format!("{}/", normalize(&d).trim_end_matches('/'))
            } else {
                normalize(&d)
            }
        };
        let dest_abs = if dest.ends_with('/') && !dest_abs.ends_with('/') {
            format!("{dest_abs}/")
        } else {
            dest_abs
        };
        // Resolve the sources and their part of the key.
        enum Resolved {
            Context(Vec<String>),
            Stage(Vec<kujira_store::metadata::NewLayer>, String),
            Bytes(String, Vec<u8>, u32),
        }
        let mut resolved = Vec::new();
        let mut key_parts: Vec<String> = vec![name.into(), shown_flags.join(" "), dest_abs.clone()];
        let mut count = 0;
        let mut shown_srcs = Vec::new();
        for s in srcs {
            match s {
                Source::HereDoc { content, .. } => {
                    key_parts.push(format!("heredoc:{content}"));
                    count += 1;
                    shown_srcs.push("<<EOF".to_string());
                    let file = dest_abs.rsplit('/').next().unwrap_or("EOF").to_string();
                    resolved.push(Resolved::Bytes(file, content.as_bytes().to_vec(), 0o644));
                }
                Source::Path(p)
                    if add
                        && from.is_none()
                        && (p.starts_with("http://") || p.starts_with("https://")) =>
                {
                    let data = download(p, checksum.as_deref()).map_err(|m| self.fail(l, m))?;
                    key_parts.push(format!("url:{p}:{}", hex::encode(Sha256::digest(&data))));
                    count += 1;
                    shown_srcs.push(p.clone());
                    let file = p
                        .split(['?', '#'])
                        .next()
                        .and_then(|u| u.rsplit('/').next())
                        .filter(|n| !n.is_empty())
                        .unwrap_or("index.html")
                        .to_string();
                    resolved.push(Resolved::Bytes(file, data, 0o600));
                }
                Source::Path(p) => {
                    shown_srcs.push(p.clone());
                    match &from {
                        None => {
                            let rels =
                                sh.ctx.resolve(p).map_err(|e| self.fail(l, e.to_string()))?;
                            let sum = sh
                                .ctx
                                .checksum(&rels)
                                .map_err(|e| self.fail(l, e.to_string()))?;
                            key_parts.push(format!("ctx:{}:{sum}", rels.join("\0")));
                            count += rels.len();
                            resolved.push(Resolved::Context(rels));
                        }
                        Some(f) => {
                            let (layers, k) = self.source_layers(l, f)?;
                            key_parts.push(format!("from:{k}:{p}"));
                            count += if p.contains(['*', '?', '[']) { 2 } else { 1 };
                            resolved.push(Resolved::Stage(layers, p.clone()));
                        }
                    }
                }
            }
        }
        if count > 1 && !dest_abs.ends_with('/') {
            return Err(self.fail(
                l,
                format!("When using {name} with more than one source file, the destination must be a directory and end with a /"),
            ));
        }
        let created_by = {
            let mut parts = vec![name.to_string()];
            parts.extend(shown_flags.iter().cloned());
            parts.extend(shown_srcs.iter().cloned());
            parts.push(dest.to_string());
            format!("{} # buildkit", parts.join(" "))
        };
        let refs: Vec<&str> = key_parts.iter().map(String::as_str).collect();
        let k = key(&state.key, &refs);
        let label = self.label();
        let ctx = sh.ctx;
        let predecessor = sh.engine()?.cache_predecessor_dir(&state.key, text)?;
        self.fs_step_with(
            state,
            l,
            &label,
            text,
            &created_by,
            k,
            &[],
            |sh, _st, step, _| {
                let root = step.rootfs();
                let owner = match &chown {
                    Some(c) => Some(rootfs::lookup_owner(&root, c)?),
                    None => None,
                };
                let mut sources = Vec::new();
                let mut views = Vec::new();
                for r in &resolved {
                    match r {
                        Resolved::Bytes(name, data, mode) => sources.push(copy::Source::Bytes {
                            name: name.clone(),
                            data: data.clone(),
                            mode: *mode,
                            mtime: None,
                        }),
                        Resolved::Context(rels) => {
                            for rel in rels {
                                let entries = ctx.walk(rel).map_err(|e| e.to_string())?;
                                let top = ctx.host_path(rel).map_err(|e| e.to_string())?;
                                let list = entries
                                    .into_iter()
                                    .map(|e| {
                                        let sub = e
                                            .rel
                                            .strip_prefix(rel.as_str())
                                            .unwrap_or(&e.rel)
                                            .trim_start_matches('/')
                                            .to_string();
                                        SourceEntry {
                                            host: if sub.is_empty() {
                                                top.clone()
                                            } else {
                                                top.join(&sub)
                                            },
                                            rel: sub,
                                            meta: e.meta,
                                        }
                                    })
                                    .collect();
                                let base = rel.rsplit('/').next().unwrap_or(rel).to_string();
                                let name = if parents { rel.clone() } else { base };
                                sources.push(copy::Source::Tree {
                                    name,
                                    entries: list,
                                    extract: add,
                                });
                            }
                        }
                        Resolved::Stage(layers, p) => {
                            let eng = sh.engine().map_err(|e| e.to_string())?;
                            let view = eng
                                .mount_step(&lower_dirs(&eng, layers), &[])
                                .map_err(|e| e.to_string())?;
                            let vroot = view.rootfs();
                            for (path, name) in glob_in(&vroot, p)? {
                                let host = rootfs::resolve(&vroot, &path, true)
                                    .map_err(|e| e.to_string())?;
                                let entries = walk_host(&host).map_err(|e| format!("{p}: {e}"))?;
                                sources.push(copy::Source::Tree {
                                    name,
                                    entries,
                                    extract: false,
                                });
                            }
                            views.push(view);
                        }
                    }
                }
                let mut target = copy::Target {
                    dest: dest_abs.clone(),
                    owner,
                    mode: chmod,
                    keep_owner: from.is_some(),
                    link_from: None,
                };
                // Into a destination the image does not have, the files go straight
                // into the step's upper directory (the overlay unmounted), and those
                // unchanged since this step last ran are hard links to its layer.
                if let Some(parents) = copy::direct_parents(&root, &sources, &target) {
                    step.finish();
                    let upper = step.upper();
                    copy::make_parents(&upper, &parents)?;
                    target.link_from = predecessor.clone();
                    let r = copy::apply(&upper, &sources, &target);
                    // The other stages' views the sources are read from go last.
                    drop(views);
                    return r;
                }
                let r = copy::apply(&root, &sources, &target);
                drop(views);
                r
            },
        )
    }
}

fn apply_record(state: &mut StageState, rec: CacheRecord, created_by: &str) {
    state.key = rec.key.clone();
    state.time = rec.created.clone();
    let layer = rec.layer.is_some();
    if let Some(l) = rec.layer {
        state.push_layer(l);
    }
    state.history(created_by, layer);
}

/// `/a/./b/../c` → `/a/c`.
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `80`, `80/udp`, `8000-8002/tcp` into Docker's `port/proto` keys.
fn expand_ports(w: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = w.split_once('/').unwrap_or((w, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

fn expand_heredoc(
    lex: &Lexer,
    content: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    // Expanded line by line as a double-quoted word would be, so quotes stay.
    let mut out = String::new();
    for line in content.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let escaped = body.replace('"', "\\\"");
        out.push_str(
            &lex.process_word(&format!("\"{escaped}\""), env)
                .map_err(|e| e.to_string())?,
        );
        out.push_str(nl);
    }
    Ok(out)
}

fn healthcheck(
    flags: &[(String, String)],
    cmd: Option<&CommandForm>,
) -> Result<serde_json::Value, String> {
    let test = match cmd {
        None => vec!["NONE".to_string()],
        Some(CommandForm::Exec(v)) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v.iter().cloned());
            t
        }
        Some(CommandForm::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let mut hc = json!({"Test": test});
    for (k, v) in flags {
        let field = match k.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: i64 = v.parse().map_err(|_| format!("invalid retries: {v}"))?;
                hc["Retries"] = json!(n);
                continue;
            }
            other => return Err(format!("unknown flag: {other}")),
        };
        let d = kujira_engine::duration::parse_go_duration(v)
            .ok_or_else(|| format!("invalid {k} duration: {v}"))?;
        hc[field] = json!(d);
    }
    Ok(hc)
}

/// BuildKit's `%v` of the healthcheck config in history.
fn healthcheck_history(hc: &serde_json::Value) -> String {
    let secs = |k: &str| {
        let ns = hc[k].as_i64().unwrap_or(0);
        format!("\"{}s\"", ns / 1_000_000_000)
    };
    format!(
        "&{{{} {} {} {} {} '\\x{:02x}'}}",
        go_quoted_list(&strings(&hc["Test"])),
        secs("Interval"),
        secs("Timeout"),
        secs("StartPeriod"),
        secs("StartInterval"),
        hc["Retries"].as_i64().unwrap_or(0)
    )
}

/// A `COPY --from` source pattern in another rootfs: `(path, name)` of each match.
fn glob_in(root: &std::path::Path, pattern: &str) -> Result<Vec<(String, String)>, String> {
    let path = normalize(pattern);
    let (dir, last) = path.rsplit_once('/').unwrap_or(("", &path));
    if !last.contains(['*', '?', '[']) {
        let host = rootfs::resolve(root, &path, true).map_err(|e| e.to_string())?;
        if std::fs::symlink_metadata(&host).is_err() {
            return Err(format!(
                "failed to compute cache key: failed to calculate checksum of ref: \"{path}\": not found"
            ));
        }
        return Ok(vec![(path.clone(), last.to_string())]);
    }
    let host_dir = rootfs::resolve(root, if dir.is_empty() { "/" } else { dir }, true)
        .map_err(|e| e.to_string())?;
    let mut out: Vec<(String, String)> = std::fs::read_dir(&host_dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| crate::context::match_component(last, n))
        .map(|n| (format!("{dir}/{n}"), n))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!(
            "failed to compute cache key: \"{path}\": not found"
        ));
    }
    Ok(out)
}

/// Every entry at and under a host path, parents first.
fn walk_host(top: &std::path::Path) -> std::io::Result<Vec<SourceEntry>> {
    let mut out = vec![SourceEntry {
        rel: String::new(),
        host: top.to_path_buf(),
        meta: std::fs::metadata(top)?,
    }];
    fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<SourceEntry>) -> std::io::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let host = dir.join(&n);
            let r = if rel.is_empty() {
                n.to_string_lossy().to_string()
            } else {
                format!("{rel}/{}", n.to_string_lossy())
            };
            let meta = std::fs::symlink_metadata(&host)?;
            let is_dir = meta.is_dir();
            out.push(SourceEntry {
                rel: r.clone(),
                host: host.clone(),
                meta,
            });
            if is_dir {
                walk(&host, &r, out)?;
            }
        }
        Ok(())
    }
    if out[0].meta.is_dir() {
        walk(top, "", &mut out)?;
    }
    Ok(out)
}

/// `ADD URL`: the file, checked against `--checksum` when given.
fn download(url: &str, checksum: Option<&str>) -> Result<Vec<u8>, String> {
    let resp = reqwest::blocking::get(url).map_err(|e| format!("failed to load {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "invalid response status {} from {url}",
            resp.status().as_u16()
        ));
    }
    let data = resp
        .bytes()
        .map_err(|e| format!("failed to load {url}: {e}"))?
        .to_vec();
    if let Some(want) = checksum {
        let got = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        if got != want {
            return Err(format!("digest mismatch {got}: {want}"));
        }
    }
    Ok(data)
}

/// Build args the Dockerfile may use without declaring them.
fn is_proxy_arg(k: &str) -> bool {
    PROXY_ARGS.contains(&k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_paths() {
        assert_eq!(expand_ports("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(expand_ports("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            expand_ports("8000-8001").unwrap(),
            vec!["8000/tcp", "8001/tcp"]
        );
        assert!(expand_ports("x").is_err());
        assert_eq!(normalize("/a/./b/../c/"), "/a/c");
    }
}
