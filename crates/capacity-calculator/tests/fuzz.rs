//! Promise 4 of issue 7 for the calculator's input: no event, however malformed, panics the
//! parser, and each rejected one gets an error that names the problem.
//!
//! Inputs: arbitrary JSON (a recursive `serde_json::Value` strategy whose object keys are
//! often the event's own field names), and the real fixtures with fields dropped, replaced
//! or retyped. A short run (proptest's default case count) is part of `make test`; `make
//! fuzz` runs the same tests with `PROPTEST_CASES` raised, in release.

use capacity_calculator::event::{EventError, parse};
use json_fuzz::{Mutation, chain, mutate, retype};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

const FIXTURES: [&str; 2] = [
    include_str!("fixtures/aws-docs-container-instance-state-change.json"),
    include_str!("fixtures/book-ch12-container-instance-state-change.json"),
];

/// Field names of the event, so generated objects reach past the first check.
const KEYS: &[&str] = &[
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "clusterArn",
    "containerInstanceArn",
    "ec2InstanceId",
    "status",
    "agentConnected",
    "registeredResources",
    "remainingResources",
    "attributes",
    "name",
    "type",
    "value",
    "integerValue",
    "longValue",
    "doubleValue",
    "stringSetValue",
];

/// Values the parser gives meaning to.
const WORDS: &[&str] = &[
    "",
    "ECS Container Instance State Change",
    "aws.ecs",
    "arn:aws:ecs:us-east-1:111122223333:cluster/default",
    "arn:aws:ecs:us-east-1:111122223333:cluster/",
    "arn:aws:ecs:us-east-1:111122223333:cluster/a/b",
    "arn:aws:ecs:us-east-1:111122223333:container-instance/default/x",
    "ACTIVE",
    "DRAINING",
    "CPU",
    "MEMORY",
    "PORTS",
    "PORTS_UDP",
    "GPU",
    "INTEGER",
    "LONG",
    "DOUBLE",
    "STRINGSET",
    "2016-12-06T16:41:06Z",
    "ecs.instance-type",
    "80",
    "-1",
    "65536",
];

fn json() -> impl Strategy<Value = Value> {
    json_fuzz::json(KEYS, WORDS)
}

fn mutations() -> impl Strategy<Value = Vec<(Index, Mutation)>> {
    json_fuzz::mutations(KEYS, WORDS)
}

/// Parses `event` (a panic fails the test) and, when it is refused, checks that the message
/// names what is wrong: the expected kind of event, the field, or the bad cluster ARN.
fn check(event: Value) -> Result<(), TestCaseError> {
    match parse(event) {
        Ok(parsed) => {
            // What the handler does next with a parsed event: must not panic either.
            let _ = parsed.container_instance();
        }
        Err(err) => {
            let text = chain(&err);
            let named = match &err {
                // Names the shape expected and where in the event the problem is.
                EventError::Shape { path, source } => {
                    !source.to_string().is_empty()
                        && text.contains("expected an EventBridge event")
                        && text.contains(&format!("at {path}:"))
                }
                EventError::WrongKind { .. } => text.contains("detail-type"),
                EventError::BadClusterArn(_) => text.contains("detail.clusterArn"),
            };
            prop_assert!(named, "the error does not name the problem: {text}");
        }
    }
    Ok(())
}

fn fixture(n: usize) -> Value {
    let text = FIXTURES[n % FIXTURES.len()];
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {n}: {e}"))
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics_the_event_parser(event in json()) {
        check(event)?;
    }

    #[test]
    fn mutated_fixtures_never_panic_the_event_parser(
        n in 0..FIXTURES.len(),
        changes in mutations(),
    ) {
        let mut event = fixture(n);
        mutate(&mut event, &changes);
        check(event)?;
    }
}

#[test]
fn the_fixtures_parse_into_a_container_instance() {
    for n in 0..FIXTURES.len() {
        let parsed = parse(fixture(n)).unwrap_or_else(|e| panic!("fixture {n}: {e}"));
        assert!(parsed.container_instance().is_ok(), "fixture {n}");
    }
}

#[test]
fn a_dropped_or_retyped_field_is_named() {
    let mut no_detail = fixture(0);
    mutate(&mut no_detail, &[]);
    if let Some(map) = no_detail.as_object_mut() {
        map.remove("detail");
    }
    let text = parse(no_detail)
        .err()
        .map(|e| chain(&e))
        .unwrap_or_default();
    assert!(text.contains("`detail`"), "{text}");

    let mut retyped = fixture(0);
    if let Some(arn) = retyped.pointer_mut("/detail/clusterArn") {
        *arn = retype(arn);
    }
    let text = parse(retyped).err().map(|e| chain(&e)).unwrap_or_default();
    assert!(text.contains("expected a string"), "{text}");
}
