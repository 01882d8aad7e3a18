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
//!   The flags are clap's: the test builds the CLI's `clap::Command` from `ecs_capacity::cli`.
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

use clap::CommandFactory;

/// The README and every docs page must stay this short (issue 11: five minutes to read).
const README_MAX_BYTES: usize = 15 * 1024;
const PAGE_MAX_BYTES: usize = 20 * 1024;

/// Pages whose standalone flag spans (`--compare`) are the CLI's flags.
const CLI_PAGES: &[&str] = &["docs/cli.md"];

/// The CLI binary's name.
const CLI: &str = "ecs-capacity";

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
// The CLI's flags, asked of clap
//
// The clap derive structs live in the library (`ecs_capacity::cli`), so the test builds the very
// `clap::Command` the binary parses with, and reads each subcommand's long flags and their
// aliases (hidden ones too: they are accepted), with clap's own `--help` and `--version` that
// `build()` adds.

/// Long flags of each subcommand, e.g. `report` → {`--cluster`, `--instances`, …}.
type Flags = BTreeMap<String, BTreeSet<String>>;

/// The CLI's flags: those of the command itself (`--help`, `--version`), and of each subcommand
/// by every name it answers to.
struct CliFlags {
    root: BTreeSet<String>,
    subcommands: Flags,
}

/// Long flags of one command: each argument's `--long` and its aliases.
fn long_flags(cmd: &clap::Command) -> BTreeSet<String> {
    cmd.get_arguments()
        .flat_map(|a| {
            a.get_long()
                .into_iter()
                .chain(a.get_all_aliases().unwrap_or_default())
        })
        .map(|l| format!("--{l}"))
        .collect()
}

/// The flags of a clap command and of its subcommands, after clap has added its own.
fn cli_flags(mut cmd: clap::Command) -> CliFlags {
    cmd.build();
    let mut subcommands = Flags::new();
    for sub in cmd.get_subcommands() {
        let flags = long_flags(sub);
        for name in std::iter::once(sub.get_name()).chain(sub.get_all_aliases()) {
            subcommands.insert(name.to_string(), flags.clone());
        }
    }
    CliFlags {
        root: long_flags(&cmd),
        subcommands,
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
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

fn flag_problems(pages: &[Page], cli: &CliFlags) -> Vec<Problem> {
    let flags = &cli.subcommands;
    let any: BTreeSet<&String> = flags.values().flatten().collect();
    let global = &cli.root;
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
                    None => global,
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
    let cli = cli_flags(ecs_capacity::cli::Cli::command());
    // clap's own flags are there, and each subcommand the pages run has flags of its own.
    let has = |flags: &BTreeSet<String>, f: &str| flags.contains(f);
    assert!(
        CLAP_FLAGS.iter().all(|f| has(&cli.root, f)),
        "{CLI} lacks clap's {CLAP_FLAGS:?}: {:?}",
        cli.root
    );
    for sub in ["report", "simulate"] {
        let flags = cli.subcommands.get(sub);
        assert!(
            flags.is_some_and(|f| CLAP_FLAGS.iter().all(|c| has(f, c)) && f.len() > CLAP_FLAGS.len()),
            "`{CLI} {sub}`: no such subcommand, or no flags of its own: {flags:?}"
        );
    }
    assert_none("unknown CLI flags", flag_problems(&pages(), &cli));
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
fn flags_are_each_subcommands_longs_and_aliases_with_clap_s_own() {
    use clap::{Arg, ArgAction, Command};
    let cmd = Command::new("x")
        .version("1")
        .propagate_version(true)
        .subcommand(
            Command::new("report")
                .alias("rep")
                .arg(Arg::new("cluster").long("cluster").visible_alias("c2"))
                .arg(Arg::new("ports").long("port").alias("tcp-port"))
                .arg(Arg::new("verbose").short('v').action(ArgAction::SetTrue))
                .arg(Arg::new("scenario")),
        )
        .subcommand(Command::new("sim").arg(Arg::new("seed").long("seed")));
    let cli = cli_flags(cmd);
    let of = |s: &str| {
        cli.subcommands[s]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cli.subcommands.keys().collect::<Vec<_>>(),
        ["help", "rep", "report", "sim"]
    );
    assert_eq!(
        of("report"),
        [
            "--c2",
            "--cluster",
            "--help",
            "--port",
            "--tcp-port",
            "--version"
        ]
    );
    assert_eq!(of("rep"), of("report"));
    assert_eq!(of("sim"), ["--help", "--seed", "--version"]);
    assert_eq!(
        cli.root.iter().map(String::as_str).collect::<Vec<_>>(),
        ["--help", "--version"]
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
