//! No import circles: within a crate under `crates/`, no two modules import each other, directly
//! or round a circle; and across crates, `capacity_core` names none of ours and `capacity_aws`
//! only `capacity_core`. Each failure names the circle and, for each step, the file and line of
//! the import.
//!
//! How the graph is read from the sources (the extractors below have unit tests on small strings):
//! * **Modules** from file paths: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs` and
//!   `main.rs` are the crate root. Test modules are skipped: a `tests` module file (`tests.rs`,
//!   `tests/…`) and a `#[cfg(test)] mod … { … }` block.
//! * **Imports** are paths in code (in `use` trees and in expressions, types, attributes) and in
//!   doc-comment links (`` [`crate::a::f`] ``, `[text](crate::a::f)`), outside comments and string
//!   literals, that start with `crate::`, `self::`, `super::`, the crate's own name, or the name of
//!   a child module of the file's module (`sweep::ideal` in `sim/mod.rs`). A path imports the
//!   deepest module it names: `crate::sim::sweep::Frontier` imports `sim::sweep`.
//! * **Not imports**: `mod x;` itself, and a path to the module's own ancestors (`super::Sim` in
//!   `sim/alarms.rs`, `crate::Foo` re-exported by `lib.rs`): a child is part of its parent and sees
//!   its items, so only the parent's imports of its children and the imports between siblings and
//!   cousins can close a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The crates (folders under `crates/`) left out of the module-circle check: every other crate
/// is checked. A crate is listed here only with a comment naming the circle it has, until it
/// is broken. None today.
const UNCHECKED: &[&str] = &[];

/// Which of our crates each crate's sources may name; a crate not listed may name any (the
/// crate graph must still have no circle).
const CRATE_RULES: &[(&str, &[&str])] =
    &[("capacity_core", &[]), ("capacity_aws", &["capacity_core"])];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A module path inside its crate; the root is empty.
type Module = Vec<String>;

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_string()
    } else {
        m.join("::")
    }
}

// ---------------------------------------------------------------------------------------------
// Sources: code and doc comments apart, without comments and string contents

/// A source file split in two: its code, with comments removed and string and char literals
/// blanked (lines kept, so a position still has its line), and its doc comments' text by line.
struct Lexed {
    code: String,
    docs: Vec<(usize, String)>,
}

fn lex(src: &str) -> Lexed {
    let b: Vec<char> = src.chars().collect();
    let mut code = String::with_capacity(src.len());
    let mut docs = Vec::new();
    let mut line = 1;
    let mut k = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    // Copies a skipped stretch as its newlines only, counting them.
    let blank = |from: usize, to: usize, code: &mut String, line: &mut usize| {
        for &c in &b[from..to] {
            if c == '\n' {
                code.push('\n');
                *line += 1;
            }
        }
    };
    while k < b.len() {
        let c = b[k];
        let next = b.get(k + 1).copied();
        if c == '/' && next == Some('/') {
            let end = (k..b.len()).find(|&j| b[j] == '\n').unwrap_or(b.len());
            let text: String = b[k..end].iter().collect();
            let doc =
                (text.starts_with("///") && !text.starts_with("////")) || text.starts_with("//!");
            if doc {
                docs.push((line, text[3..].to_string()));
            }
            k = end;
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (0, k);
            while j < b.len() {
                if b[j] == '/' && b.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == '*' && b.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            let text: String = b[k..j.min(b.len())].iter().collect();
            if text.starts_with("/**") && !text.starts_with("/***") || text.starts_with("/*!") {
                for (n, l) in text.lines().enumerate() {
                    docs.push((line + n, l.to_string()));
                }
            }
            blank(k, j.min(b.len()), &mut code, &mut line);
            k = j;
        } else if c == 'r'
            && (k == 0 || !ident(b[k - 1]) || (b[k - 1] == 'b' && (k < 2 || !ident(b[k - 2]))))
            && matches!(next, Some('"' | '#'))
            && {
                let hashes = (k + 1..b.len()).take_while(|&j| b[j] == '#').count();
                b.get(k + 1 + hashes) == Some(&'"')
            }
        {
            // A raw string: r"…", r#"…"#, br#"…"#.
            let hashes = (k + 1..b.len()).take_while(|&j| b[j] == '#').count();
            let start = k + 2 + hashes;
            let end = (start..b.len())
                .find(|&j| b[j] == '"' && (1..=hashes).all(|h| b.get(j + h) == Some(&'#')))
                .map_or(b.len(), |j| j + 1 + hashes);
            code.push_str("\"\"");
            blank(k, end, &mut code, &mut line);
            k = end;
        } else if c == '"' {
            let mut j = k + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            code.push_str("\"\"");
            blank(k, (j + 1).min(b.len()), &mut code, &mut line);
            k = j + 1;
        } else if c == '\'' && (next == Some('\\') || b.get(k + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); otherwise a lifetime, kept as code.
            let mut j = k + 1;
            while j < b.len() && b[j] != '\'' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            code.push_str("' '");
            k = j + 1;
        } else {
            if c == '\n' {
                line += 1;
            }
            code.push(c);
            k += 1;
        }
    }
    Lexed { code, docs }
}

// ---------------------------------------------------------------------------------------------
// Paths in code and in doc links

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Path, // `::`
    Open,
    Close,
    Comma,
    Star,
    Other(char),
}

/// Tokens with their line: identifiers, `::`, braces, commas and single characters.
fn tokens(code: &str) -> Vec<(usize, Tok)> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut k, mut line) = (0, 1);
    while k < b.len() {
        let c = b[k];
        if c.is_alphanumeric() || c == '_' {
            let w: String = b[k..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            k += w.chars().count();
            out.push((line, Tok::Ident(w)));
            continue;
        }
        let tok = match c {
            '\n' => {
                line += 1;
                None
            }
            ':' if b.get(k + 1) == Some(&':') => {
                k += 1;
                Some(Tok::Path)
            }
            '{' => Some(Tok::Open),
            '}' => Some(Tok::Close),
            ',' => Some(Tok::Comma),
            '*' => Some(Tok::Star),
            c if c.is_whitespace() => None,
            c => Some(Tok::Other(c)),
        };
        out.extend(tok.map(|t| (line, t)));
        k += 1;
    }
    out
}

/// The index after the attribute `#[…]` at `k`, if there is one.
fn attribute_end(toks: &[(usize, Tok)], k: usize) -> Option<usize> {
    if toks.get(k)?.1 != Tok::Other('#') || toks.get(k + 1)?.1 != Tok::Other('[') {
        return None;
    }
    let mut depth = 0;
    for (j, (_, t)) in toks.iter().enumerate().skip(k + 1) {
        match t {
            Tok::Other('[') => depth += 1,
            Tok::Other(']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Drops `#[cfg(test)]` modules (`mod x { … }` and `mod x;`) from the tokens.
fn without_test_modules(toks: Vec<(usize, Tok)>) -> Vec<(usize, Tok)> {
    let is = |k: usize, t: Tok| toks.get(k).is_some_and(|x| x.1 == t);
    let word = |k: usize, w: &str| is(k, Tok::Ident(w.to_string()));
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let cfg_test = attribute_end(&toks, k) == Some(k + 7)
            && word(k + 2, "cfg")
            && word(k + 4, "test")
            && is(k + 5, Tok::Other(')'));
        if cfg_test {
            // Other attributes and a visibility may come before `mod`.
            let mut j = k + 7;
            while let Some(e) = attribute_end(&toks, j) {
                j = e;
            }
            if word(j, "pub") {
                j += 1;
                if is(j, Tok::Other('(')) {
                    j += 3; // `(crate)`, `(super)`
                }
            }
            if word(j, "mod") && is(j + 2, Tok::Other(';')) {
                k = j + 3;
                continue;
            }
            if word(j, "mod") && is(j + 2, Tok::Open) {
                let mut depth = 0;
                let mut e = j + 2;
                while e < toks.len() {
                    match toks[e].1 {
                        Tok::Open => depth += 1,
                        Tok::Close if depth == 1 => break,
                        Tok::Close => depth -= 1,
                        _ => {}
                    }
                    e += 1;
                }
                k = e + 1;
                continue;
            }
        }
        out.push(toks[k].clone());
        k += 1;
    }
    out
}

/// Every path in the tokens, with its line, `use` trees expanded: `use a::{b, c::{d, self}}`
/// gives `a::b`, `a::c::d` and `a::c::self`. A path starting with `::` is skipped, and a
/// turbofish ends one (`Vec::<u8>::new` gives `Vec`).
fn paths(toks: &[(usize, Tok)]) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let starts = matches!(toks[k].1, Tok::Ident(_)) && (k == 0 || toks[k - 1].1 != Tok::Path);
        if starts {
            k = tree(toks, k, Vec::new(), &mut out);
        } else {
            k += 1;
        }
    }
    out
}

/// Reads a path (or use tree) from `k` under `prefix`; returns the index after it.
fn tree(
    toks: &[(usize, Tok)],
    mut k: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(usize, Vec<String>)>,
) -> usize {
    let line = toks.get(k).map_or(0, |t| t.0);
    while let Some((_, Tok::Ident(w))) = toks.get(k) {
        prefix.push(w.clone());
        if toks.get(k + 1).map(|t| &t.1) != Some(&Tok::Path) {
            k += 1;
            break;
        }
        match toks.get(k + 2).map(|t| &t.1) {
            Some(Tok::Ident(_)) => k += 2,
            Some(Tok::Open) => {
                k += 3;
                loop {
                    match toks.get(k).map(|t| &t.1) {
                        Some(Tok::Ident(w)) if w == "as" => k += 2, // and its alias
                        Some(Tok::Ident(_)) => k = tree(toks, k, prefix.clone(), out),
                        Some(Tok::Close) => return k + 1,
                        None => return k,
                        Some(_) => k += 1, // `,`, `*`
                    }
                }
            }
            _ => {
                k += 2; // `a::*`, `a::<T>`
                break;
            }
        }
    }
    if !prefix.is_empty() {
        out.push((line, prefix));
    }
    k
}

/// Paths of a doc comment's intra-doc links: `` [`a::b`] ``, `[a::b]`, `[text](a::b)`,
/// `[text][a::b]` and `[label]: a::b`; a target with a `/` or `.` (a file, a URL) is not a path.
fn doc_link_paths(doc: &str) -> Vec<Vec<String>> {
    let mut targets = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        let after = &rest[close + 1..];
        if let Some(t) = after.strip_prefix('(') {
            targets.push(t.split(')').next().unwrap_or(""));
        } else if let Some(t) = after.strip_prefix('[') {
            targets.push(t.split(']').next().unwrap_or(""));
        } else if let Some(t) = after.strip_prefix(':') {
            targets.push(t.split_whitespace().next().unwrap_or(""));
        } else {
            targets.push(inner);
        }
        rest = &rest[close + 1..];
    }
    targets
        .into_iter()
        .map(|t| {
            t.trim()
                .trim_matches('`')
                .trim_end_matches("()")
                .trim_end_matches('!')
        })
        .filter(|t| {
            t.contains("::")
                && t.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map(|t| t.split("::").map(str::to_string).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The graph of one crate

/// The module of a file under `src/`: `a/b.rs`, `a/b/mod.rs` → `a::b`; `lib.rs`, `main.rs` → root.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !(parts.is_empty() && (stem == "lib" || stem == "main")) && stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The module a path imports, from `module`, if it names one of ours (`None` for a path to
/// another crate, a local item or the standard library).
fn resolve(
    module: &[String],
    path: &[String],
    modules: &BTreeSet<Module>,
    own_crate: &str,
) -> Option<Module> {
    let first = path.first()?;
    let (mut target, rest): (Module, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        name if name == own_crate => (Vec::new(), &path[1..]),
        "self" => (module.to_vec(), &path[1..]),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = module.len().checked_sub(ups)?;
            (module[..base].to_vec(), &path[ups..])
        }
        name if modules.contains(&[module, &[name.to_string()]].concat()) => {
            (module.to_vec(), path)
        }
        _ => return None,
    };
    for seg in rest {
        target.push(seg.clone());
        if !modules.contains(&target) {
            target.pop();
            break;
        }
    }
    Some(target)
}

/// Where an import is: the file, its line and the path as written.
#[derive(Debug, Clone)]
struct Site {
    file: String,
    line: usize,
    path: String,
}

/// The imports between modules of one crate (an edge keeps its first site), and the other
/// crates of ours its sources name.
struct Graph {
    edges: BTreeMap<Module, BTreeMap<Module, Site>>,
    crates: BTreeMap<String, Site>,
}

/// A crate's sources: (path under src/, text), test modules left out.
fn sources(src: &Path) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).expect("under src").to_path_buf();
            let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (rel, text)
        })
        .filter(|(rel, _)| !module_of(rel).iter().any(|m| m == "tests"))
        .collect()
}

/// The graph of a crate's sources; `ours` are the import names of the workspace's crates.
fn graph(files: &[(PathBuf, String)], own_crate: &str, ours: &BTreeSet<String>) -> Graph {
    let modules: BTreeSet<Module> = files.iter().map(|(rel, _)| module_of(rel)).collect();
    let mut g = Graph {
        edges: BTreeMap::new(),
        crates: BTreeMap::new(),
    };
    for (rel, text) in files {
        let module = module_of(rel);
        let lexed = lex(text);
        let mut found = paths(&without_test_modules(tokens(&lexed.code)));
        for (line, doc) in &lexed.docs {
            found.extend(doc_link_paths(doc).into_iter().map(|p| (*line, p)));
        }
        // A lone name (`mod x;`, a local `x`) is not a path.
        for (line, path) in found.into_iter().filter(|(_, p)| p.len() > 1) {
            let site = Site {
                file: rel.display().to_string(),
                line,
                path: path.join("::"),
            };
            if path.len() > 1 && ours.contains(&path[0]) && path[0] != own_crate {
                g.crates.entry(path[0].clone()).or_insert(site.clone());
            }
            let Some(target) = resolve(&module, &path, &modules, own_crate) else {
                continue;
            };
            // Its own module or an ancestor (the root included): not an import, see the top.
            if module.starts_with(&target) {
                continue;
            }
            g.edges
                .entry(module.clone())
                .or_default()
                .entry(target)
                .or_insert(site);
        }
    }
    g
}

/// The circles of a graph: for each group of modules that reach one another, the group and one
/// circle through its first module, as the modules in order (the first repeated at the end).
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeMap<N, Site>>) -> Vec<(BTreeSet<N>, Vec<N>)> {
    let nodes: BTreeSet<&N> = edges
        .iter()
        .flat_map(|(a, to)| std::iter::once(a).chain(to.keys()))
        .collect();
    let reach = |from: &N| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flat_map(|to| to.keys()) {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&N, BTreeSet<N>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done: BTreeSet<N> = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reachable[n].contains(*n) {
            continue;
        }
        // The group: those n reaches that reach n back.
        let group: BTreeSet<N> = reachable[n]
            .iter()
            .filter(|m| reachable[m].contains(*n))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        // A shortest way back to n, breadth first within the group.
        let mut prev: BTreeMap<N, N> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([(*n).clone()]);
        'search: while let Some(a) = queue.pop_front() {
            for b in edges.get(&a).into_iter().flat_map(|to| to.keys()) {
                if !group.contains(b) || prev.contains_key(b) {
                    continue;
                }
                prev.insert(b.clone(), a.clone());
                if b == *n {
                    break 'search;
                }
                queue.push_back(b.clone());
            }
        }
        let mut circle = vec![(*n).clone()];
        let mut at = (*n).clone();
        while let Some(p) = prev.get(&at) {
            circle.push(p.clone());
            if p == *n {
                break;
            }
            at = p.clone();
        }
        circle.reverse();
        out.push((group, circle));
    }
    out
}

/// A circle in words, each step with the import that makes it; with the whole group when the
/// circle goes through only part of it, and the modules in it that import each other directly.
fn describe<N: Ord>(
    (group, circle): &(BTreeSet<N>, Vec<N>),
    edges: &BTreeMap<N, BTreeMap<N, Site>>,
    name: impl Fn(&N) -> String,
) -> String {
    let mut s = circle.iter().map(&name).collect::<Vec<_>>().join(" → ");
    if group.len() + 1 > circle.len() {
        let all: Vec<String> = group.iter().map(&name).collect();
        s.push_str(&format!(" (one of the circles between {})", all.join(", ")));
    }
    let step = |a: &N, b: &N| {
        let site = &edges[a][b];
        format!(
            "\n      {} → {}: {}:{} `{}`",
            name(a),
            name(b),
            site.file,
            site.line,
            site.path
        )
    };
    for w in circle.windows(2) {
        s.push_str(&step(&w[0], &w[1]));
    }
    let imports = |a: &N, b: &N| edges.get(a).is_some_and(|to| to.contains_key(b));
    for a in group {
        for b in group.range(a..).skip(1) {
            let is_the_circle = circle.len() == 3 && circle.contains(a) && circle.contains(b);
            if imports(a, b) && imports(b, a) && !is_the_circle {
                s.push_str(&format!(
                    "\n    and directly each other:{}{}",
                    step(a, b),
                    step(b, a)
                ));
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The checks

/// The folders under `crates/`, each with its import name (`ecs-capacity` → `ecs_capacity`).
fn workspace_crates() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(repo_root().join("crates"))
        .expect("crates/ is readable")
        .flatten()
        .filter(|e| e.path().join("src").is_dir())
        .map(|e| {
            let dir = e.file_name().to_string_lossy().into_owned();
            let name = dir.replace('-', "_");
            (dir, name)
        })
        .collect();
    out.sort();
    out
}

/// The crates whose modules are checked for circles: every folder under `crates/` but those in
/// `UNCHECKED`.
fn checked_crates() -> Vec<(String, String)> {
    workspace_crates()
        .into_iter()
        .filter(|(dir, _)| !UNCHECKED.contains(&dir.as_str()))
        .collect()
}

fn crate_graphs() -> Vec<(String, String, Graph)> {
    let all = workspace_crates();
    let ours: BTreeSet<String> = all.iter().map(|(_, n)| n.clone()).collect();
    all.into_iter()
        .map(|(dir, name)| {
            let files = sources(&repo_root().join("crates").join(&dir).join("src"));
            let g = graph(&files, &name, &ours);
            (dir, name, g)
        })
        .collect()
}

/// The module circles of each crate, described, or an empty list.
fn module_circles(graphs: &[(String, String, Graph)], checked: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (dir, _, g) in graphs {
        if !checked.iter().any(|(d, _)| d == dir) {
            continue;
        }
        for c in circles(&g.edges) {
            out.push(format!(
                "crates/{dir}: {}",
                describe(&c, &g.edges, |m| show(m))
            ));
        }
    }
    out
}

#[test]
fn no_module_imports_round_a_circle() {
    let graphs = crate_graphs();
    let checked = checked_crates();
    let all = workspace_crates();
    for dir in UNCHECKED {
        assert!(
            all.iter().any(|(d, _)| d == dir),
            "{dir} in UNCHECKED is not under crates/"
        );
    }
    assert!(!checked.is_empty(), "no crate under crates/ is checked");
    // The reader must see the imports, or the check would pass on nothing.
    for (dir, _, g) in &graphs {
        if checked.iter().any(|(d, _)| d == dir) {
            assert!(
                !g.edges.is_empty(),
                "read no imports between the modules of crates/{dir}"
            );
        }
    }
    let found = module_circles(&graphs, &checked);
    assert!(
        found.is_empty(),
        "{} import circle(s) between modules (break each: move what both need to a module \
         of its own, or have one side stop naming the other, doc links included):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

#[test]
fn our_crates_import_only_down_their_layers() {
    let graphs = crate_graphs();
    let mut problems = Vec::new();
    for (_, name, g) in &graphs {
        if let Some((_, allowed)) = CRATE_RULES.iter().find(|(c, _)| c == name) {
            for (other, site) in &g.crates {
                if !allowed.contains(&other.as_str()) {
                    problems.push(format!(
                        "{name} names {other} ({}:{} `{}`); it may name only {allowed:?}",
                        site.file, site.line, site.path
                    ));
                }
            }
        }
    }
    let crate_edges: BTreeMap<String, BTreeMap<String, Site>> = graphs
        .iter()
        .map(|(_, name, g)| (name.clone(), g.crates.clone()))
        .collect();
    for c in circles(&crate_edges) {
        problems.push(format!(
            "crates import round a circle: {}",
            describe(&c, &crate_edges, String::clone)
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The extractors, on small strings

fn path_strings(src: &str) -> Vec<String> {
    let lexed = lex(src);
    let mut out: Vec<String> = paths(&without_test_modules(tokens(&lexed.code)))
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .filter(|p| p.contains("::"))
        .collect();
    for (_, d) in &lexed.docs {
        out.extend(doc_link_paths(d).into_iter().map(|p| p.join("::")));
    }
    out
}

#[test]
fn paths_are_read_from_code_use_trees_and_doc_links_not_comments_or_strings() {
    let src = r##"
//! See [`crate::sim::sweep::Frontier`] and [the ideal](super::ideal::vcpu_hours).
use super::{Sim, alarms::{aggregate, self}};
use crate::scenario::*;
// crate::in_a::comment
/* crate::in_a::block /* nested crate::x::y */ */
fn f<'a>(x: &'a str) -> char {
    let _ = "crate::in_a::string";
    let _ = r#"crate::in_a::raw "string""#;
    let c = '"';
    sweep::ideal(crate::duration::Secs(1), Vec::<u8>::new());
    c
}
#[cfg(test)]
mod tests {
    use crate::only::in_tests;
}
/// A [`Summary`] of [`crate::summary::Summary::of`]; not a link: `crate::plain::span`, see
/// [docs](../docs/cli.md).
"##;
    assert_eq!(
        path_strings(src),
        [
            "super::Sim",
            "super::alarms::aggregate",
            "super::alarms::self",
            "crate::scenario",
            "sweep::ideal",
            "crate::duration::Secs",
            "crate::sim::sweep::Frontier",
            "super::ideal::vcpu_hours",
            "crate::summary::Summary::of",
        ]
    );
}

#[test]
fn modules_come_from_file_paths_and_paths_resolve_to_the_deepest_module() {
    assert_eq!(module_of(Path::new("lib.rs")), Vec::<String>::new());
    assert_eq!(module_of(Path::new("main.rs")), Vec::<String>::new());
    assert_eq!(module_of(Path::new("sim/mod.rs")), ["sim"]);
    assert_eq!(module_of(Path::new("sim/sweep.rs")), ["sim", "sweep"]);
    assert_eq!(module_of(Path::new("a/main.rs")), ["a", "main"]);
    let modules: BTreeSet<Module> = [vec![], vec!["sim"], vec!["sim", "sweep"], vec!["summary"]]
        .into_iter()
        .map(|m| m.into_iter().map(str::to_string).collect())
        .collect();
    let at = |m: &str, p: &str| {
        let module: Module = m
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let path: Vec<String> = p.split("::").map(str::to_string).collect();
        resolve(&module, &path, &modules, "ecs_capacity").map(|t| show(&t))
    };
    assert_eq!(
        at("summary", "crate::sim::sweep::Frontier").as_deref(),
        Some("sim::sweep")
    );
    assert_eq!(at("summary", "crate::sim::Outcome").as_deref(), Some("sim"));
    assert_eq!(at("sim::sweep", "super::Sim").as_deref(), Some("sim"));
    assert_eq!(
        at("sim::sweep", "super::super::summary::x").as_deref(),
        Some("summary")
    );
    assert_eq!(at("sim", "sweep::ideal").as_deref(), Some("sim::sweep"));
    assert_eq!(at("summary", "sweep::ideal"), None);
    assert_eq!(at("", "ecs_capacity::sim::run").as_deref(), Some("sim"));
    assert_eq!(at("sim", "capacity_core::TaskShape"), None);
    assert_eq!(at("sim", "std::fmt::Write"), None);
}

#[test]
fn a_circle_is_found_and_named_but_not_a_childs_import_of_its_parent() {
    let file = |rel: &str, text: &str| (PathBuf::from(rel), text.to_string());
    let ours = BTreeSet::from(["capacity_core".to_string()]);
    let files = [
        file("lib.rs", "pub mod sim; pub mod summary; pub use sim::run;"),
        file("sim/mod.rs", "pub mod sweep;\nfn f() { sweep::ideal(); }"),
        file(
            "sim/sweep.rs",
            "use super::Sim;\nuse crate::summary::Summary;",
        ),
        file(
            "summary.rs",
            "//! [`capacity_core::X`]\n\nuse crate::sim::Outcome;",
        ),
    ];
    let g = graph(&files, "ecs_capacity", &ours);
    let found = circles(&g.edges);
    assert_eq!(found.len(), 1);
    assert_eq!(
        describe(&found[0], &g.edges, |m| show(m)),
        "sim → sim::sweep → summary → sim\
         \n      sim → sim::sweep: sim/mod.rs:2 `sweep::ideal`\
         \n      sim::sweep → summary: sim/sweep.rs:2 `crate::summary::Summary`\
         \n      summary → sim: summary.rs:3 `crate::sim::Outcome`"
    );
    assert_eq!(g.crates.keys().collect::<Vec<_>>(), ["capacity_core"]);
    // Without the parent's import of its child, no circle: sweep's `super::Sim` is not one.
    let files = [
        files[0].clone(),
        file("sim/mod.rs", "pub mod sweep;"),
        files[2].clone(),
        files[3].clone(),
    ];
    assert!(circles(&graph(&files, "ecs_capacity", &ours).edges).is_empty());
}
