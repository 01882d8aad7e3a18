//! Test-only: proptest strategies for fuzzing JSON inputs, shared by the crates' `fuzz.rs`
//! tests (promise 4: no input, however malformed, panics a function).
//!
//! Arbitrary JSON whose object keys and string values come often from a vocabulary (the
//! input's own field names and meaningful words, so generated inputs reach past the first
//! check), and mutations of real fixtures: fields dropped, replaced or retyped.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// A JSON leaf: edge-case numbers, short strings, and the words the parser gives meaning to.
pub fn leaf(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![i64::MIN, -1, 0, 1, 2, 4096, u32::MAX.into(), i64::MAX])
            .prop_map(Value::from),
        "[a-zA-Z0-9:/._ -]{0,12}".prop_map(Value::from),
        prop::sample::select(words).prop_map(Value::from),
    ]
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-zA-Z-]{0,8}",
    ]
}

/// Any JSON value, up to 4 levels deep, its object keys often from `keys`.
pub fn json(
    keys: &'static [&'static str],
    words: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    leaf(words).prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One change to one node of a real input.
#[derive(Debug, Clone)]
pub enum Mutation {
    Remove,
    Replace(Value),
    /// Same content, another JSON type (a number as a string, an object as an array, …).
    Retype,
}

/// One to four changes to nodes of a real input.
pub fn mutations(
    keys: &'static [&'static str],
    words: &'static [&'static str],
) -> impl Strategy<Value = Vec<(Index, Mutation)>> {
    let mutation = prop_oneof![
        2 => Just(Mutation::Remove),
        2 => json(keys, words).prop_map(Mutation::Replace),
        1 => leaf(words).prop_map(Mutation::Replace),
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

/// The same content as another JSON type (a number as a string, an object as an array, …).
pub fn retype(value: &Value) -> Value {
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

/// Applies `changes` to `value`, each at a node picked by its index among all nodes.
pub fn mutate(value: &mut Value, changes: &[(Index, Mutation)]) {
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
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
