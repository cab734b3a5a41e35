//! `.dockerignore` rules, read the way the docker CLI's `ignorefile.ReadAll`
//! reads them and matched the way moby's `patternmatcher` matches them
//! (`New` + `MatchesOrParentMatches`).
//!
//! patternmatcher validates every pattern with Go's `filepath.Match` and then
//! matches with one of four strategies: exact string, prefix (`dir/**`),
//! suffix (leading `**`) or a translated regular expression. Each strategy is
//! reproduced here, quirks included (`**foo` matches `barfoo`, `a**b` does
//! not match `axb`, a negated class can match `/`, `^` outside a class is a
//! start anchor), because build contexts must be filtered exactly as docker
//! filters them. The regex side is a small token matcher rather than a regex
//! engine. Three corners of the regex translation are deliberately read the
//! way `filepath.Match` reads them instead: `\c` always means a literal `c`
//! (moby's regex would read `\d` as a digit class), and `*`, `?` and `[:x:]`
//! inside brackets are plain class members (moby's translation garbles them).
//! A pattern whose regex would not compile (a reversed range like `[z-a]`)
//! is rejected when parsed; moby only fails once it first evaluates it.

use std::fmt;

/// Why a `.dockerignore` pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreError {
    /// An exclusion with nothing to exclude: `!` alone, or `!/`, which cleans to it.
    IllegalExclusion,
    /// A pattern `filepath.Match` (or moby's regex translation) refuses.
    BadPattern(String),
    /// [`Pattern::new`] was given nothing but whitespace.
    Empty,
}

impl fmt::Display for IgnoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Same text as patternmatcher, so users see the docker message.
            IgnoreError::IllegalExclusion => f.write_str("illegal exclusion pattern: \"!\""),
            IgnoreError::BadPattern(p) => write!(f, "syntax error in pattern: {p:?}"),
            IgnoreError::Empty => f.write_str("empty ignore pattern"),
        }
    }
}

impl std::error::Error for IgnoreError {}

/// Reads a `.dockerignore` file into patterns, in file order.
pub fn parse(text: &str) -> Result<Vec<Pattern>, IgnoreError> {
    let mut patterns = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        // bufio.ScanLines drops one trailing CR, so CRLF files behave.
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if index == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        // ReadAll tests for comments before trimming: "  # x" is a pattern.
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (invert, rest) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let mut pattern = String::new();
        if !rest.is_empty() {
            let cleaned = clean(rest);
            // A lone "/" is kept: it matches nothing, as in docker.
            pattern = match cleaned.strip_prefix('/') {
                Some(stripped) if !stripped.is_empty() => stripped.to_string(),
                _ => cleaned,
            };
        }
        if invert {
            pattern.insert(0, '!');
        }
        patterns.push(Pattern::new(&pattern)?);
    }
    Ok(patterns)
}

/// One compiled ignore pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    exclusion: bool,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact,
    /// `text` minus its trailing `**`.
    Prefix,
    /// `text` minus its leading `**`.
    Suffix,
    Tokens(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`, i.e. regex `[^/]`.
    NotSlash,
    /// A bracket class with regex semantics: a negated class also matches `/`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`, i.e. regex `[^/]*`.
    NotSlashRun,
    /// A trailing `**` after other wildcards, i.e. regex `.*`.
    AnyRun,
    /// A non-trailing `**`, i.e. regex `(.*/)?`.
    Dirs,
    /// A bare `^`, which moby leaves unescaped in the regex.
    Start,
}

impl Pattern {
    /// Compiles one pattern the way `patternmatcher.New` does: trimmed,
    /// cleaned, a leading `!` making it an exclusion, then syntax-checked.
    pub fn new(raw: &str) -> Result<Pattern, IgnoreError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(IgnoreError::Empty);
        }
        let cleaned = clean(raw);
        let (exclusion, body) = match cleaned.strip_prefix('!') {
            Some("") => return Err(IgnoreError::IllegalExclusion),
            Some(body) => (true, body),
            None => (false, cleaned.as_str()),
        };
        let chars: Vec<char> = body.chars().collect();
        let bad = || IgnoreError::BadPattern(body.to_string());
        if !glob_syntax_ok(&chars) {
            return Err(bad());
        }
        let kind = compile(&chars).ok_or_else(bad)?;
        Ok(Pattern {
            text: body.to_string(),
            exclusion,
            kind,
        })
    }

    /// The cleaned pattern, without its `!`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a `!` pattern that re-includes what it matches.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// Whether the pattern matches `path` itself (parents are not consulted).
    pub fn matches_path(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        self.matches_subject(path, &chars)
    }

    fn matches_subject(&self, path: &str, chars: &[char]) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.text[2..];
                // moby's special case so that `**/foo` also matches a top-level `foo`.
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Tokens(tokens) => {
                let states = run(tokens, chars);
                states.last().is_some_and(|s| s[chars.len()])
            }
        }
    }

    /// Whether some path strictly below `dir/` could match this pattern.
    fn could_match_below(&self, dir_slash: &str) -> bool {
        match &self.kind {
            Kind::Exact => self.text.starts_with(dir_slash),
            Kind::Prefix => {
                let prefix = &self.text[..self.text.len() - 2];
                prefix.starts_with(dir_slash) || dir_slash.starts_with(prefix)
            }
            // Any directory can hold a path ending in the suffix.
            Kind::Suffix => true,
            Kind::Tokens(tokens) => {
                let chars: Vec<char> = dir_slash.chars().collect();
                // Being between tokens right after `dir/` leaves the rest of
                // the pattern free to match whatever follows; a run token
                // still going at that point shows up as the next state.
                run(tokens, &chars).iter().any(|s| s[chars.len()])
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exclusion {
            f.write_str("!")?;
        }
        f.write_str(&self.text)
    }
}

/// Decides whether paths are ignored by an ordered list of patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// A matcher applying `patterns` in order, the last match winning.
    pub fn new(patterns: Vec<Pattern>) -> Matcher {
        Matcher { patterns }
    }

    /// Parses `.dockerignore` text straight into a matcher.
    pub fn from_dockerignore(text: &str) -> Result<Matcher, IgnoreError> {
        parse(text).map(Matcher::new)
    }

    /// The patterns, in the order they are applied.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any `!` pattern exists.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (slash-separated, relative to the context root) is
    /// ignored, counting matches on any of its parent directories.
    pub fn matches(&self, path: &str) -> bool {
        let file: Vec<char> = path.chars().collect();
        let parents = parent_chain(path);
        let mut matched = false;
        for pattern in &self.patterns {
            // Only a pattern that could flip the verdict needs evaluating;
            // this is moby's shortcut and equals "last match wins".
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches_subject(path, &file)
                || parents
                    .iter()
                    .any(|(p, chars)| pattern.matches_subject(p, chars));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether a walk must descend into the ignored directory `dir` because
    /// an exclusion pattern might re-include something below it. May say yes
    /// needlessly, never no wrongly.
    pub fn may_match_below(&self, dir: &str) -> bool {
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() || dir == "." {
            return self.has_exclusions();
        }
        // An exclusion matching `dir` or an ancestor also matches every path
        // below, and would have un-ignored `dir` itself unless an inclusion
        // came later, which then overrides it below too. So only exclusions
        // matching something strictly below `dir` matter.
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.could_match_below(&dir_slash))
    }
}

/// The parents MatchesOrParentMatches checks: the prefixes of `filepath.Dir(path)`.
fn parent_chain(path: &str) -> Vec<(String, Vec<char>)> {
    let parent = match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => return Vec::new(),
    };
    if parent == "." {
        return Vec::new();
    }
    let dirs: Vec<&str> = parent.split('/').collect();
    (1..=dirs.len())
        .map(|n| {
            let joined = dirs[..n].join("/");
            let chars = joined.chars().collect();
            (joined, chars)
        })
        .collect()
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    // Above a relative start `..` has to stay; above `/` it is `/`.
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// The syntax check `filepath.Match(p, ".")` performs on Unix.
fn glob_syntax_ok(p: &[char]) -> bool {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return false;
                }
                i += 2;
            }
            '[' => match class_syntax(p, i + 1) {
                Some((_, next)) => i = next,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Parses a class body starting just after `[`, with `filepath.Match`'s
/// rules: at least one item, no bare `-` or `]` as an item, `\` escapes.
/// Returns the class token and the index after the closing `]`.
fn class_syntax(p: &[char], mut i: usize) -> Option<(Token, usize)> {
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if p.get(i) == Some(&']') && !ranges.is_empty() {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if p[i] == '-' {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `getEsc`: one possibly escaped class character, which must not be
/// the last thing in the pattern (the class would be unterminated).
fn class_char(p: &[char], mut i: usize) -> Option<(char, usize)> {
    match p.get(i) {
        None | Some('-') | Some(']') => return None,
        Some('\\') => i += 1,
        Some(_) => {}
    }
    let c = *p.get(i)?;
    if i + 1 >= p.len() {
        return None;
    }
    Some((c, i + 1))
}

/// patternmatcher's `compile`: picks the strategy and builds the tokens the
/// regex strategy needs. `None` where moby's regex would fail to compile.
fn compile(p: &[char]) -> Option<Kind> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut detected = Detected::Exact;
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        i += 1;
        match ch {
            '*' if p.get(i) == Some(&'*') => {
                i += 1;
                if p.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == p.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        tokens.push(Token::AnyRun);
                        detected = Detected::Regex;
                    }
                } else {
                    tokens.push(Token::Dirs);
                    detected = Detected::Regex;
                }
                // moby switches to suffix matching whenever the pattern opens
                // with `**`; a later wildcard switches it back to regex.
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                tokens.push(Token::NotSlashRun);
                detected = Detected::Regex;
            }
            '?' => {
                tokens.push(Token::NotSlash);
                detected = Detected::Regex;
            }
            '\\' => {
                // The syntax check guarantees a following character.
                let escaped = *p.get(i)?;
                i += 1;
                tokens.push(Token::Literal(escaped));
                detected = Detected::Regex;
            }
            '[' => {
                let (class, next) = class_syntax(p, i)?;
                let reversed = |ranges: &[(char, char)]| ranges.iter().any(|(lo, hi)| lo > hi);
                if matches!(&class, Token::Class { ranges, .. } if reversed(ranges)) {
                    return None;
                }
                i = next;
                tokens.push(class);
                detected = Detected::Regex;
            }
            ']' => {
                tokens.push(Token::Literal(']'));
                detected = Detected::Regex;
            }
            // Not escaped by moby, so it anchors; it does not force the regex
            // strategy, and exact/prefix/suffix compare it literally.
            '^' => tokens.push(Token::Start),
            c => tokens.push(Token::Literal(c)),
        }
        first = false;
    }
    Some(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix,
        Detected::Suffix => Kind::Suffix,
        Detected::Regex => Kind::Tokens(tokens),
    })
}

/// Simulates the anchored regex over `input`: element `k` holds, for every
/// position, whether the first `k` tokens can consume exactly `input[..pos]`.
/// Sets of positions rather than backtracking keep this linear per token.
fn run(tokens: &[Token], input: &[char]) -> Vec<Vec<bool>> {
    let n = input.len();
    let mut start = vec![false; n + 1];
    start[0] = true;
    let mut states = vec![start];
    for token in tokens {
        let cur = &states[states.len() - 1];
        let mut next = vec![false; n + 1];
        let single = |next: &mut Vec<bool>, ok: &dyn Fn(char) -> bool| {
            for pos in 0..n {
                if cur[pos] && ok(input[pos]) {
                    next[pos + 1] = true;
                }
            }
        };
        // A run of characters other than `stop`, starting at any live position.
        let run_until = |next: &mut Vec<bool>, stop: char| {
            next[0] = cur[0];
            for pos in 1..=n {
                next[pos] = cur[pos] || (next[pos - 1] && input[pos - 1] != stop);
            }
        };
        match token {
            Token::Literal(c) => single(&mut next, &|x| x == *c),
            Token::NotSlash => single(&mut next, &|x| x != '/'),
            Token::Class { negated, ranges } => single(&mut next, &|x| {
                ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi) != *negated
            }),
            Token::NotSlashRun => run_until(&mut next, '/'),
            // Go's `.` stops at newlines.
            Token::AnyRun => run_until(&mut next, '\n'),
            Token::Dirs => {
                let mut reach = vec![false; n + 1];
                run_until(&mut reach, '\n');
                next.copy_from_slice(cur);
                for pos in 0..n {
                    if reach[pos] && input[pos] == '/' {
                        next[pos + 1] = true;
                    }
                }
            }
            Token::Start => next[0] = cur[0],
        }
        states.push(next);
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(lines: &str) -> Matcher {
        match Matcher::from_dockerignore(lines) {
            Ok(m) => m,
            Err(e) => panic!("{lines:?} failed to parse: {e}"),
        }
    }

    fn texts(lines: &str) -> Vec<String> {
        match parse(lines) {
            Ok(ps) => ps.iter().map(|p| p.to_string()).collect(),
            Err(e) => panic!("{lines:?} failed to parse: {e}"),
        }
    }

    fn check(patterns: &str, cases: &[(&str, bool)]) {
        let m = matcher(patterns);
        for &(path, want) in cases {
            assert_eq!(
                m.matches(path),
                want,
                "patterns {patterns:?}, path {path:?}"
            );
        }
    }

    #[test]
    fn pyc_top_level_only_vs_everywhere() {
        check(
            "*.pyc",
            &[("a.pyc", true), ("dir/a.pyc", false), ("a/b/c.pyc", false)],
        );
        check(
            "**/*.pyc",
            &[
                ("a.pyc", true),
                ("dir/a.pyc", true),
                ("a/b/c.pyc", true),
                ("a.py", false),
            ],
        );
    }

    #[test]
    fn directory_patterns_cover_contents() {
        check(
            ".git",
            &[
                (".git", true),
                (".git/objects/x", true),
                ("a/.git", false),
                (".gitignore", false),
            ],
        );
        check(
            "node_modules",
            &[
                ("node_modules", true),
                ("node_modules/a/b", true),
                ("pkg/node_modules/a", false),
            ],
        );
        check(
            "**/node_modules",
            &[
                ("node_modules", true),
                ("node_modules/a/b", true),
                ("pkg/node_modules", true),
                ("pkg/node_modules/a/b", true),
                ("pkg/xnode_modules", false),
            ],
        );
        check(
            "__pycache__",
            &[
                ("__pycache__/m.pyc", true),
                ("src/__pycache__/m.pyc", false),
            ],
        );
        check(
            "**/__pycache__",
            &[
                ("__pycache__/m.pyc", true),
                ("src/a/__pycache__/m.pyc", true),
                ("src/m.pyc", false),
            ],
        );
    }

    #[test]
    fn exclusion_reincludes() {
        check(
            "*.md\n!README.md",
            &[
                ("CHANGES.md", true),
                ("README.md", false),
                ("docs/x.md", false),
            ],
        );
        let m = matcher("docs\n!docs/keep.txt");
        assert!(m.has_exclusions());
        assert!(!m.matches("docs/keep.txt"));
        assert!(m.matches("docs/other.txt"));
        assert!(m.matches("docs"));
        assert!(m.may_match_below("docs"));
        assert!(m.may_match_below("docs/"));
        assert!(!m.may_match_below("src"));
        assert!(!m.may_match_below("docsx"));
    }

    #[test]
    fn last_match_wins() {
        check("!a\na", &[("a", true), ("a/b", true)]);
        check("a\n!a", &[("a", false), ("a/b", false)]);
        check("a\n!a\na", &[("a", true)]);
        check("!fileutils.go\n*.go", &[("fileutils.go", true)]);
        check(
            "*.go\n!fileutils.go",
            &[("fileutils.go", false), ("x.go", true)],
        );
        check(
            "docs/*\n!docs/README.md",
            &[("docs/README.md", false), ("docs/x", true)],
        );
        check("docs/\n!docs/README.md", &[("docs/README.md", false)]);
        check(
            "**\n!util/docker/web",
            &[("util/docker/web/foo", false), ("util/docker/x", true)],
        );
        check(
            "**\n!util/docker/web\nutil/docker/web/foo",
            &[
                ("util/docker/web/foo", true),
                ("util/docker/web/bar", false),
            ],
        );
    }

    #[test]
    fn double_star_in_the_middle() {
        check(
            "dir/**/file",
            &[
                ("dir/file", true),
                ("dir/a/file", true),
                ("dir/a/b/file", true),
                ("dir/xfile", false),
                ("other/file", false),
                ("dir/file/inner", true),
            ],
        );
        // `**` without a following slash still demands one (moby's `(.*/)?`).
        check("a**b", &[("ab", true), ("ax/b", true), ("axb", false)]);
    }

    #[test]
    fn single_char_wildcards_and_classes() {
        check(
            "a?c",
            &[
                ("abc", true),
                ("ac", false),
                ("abbc", false),
                ("a/c", false),
            ],
        );
        check(
            "file[a-c]",
            &[
                ("filea", true),
                ("filec", true),
                ("filed", false),
                ("file", false),
            ],
        );
        check("[^a]x", &[("bx", true), ("ax", false), ("x", false)]);
        // moby's regex class is not separator-aware.
        check("a[^x]b", &[("a/b", true)]);
        check("[\\]a]", &[("]", true), ("a", true), ("b", false)]);
        check("[x\\-]", &[("x", true), ("-", true), ("z", false)]);
        check("[a-ζ]*", &[("α", true), ("Ab", false)]);
        check("a[^a][^a][^a]b", &[("a☺b", false)]);
        check("a?b", &[("a☺b", true)]);
        check("ab[^e-g]", &[("abc", true), ("abf", false)]);
    }

    #[test]
    fn escapes() {
        check("a\\*b", &[("a*b", true), ("ab", false), ("axb", false)]);
        check("\\*", &[("*", true), ("x", false)]);
        check("a\\\\", &[("a\\", true)]);
        check("\\#x", &[("#x", true)]);
    }

    #[test]
    fn comments_blank_lines_bom_crlf() {
        assert_eq!(
            texts("\u{feff}# comment\n\n   \nfoo\r\n  # not a comment\n\tbar  \n"),
            ["foo", "# not a comment", "bar"]
        );
        assert_eq!(texts(""), Vec::<String>::new());
        // A BOM only counts on the first line.
        assert_eq!(texts("a\n\u{feff}b"), ["a", "\u{feff}b"]);
    }

    #[test]
    fn reading_matches_readall() {
        assert_eq!(
            texts("test1\n/test2\n/a/file/here\n\nlastfile\n# c\n! /inverted/abs/path"),
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path"
            ]
        );
    }

    #[test]
    fn leading_slash_dot_and_cleaning() {
        assert_eq!(
            texts("/foo\n./bar\n//baz//qux/\na/./b\na/../c\n../up\n!/x/../y\n/\n."),
            ["foo", "bar", "baz/qux", "a/b", "c", "../up", "!y", "/", "."]
        );
        check("/foo", &[("foo", true), ("foo/x", true), ("a/foo", false)]);
        check("./bar/*.txt", &[("bar/x.txt", true), ("x.txt", false)]);
        check("x/../y", &[("y", true), ("x", false)]);
        // "/" and "." survive cleaning but can never equal a relative path.
        check("/\n.", &[("a", false), ("a/b", false)]);
    }

    #[test]
    fn lone_exclamation_is_an_error() {
        for text in ["!", "! ", "a\n!\nb", "!/"] {
            let err = parse(text).err();
            assert_eq!(err, Some(IgnoreError::IllegalExclusion), "{text:?}");
        }
        assert_eq!(
            IgnoreError::IllegalExclusion.to_string(),
            "illegal exclusion pattern: \"!\""
        );
        assert_eq!(Pattern::new("  "), Err(IgnoreError::Empty));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in [
            "[",
            "[^",
            "[^bc",
            "a[",
            "[]a]",
            "[-]",
            "[x-]",
            "[-x]",
            "\\",
            "[a-b-c]",
            "a\\",
            // Valid for filepath.Match but not a compilable regex in moby.
            "[Local-Only]",
        ] {
            assert!(
                matches!(Pattern::new(bad), Err(IgnoreError::BadPattern(_))),
                "{bad:?} should be rejected"
            );
        }
        assert!(parse("ok\n[").is_err());
    }

    #[test]
    fn moby_match_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            // From Go's filepath.Match table, as moby runs it.
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("*x", "xxx", true),
            ("a*b", "a/b", false),
        ];
        for &(pattern, path, want) in cases {
            let p = match Pattern::new(pattern) {
                Ok(p) => p,
                Err(e) => panic!("{pattern:?}: {e}"),
            };
            let m = Matcher::new(vec![p]);
            assert_eq!(m.matches(path), want, "pattern {pattern:?}, path {path:?}");
        }
    }

    #[test]
    fn strategy_quirks_follow_moby() {
        // Leading `**` without a slash is a plain string suffix.
        check(
            "**foo",
            &[("barfoo", true), ("a/xfoo", true), ("fo", false)],
        );
        // `dir**` is a plain string prefix.
        check("foo**", &[("foo", true), ("foobar", true), ("fo", false)]);
        // A bare `^` is literal in exact patterns but anchors in regex ones.
        check("^a", &[("^a", true), ("a", false)]);
        check("^a*", &[("ab", true), ("^ab", false)]);
        // Regex `.` (from `**`) does not cross newlines; `*` does.
        check("a/**/b", &[("a/x\ny/b", false)]);
        check("a*b", &[("a\nb", true)]);
    }

    #[test]
    fn descent_decisions() {
        assert!(!matcher("docs").may_match_below("docs"));
        assert!(!matcher("").may_match_below(""));
        assert!(matcher("*\n!keep").may_match_below(""));

        let m = matcher("build\n!build/out/*.so");
        assert!(m.may_match_below("build"));
        assert!(m.may_match_below("build/out"));
        assert!(!m.may_match_below("build/tmp"));
        assert!(!m.may_match_below("buildx"));

        let m = matcher("**\n!**/keep");
        assert!(m.may_match_below("any/where"));

        let m = matcher("vendor\n!vendor/**");
        assert!(m.may_match_below("vendor"));
        assert!(m.may_match_below("vendor/a/b"));
        assert!(!m.may_match_below("other"));

        let m = matcher("a\n!a**");
        assert!(m.may_match_below("a"));
        assert!(m.may_match_below("abc"));

        let m = matcher("src\n!src/*/gen/**");
        assert!(m.may_match_below("src"));
        assert!(m.may_match_below("src/x"));
        assert!(m.may_match_below("src/x/gen"));
        assert!(!m.may_match_below("src/x/other"));

        let m = matcher("pkg\n!pkg/a?c");
        assert!(m.may_match_below("pkg"));
        assert!(!m.may_match_below("pkg/abc"));

        // Every file that may_match_below lets the walk skip really is ignored.
        let m = matcher("docs\n!docs/keep.txt\nbuild\n!build/out/*.so");
        for (dir, below) in [
            ("docs/a", "docs/a/keep.txt"),
            ("build/tmp", "build/tmp/x.so"),
            ("build/out/x", "build/out/x/y.so"),
        ] {
            assert!(!m.may_match_below(dir), "{dir}");
            assert!(m.matches(below), "{below}");
        }
    }

    #[test]
    fn pattern_accessors() {
        let ps = match parse("a/b\n!c") {
            Ok(ps) => ps,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(ps[0].as_str(), "a/b");
        assert!(!ps[0].is_exclusion());
        assert_eq!(ps[1].as_str(), "c");
        assert!(ps[1].is_exclusion());
        assert_eq!(ps[1].to_string(), "!c");
        assert!(ps[0].matches_path("a/b"));
        assert!(!ps[0].matches_path("a/b/c"));
        let m = Matcher::new(ps);
        assert_eq!(m.patterns().len(), 2);
    }
}
