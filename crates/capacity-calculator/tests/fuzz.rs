//! Promise 4 of issue 7 for the calculator's input: no event, however malformed, panics the
//! parser, and each rejected one gets an error that names the problem.
//!
//! Inputs: arbitrary JSON (a recursive `serde_json::Value` strategy whose object keys are
//! often the event's own field names), and the real fixtures with fields dropped, replaced
//! or retyped. A short run (proptest's default case count) is part of `make test`; `make
//! fuzz` runs the same tests with `PROPTEST_CASES` raised, in release.

use capacity_calculator::event::{EventError, parse};
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

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![i64::MIN, -1, 0, 1, 2, 4096, u32::MAX.into(), i64::MAX])
            .prop_map(Value::from),
        "[a-zA-Z0-9:/._ -]{0,12}".prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z-]{0,8}",
    ]
}

/// Any JSON value, up to 4 levels deep.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One change to one node of a real input.
#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    /// Same content, another JSON type (a number as a string, an object as an array, …).
    Retype,
}

fn mutations() -> impl Strategy<Value = Vec<(Index, Mutation)>> {
    let mutation = prop_oneof![
        2 => Just(Mutation::Remove),
        2 => json().prop_map(Mutation::Replace),
        1 => leaf().prop_map(Mutation::Replace),
        2 => Just(Mutation::Retype),
    ];
    prop::collection::vec((any::<Index>(), mutation), 1..5)
}

/// JSON pointers of every node under the root.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

fn retype(value: &Value) -> Value {
    match value {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Bool(b) => Value::from(b.to_string()),
        Value::Number(n) => Value::from(n.to_string()),
        Value::String(s) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::Array(vec![Value::from(s.as_str())])),
        Value::Array(items) => Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect(),
        ),
        Value::Object(map) => Value::Array(map.values().cloned().collect()),
    }
}

fn mutate(value: &mut Value, changes: &[(Index, Mutation)]) {
    for (at, mutation) in changes {
        let mut all = Vec::new();
        pointers(value, "", &mut all);
        if all.is_empty() {
            *value = match mutation {
                Mutation::Replace(v) => v.clone(),
                Mutation::Remove | Mutation::Retype => retype(value),
            };
            continue;
        }
        let pointer = all[at.index(all.len())].clone();
        match mutation {
            Mutation::Replace(v) => {
                if let Some(node) = value.pointer_mut(&pointer) {
                    *node = v.clone();
                }
            }
            Mutation::Retype => {
                if let Some(node) = value.pointer_mut(&pointer) {
                    *node = retype(node);
                }
            }
            Mutation::Remove => {
                let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The error and its causes, as a log line shows them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Parses `event` (a panic fails the test) and, when it is refused, checks that the message
/// names what is wrong: the expected kind of event, the field, or the bad cluster ARN.
fn check(event: Value) -> Result<(), TestCaseError> {
    match parse(event) {
        Ok(parsed) => {
            // What the handler does next with a parsed event: must not panic either.
            let _ = parsed.detail.container_instance();
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
        assert!(parsed.detail.container_instance().is_some(), "fixture {n}");
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
