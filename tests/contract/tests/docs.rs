//! README.md and the pages in docs/ name only things that exist: every repository path, every
//! `make` target, every `ecs-capacity` flag and every environment variable they mention.
//! Each failure names the page, the line and the missing thing.
//!
//! What counts as a mention (the extractors below, each with unit tests on small strings):
//! * **Code**: inline code spans (which may wrap over lines) and the lines of fenced code
//!   blocks. Only code is searched for paths, targets, flags and variables: prose is free.
//! * **Paths**: a code token that starts with `crates/`, `infra/`, `tests/`, `docs/`, `.ci/` or
//!   `../shared/`, or is `Makefile`, `Cargo.toml`, `Cargo.lock` or `README.md`, relative to the
//!   repository root; and every markdown link or image target relative to the page's folder
//!   (http(s), mailto and `#anchor` links are skipped; a link's own `#anchor` is ignored). A
//!   placeholder or glob (`<name>`, `*`, `$X`, `{…}`) ends the path: what comes before it must
//!   exist. `../shared/` is checked only when that folder is beside the repository.
//! * **Make targets**: `make <target>` in code must be a target of the Makefile.
//! * **CLI flags**: an `ecs-capacity <subcommand> --flag …` command in code (also through
//!   `cargo run -p ecs-capacity -- …`) must use that subcommand's flags; on the CLI's own page a
//!   code span that starts with a flag (`--task-cpu UNITS`) must be a flag of some subcommand.
//! * **Environment variables**: the first column of a table headed "variable" must be a variable
//!   a Lambda binary reads (its `ENV_VARS`); any other code span that is an UPPER_SNAKE name
//!   (not `AWS_…`, the SDK's and Lambda's own) must appear in the crates' sources or the Makefile.
//! * **Rust names**: a code span that is a snake_case name with two or more `_` (the test names
//!   the reliability page cites, log fields, scenario fields) must occur as a word in a `.rs`
//!   file under `crates/`, so a renamed test does not leave its promise citing nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The README and every docs page must stay this short (issue 11: five minutes to read).
const README_MAX_BYTES: usize = 15 * 1024;
const PAGE_MAX_BYTES: usize = 20 * 1024;

/// Pages whose standalone flag spans (`--compare`) are the CLI's flags.
const CLI_PAGES: &[&str] = &["docs/cli.md"];

/// The CLI binary's name and the folder of its sources.
const CLI: &str = "ecs-capacity";
const CLI_SRC: &str = "crates/ecs-capacity/src";

/// Flags clap adds to every command (`propagate_version` adds `--version` to subcommands).
const CLAP_FLAGS: &[&str] = &["--help", "--version"];

const PATH_PREFIXES: &[&str] = &["crates/", "infra/", "tests/", "docs/", ".ci/", "../shared/"];
const ROOT_FILES: &[&str] = &["Makefile", "Cargo.toml", "Cargo.lock", "README.md"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// Pages and the code in them

struct Page {
    /// Relative to the repository root, with `/`: `README.md`, `docs/cli.md`.
    name: String,
    text: String,
}

fn pages() -> Vec<Page> {
    let root = repo_root();
    let mut names = vec!["README.md".to_string()];
    let mut docs: Vec<String> = fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|e| {
            e.expect("docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|name| {
            let text = fs::read_to_string(root.join(&name))
                .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            Page { name, text }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    /// An inline `span`.
    Span,
    /// One line of a fenced block (lines ending in `\` are joined with the next).
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Code {
    /// 1-based line where it starts.
    line: usize,
    kind: CodeKind,
    text: String,
}

/// The code of a markdown page: fenced block lines and inline spans, in order.
fn code_of(text: &str) -> Vec<Code> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut pending: Option<Code> = None; // a block line continued with `\`
    // An inline span being read: (start line, text so far).
    let mut span: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str())
                && trimmed.trim_start_matches(['`', '~']).trim().is_empty()
            {
                fence = None;
                out.extend(pending.take());
                continue;
            }
            match &mut pending {
                Some(p) => {
                    p.text.push(' ');
                    p.text.push_str(line);
                }
                None => {
                    pending = Some(Code {
                        line: n,
                        kind: CodeKind::Block,
                        text: line.to_string(),
                    })
                }
            }
            if pending.as_ref().is_some_and(|p| p.text.ends_with('\\')) {
                let p = pending.as_mut().expect("pending");
                p.text.pop();
            } else {
                out.extend(pending.take());
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            // A span never runs into a fence.
            span = None;
            let marker: String = trimmed
                .chars()
                .take_while(|c| *c == '`' || *c == '~')
                .collect();
            fence = Some(marker);
            continue;
        }
        if line.trim().is_empty() {
            span = None; // a blank line ends the paragraph, and an unclosed span with it
            continue;
        }
        for c in line.chars() {
            if c == '`' {
                match span.take() {
                    Some((start, s)) => out.push(Code {
                        line: start,
                        kind: CodeKind::Span,
                        text: s,
                    }),
                    None => span = Some((n, String::new())),
                }
            } else if let Some((_, s)) = &mut span {
                s.push(c);
            }
        }
        if let Some((_, s)) = &mut span {
            s.push(' ');
        }
    }
    out.extend(pending);
    out
}

#[derive(Debug, PartialEq, Eq)]
struct Link {
    line: usize,
    target: String,
}

/// Targets of `[text](target)`, `![alt](target)` and `[label]: target`, outside code.
fn links_of(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Drop inline code so `a](b)` inside backticks is not a link.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(k, _)| k % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(rest) = prose.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]:")
            && let Some(t) = target.split_whitespace().next()
        {
            out.push(Link {
                line: i + 1,
                target: t.to_string(),
            });
            continue;
        }
        let mut rest = prose.as_str();
        while let Some(k) = rest.find("](") {
            let after = &rest[k + 2..];
            let end = after.find(')').unwrap_or(after.len());
            if let Some(t) = after[..end].split_whitespace().next() {
                out.push(Link {
                    line: i + 1,
                    target: t.trim_matches(['<', '>']).to_string(),
                });
            }
            rest = &after[end..];
        }
    }
    out
}

/// Whitespace-separated words of a piece of code, with quotes and trailing punctuation taken off.
fn words(code: &str) -> Vec<&str> {
    code.split_whitespace()
        .map(|w| {
            w.trim_start_matches(['(', '"', '\'', '['])
                .trim_end_matches([',', '.', ';', ':', ')', '"', '\'', ']'])
        })
        .filter(|w| !w.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Paths

/// The repository path a code word names, if any: `crates/x/src` from `crates/x/src,`;
/// placeholders and globs cut it (`infra/rules/*.guard` names `infra/rules/`).
fn repo_path(word: &str) -> Option<String> {
    let word = word.rsplit_once('=').map_or(word, |(_, v)| v);
    let named = PATH_PREFIXES.iter().any(|p| word.starts_with(p)) || ROOT_FILES.contains(&word);
    if !named {
        return None;
    }
    match word.find(['<', '*', '$', '{', '?', '[']) {
        None => Some(word.to_string()),
        Some(k) => Some(word[..k].rfind('/').map_or("", |s| &word[..=s]).to_string()),
    }
}

/// Whether a link target is checked as a file: not a URL, not an anchor on the page itself.
fn local_link(target: &str) -> Option<&str> {
    if target.starts_with('#') || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let path = target.split('#').next().unwrap_or("");
    (!path.is_empty()).then_some(path)
}

// ---------------------------------------------------------------------------------------------
// Make targets

/// Targets named as `make <target>` in a piece of code (the first word after `make` that is not
/// a flag or a `NAME=value` assignment).
fn make_targets(code: &str) -> Vec<String> {
    let ws: Vec<&str> = code
        .split_whitespace()
        .map(|w| w.trim_matches(['`', '(', ')', ',', ';', '"', '\'']))
        .collect();
    let mut out = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        if *w != "make" {
            continue;
        }
        if let Some(target) = ws[i + 1..]
            .iter()
            .find(|t| !t.starts_with('-') && !t.contains('='))
            && target
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && !target.is_empty()
        {
            out.push(target.to_string());
        }
    }
    out
}

/// The Makefile's targets: every `name:` rule (not a variable, not a pattern) and `.PHONY` name.
fn makefile_targets(makefile: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in makefile.lines() {
        if line.starts_with(['\t', ' ', '#']) || line.contains("$(") && !line.starts_with(".PHONY")
        {
            continue;
        }
        let Some((names, rest)) = line.split_once(':') else {
            continue;
        };
        if rest.starts_with('=') || names.contains('=') || names.contains('%') {
            continue; // `X := …`, `X ::= …`, `X = a:b`, pattern rules
        }
        let names = names.strip_prefix(".PHONY").unwrap_or(names);
        if line.starts_with(".PHONY") {
            out.extend(rest.split_whitespace().map(str::to_string));
        }
        out.extend(
            names
                .split_whitespace()
                .filter(|n| !n.starts_with('.'))
                .map(str::to_string),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The CLI's flags, from its clap derive attributes
//
// Why the sources and not `ecs-capacity <sub> --help`: `CARGO_BIN_EXE_ecs-capacity` exists only
// in the ecs-capacity package's own tests, and `cargo run -p ecs-capacity` from a test re-enters
// cargo on the shared target dir (slow, blocks on its lock under `cargo test --workspace`, and may
// rebuild with other features). clap derives every long flag from a `#[arg(long …)]` attribute
// (its `long = "…"` name or the field's name in kebab-case), so reading those is exact for the
// forms handled here; a form not handled shows up as a "no such flag" failure, never a pass.

/// Long flags of each subcommand, e.g. `report` → {`--cluster`, `--instances`, …}.
type Flags = BTreeMap<String, BTreeSet<String>>;

/// Items of Rust source: (derive/other attributes before it, kind, name, body between braces).
struct Item {
    attrs: Vec<String>,
    kind: &'static str,
    name: String,
    body: String,
}

/// Source without `//` comments (doc comments included), so their text is not parsed as code.
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| {
            let mut in_str = false;
            let mut prev = ' ';
            for (k, c) in l.char_indices() {
                if c == '"' && prev != '\\' {
                    in_str = !in_str;
                }
                if !in_str && c == '/' && l[k + 1..].starts_with('/') {
                    return &l[..k];
                }
                prev = c;
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text from `open` (at `start`) to its matching close, excluding both; string-aware.
fn balanced(s: &str, start: usize, open: char, close: char) -> Option<(&str, usize)> {
    let mut depth = 0;
    let mut in_str = false;
    let mut prev = ' ';
    for (k, c) in s[start..].char_indices() {
        let at = start + k;
        if c == '"' && prev != '\\' {
            in_str = !in_str;
        } else if !in_str && c == open {
            depth += 1;
        } else if !in_str && c == close {
            depth -= 1;
            if depth == 0 {
                return Some((&s[start + 1..at], at + 1));
            }
        }
        prev = c;
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Top-level structs and enums, with their attributes.
fn items(src: &str) -> Vec<Item> {
    let src = strip_comments(src);
    let mut out = Vec::new();
    let mut attrs = Vec::new();
    let mut k = 0;
    while k < src.len() {
        let rest = &src[k..];
        if rest.starts_with("#[")
            && let Some((attr, end)) = balanced(&src, k + 1, '[', ']')
        {
            attrs.push(attr.to_string());
            k = end;
            continue;
        }
        let at_word = k == 0 || !src[..k].ends_with(is_ident);
        let kind = if at_word && rest.starts_with("struct ") {
            Some("struct")
        } else if at_word && rest.starts_with("enum ") {
            Some("enum")
        } else {
            None
        };
        if let Some(kind) = kind {
            let after = &rest[kind.len() + 1..];
            let name: String = after
                .trim_start()
                .chars()
                .take_while(|c| is_ident(*c))
                .collect();
            // A unit or tuple struct has no braces before its `;`.
            let brace = rest.find('{');
            let semi = rest.find(';');
            if let Some(b) = brace
                && semi.is_none_or(|s| b < s)
                && let Some((body, end)) = balanced(&src, k + b, '{', '}')
            {
                out.push(Item {
                    attrs: std::mem::take(&mut attrs),
                    kind,
                    name,
                    body: body.to_string(),
                });
                k = end;
                continue;
            }
        }
        let c = rest.chars().next().expect("non-empty");
        if c == ';' || c == '}' || c == '{' {
            attrs.clear();
        }
        k += c.len_utf8();
    }
    out
}

fn kebab(ident: &str) -> String {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let mut out = String::new();
    for (k, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if k > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// Items of an attribute's argument list, split at top-level commas: `arg(long, value_name = "X")`
/// → `["long", "value_name = \"X\""]`; `None` unless the attribute is `name(…)` for a given name.
fn attr_args<'a>(attr: &'a str, names: &[&str]) -> Option<Vec<&'a str>> {
    let attr = attr.trim();
    let open = attr.find('(')?;
    if !names.contains(&attr[..open].trim()) {
        return None;
    }
    let (inner, _) = balanced(attr, open, '(', ')')?;
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut from, mut prev) = (0, false, 0, ' ');
    for (k, c) in inner.char_indices() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => {
                out.push(inner[from..k].trim());
                from = k + 1;
            }
            _ => {}
        }
        prev = c;
    }
    out.push(inner[from..].trim());
    Some(out.into_iter().filter(|s| !s.is_empty()).collect())
}

fn quoted(s: &str) -> Vec<String> {
    s.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// A struct body's fields: (attributes, name, type).
fn fields(body: &str) -> Vec<(Vec<String>, String, String)> {
    let mut out = Vec::new();
    let mut attrs = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let rest = &body[k..];
        if rest.starts_with("#[")
            && let Some((attr, end)) = balanced(body, k + 1, '[', ']')
        {
            attrs.push(attr.to_string());
            k = end;
            continue;
        }
        let c = rest.chars().next().expect("non-empty");
        if is_ident(c) && (k == 0 || !body[..k].ends_with(is_ident)) {
            let word: String = rest
                .chars()
                .take_while(|c| is_ident(*c) || *c == '#')
                .collect();
            let after = rest[word.len()..].trim_start();
            if word == "pub" {
                k += word.len();
                if let Some(a) = after.strip_prefix('(') {
                    k = body.len() - a.len() + a.find(')').map_or(0, |p| p + 1);
                }
                continue;
            }
            if after.starts_with(':') && !after.starts_with("::") {
                // The type runs to the next top-level comma.
                let ty_start = body.len() - after.len() + 1;
                let mut depth = 0;
                let mut end = body.len();
                for (j, c) in body[ty_start..].char_indices() {
                    match c {
                        '<' | '(' | '[' => depth += 1,
                        '>' | ')' | ']' => depth -= 1,
                        ',' if depth == 0 => {
                            end = ty_start + j;
                            break;
                        }
                        _ => {}
                    }
                }
                out.push((
                    std::mem::take(&mut attrs),
                    word,
                    body[ty_start..end].trim().to_string(),
                ));
                k = end + 1;
                continue;
            }
            k += word.len();
            continue;
        }
        k += c.len_utf8();
    }
    out
}

/// Long flags of a struct body, following `#[command(flatten)]` into the named structs.
fn struct_flags(body: &str, structs: &BTreeMap<String, String>, depth: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (attrs, name, ty) in fields(body) {
        for attr in &attrs {
            if let Some(args) = attr_args(attr, &["arg", "clap"]) {
                for a in args {
                    let (key, value) = a
                        .split_once('=')
                        .map_or((a, ""), |(k, v)| (k.trim(), v.trim()));
                    match key {
                        "long" if value.is_empty() => {
                            out.insert(format!("--{}", kebab(&name)));
                        }
                        "long" | "alias" | "visible_alias" | "aliases" | "visible_aliases" => {
                            out.extend(quoted(value).into_iter().map(|v| format!("--{v}")));
                        }
                        _ => {}
                    }
                }
            }
            let flatten =
                attr_args(attr, &["command", "clap"]).is_some_and(|args| args.contains(&"flatten"));
            if flatten && depth < 8 {
                let inner: String = ty
                    .rsplit(['<', ':'])
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take_while(|c| is_ident(*c))
                    .collect();
                if let Some(b) = structs.get(&inner) {
                    out.extend(struct_flags(b, structs, depth + 1));
                }
            }
        }
    }
    out
}

/// Subcommands and their long flags, from the sources of a clap derive CLI.
fn cli_flags(sources: &[String]) -> Flags {
    let all: Vec<Item> = sources.iter().flat_map(|s| items(s)).collect();
    let structs: BTreeMap<String, String> = all
        .iter()
        .filter(|i| i.kind == "struct")
        .map(|i| (i.name.clone(), i.body.clone()))
        .collect();
    let derives = |i: &Item, what: &str| {
        i.attrs
            .iter()
            .any(|a| a.trim_start().starts_with("derive") && a.contains(what))
    };
    let global: BTreeSet<String> = CLAP_FLAGS.iter().map(|f| f.to_string()).collect();
    let mut out = Flags::new();
    for e in all
        .iter()
        .filter(|i| i.kind == "enum" && derives(i, "Subcommand"))
    {
        // Variants: attributes, then `Name(Type)`, `Name { fields }` or `Name`.
        let mut attrs: Vec<String> = Vec::new();
        let body = &e.body;
        let mut k = 0;
        while k < body.len() {
            let rest = &body[k..];
            if rest.starts_with("#[")
                && let Some((attr, end)) = balanced(body, k + 1, '[', ']')
            {
                attrs.push(attr.to_string());
                k = end;
                continue;
            }
            let c = rest.chars().next().expect("non-empty");
            if c.is_ascii_uppercase() {
                let variant: String = rest.chars().take_while(|c| is_ident(*c)).collect();
                let after = rest[variant.len()..].trim_start();
                let at = body.len() - after.len();
                let name = attrs
                    .iter()
                    .filter_map(|a| attr_args(a, &["command", "clap"]))
                    .flatten()
                    .find_map(|a| {
                        let (key, value) = a.split_once('=')?;
                        (key.trim() == "name")
                            .then(|| quoted(value).into_iter().next())
                            .flatten()
                    })
                    .unwrap_or_else(|| kebab(&variant));
                let mut flags = global.clone();
                let mut end = at;
                if after.starts_with('(') {
                    if let Some((ty, e2)) = balanced(body, at, '(', ')') {
                        let ty = ty.trim().rsplit("::").next().unwrap_or("").to_string();
                        if let Some(b) = structs.get(&ty) {
                            flags.extend(struct_flags(b, &structs, 0));
                        }
                        end = e2;
                    }
                } else if after.starts_with('{')
                    && let Some((fields_body, e2)) = balanced(body, at, '{', '}')
                {
                    flags.extend(struct_flags(fields_body, &structs, 0));
                    end = e2;
                }
                out.insert(name, flags);
                attrs.clear();
                k = end.max(k + variant.len());
                continue;
            }
            k += c.len_utf8();
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
struct Invocation {
    /// The subcommand, or `None` for flags given to `ecs-capacity` itself.
    subcommand: Option<String>,
    flags: Vec<String>,
}

const SEPARATORS: &[&str] = &["|", "||", "&&", ";", "(", "$(", "{"];

/// `ecs-capacity …` commands in a piece of code: run directly (as a command's first word) or
/// through `cargo run … -p ecs-capacity … -- …`. Arguments end at a separator, a redirection
/// or a `#` comment; `-x` short flags and values are skipped.
fn invocations(code: &str) -> Vec<Invocation> {
    let ws: Vec<&str> = code
        .split_whitespace()
        .map(|w| w.trim_matches(['"', '\'', '`']))
        .collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < ws.len() {
        let command_start = k == 0 || SEPARATORS.contains(&ws[k - 1]);
        let mut args_at = None;
        if ws[k] == CLI && command_start {
            args_at = Some(k + 1);
        } else if ws[k] == "cargo" && command_start && ws.get(k + 1) == Some(&"run") {
            let end = ws[k..]
                .iter()
                .position(|w| SEPARATORS.contains(w) || w.starts_with('#'))
                .map_or(ws.len(), |p| k + p);
            let sep = ws[k..end].iter().position(|w| *w == "--").map(|p| k + p);
            let cargo_args = &ws[k..sep.unwrap_or(end)];
            let ours = cargo_args
                .windows(2)
                .any(|p| ["-p", "--package", "--bin"].contains(&p[0]) && p[1] == CLI);
            if ours {
                args_at = Some(sep.map_or(end, |s| s + 1));
            }
        }
        let Some(mut a) = args_at else {
            k += 1;
            continue;
        };
        let stop = |w: &str| {
            SEPARATORS.contains(&w)
                || w.starts_with('#')
                || w.starts_with('>')
                || w.starts_with("2>")
                || w == "<"
        };
        let mut subcommand = None;
        if let Some(w) = ws.get(a)
            && !stop(w)
            && !w.starts_with('-')
        {
            subcommand = Some(w.to_string());
            a += 1;
        }
        let mut flags = Vec::new();
        while a < ws.len() && !stop(ws[a]) {
            if let Some(flag) = ws[a].strip_prefix("--").filter(|f| !f.is_empty()) {
                flags.push(format!("--{}", flag.split('=').next().unwrap_or("")));
            }
            a += 1;
        }
        out.push(Invocation { subcommand, flags });
        k = a;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Environment variables

/// An UPPER_SNAKE name with at least one `_`: `POLL_INTERVAL_SECONDS`.
fn env_like(s: &str) -> bool {
    s.contains('_')
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A snake_case name with at least two `_`: `a_failed_page_publishes_nothing`, `ec2_instance_id`.
fn snake_like(s: &str) -> bool {
    s.matches('_').count() >= 2
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// First-column names of tables whose header's first cell is "variable": (line, name).
fn env_table_names(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_env_table = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('|') {
            in_env_table = false;
            continue;
        }
        let first = line
            .trim_matches('|')
            .split('|')
            .next()
            .unwrap_or("")
            .trim();
        if first.eq_ignore_ascii_case("variable") {
            in_env_table = true;
            continue;
        }
        if in_env_table && !first.starts_with('-') {
            out.push((i + 1, first.trim_matches('`').to_string()));
        }
    }
    out
}

/// Whether `name` occurs in `text` as a whole word.
fn has_word(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(k, _)| {
        !text[..k].ends_with(is_ident) && !text[k + name.len()..].starts_with(is_ident)
    })
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

struct Problem {
    page: String,
    line: usize,
    what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.page, self.line, self.what)
    }
}

fn assert_none(kind: &str, problems: Vec<Problem>) {
    let list: Vec<String> = problems.iter().map(Problem::to_string).collect();
    assert!(
        list.is_empty(),
        "{} {kind}:\n  {}",
        list.len(),
        list.join("\n  ")
    );
}

fn path_problems(pages: &[Page], root: &Path) -> Vec<Problem> {
    let shared_beside = root.join("../shared").is_dir();
    let mut out = Vec::new();
    for page in pages {
        for code in code_of(&page.text) {
            for w in words(&code.text) {
                let Some(path) = repo_path(w) else { continue };
                if path.starts_with("../shared/") && !shared_beside {
                    continue;
                }
                if !root.join(&path).exists() {
                    out.push(Problem {
                        page: page.name.clone(),
                        line: code.line,
                        what: format!("no such path `{path}`"),
                    });
                }
            }
        }
        let dir = root
            .join(&page.name)
            .parent()
            .expect("page in a folder")
            .to_path_buf();
        for link in links_of(&page.text) {
            let Some(path) = local_link(&link.target) else {
                continue;
            };
            if !dir.join(path).exists() {
                out.push(Problem {
                    page: page.name.clone(),
                    line: link.line,
                    what: format!("link to a missing file `{}`", link.target),
                });
            }
        }
    }
    out
}

fn make_problems(pages: &[Page], makefile: &str) -> Vec<Problem> {
    let targets = makefile_targets(makefile);
    let mut out = Vec::new();
    for page in pages {
        for code in code_of(&page.text) {
            for t in make_targets(&code.text) {
                if !targets.contains(&t) {
                    out.push(Problem {
                        page: page.name.clone(),
                        line: code.line,
                        what: format!("`make {t}`: no target `{t}` in the Makefile"),
                    });
                }
            }
        }
    }
    out
}

fn flag_problems(pages: &[Page], flags: &Flags) -> Vec<Problem> {
    let any: BTreeSet<&String> = flags.values().flatten().collect();
    let global: BTreeSet<String> = CLAP_FLAGS.iter().map(|f| f.to_string()).collect();
    let mut out = Vec::new();
    for page in pages {
        let cli_page = CLI_PAGES.contains(&page.name.as_str());
        for code in code_of(&page.text) {
            let mut report = |what: String| {
                out.push(Problem {
                    page: page.name.clone(),
                    line: code.line,
                    what,
                })
            };
            for inv in invocations(&code.text) {
                let known = match &inv.subcommand {
                    None => &global,
                    Some(sub) => match flags.get(sub) {
                        Some(f) => f,
                        None => {
                            report(format!("`{CLI} {sub}`: no such subcommand"));
                            continue;
                        }
                    },
                };
                for flag in inv.flags.iter().filter(|f| !known.contains(*f)) {
                    let sub = inv
                        .subcommand
                        .as_deref()
                        .map_or(String::new(), |s| format!(" {s}"));
                    report(format!("`{CLI}{sub} {flag}`: no such flag"));
                }
            }
            if cli_page && code.kind == CodeKind::Span {
                let first = code.text.split_whitespace().next().unwrap_or("");
                if let Some(flag) = first.strip_prefix("--").filter(|f| !f.is_empty()) {
                    let flag = format!("--{}", flag.split('=').next().unwrap_or(""));
                    if !any.contains(&flag) && !global.contains(&flag) {
                        report(format!("`{flag}`: no `{CLI}` subcommand has this flag"));
                    }
                }
            }
        }
    }
    out
}

fn env_problems(pages: &[Page], sources: &str, read_by_binaries: &BTreeSet<&str>) -> Vec<Problem> {
    let mut out = Vec::new();
    for page in pages {
        for (line, name) in env_table_names(&page.text) {
            if !read_by_binaries.contains(name.as_str()) {
                out.push(Problem {
                    page: page.name.clone(),
                    line,
                    what: format!("`{name}` is in an environment table, but no function reads it"),
                });
            }
        }
        for code in code_of(&page.text) {
            let name = code.text.trim();
            if code.kind == CodeKind::Span
                && env_like(name)
                && !name.starts_with("AWS_")
                && !has_word(sources, name)
            {
                out.push(Problem {
                    page: page.name.clone(),
                    line: code.line,
                    what: format!("`{name}` appears in no crate source and not in the Makefile"),
                });
            }
        }
    }
    out
}

fn cli_sources(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_sources(&root.join(CLI_SRC), &mut files);
    files.sort();
    files
        .iter()
        .map(|f| fs::read_to_string(f).expect("CLI source"))
        .collect()
}

#[test]
fn every_repository_path_and_link_exists() {
    let root = repo_root();
    assert_none("missing paths", path_problems(&pages(), &root));
}

#[test]
fn every_make_target_is_in_the_makefile() {
    let makefile = fs::read_to_string(repo_root().join("Makefile")).expect("Makefile");
    assert_none("unknown make targets", make_problems(&pages(), &makefile));
}

#[test]
fn every_cli_flag_is_one_of_its_subcommand() {
    let flags = cli_flags(&cli_sources(&repo_root()));
    // The parser must understand the CLI's sources, or every check below would be vacuous.
    assert!(
        flags.len() >= 2 && flags.values().all(|f| f.len() > CLAP_FLAGS.len()),
        "read no flags of {CLI}'s subcommands from {CLI_SRC}: {flags:?}"
    );
    assert_none("unknown CLI flags", flag_problems(&pages(), &flags));
}

#[test]
fn every_environment_variable_is_read_by_the_code() {
    let root = repo_root();
    let mut files = Vec::new();
    for e in fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
    {
        rust_sources(&e.path().join("src"), &mut files);
    }
    let mut sources = fs::read_to_string(root.join("Makefile")).expect("Makefile");
    for f in files {
        sources.push_str(&fs::read_to_string(f).expect("crate source"));
    }
    let read: BTreeSet<&str> = capacity_calculator::ENV_VARS
        .iter()
        .chain(lifecycle_drainer::ENV_VARS)
        .chain(scale_in_chooser::ENV_VARS)
        .map(|(name, _)| *name)
        .collect();
    assert_none(
        "unknown environment variables",
        env_problems(&pages(), &sources, &read),
    );
}

fn name_problems(pages: &[Page], sources: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    for page in pages {
        for code in code_of(&page.text) {
            let name = code.text.trim();
            if code.kind == CodeKind::Span && snake_like(name) && !has_word(sources, name) {
                out.push(Problem {
                    page: page.name.clone(),
                    line: code.line,
                    what: format!("`{name}` occurs in no Rust file under crates/ or tests/"),
                });
            }
        }
    }
    out
}

#[test]
fn every_test_and_field_name_is_in_the_code() {
    let mut files = Vec::new();
    rust_sources(&repo_root().join("crates"), &mut files);
    rust_sources(&repo_root().join("tests"), &mut files);
    let sources: String = files
        .iter()
        .map(|f| fs::read_to_string(f).expect("crate source"))
        .collect();
    assert_none("unknown Rust names", name_problems(&pages(), &sources));
}

#[test]
fn the_readme_and_each_page_are_short() {
    for page in pages() {
        let max = if page.name == "README.md" {
            README_MAX_BYTES
        } else {
            PAGE_MAX_BYTES
        };
        assert!(
            page.text.len() < max,
            "{} is {} bytes; keep it under {max} (move a part to its own page in docs/)",
            page.name,
            page.text.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The extractors, on small strings

fn texts(code: &[Code]) -> Vec<(usize, CodeKind, &str)> {
    code.iter()
        .map(|c| (c.line, c.kind, c.text.as_str()))
        .collect()
}

#[test]
fn code_is_spans_and_block_lines_with_their_line_numbers() {
    let md = "Run `make demo` then\n`a wrapped\nspan` ok.\n\n```sh\nmake test   # all\nfoo \\\n  --bar\n```\nA stray ` at the end\n\nnext `x`\n";
    assert_eq!(
        texts(&code_of(md)),
        vec![
            (1, CodeKind::Span, "make demo"),
            (2, CodeKind::Span, "a wrapped span"),
            (6, CodeKind::Block, "make test   # all"),
            (7, CodeKind::Block, "foo    --bar"),
            (12, CodeKind::Span, "x"),
        ]
    );
}

#[test]
fn links_are_markdown_targets_outside_code() {
    let md = "See [math](math.md#worked-example) and ![chart](demo.svg \"title\").\n`[not](a-link)`\n```\n[no](code.md)\n```\n[ref]: ../README.md\n[web](https://example.com)";
    let found = links_of(md);
    let targets: Vec<(usize, &str)> = found.iter().map(|l| (l.line, l.target.as_str())).collect();
    assert_eq!(
        targets,
        vec![
            (1, "math.md#worked-example"),
            (1, "demo.svg"),
            (6, "../README.md"),
            (7, "https://example.com")
        ]
    );
    assert_eq!(local_link("math.md#worked-example"), Some("math.md"));
    assert_eq!(local_link("#anchor"), None);
    assert_eq!(local_link("https://example.com/x"), None);
}

#[test]
fn repository_paths_are_words_with_a_known_start() {
    let found: Vec<String> = words("see crates/ecs-capacity, (infra/template.yaml) and tests/x.rs: out/demo.svg src/ Makefile Cargo.tomlish")
        .into_iter()
        .filter_map(repo_path)
        .collect();
    assert_eq!(
        found,
        [
            "crates/ecs-capacity",
            "infra/template.yaml",
            "tests/x.rs",
            "Makefile"
        ]
    );
    assert_eq!(
        repo_path("infra/rules/*.guard").as_deref(),
        Some("infra/rules/")
    );
    assert_eq!(repo_path("crates/<name>/src").as_deref(), Some("crates/"));
    assert_eq!(
        repo_path("--chart=docs/demo.svg").as_deref(),
        Some("docs/demo.svg")
    );
}

#[test]
fn make_targets_are_the_first_word_after_make() {
    assert_eq!(make_targets("make deploy CLUSTER=a ASG=b"), ["deploy"]);
    assert_eq!(
        make_targets("make -j2 bench # then `make fuzz`"),
        ["bench", "fuzz"]
    );
    assert_eq!(make_targets("make CLUSTER=x"), Vec::<String>::new());
    let makefile = ".PHONY: help test\nX := 1\nhelp: ## list\n\techo\n$(STAMP): a\ndeploy-example: ## x\n%.o: %.c\nfoo bar: baz\n";
    assert_eq!(
        makefile_targets(makefile).into_iter().collect::<Vec<_>>(),
        ["bar", "deploy-example", "foo", "help", "test"]
    );
}

#[test]
fn flags_are_read_from_clap_derive_attributes() {
    let src = r#"
#[derive(Subcommand)]
enum Command {
    /// Report {on} a cluster
    #[command(after_help = X)]
    Report(ReportArgs),
    #[command(name = "sim")]
    Simulate { #[arg(long)] seed: Option<u64> },
    HostsToAdd(cli::Shared),
}
#[derive(Args)]
struct ReportArgs {
    /// A path // not a comment end
    #[arg(long, value_name = "NAME", conflicts_with = "instances")]
    cluster: Option<String>,
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    #[arg(long, visible_alias = "tdef")]
    pub(crate) task_definitions: Vec<String>,
    #[arg(short)]
    verbose: bool,
    #[arg(default_value = "book")]
    scenario: String,
    #[command(flatten)]
    shared: Shared,
}
struct Shared { #[arg(long)] print_scenario: bool }
"#;
    let flags = cli_flags(&[src.to_string()]);
    let of = |s: &str| flags[s].iter().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(
        flags.keys().collect::<Vec<_>>(),
        ["hosts-to-add", "report", "sim"]
    );
    assert_eq!(
        of("report"),
        [
            "--cluster",
            "--help",
            "--port",
            "--print-scenario",
            "--task-definitions",
            "--tdef",
            "--version"
        ]
    );
    assert_eq!(of("sim"), ["--help", "--seed", "--version"]);
    assert_eq!(
        of("hosts-to-add"),
        ["--help", "--print-scenario", "--version"]
    );
}

#[test]
fn invocations_are_the_cli_at_a_command_start() {
    let inv = |sub: Option<&str>, flags: &[&str]| Invocation {
        subcommand: sub.map(str::to_string),
        flags: flags.iter().map(|f| f.to_string()).collect(),
    };
    assert_eq!(
        invocations("ecs-capacity report --instances - --task-cpu=250 -x 1 > out.txt --ignored"),
        [inv(Some("report"), &["--instances", "--task-cpu"])]
    );
    assert_eq!(
        invocations("cargo run -q -p ecs-capacity -- report --cluster \"$C\" # --not-a-flag"),
        [inv(Some("report"), &["--cluster"])]
    );
    assert_eq!(
        invocations("cargo run -p ecs-capacity -- --help"),
        [inv(None, &["--help"])]
    );
    assert_eq!(
        invocations("aws cloudformation describe-stacks --stack-name ecs-capacity --query x"),
        []
    );
    assert_eq!(invocations("cargo install --path crates/ecs-capacity"), []);
    assert_eq!(
        invocations("make demo && ecs-capacity simulate diurnal --compare | head"),
        [inv(Some("simulate"), &["--compare"])]
    );
}

#[test]
fn environment_names_are_upper_snake_in_code_and_env_tables() {
    assert!(env_like("POLL_INTERVAL_SECONDS"));
    assert!(snake_like("a_failed_page_publishes_nothing") && snake_like("ec2_instance_id"));
    assert!(
        !snake_like("attempt") && !snake_like("task_start") && !snake_like("POLL_INTERVAL_SECONDS")
    );
    assert!(!env_like("CONTINUE") && !env_like("ContainerMaxCpu") && !env_like("DRAIN DEADLINE"));
    let md = "| variable | default |\n|---|---|\n| `ECS_CLUSTER` | (required) |\n| `X_Y` | 1 |\n\n| metric | unit |\n|---|---|\n| `NOT_AN_ENV` | Count |\n";
    assert_eq!(
        env_table_names(md),
        [(3, "ECS_CLUSTER".to_string()), (4, "X_Y".to_string())]
    );
    assert!(has_word("const X: &str = \"ECS_CLUSTER\";", "ECS_CLUSTER"));
    assert!(!has_word("MY_ECS_CLUSTER_X", "ECS_CLUSTER"));
}
