//! `infra/template.yaml` against the binaries: every environment variable the template sets
//! is one the binary reads, and every required one is set on every deployment.

use std::collections::BTreeSet;

use infra_contract::{Template, check};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Each binary the template deploys, with what it reads from the environment.
const BINARIES: &[(&str, &[(&str, bool)])] = &[
    ("capacity-calculator", capacity_calculator::ENV_VARS),
    ("lifecycle-drainer", lifecycle_drainer::ENV_VARS),
];

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

#[test]
fn the_template_deploys_each_binary_exactly_once() {
    let deployed: Vec<_> = template()
        .functions()
        .into_iter()
        .map(|f| {
            f.binary
                .unwrap_or_else(|| format!("{} (no cargo-lambda CodeUri)", f.logical_id))
        })
        .collect();
    let unique: BTreeSet<_> = deployed.iter().map(String::as_str).collect();
    let expected: BTreeSet<_> = BINARIES.iter().map(|(b, _)| *b).collect();
    assert_eq!(
        deployed.len(),
        unique.len(),
        "a binary deployed twice: {deployed:?}"
    );
    assert_eq!(unique, expected);
}

#[test]
fn every_variable_set_is_read_and_every_required_one_is_always_set() {
    let mut breaches = Vec::new();
    for function in template().functions() {
        let Some(reads) = BINARIES
            .iter()
            .find(|(b, _)| Some(*b) == function.binary.as_deref())
            .map(|(_, reads)| *reads)
        else {
            continue; // reported by the_template_deploys_each_binary_exactly_once
        };
        breaches.extend(check(&function, reads));
    }
    let report: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    assert!(
        report.is_empty(),
        "template/binary contract broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_binaries_list_each_variable_once() {
    for (binary, reads) in BINARIES {
        let names: BTreeSet<_> = reads.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), reads.len(), "{binary} lists a variable twice");
    }
}
