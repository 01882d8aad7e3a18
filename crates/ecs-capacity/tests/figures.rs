//! Every simulator figure README.md and docs/ quote is the output of the command named beside
//! it: a region
//!
//! ````text
//! <!-- figures -->
//! `ecs-capacity simulate batch --sweep`
//!
//! ```text
//! (its standard output)
//! ```
//! <!-- /figures -->
//! ````
//!
//! is run here and must match. After a change that moves the numbers,
//! `UPDATE_FIGURES=1 cargo test -p ecs-capacity --test figures` rewrites every region (and
//! the charts a region's command writes with `--chart docs/…`) in one go.

use std::path::{Path, PathBuf};
use std::process::Command;

const PAGES: [&str; 6] = [
    "docs/figures-fitting.md",
    "docs/fitting-hosts.md",
    "README.md",
    "docs/cli.md",
    "docs/figures.md",
    "docs/figures-consolidation.md",
];
const OPEN: &str = "<!-- figures -->";
const CLOSE: &str = "<!-- /figures -->";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The command's standard output, run from the repository root. With `write_charts` false a
/// `--chart` path is sent to a scratch file instead (charts are rewritten, not compared).
fn output_of(args: &[&str], write_charts: bool, scratch: &Path) -> String {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut swapped = None;
    if !write_charts
        && let Some(i) = args.iter().position(|a| a == "--chart")
        && let Some(path) = args.get_mut(i + 1)
    {
        let scratch_path = scratch.join("chart.svg").to_string_lossy().into_owned();
        swapped = Some((scratch_path.clone(), path.clone()));
        *path = scratch_path;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-capacity"))
        .args(&args)
        .current_dir(root())
        .output()
        .expect("ecs-capacity runs");
    assert!(
        out.status.success(),
        "ecs-capacity {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    match swapped {
        // "Chart written to …" names the path the page's command gives.
        Some((scratch_path, page_path)) => stdout.replace(&scratch_path, &page_path),
        None => stdout,
    }
}

/// The commands of a page's regions, in order.
fn commands(page: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let Some(len) = rest[start..].find(CLOSE) else {
            panic!("{page}: {OPEN} without {CLOSE}");
        };
        let command = rest[start..start + len]
            .lines()
            .find_map(|l| {
                l.strip_prefix("`ecs-capacity ")
                    .and_then(|c| c.strip_suffix('`'))
            })
            .unwrap_or_else(|| {
                panic!("{page}: a figures region names no `ecs-capacity …` command")
            });
        out.push(command.to_owned());
        rest = &rest[start + len..];
    }
    out
}

/// The page with every region replaced by its command and that command's output.
fn regenerate(text: &str, outputs: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    for (command, stdout) in outputs {
        let (Some(start), Some(len)) = (
            rest.find(OPEN),
            rest.find(OPEN).and_then(|s| rest[s..].find(CLOSE)),
        ) else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!(
            "{OPEN}\n`ecs-capacity {command}`\n\n```text\n{stdout}```\n"
        ));
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Every command's output, two at a time (the simulations are independent).
fn run_all(commands: &[String], write_charts: bool, scratch: &Path) -> Vec<String> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut outputs = vec![String::new(); commands.len()];
    for (chunk_index, chunk) in commands.chunks(workers).enumerate() {
        let done: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, command)| {
                    let own = scratch.join(format!("{chunk_index}-{i}"));
                    scope.spawn(move || {
                        std::fs::create_dir_all(&own).expect("scratch folder");
                        let args: Vec<&str> = command.split_whitespace().collect();
                        output_of(&args, write_charts, &own)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a command ran"))
                .collect()
        });
        for (i, o) in done.into_iter().enumerate() {
            if let Some(slot) = outputs.get_mut(chunk_index * workers + i) {
                *slot = o;
            }
        }
    }
    outputs
}

#[test]
fn the_figures_in_the_docs_are_what_their_commands_print() {
    let update = std::env::var_os("UPDATE_FIGURES").is_some();
    let scratch = std::env::temp_dir().join(format!("ecs-capacity-figures-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let mut regions = 0;
    for page in PAGES {
        let path = root().join(page);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
        let commands = commands(page, &text);
        regions += commands.len();
        let outputs = run_all(&commands, update, &scratch);
        let fresh = regenerate(
            &text,
            &commands.into_iter().zip(outputs).collect::<Vec<_>>(),
        );
        if update {
            std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{page}: {e}"));
        } else if fresh != text {
            let line = text
                .lines()
                .zip(fresh.lines())
                .position(|(a, b)| a != b)
                .map_or(0, |i| i + 1);
            panic!(
                "{page}:{line}: the figures differ from what their commands print; \
                 run UPDATE_FIGURES=1 cargo test -p ecs-capacity --test figures"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(regions >= 9, "only {regions} figures regions found");
}
