//! Promise 4 of issue 7 for the command-line tool's JSON inputs: no dump of `aws ecs
//! describe-container-instances` or `describe-task-definition`, and no scenario file,
//! however malformed, panics `ecs-capacity`; each rejected one gets an error that names the
//! file and the problem (a field path, a line, a cause).
//!
//! Inputs: arbitrary JSON (a recursive `serde_json::Value` strategy whose object keys are
//! often the inputs' own field names), the real fixtures and embedded scenarios with fields
//! dropped, replaced or retyped, and their texts cut short or garbled. What parses goes on
//! through the offline report (worst case, per-instance slots, text table), as `ecs-capacity
//! report --instances … --task-definitions …` does. A short run (proptest's default case
//! count) is part of `make test`; `make fuzz` runs the same tests with `PROPTEST_CASES`
//! raised, in release.

use capacity_core::{ScalePolicy, TaskShape, WorstCase};
use ecs_capacity::dump::{InputError, InstanceDump, parse_instances, parse_task_definition};
use ecs_capacity::report;
use ecs_capacity::scenario::{self, PolicyKind, ScenarioError};
use json_fuzz::{Mutation, chain, mutate, retype};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

const INSTANCE_DUMPS: [&str; 7] = [
    include_str!("fixtures/book-one-task.json"),
    include_str!("fixtures/gpu-instance.json"),
    include_str!("fixtures/prod-page1.json"),
    include_str!("fixtures/prod-page2.json"),
    include_str!("fixtures/bad-agent-connected.json"),
    include_str!("fixtures/bad-missing-integer.json"),
    include_str!("fixtures/bad-remaining-above-registered.json"),
];
const TASK_DEFINITIONS: [&str; 4] = [
    include_str!("fixtures/web-taskdef.json"),
    include_str!("fixtures/worker-taskdef.json"),
    include_str!("fixtures/bad-container-without-memory.json"),
    include_str!("fixtures/bad-network-mode.json"),
];
const FILE: &str = "fuzz.json";

/// Field names of the dumps and scenarios, so generated objects reach past the first check.
const KEYS: &[&str] = &[
    "containerInstances",
    "failures",
    "containerInstanceArn",
    "ec2InstanceId",
    "status",
    "agentConnected",
    "registeredResources",
    "remainingResources",
    "attributes",
    "name",
    "type",
    "integerValue",
    "longValue",
    "doubleValue",
    "stringSetValue",
    "arn",
    "reason",
    "detail",
    "value",
    "taskDefinition",
    "family",
    "revision",
    "cpu",
    "memory",
    "memoryReservation",
    "networkMode",
    "containerDefinitions",
    "portMappings",
    "containerPort",
    "hostPort",
    "protocol",
    "resourceRequirements",
    "description",
    "seed",
    "duration",
    "step",
    "instance_types",
    "asg",
    "min",
    "max",
    "desired",
    "launch_delay",
    "lifecycle_hook",
    "timeout",
    "ecs",
    "strategy",
    "services",
    "task",
    "changes",
    "at",
    "scaling",
    "headroom",
    "period",
    "threshold",
];

/// Values the parsers give meaning to.
const WORDS: &[&str] = &[
    "",
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
    "ecs.instance-type",
    "tcp",
    "udp",
    "sctp",
    "bridge",
    "awsvpc",
    "host",
    "none",
    "256",
    "0.5 vCPU",
    "1 GB",
    "1h",
    "10s",
    "0s",
    "-5m",
    "binpack",
    "spread",
    "t2.micro",
    "book",
    "hosts-to-add",
    "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/1",
    "4294967296",
    "-1",
];

fn json() -> impl Strategy<Value = Value> {
    json_fuzz::json(KEYS, WORDS)
}

fn mutations() -> impl Strategy<Value = Vec<(Index, Mutation)>> {
    json_fuzz::mutations(KEYS, WORDS)
}

/// Checks that a refused dump's error names the file, and the field path (or the capacity
/// error that says what is wrong).
fn named_input_error(err: &InputError) -> Result<(), TestCaseError> {
    let text = chain(err);
    let named = match err {
        InputError::Json {
            file,
            path,
            message,
        }
        | InputError::Field {
            file,
            path,
            message,
        } => file == FILE && !path.is_empty() && !message.trim().is_empty(),
        // "{file}: {path}: missing …" from capacity-aws's strict converter.
        InputError::Instance { file, source } => {
            file == FILE && source.path().is_some_and(|p| !p.is_empty())
        }
        // "{file}" then the capacity error that says what is wrong.
        InputError::Capacity { file, .. } => {
            file == FILE && text.len() > FILE.len() + 2 && text.starts_with(FILE)
        }
        InputError::Read { .. } => false,
    };
    prop_assert!(named, "the error does not name the problem: {text}");
    Ok(())
}

/// Parses `text` as both kinds of dump (a panic fails the test); what parses goes through
/// the offline report.
fn check_dumps(text: &str, shapes: &[TaskShape]) -> Result<(), TestCaseError> {
    let mut dump = InstanceDump::default();
    let instances = parse_instances(FILE, text, &mut dump);
    if let Err(err) = &instances {
        named_input_error(err)?;
    }
    let mut shapes = shapes.to_vec();
    match parse_task_definition(FILE, text) {
        Ok(shape) => shapes.push(shape),
        Err(err) => named_input_error(&err)?,
    }
    if instances.is_ok()
        && let Ok(worst) = WorstCase::of(&shapes)
        && let Ok(policy) = ScalePolicy::new(1)
    {
        // Errors here are capacity-core's, covered by its own tests; only a panic matters.
        if let Ok(report) = report::build(
            "fuzz",
            &dump.instances,
            &shapes,
            &worst,
            &Default::default(),
            &Default::default(),
            &[],
            &policy,
            &Default::default(),
        ) {
            prop_assert!(!report.to_text().is_empty());
        }
    }
    Ok(())
}

/// Parses `text` as a scenario (a panic fails the test); an error names the file, and the
/// field (with its line when known) or the syntax problem.
fn check_scenario(text: &str) -> Result<(), TestCaseError> {
    match scenario::parse(FILE, text) {
        Ok(sc) => {
            for policy in [
                PolicyKind::Book,
                PolicyKind::HostsToAdd,
                PolicyKind::HostsToAddMinusOne,
                PolicyKind::CapacityProviderConsolidation,
                PolicyKind::CapacityProvider,
            ] {
                let _ = sc.with_policy(policy);
            }
        }
        Err(err) => {
            let text = err.to_string();
            let named = match &err {
                ScenarioError::Syntax { file, message } => {
                    file == FILE && !message.trim().is_empty()
                }
                ScenarioError::Invalid {
                    file,
                    field,
                    message,
                    ..
                } => file == FILE && !field.is_empty() && !message.trim().is_empty(),
            };
            prop_assert!(named, "the error does not name the problem: {text}");
        }
    }
    Ok(())
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// The two good task definitions, for the report.
fn good_shapes() -> Vec<TaskShape> {
    TASK_DEFINITIONS[..2]
        .iter()
        .map(|t| parse_task_definition("fixture", t).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// An embedded scenario as JSON (YAML's flow form, which the scenario parser reads too).
fn scenario_json(n: usize) -> Value {
    let (name, text) = scenario::EMBEDDED[n % scenario::EMBEDDED.len()];
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
}

/// `text` cut at `at`, or with one character there replaced by `with`.
fn garble(text: &str, at: Index, with: Option<char>) -> String {
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let Some(&cut) = boundaries.get(at.index(boundaries.len().max(1))) else {
        return String::new();
    };
    match with {
        None => text[..cut].to_owned(),
        Some(c) => {
            let rest = &text[cut..];
            let skip = rest.chars().next().map_or(0, char::len_utf8);
            format!("{}{c}{}", &text[..cut], &rest[skip..])
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics_the_dump_parsers_or_the_report(input in json()) {
        check_dumps(&input.to_string(), &good_shapes())?;
    }

    #[test]
    fn mutated_instance_dumps_never_panic_the_parser_or_the_report(
        n in 0..INSTANCE_DUMPS.len(),
        changes in mutations(),
    ) {
        let mut dump = fixture(INSTANCE_DUMPS[n]);
        mutate(&mut dump, &changes);
        check_dumps(&dump.to_string(), &good_shapes())?;
    }

    #[test]
    fn mutated_task_definitions_never_panic_the_parser_or_the_report(
        n in 0..TASK_DEFINITIONS.len(),
        changes in mutations(),
    ) {
        let mut def = fixture(TASK_DEFINITIONS[n]);
        mutate(&mut def, &changes);
        let text = def.to_string();
        check_dumps(&text, &[])?;
        // With real instances, so a strange shape meets real capacity math.
        let mut dump = InstanceDump::default();
        let _ = parse_instances("fixture", INSTANCE_DUMPS[2], &mut dump);
        if let Ok(shape) = parse_task_definition(FILE, &text)
            && let Ok(worst) = WorstCase::of(std::slice::from_ref(&shape))
            && let Ok(policy) = ScalePolicy::new(1)
        {
            let _ = report::build("fuzz", &dump.instances, &[shape], &worst, &Default::default(), &Default::default(), &[], &policy, &Default::default());
        }
    }

    #[test]
    fn garbled_dump_texts_never_panic_the_parsers(
        n in 0..INSTANCE_DUMPS.len() + TASK_DEFINITIONS.len(),
        at in any::<Index>(),
        with in prop::option::of(any::<char>()),
    ) {
        let text = INSTANCE_DUMPS
            .iter()
            .chain(TASK_DEFINITIONS.iter())
            .nth(n)
            .copied()
            .unwrap_or_default();
        check_dumps(&garble(text, at, with), &good_shapes())?;
    }

    #[test]
    fn arbitrary_json_never_panics_the_scenario_parser(input in json()) {
        check_scenario(&input.to_string())?;
    }

    #[test]
    fn mutated_scenarios_never_panic_the_parser(
        n in 0..scenario::EMBEDDED.len(),
        changes in mutations(),
    ) {
        let mut sc = scenario_json(n);
        mutate(&mut sc, &changes);
        check_scenario(&sc.to_string())?;
    }

    #[test]
    fn garbled_scenario_texts_never_panic_the_parser(
        n in 0..scenario::EMBEDDED.len(),
        at in any::<Index>(),
        with in prop::option::of(any::<char>()),
    ) {
        let (_, text) = scenario::EMBEDDED[n];
        check_scenario(&garble(text, at, with))?;
    }
}

#[test]
fn the_fixtures_and_scenarios_as_json_are_what_the_fuzzing_starts_from() {
    for text in &INSTANCE_DUMPS[..4] {
        let mut dump = InstanceDump::default();
        assert!(parse_instances(FILE, text, &mut dump).is_ok());
    }
    assert_eq!(good_shapes().len(), 2);
    for n in 0..scenario::EMBEDDED.len() {
        let text = scenario_json(n).to_string();
        let parsed = scenario::parse(FILE, &text);
        assert!(parsed.is_ok(), "scenario {n} as JSON: {:?}", parsed.err());
    }
}

#[test]
fn a_retyped_field_is_named_with_its_path() {
    let mut dump = fixture(INSTANCE_DUMPS[0]);
    if let Some(status) = dump.pointer_mut("/containerInstances/0/agentConnected") {
        *status = retype(status);
    }
    let mut out = InstanceDump::default();
    let text = parse_instances(FILE, &dump.to_string(), &mut out)
        .err()
        .map(|e| chain(&e))
        .unwrap_or_default();
    assert!(
        text.starts_with("fuzz.json: at containerInstances[0].agentConnected"),
        "{text}"
    );
}
