//! `infra/example-stack.yaml` nests `infra/template.yaml`: it must give every parameter the
//! nested template requires, no parameter it does not declare, and read only outputs it has.

use std::collections::BTreeSet;

use infra_contract::Template;
use serde_json::Value;

const MAIN: &str = include_str!("../../../infra/template.yaml");
const EXAMPLE: &str = include_str!("../../../infra/example-stack.yaml");

fn parse(yaml: &str) -> Template {
    Template::parse(yaml).expect("template parses")
}

#[test]
fn the_example_nests_the_main_template_with_the_parameters_it_declares() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let nested: Vec<_> = example
        .resources_of_type("AWS::Serverless::Application")
        .collect();
    let [(id, capacity)] = nested.as_slice() else {
        panic!("one nested application expected: {nested:?}");
    };
    assert_eq!(
        capacity.location.as_ref().and_then(Value::as_str),
        Some("template.yaml"),
        "{id} nests infra/template.yaml itself, not a copy"
    );
    let given: BTreeSet<&str> = capacity
        .parameters
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    let declared: BTreeSet<&str> = main.parameters().keys().map(String::as_str).collect();
    let undeclared: Vec<_> = given.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "{id} passes undeclared parameters {undeclared:?}"
    );
    let required: BTreeSet<&str> = main
        .parameters()
        .iter()
        .filter(|(_, p)| p.default.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    let missing: Vec<_> = required.difference(&given).collect();
    assert!(
        missing.is_empty(),
        "{id} does not pass required parameters {missing:?}"
    );
}

#[test]
fn the_example_reads_only_outputs_the_main_template_has() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let mut read = 0;
    for (name, output) in example.outputs() {
        // `!GetAtt Capacity.Outputs.X` reads as the string "Capacity.Outputs.X".
        let Some(target) = output.value.0.as_str() else {
            continue;
        };
        if output.value.1.as_deref() != Some("!GetAtt") {
            continue;
        }
        if let Some(("Capacity", nested)) = target.split_once(".Outputs.") {
            read += 1;
            assert!(
                main.outputs().contains_key(nested),
                "output {name} reads {nested}, which infra/template.yaml does not output"
            );
        }
    }
    assert!(
        read > 0,
        "the example surfaces the capacity stack's outputs"
    );
}
