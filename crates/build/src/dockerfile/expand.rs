//! Dockerfile variable substitution, following BuildKit's shell lexer
//! (`frontend/dockerfile/shell/lex.go`).
//!
//! Only the subset of shell syntax that Dockerfile instructions support is
//! understood: `$VAR`, `${VAR}`, the `-` `+` `?` modifiers (with or without
//! `:`), the pattern forms `#` `##` `%` `%%` `/` `//`, single and double
//! quotes, and the escape character chosen by the `# escape=` directive.

use std::fmt;

/// Why a word could not be expanded.
///
/// The messages match BuildKit's; BuildKit additionally prefixes them with
/// `failed to process "<word>": `, which callers may add for context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// A `${` was never closed.
    MissingBrace,
    /// A `${VAR/pattern` lacked the `/` before the replacement.
    MissingSlash,
    /// `${}`, `${{…}`, `${:…}` and similar.
    BadSubstitution,
    /// An operator after the name that is not supported (e.g. `=` or `:#`).
    UnsupportedModifier(String),
    /// `${VAR?msg}` / `${VAR:?msg}` with the variable unset (or empty).
    Required {
        /// The variable's name.
        name: String,
        /// The user's message, or BuildKit's default one.
        message: String,
    },
    /// A `'` without its closing quote.
    UnterminatedSingleQuote,
    /// A `"` without its closing quote.
    UnterminatedDoubleQuote,
    /// A `#`, `%` or `/` pattern that is not a valid glob.
    InvalidPattern {
        /// The pattern as expanded.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::MissingBrace => f.write_str("syntax error: missing '}'"),
            ExpandError::MissingSlash => f.write_str("syntax error: missing '/' in ${}"),
            ExpandError::BadSubstitution => f.write_str("syntax error: bad substitution"),
            ExpandError::UnsupportedModifier(m) => {
                write!(f, "unsupported modifier ({m}) in substitution")
            }
            ExpandError::Required { name, message } => write!(f, "{name}: {message}"),
            ExpandError::UnterminatedSingleQuote => {
                f.write_str("unexpected end of statement while looking for matching single-quote")
            }
            ExpandError::UnterminatedDoubleQuote => {
                f.write_str("unexpected end of statement while looking for matching double-quote")
            }
            ExpandError::InvalidPattern { pattern, reason } => {
                write!(f, "invalid pattern ({pattern}) in substitution: {reason}")
            }
        }
    }
}

impl std::error::Error for ExpandError {}

/// Expands variables in Dockerfile words, like BuildKit's `shell.Lex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
}

impl Default for Lexer {
    fn default() -> Lexer {
        Lexer::new('\\')
    }
}

impl Lexer {
    /// A lexer using `escape` (`\` or `` ` ``, from `# escape=`) as escape character.
    pub fn new(escape: char) -> Lexer {
        Lexer { escape }
    }

    /// Expands one word, removing quotes and escapes; whitespace is kept.
    pub fn process_word(
        &self,
        word: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, ExpandError> {
        let mut scan = Scanner::new(word, self.escape, env);
        let (result, _) = scan.until(None, false)?;
        Ok(result)
    }

    /// Expands `text` and splits it into words on whitespace that is neither
    /// quoted nor escaped. Whitespace inside an unquoted expansion splits too,
    /// as in BuildKit's `ProcessWords`; empty words (e.g. `""`) are dropped.
    pub fn process_words(
        &self,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, ExpandError> {
        let mut scan = Scanner::new(text, self.escape, env);
        let (_, words) = scan.until(None, false)?;
        Ok(words)
    }

    /// Like [`Lexer::process_word`], also returning every variable name the
    /// word looked up, once each, in lookup order, whether set or not.
    ///
    /// BuildKit derives a step's build-arg dependencies from the names that
    /// were set (its `Matched` set): filter this list through `env` for that.
    /// Names in defaults are looked up even when the default is not used
    /// (`${A:-$B}` references `B` when `A` is set), as BuildKit does.
    pub fn process_word_tracking(
        &self,
        word: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut scan = Scanner::new(word, self.escape, env);
        let (result, _) = scan.until(None, false)?;
        Ok((result, scan.used))
    }
}

/// Accumulates the `process_words` output next to the plain result.
#[derive(Default)]
struct Words {
    current: String,
    done: Vec<String>,
}

impl Words {
    /// A character that splits words when it is whitespace.
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if !self.current.is_empty() {
                self.done.push(std::mem::take(&mut self.current));
            }
        } else {
            self.current.push(c);
        }
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    /// Quoted or escaped text: whitespace in it belongs to the word.
    fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
    }

    fn add_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

struct Scanner<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a dyn Fn(&str) -> Option<String>,
    used: Vec<String>,
}

impl<'a> Scanner<'a> {
    fn new(text: &str, escape: char, env: &'a dyn Fn(&str) -> Option<String>) -> Scanner<'a> {
        Scanner {
            chars: text.chars().collect(),
            pos: 0,
            escape,
            env,
            used: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        // An empty name (as in `${+x}`) can never be a variable.
        if name.is_empty() {
            return None;
        }
        if !self.used.iter().any(|n| n == name) {
            self.used.push(name.to_string());
        }
        (self.env)(name)
    }

    /// Processes text up to `stop` (consumed) or, with `stop == None`, to the
    /// end. `raw` keeps escape characters in the output: pattern operands need
    /// them so that the glob parser can tell `\*` from `*`.
    fn until(
        &mut self,
        stop: Option<char>,
        raw: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_str(&value);
                }
                '\'' => {
                    let value = self.single_quote()?;
                    result.push_str(&value);
                    words.add_raw_str(&value);
                }
                '"' => {
                    let value = self.double_quote(raw)?;
                    result.push_str(&value);
                    words.add_raw_str(&value);
                }
                '<' => {
                    let value = self.possible_heredoc();
                    result.push_str(&value);
                    words.add_raw_str(&value);
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        if raw {
                            result.push(c);
                            words.add_raw_char(c);
                        }
                        // A trailing escape is dropped, as BuildKit does.
                        let Some(escaped) = self.next() else { break };
                        result.push(escaped);
                        words.add_raw_char(escaped);
                    } else {
                        result.push(c);
                        words.add_char(c);
                    }
                }
            }
        }
        match stop {
            None => Ok((result, words.finish())),
            Some('/') => Err(ExpandError::MissingSlash),
            Some(_) => Err(ExpandError::MissingBrace),
        }
    }

    /// Like `until`, but an error caused by running out of input is reported
    /// as the missing terminator, which is what BuildKit tells the user.
    fn operand(&mut self, stop: char, raw: bool) -> Result<String, ExpandError> {
        match self.until(Some(stop), raw) {
            Ok((s, _)) => Ok(s),
            Err(_) if self.at_end() && stop == '/' => Err(ExpandError::MissingSlash),
            Err(_) if self.at_end() => Err(ExpandError::MissingBrace),
            Err(e) => Err(e),
        }
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedSingleQuote),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self, raw: bool) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(ExpandError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c != self.escape {
                        out.push(c);
                        continue;
                    }
                    if raw {
                        out.push(c);
                    }
                    // Inside double quotes only `"`, `$` and the escape itself
                    // are escapable; before anything else the escape is literal
                    // (and so doubled in raw mode, keeping it literal for globs).
                    match self.peek() {
                        None => {}
                        Some(n) if n == '"' || n == '$' || n == self.escape => {
                            self.next();
                            out.push(n);
                        }
                        Some(_) => out.push(c),
                    }
                }
            }
        }
    }

    /// BuildKit keeps the whitespace after `<<` attached to the heredoc
    /// marker, so that `<< EOF` stays one word.
    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c @ (' ' | '\t' | '\r')) = self.peek() {
            self.next();
            out.push(c);
        }
        out
    }

    /// Reads a name after `$` or `${`: a run of digits (positional
    /// parameter), a single special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_numeric() => {
                while let Some(c) = self.peek().filter(|c| c.is_numeric()) {
                    self.next();
                    name.push(c);
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')) => {
                self.next();
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|&c| c.is_alphanumeric() || c == '_') {
            self.next();
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err(ExpandError::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        // BuildKit reports an odd "unsupported modifier" when the input ends
        // right after the name; the missing brace is the real problem.
        let op = self.next().ok_or(ExpandError::MissingBrace)?;
        match op {
            '}' => Ok(self.lookup(&name).unwrap_or_default()),
            '/' => self.replace(&name),
            ':' => {
                let op = self.next().ok_or(ExpandError::MissingBrace)?;
                self.modifier(&name, op, true)
            }
            '+' | '-' | '?' | '#' | '%' => self.modifier(&name, op, false),
            other => Err(ExpandError::UnsupportedModifier(other.to_string())),
        }
    }

    /// `${name<op>word}` and `${name:<op>word}`, after the operator.
    fn modifier(
        &mut self,
        name: &str,
        op: char,
        null_is_unset: bool,
    ) -> Result<String, ExpandError> {
        let shown = if null_is_unset {
            format!(":{op}")
        } else {
            op.to_string()
        };
        let pattern_op = op == '#' || op == '%';
        if null_is_unset && pattern_op {
            return Err(ExpandError::UnsupportedModifier(shown));
        }
        // The operand is always expanded, even when unused, so that its
        // errors and referenced names do not depend on the variable's value.
        let word = self.operand('}', pattern_op)?;
        let value = self.lookup(name);
        let missing = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match op {
            '-' if missing => Ok(word),
            '-' => Ok(value.unwrap_or_default()),
            '+' if missing => Ok(String::new()),
            '+' => Ok(word),
            '?' if missing => {
                let message = if !word.is_empty() {
                    word
                } else if value.is_none() {
                    "is not allowed to be unset".to_string()
                } else {
                    "is not allowed to be empty".to_string()
                };
                Err(ExpandError::Required {
                    name: name.to_string(),
                    message,
                })
            }
            '?' => Ok(value.unwrap_or_default()),
            '#' | '%' => {
                // A doubled operator arrives as the operand's first character,
                // also when it came from a variable, as in BuildKit.
                let (longest, pattern) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let glob = Glob::parse(pattern)?;
                let value: Vec<char> = value.unwrap_or_default().chars().collect();
                Ok(if op == '#' {
                    glob.trim_prefix(&value, longest)
                } else {
                    glob.trim_suffix(&value, longest)
                })
            }
            _ => Err(ExpandError::UnsupportedModifier(shown)),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`,
    /// after the first `/`.
    fn replace(&mut self, name: &str) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pattern = self.operand('/', true)?;
        // BuildKit keeps escape characters in the replacement verbatim.
        let replacement = self.operand('}', true)?;
        let value: Vec<char> = self.lookup(name).unwrap_or_default().chars().collect();
        let glob = Glob::parse(&pattern)?;
        Ok(glob.replace(&value, &replacement, all))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    AnyOne,
    AnyRun,
}

/// A shell pattern with `*` and `?` (no bracket expressions, like BuildKit).
struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// Escapes are always `\` here, whatever the Dockerfile's escape
    /// character: BuildKit's pattern converter hard-codes it.
    fn parse(pattern: &str) -> Result<Glob, ExpandError> {
        let invalid = |reason: String| ExpandError::InvalidPattern {
            pattern: pattern.to_string(),
            reason,
        };
        let mut toks = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => toks.push(Tok::AnyRun),
                '?' => toks.push(Tok::AnyOne),
                // `\}` and `\/` only protect the terminators of `${…}`; the
                // backslash is not part of the pattern.
                '\\' if matches!(chars.peek(), Some('}' | '/')) => {}
                '\\' => match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(e)),
                    Some(e) => return Err(invalid(format!("invalid escape '\\{e}'"))),
                    None => return Err(invalid("trailing '\\'".to_string())),
                },
                _ => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Glob { toks })
    }

    fn reversed(&self) -> Glob {
        Glob {
            toks: self.toks.iter().rev().copied().collect(),
        }
    }

    /// Every `end` such that the pattern matches `s[start..end]`, ascending.
    fn match_ends(&self, s: &[char], start: usize) -> Vec<usize> {
        let m = self.toks.len();
        let close = |set: &mut [bool]| {
            // `*` may match nothing; one forward pass suffices since this
            // only ever enables the following state.
            for k in 0..m {
                if set[k] && self.toks[k] == Tok::AnyRun {
                    set[k + 1] = true;
                }
            }
        };
        let mut states = vec![false; m + 1];
        states[0] = true;
        close(&mut states);
        let mut ends = Vec::new();
        if states[m] {
            ends.push(start);
        }
        for (i, &c) in s.iter().enumerate().skip(start) {
            let mut next = vec![false; m + 1];
            for k in (0..m).filter(|&k| states[k]) {
                match self.toks[k] {
                    Tok::Lit(l) if l == c => next[k + 1] = true,
                    Tok::Lit(_) => {}
                    Tok::AnyOne => next[k + 1] = true,
                    Tok::AnyRun => next[k] = true,
                }
            }
            close(&mut next);
            if !next.contains(&true) {
                break;
            }
            if next[m] {
                ends.push(i + 1);
            }
            states = next;
        }
        ends
    }

    fn prefix_len(&self, s: &[char], longest: bool) -> Option<usize> {
        let ends = self.match_ends(s, 0);
        if longest {
            ends.last().copied()
        } else {
            ends.first().copied()
        }
    }

    fn trim_prefix(&self, s: &[char], longest: bool) -> String {
        let cut = self.prefix_len(s, longest).unwrap_or(0);
        s[cut..].iter().collect()
    }

    fn trim_suffix(&self, s: &[char], longest: bool) -> String {
        let rev: Vec<char> = s.iter().rev().copied().collect();
        let cut = self.reversed().prefix_len(&rev, longest).unwrap_or(0);
        s[..s.len() - cut].iter().collect()
    }

    /// Leftmost match starting at or after `from`, longest at that start.
    fn find(&self, s: &[char], from: usize) -> Option<(usize, usize)> {
        (from..=s.len()).find_map(|start| self.match_ends(s, start).last().map(|&end| (start, end)))
    }

    /// Replaces the first or every match, treating empty matches as Go's
    /// `Regexp.ReplaceAllString` does (which BuildKit uses).
    fn replace(&self, s: &[char], replacement: &str, all: bool) -> String {
        let mut out = String::new();
        if !all {
            return match self.find(s, 0) {
                Some((a, b)) => {
                    out.extend(&s[..a]);
                    out.push_str(replacement);
                    out.extend(&s[b..]);
                    out
                }
                None => s.iter().collect(),
            };
        }
        let mut last_end = 0;
        let mut search = 0;
        while search <= s.len() {
            let Some((a, b)) = self.find(s, search) else {
                break;
            };
            out.extend(&s[last_end..a]);
            // No second replacement for an empty match right after a match.
            if b > last_end || a == 0 {
                out.push_str(replacement);
            }
            last_end = b;
            search = (search + 1).max(b);
        }
        out.extend(&s[last_end..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn owned(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn word(input: &str, pairs: &[(&str, &str)]) -> Result<String, ExpandError> {
        Lexer::new('\\').process_word(input, &env_of(pairs))
    }

    /// BuildKit's `envVarTest` (Unix and all-platform lines); `None` = error.
    #[test]
    fn buildkit_env_var_test() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"hello"#, Some(r#"hello"#)),
            (r#"he'll'o"#, Some(r#"hello"#)),
            (r#"he'llo"#, None),
            (r#"he\'llo"#, Some(r#"he'llo"#)),
            (r#"he\\'llo"#, None),
            (r#"abc\tdef"#, Some(r#"abctdef"#)),
            (r#""abc\tdef""#, Some(r#"abc\tdef"#)),
            (r#""abc\\tdef""#, Some(r#"abc\tdef"#)),
            (r#"'abc\tdef'"#, Some(r#"abc\tdef"#)),
            (r#"hello\"#, Some(r#"hello"#)),
            (r#"hello\\"#, Some(r#"hello\"#)),
            (r#""hello"#, None),
            (r#""hello\""#, None),
            (r#""hel'lo""#, Some(r#"hel'lo"#)),
            (r#"'hello"#, None),
            (r#"'hello\'"#, Some(r#"hello\"#)),
            (r#"'hello\there'"#, Some(r#"hello\there"#)),
            (r#"'hello\\there'"#, Some(r#"hello\\there"#)),
            (r#""''""#, Some(r#"''"#)),
            (r#"$."#, Some(r#"$."#)),
            (r#"he$1x"#, Some(r#"hex"#)),
            (r#"he$.x"#, Some(r#"he$.x"#)),
            (r#"he$pwd."#, Some(r#"he."#)),
            (r#"he$PWD"#, Some(r#"he/home"#)),
            (r#"he\$PWD"#, Some(r#"he$PWD"#)),
            (r#"he\\$PWD"#, Some(r#"he\/home"#)),
            (r#""he\$PWD""#, Some(r#"he$PWD"#)),
            (r#""he\\$PWD""#, Some(r#"he\/home"#)),
            (r#"\${}"#, Some(r#"${}"#)),
            (r#"\${}aaa"#, Some(r#"${}aaa"#)),
            (r#"he\${}"#, Some(r#"he${}"#)),
            (r#"he\${}xx"#, Some(r#"he${}xx"#)),
            (r#"${}"#, None),
            (r#"${}aaa"#, None),
            (r#"he${}"#, None),
            (r#"he${}xx"#, None),
            (r#"he${hi}"#, Some(r#"he"#)),
            (r#"he${hi}xx"#, Some(r#"hexx"#)),
            (r#"he${PWD}"#, Some(r#"he/home"#)),
            (r#"he${.}"#, None),
            (r#"he${XXX:-000}xx"#, Some(r#"he000xx"#)),
            (r#"he${PWD:-000}xx"#, Some(r#"he/homexx"#)),
            (r#"he${XXX:-$PWD}xx"#, Some(r#"he/homexx"#)),
            (r#"he${XXX:-${PWD:-yyy}}xx"#, Some(r#"he/homexx"#)),
            (r#"he${XXX:-${YYY:-yyy}}xx"#, Some(r#"heyyyxx"#)),
            (r#"he${XXX:YYY}"#, None),
            (r#"he${XXX?}"#, None),
            (r#"he${XXX:?}"#, None),
            (r#"he${PWD?}"#, Some(r#"he/home"#)),
            (r#"he${PWD:?}"#, Some(r#"he/home"#)),
            (r#"he${NULL?}"#, Some(r#"he"#)),
            (r#"he${NULL:?}"#, None),
            (r#"he${XXX:+${PWD}}xx"#, Some(r#"hexx"#)),
            (r#"he${PWD:+${XXX}}xx"#, Some(r#"hexx"#)),
            (r#"he${PWD:+${SHELL}}xx"#, Some(r#"hebashxx"#)),
            (r#"he${XXX:+000}xx"#, Some(r#"hexx"#)),
            (r#"he${PWD:+000}xx"#, Some(r#"he000xx"#)),
            (r#"'he${XX}'"#, Some(r#"he${XX}"#)),
            (r#""he${PWD}""#, Some(r#"he/home"#)),
            (r#""he'$PWD'""#, Some(r#"he'/home'"#)),
            (r#""$PWD""#, Some(r#"/home"#)),
            (r#"'$PWD'"#, Some(r#"$PWD"#)),
            (r#"'\$PWD'"#, Some(r#"\$PWD"#)),
            (r#"'"hello"'"#, Some(r#""hello""#)),
            (r#"he\$PWD"#, Some(r#"he$PWD"#)),
            (r#""he\$PWD""#, Some(r#"he$PWD"#)),
            (r#"'he\$PWD'"#, Some(r#"he\$PWD"#)),
            (r#"he${PWD"#, None),
            (r#"he${PWD:=000}xx"#, None),
            (r#"he${PWD:+${PWD}:}xx"#, Some(r#"he/home:xx"#)),
            (r#"he${XXX:-\$PWD:}xx"#, Some(r#"he$PWD:xx"#)),
            (r#"he${XXX:-\${PWD}z}xx"#, Some(r#"he${PWDz}xx"#)),
            (r#"안녕하세요"#, Some(r#"안녕하세요"#)),
            (r#"안'녕'하세요"#, Some(r#"안녕하세요"#)),
            (r#"안'녕하세요"#, None),
            (r#"안녕\'하세요"#, Some(r#"안녕'하세요"#)),
            (r#"안\\'녕하세요"#, None),
            (r#"안녕\t하세요"#, Some(r#"안녕t하세요"#)),
            (r#""안녕\t하세요""#, Some(r#"안녕\t하세요"#)),
            (r#"'안녕\t하세요"#, None),
            (r#"안녕하세요\"#, Some(r#"안녕하세요"#)),
            (r#"안녕하세요\\"#, Some(r#"안녕하세요\"#)),
            (r#""안녕하세요"#, None),
            (r#""안녕하세요\""#, None),
            (r#""안녕'하세요""#, Some(r#"안녕'하세요"#)),
            (r#"'안녕하세요"#, None),
            (r#"'안녕하세요\'"#, Some(r#"안녕하세요\"#)),
            (r#"안녕$1x"#, Some(r#"안녕x"#)),
            (r#"안녕$.x"#, Some(r#"안녕$.x"#)),
            (r#"안녕$pwd."#, Some(r#"안녕."#)),
            (r#"안녕$PWD"#, Some(r#"안녕/home"#)),
            (r#"안녕\$PWD"#, Some(r#"안녕$PWD"#)),
            (r#"안녕\\$PWD"#, Some(r#"안녕\/home"#)),
            (r#"안녕\${}"#, Some(r#"안녕${}"#)),
            (r#"안녕\${}xx"#, Some(r#"안녕${}xx"#)),
            (r#"안녕${}"#, None),
            (r#"안녕${}xx"#, None),
            (r#"안녕${hi}"#, Some(r#"안녕"#)),
            (r#"안녕${hi}xx"#, Some(r#"안녕xx"#)),
            (r#"안녕${PWD}"#, Some(r#"안녕/home"#)),
            (r#"안녕${.}"#, None),
            (r#"안녕${XXX:-000}xx"#, Some(r#"안녕000xx"#)),
            (r#"안녕${PWD:-000}xx"#, Some(r#"안녕/homexx"#)),
            (r#"안녕${XXX:-$PWD}xx"#, Some(r#"안녕/homexx"#)),
            (r#"안녕${XXX:-${PWD:-yyy}}xx"#, Some(r#"안녕/homexx"#)),
            (r#"안녕${XXX:-${YYY:-yyy}}xx"#, Some(r#"안녕yyyxx"#)),
            (r#"안녕${XXX:YYY}"#, None),
            (r#"안녕${XXX:+${PWD}}xx"#, Some(r#"안녕xx"#)),
            (r#"안녕${PWD:+${XXX}}xx"#, Some(r#"안녕xx"#)),
            (r#"안녕${PWD:+${SHELL}}xx"#, Some(r#"안녕bashxx"#)),
            (r#"안녕${XXX:+000}xx"#, Some(r#"안녕xx"#)),
            (r#"안녕${PWD:+000}xx"#, Some(r#"안녕000xx"#)),
            (r#"'안녕${XX}'"#, Some(r#"안녕${XX}"#)),
            (r#""안녕${PWD}""#, Some(r#"안녕/home"#)),
            (r#""안녕'$PWD'""#, Some(r#"안녕'/home'"#)),
            (r#"'"안녕"'"#, Some(r#""안녕""#)),
            (r#"안녕\$PWD"#, Some(r#"안녕$PWD"#)),
            (r#""안녕\$PWD""#, Some(r#"안녕$PWD"#)),
            (r#"'안녕\$PWD'"#, Some(r#"안녕\$PWD"#)),
            (r#"안녕${PWD"#, None),
            (r#"안녕${PWD:=000}xx"#, None),
            (r#"안녕${PWD:+${PWD}:}xx"#, Some(r#"안녕/home:xx"#)),
            (r#"안녕${XXX:-\$PWD:}xx"#, Some(r#"안녕$PWD:xx"#)),
            (r#"안녕${XXX:-\${PWD}z}xx"#, Some(r#"안녕${PWDz}xx"#)),
            (r#"$KOREAN"#, Some(r#"한국어"#)),
            (r#"안녕$KOREAN"#, Some(r#"안녕한국어"#)),
            (r#"${{aaa}"#, None),
            (r#"${aaa}}"#, Some(r#"}"#)),
            (r#"${aaa"#, None),
            (r#"${{aaa:-bbb}"#, None),
            (r#"${aaa:-bbb}}"#, Some(r#"bbb}"#)),
            (r#"${aaa:-bbb"#, None),
            (r#"${aaa:-bbb}"#, Some(r#"bbb"#)),
            (r#"${aaa:-${bbb:-ccc}}"#, Some(r#"ccc"#)),
            (r#"${aaa:-bbb ${foo}"#, None),
            (r#"${aaa:-bbb {foo}"#, Some(r#"bbb {foo"#)),
            (r#"${:}"#, None),
            (r#"${:-bbb}"#, None),
            (r#"${:+bbb}"#, None),
            (r#"$1"#, Some(r#""#)),
            (r#"${1}"#, Some(r#""#)),
            (r#"${1:+bbb}"#, Some(r#""#)),
            (r#"${1:-bbb}"#, Some(r#"bbb"#)),
            (r#"$2"#, Some(r#""#)),
            (r#"${2}"#, Some(r#""#)),
            (r#"${2:+bbb}"#, Some(r#""#)),
            (r#"${2:-bbb}"#, Some(r#"bbb"#)),
            (r#"$3"#, Some(r#""#)),
            (r#"${3}"#, Some(r#""#)),
            (r#"${3:+bbb}"#, Some(r#""#)),
            (r#"${3:-bbb}"#, Some(r#"bbb"#)),
            (r#"$4"#, Some(r#""#)),
            (r#"${4}"#, Some(r#""#)),
            (r#"${4:+bbb}"#, Some(r#""#)),
            (r#"${4:-bbb}"#, Some(r#"bbb"#)),
            (r#"$5"#, Some(r#""#)),
            (r#"${5}"#, Some(r#""#)),
            (r#"${5:+bbb}"#, Some(r#""#)),
            (r#"${5:-bbb}"#, Some(r#"bbb"#)),
            (r#"$6"#, Some(r#""#)),
            (r#"${6}"#, Some(r#""#)),
            (r#"${6:+bbb}"#, Some(r#""#)),
            (r#"${6:-bbb}"#, Some(r#"bbb"#)),
            (r#"$7"#, Some(r#""#)),
            (r#"${7}"#, Some(r#""#)),
            (r#"${7:+bbb}"#, Some(r#""#)),
            (r#"${7:-bbb}"#, Some(r#"bbb"#)),
            (r#"$8"#, Some(r#""#)),
            (r#"${8}"#, Some(r#""#)),
            (r#"${8:+bbb}"#, Some(r#""#)),
            (r#"${8:-bbb}"#, Some(r#"bbb"#)),
            (r#"$9"#, Some(r#""#)),
            (r#"${9}"#, Some(r#""#)),
            (r#"${9:+bbb}"#, Some(r#""#)),
            (r#"${9:-bbb}"#, Some(r#"bbb"#)),
            (r#"$999"#, Some(r#""#)),
            (r#"${999}"#, Some(r#""#)),
            (r#"${999:+bbb}"#, Some(r#""#)),
            (r#"${999:-bbb}"#, Some(r#"bbb"#)),
            (r#"$999aaa"#, Some(r#"aaa"#)),
            (r#"${999}aaa"#, Some(r#"aaa"#)),
            (r#"${999:+bbb}aaa"#, Some(r#"aaa"#)),
            (r#"${999:-bbb}aaa"#, Some(r#"bbbaaa"#)),
            (r#"$001"#, Some(r#""#)),
            (r#"${001}"#, Some(r#""#)),
            (r#"${001:+bbb}"#, Some(r#""#)),
            (r#"${001:-bbb}"#, Some(r#"bbb"#)),
            (r#"$001aaa"#, Some(r#"aaa"#)),
            (r#"${001}aaa"#, Some(r#"aaa"#)),
            (r#"${001:+bbb}aaa"#, Some(r#"aaa"#)),
            (r#"${001:-bbb}aaa"#, Some(r#"bbbaaa"#)),
            (r#"$@"#, Some(r#""#)),
            (r#"${@}"#, Some(r#""#)),
            (r#"${@:+bbb}"#, Some(r#""#)),
            (r#"${@:-bbb}"#, Some(r#"bbb"#)),
            (r#"$@@@"#, Some(r#"@@"#)),
            (r#"$@aaa"#, Some(r#"aaa"#)),
            (r#"${@}aaa"#, Some(r#"aaa"#)),
            (r#"${@:+bbb}aaa"#, Some(r#"aaa"#)),
            (r#"${@:-bbb}aaa"#, Some(r#"bbbaaa"#)),
            (r#"$*"#, Some(r#""#)),
            (r#"${*}"#, Some(r#""#)),
            (r#"${*:+bbb}"#, Some(r#""#)),
            (r#"${*:-bbb}"#, Some(r#"bbb"#)),
            (r#"$#"#, Some(r#""#)),
            (r#"${#}"#, Some(r#""#)),
            (r#"${#:+bbb}"#, Some(r#""#)),
            (r#"${#:-bbb}"#, Some(r#"bbb"#)),
            (r#"$?"#, Some(r#""#)),
            (r#"${?}"#, Some(r#""#)),
            (r#"${?:+bbb}"#, Some(r#""#)),
            (r#"${?:-bbb}"#, Some(r#"bbb"#)),
            (r#"$-"#, Some(r#""#)),
            (r#"${-}"#, Some(r#""#)),
            (r#"${-:+bbb}"#, Some(r#""#)),
            (r#"${-:-bbb}"#, Some(r#"bbb"#)),
            (r#"$$"#, Some(r#""#)),
            (r#"${$}"#, Some(r#""#)),
            (r#"${$:+bbb}"#, Some(r#""#)),
            (r#"${$:-bbb}"#, Some(r#"bbb"#)),
            (r#"$!"#, Some(r#""#)),
            (r#"${!}"#, Some(r#""#)),
            (r#"${!:+bbb}"#, Some(r#""#)),
            (r#"${!:-bbb}"#, Some(r#"bbb"#)),
            (r#"$0"#, Some(r#""#)),
            (r#"${0}"#, Some(r#""#)),
            (r#"${0:+bbb}"#, Some(r#""#)),
            (r#"${0:-bbb}"#, Some(r#"bbb"#)),
        ];
        let env = [
            ("PWD", "/home"),
            ("SHELL", "bash"),
            ("KOREAN", "한국어"),
            ("NULL", ""),
        ];
        for &(input, expected) in cases {
            let got = word(input, &env);
            match expected {
                Some(want) => assert_eq!(got.as_deref(), Ok(want), "input {input:?}"),
                None => assert!(got.is_err(), "input {input:?} gave {got:?}"),
            }
        }
    }

    /// BuildKit's `TestProcessWithMatches` plus the plain-modifier matrix.
    #[test]
    fn modifiers_and_patterns() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);
        let set: &[(&str, &str)] = &[("V", "val")];
        let empty: &[(&str, &str)] = &[("V", "")];
        let unset: &[(&str, &str)] = &[];
        let cases: &[Case] = &[
            ("${V:-x}", unset, Some("x")),
            ("${V:-x}", empty, Some("x")),
            ("${V:-x}", set, Some("val")),
            ("${V-x}", unset, Some("x")),
            ("${V-x}", empty, Some("")),
            ("${V-x}", set, Some("val")),
            ("${V:+x}", unset, Some("")),
            ("${V:+x}", empty, Some("")),
            ("${V:+x}", set, Some("x")),
            ("${V+x}", unset, Some("")),
            ("${V+x}", empty, Some("x")),
            ("${V+x}", set, Some("x")),
            ("${V?x}", empty, Some("")),
            ("${V:?x}", set, Some("val")),
            ("${V}", unset, Some("")),
            ("$V", unset, Some("")),
            ("${V:-}", unset, Some("")),
            ("${V:-a b}", unset, Some("a b")),
            ("${V:-'a}b'}", unset, Some("a}b")),
            ("${V:-\"a}b\"}", unset, Some("a}b")),
            ("${V:-a\\}b}", unset, Some("a}b")),
            ("${FOO=aaa}", &[("FOO", "xxx")], None),
            ("${FOO=:aaa}", &[("FOO", "xxx")], None),
            ("${FOO=}", unset, None),
            ("${V:#x}", set, None),
            ("${V:%x}", set, None),
            (
                r"${FOO#()[]{\}^$.\*\?|\\}",
                &[("FOO", r"()[]{}^$.*?|\x")],
                Some("x"),
            ),
            (r"${FOO%%\**}", &[("FOO", "xx**")], Some("xx")),
            ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y")),
            ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], Some("xyy")),
            ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy")),
            ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy")),
            ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy")),
            (r"${FOO#?\?}", &[("FOO", "???y")], Some("?y")),
            (
                "${ABC:-.}${FOO%x}${ABC:-.}",
                &[("FOO", "xxyy")],
                Some(".xxyy."),
            ),
            (r"${FOO%%\**\*}", &[("FOO", "a***yy*")], Some("a")),
            ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy")),
            (
                "${FOO%%$BAR}",
                &[("FOO", "xxyy"), ("BAR", "")],
                Some("xxyy"),
            ),
            ("${FOO%y*}", &[("FOO", "xxyy")], Some("xxy")),
            ("${FOO%%y*}", &[("FOO", "xxyy")], Some("xx")),
            ("${FOO%.*}", &[("FOO", "a.tar.gz")], Some("a.tar")),
            ("${FOO%%.*}", &[("FOO", "a.tar.gz")], Some("a")),
            ("${FOO##*/}", &[("FOO", "/usr/local/bin")], Some("bin")),
            (
                "${FOO#*/}",
                &[("FOO", "/usr/local/bin")],
                Some("usr/local/bin"),
            ),
            ("${FOO#zz}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO#x}", unset, Some("")),
            (r"${FOO#\x}", &[("FOO", "xxyy")], None),
            (
                "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
                &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")],
                Some("/foo.*/*.txt - /foo..*.txt"),
            ),
            (
                "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
                &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
                Some("/tmp/bar.txt - /bar.txt"),
            ),
            (
                "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
                &[
                    ("FOO", "/a/foo/b/c.txt"),
                    ("NEEDLE", "/?/"),
                    ("REPLACEMENT", "/"),
                ],
                Some("/foo/b/c.txt - /foo/c.txt"),
            ),
            (
                "${FOO/$NEEDLE/$REPLACEMENT}",
                &[
                    ("FOO", "http://google.de"),
                    ("NEEDLE", "http://"),
                    ("REPLACEMENT", "https://"),
                ],
                Some("https://google.de"),
            ),
            (
                r"${FOO//\//\/}",
                &[("FOO", "/tmp/foo.txt")],
                Some(r"\/tmp\/foo.txt"),
            ),
            (
                "${FOO/$BAR/ww}",
                &[("FOO", "xxyy"), ("BAR", "")],
                Some("wwxxyy"),
            ),
            ("${FOO//x*/z}", &[("FOO", "axbxc")], Some("az")),
            ("${FOO/x?/z}", &[("FOO", "axbxc")], Some("azxc")),
            ("${FOO//x?/z}", &[("FOO", "axbxc")], Some("azz")),
            // Empty matches behave as in Go's ReplaceAllString.
            (
                "${FOO//$BAR/-}",
                &[("FOO", "ab"), ("BAR", "")],
                Some("-a-b-"),
            ),
            ("${FOO//*/-}", &[("FOO", "ab")], Some("-")),
            ("${FOO//ww}", &[("FOO", "xxyy")], None),
            ("${FOO//}", &[("FOO", "xxyy")], None),
            ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO///}", unset, Some("")),
        ];
        for &(input, pairs, expected) in cases {
            let got = word(input, pairs);
            match expected {
                Some(want) => assert_eq!(got.as_deref(), Ok(want), "input {input:?}"),
                None => assert!(got.is_err(), "input {input:?} gave {got:?}"),
            }
        }
    }

    #[test]
    fn error_messages() {
        let env = [("VAR", ""), ("ARG", "x")];
        let cases: &[(&str, ExpandError, &str)] = &[
            (
                "${NOPE?}",
                ExpandError::Required {
                    name: "NOPE".into(),
                    message: "is not allowed to be unset".into(),
                },
                "NOPE: is not allowed to be unset",
            ),
            (
                "${VAR:?}",
                ExpandError::Required {
                    name: "VAR".into(),
                    message: "is not allowed to be empty".into(),
                },
                "VAR: is not allowed to be empty",
            ),
            (
                "${VAR:?message here$ARG}",
                ExpandError::Required {
                    name: "VAR".into(),
                    message: "message herex".into(),
                },
                "VAR: message herex",
            ),
            (
                "${NOPE?message here$ARG}",
                ExpandError::Required {
                    name: "NOPE".into(),
                    message: "message herex".into(),
                },
                "NOPE: message herex",
            ),
            (
                "he${PWD",
                ExpandError::MissingBrace,
                "syntax error: missing '}'",
            ),
            (
                "${X:-\"abc}",
                ExpandError::MissingBrace,
                "syntax error: missing '}'",
            ),
            (
                "${X/abc}",
                ExpandError::MissingSlash,
                "syntax error: missing '/' in ${}",
            ),
            (
                "${}",
                ExpandError::BadSubstitution,
                "syntax error: bad substitution",
            ),
            (
                "${X=1}",
                ExpandError::UnsupportedModifier("=".into()),
                "unsupported modifier (=) in substitution",
            ),
            (
                "${X:=1}",
                ExpandError::UnsupportedModifier(":=".into()),
                "unsupported modifier (:=) in substitution",
            ),
            (
                "${X:#1}",
                ExpandError::UnsupportedModifier(":#".into()),
                "unsupported modifier (:#) in substitution",
            ),
            (
                "${X:-${Y=1}}",
                ExpandError::UnsupportedModifier("=".into()),
                "unsupported modifier (=) in substitution",
            ),
            (
                "'abc",
                ExpandError::UnterminatedSingleQuote,
                "unexpected end of statement while looking for matching single-quote",
            ),
            (
                "\"abc",
                ExpandError::UnterminatedDoubleQuote,
                "unexpected end of statement while looking for matching double-quote",
            ),
            (
                r"${ARG#\q}",
                ExpandError::InvalidPattern {
                    pattern: r"\q".into(),
                    reason: r"invalid escape '\q'".into(),
                },
                r"invalid pattern (\q) in substitution: invalid escape '\q'",
            ),
        ];
        for (input, want, message) in cases {
            let err = match word(input, &env) {
                Ok(v) => panic!("{input:?} expanded to {v:?}"),
                Err(e) => e,
            };
            assert_eq!(&err, want, "input {input:?}");
            assert_eq!(err.to_string(), *message, "input {input:?}");
        }
    }

    #[test]
    fn quotes_and_escapes() {
        let env = [("A", "a b"), ("E", "")];
        let backslash: &[(&str, &str)] = &[
            (r"\a\b", "ab"),
            (r#""\a""#, r"\a"),
            (r#""\"""#, "\""),
            (r#""\\""#, r"\"),
            (r#""\$A""#, "$A"),
            (r#""\'""#, r"\'"),
            (r"'\'", r"\"),
            (r#"'"$A"'"#, r#""$A""#),
            (r#""'$A'""#, "'a b'"),
            (r"\ ", " "),
            ("a\\\nb", "a\nb"),
            ("$", "$"),
            ("a$", "a$"),
            ("$ a", "$ a"),
            ("\"$\"", "$"),
            ("$/", "$/"),
            ("${A}x", "a bx"),
            ("$Ax", ""),
            ("$A_x", ""),
            ("$E", ""),
            (r"C:\dir", "C:dir"),
            ("a<<b", "a<<b"),
            ("<", "<"),
        ];
        for &(input, want) in backslash {
            assert_eq!(word(input, &env).as_deref(), Ok(want), "input {input:?}");
        }
        let lex = Lexer::new('`');
        let env = env_of(&env);
        let backtick: &[(&str, &str)] = &[
            (r"C:\dir\$A", r"C:\dir\a b"),
            ("`$A", "$A"),
            ("``", "`"),
            ("a`", "a"),
            ("`\"x", "\"x"),
            (r#""`"`$`\""#, r#""$`\"#),
            (r#""`a""#, "`a"),
            ("'`$A'", "`$A"),
            ("${Z:-`}}", "}"),
        ];
        for &(input, want) in backtick {
            assert_eq!(
                lex.process_word(input, &env).as_deref(),
                Ok(want),
                "input {input:?}"
            );
        }
        // Glob escapes stay `\` whatever the escape character, as in BuildKit.
        assert!(matches!(
            lex.process_word(r"${A#a\ }", &env),
            Err(ExpandError::InvalidPattern { .. })
        ));
        assert_eq!(lex.process_word(r"${A#a\?}", &env).as_deref(), Ok("a b"));
        assert_eq!(lex.process_word(r"${A#a?}", &env).as_deref(), Ok("b"));
    }

    /// BuildKit's `wordsTest`, with its `ENV` lines accumulated per stage.
    #[test]
    fn buildkit_words_test() {
        type Case<'a> = (&'a str, Option<&'a [&'a str]>);
        let stage0: &[Case] = &[
            ("hello", Some(&["hello"])),
            ("hello${hi}bye", Some(&["hellobye"])),
        ];
        let stage1: &[Case] = &[("hello${hi}bye", Some(&["hellohibye"]))];
        let stage2: &[Case] = &[
            ("hello${space}bye", Some(&["helloabc", "defbye"])),
            ("hello\"${space}\"bye", Some(&["helloabc  defbye"])),
            ("hello \"${space}\"bye", Some(&["hello", "abc  defbye"])),
        ];
        let stage3: &[Case] = &[
            ("hello${leading}def", Some(&["hello", "ab", "cdef"])),
            ("hello\"${leading}\" def", Some(&["hello  ab c", "def"])),
            ("hello\"${leading}\"", Some(&["hello  ab c"])),
            ("hello${leading}", Some(&["hello", "ab", "c"])),
        ];
        let stage4: &[Case] = &[
            ("hello${trailing}", Some(&["helloab", "c"])),
            ("hello${trailing}d", Some(&["helloab", "c", "d"])),
            ("hello\"${trailing}\"d", Some(&["helloab c   d"])),
            ("hel\"lo${trailing}\"", Some(&["helloab c   "])),
            ("hello\" there  \"", Some(&["hello there  "])),
            ("hello there", Some(&["hello", "there"])),
            (r"hello\ there", Some(&["hello there"])),
            ("hello\" there", None),
            (r#"hello\" there"#, Some(&["hello\"", "there"])),
            (r#"hello"\\there""#, Some(&[r"hello\there"])),
            (r#"hello"\there""#, Some(&[r"hello\there"])),
            (r"hello'\\there'", Some(&[r"hello\\there"])),
            (r"hello'\there'", Some(&[r"hello\there"])),
            ("hello'$there'", Some(&["hello$there"])),
        ];
        let envs: [&[(&str, &str)]; 5] = [
            &[],
            &[("hi", "hi")],
            &[("hi", "hi"), ("space", "abc  def")],
            &[("hi", "hi"), ("space", "abc  def"), ("leading", "  ab c")],
            &[
                ("hi", "hi"),
                ("space", "abc  def"),
                ("leading", "  ab c"),
                ("trailing", "ab c   "),
            ],
        ];
        let lex = Lexer::new('\\');
        for (cases, pairs) in [stage0, stage1, stage2, stage3, stage4].iter().zip(envs) {
            let env = env_of(pairs);
            for &(input, expected) in cases.iter() {
                let got = lex.process_words(input, &env);
                match expected {
                    Some(want) => assert_eq!(got, Ok(owned(want)), "input {input:?}"),
                    None => assert!(got.is_err(), "input {input:?} gave {got:?}"),
                }
            }
        }
    }

    #[test]
    fn words_splitting() {
        let env = env_of(&[("P", "80 443"), ("E", ""), ("S", "  ")]);
        let lex = Lexer::default();
        let cases: &[(&str, &[&str])] = &[
            ("$P", &["80", "443"]),
            ("\"$P\"", &["80 443"]),
            ("'$P'", &["$P"]),
            ("${P}/tcp", &["80", "443/tcp"]),
            ("${Q:-1 2}", &["1", "2"]),
            ("\"${Q:-1 2}\"", &["1 2"]),
            ("  a   b  ", &["a", "b"]),
            ("a\tb\nc", &["a", "b", "c"]),
            ("$E", &[]),
            ("\"\"", &[]),
            ("a \"\" b", &["a", "b"]),
            ("x${S}y", &["x", "y"]),
            ("x\"${S}\"y", &["x  y"]),
            (r"a\ b c", &["a b", "c"]),
            ("abc${Q:-d}e", &["abcde"]),
            ("cat << EOF", &["cat", "<< EOF"]),
            ("", &[]),
        ];
        for &(input, want) in cases {
            assert_eq!(
                lex.process_words(input, &env),
                Ok(owned(want)),
                "input {input:?}"
            );
        }
        // process_word keeps the whitespace that process_words splits on.
        assert_eq!(
            lex.process_word("  $P  ", &env).as_deref(),
            Ok("  80 443  ")
        );
    }

    #[test]
    fn tracking_names() {
        let env = env_of(&[
            ("FOO", "xxyy"),
            ("BAR", "x"),
            ("A", "set"),
            ("TARGETOS", "linux"),
            ("TARGETARCH", "arm"),
            ("TARGETVARIANT", "v7"),
            ("VERSION", "v1.2.3"),
        ]);
        let lex = Lexer::new('\\');
        let cases: &[(&str, &str, &[&str])] = &[
            ("x", "x", &[]),
            ("x ${UNUSED}", "x ", &["UNUSED"]),
            ("${FOO#$BAR}", "xyy", &["BAR", "FOO"]),
            ("${A:-$B}", "set", &["B", "A"]),
            ("$FOO$FOO${FOO}", "xxyyxxyyxxyy", &["FOO"]),
            ("'$FOO' \\$BAR", "$FOO $BAR", &[]),
            ("\"$FOO\"", "xxyy", &["FOO"]),
            ("$1", "", &["1"]),
            ("${A:+${C:-${D}}}", "", &["D", "C", "A"]),
            ("${FOO/$BAR/$A}", "setxyy", &["BAR", "A", "FOO"]),
            (
                "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
                "something-v1.2.3.linux-arm-v7.tar.gz",
                &["VERSION", "TARGETOS", "TARGETARCH", "TARGETVARIANT"],
            ),
        ];
        for &(input, want, names) in cases {
            let (got, used) = match lex.process_word_tracking(input, &env) {
                Ok(r) => r,
                Err(e) => panic!("{input:?}: {e}"),
            };
            assert_eq!(got, want, "input {input:?}");
            assert_eq!(used, names, "input {input:?}");
        }
    }

    #[test]
    fn glob_matching() {
        let parse = |p: &str| match Glob::parse(p) {
            Ok(g) => g,
            Err(e) => panic!("{p:?}: {e}"),
        };
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(parse("a*b").match_ends(&chars("aXbYb"), 0), vec![3, 5]);
        assert_eq!(parse("*").match_ends(&chars("ab"), 0), vec![0, 1, 2]);
        assert_eq!(parse("").match_ends(&chars("ab"), 1), vec![1]);
        assert_eq!(parse("?").match_ends(&chars("한국"), 0), vec![1]);
        assert_eq!(parse("b").find(&chars("abab"), 2), Some((3, 4)));
        assert_eq!(parse("z").find(&chars("abab"), 0), None);
        for bad in [r"\", r"\x", r"\\\"] {
            assert!(Glob::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse(r"\}\/").toks, vec![Tok::Lit('}'), Tok::Lit('/')]);
        assert_eq!(parse(r"한\*").trim_suffix(&chars("국한*"), false), "국");
    }
}
