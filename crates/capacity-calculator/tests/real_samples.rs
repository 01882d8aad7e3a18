//! The published "ECS Container Instance State Change" samples (`../shared/fixtures/real/`,
//! provenance in its SOURCES.md) parse, round-trip, and carry the instance's full figures
//! through capacity-aws's one strict converter; the published describe outputs pass the check
//! the SDK path makes of the JSON ECS sends (`capacity_aws::wire`). Skipped, with a note, where
//! `../shared` is not beside the project; under CI, which has it, its absence fails.

use capacity_calculator::event::parse;

#[test]
fn every_published_state_change_parses_and_carries_its_instance() {
    let Some(files) = moto_harness::real_samples("ecs-state-change-") else {
        return;
    };
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let name = file.display();
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("readable")).expect("json");
        let parsed = parse(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&parsed.event).expect("serializes"),
            raw,
            "{name}: round trip"
        );
        let ci = parsed
            .container_instance()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            ci.registered.cpu > 0 && ci.remaining.cpu <= ci.registered.cpu,
            "{name}"
        );
        assert!(!parsed.cluster.name().is_empty());
    }
}

#[test]
fn every_published_describe_output_passes_the_wire_check_or_names_what_is_missing() {
    let Some(files) = moto_harness::real_samples("describe-container-instances-") else {
        return;
    };
    assert!(files.len() >= 5, "{files:?}");
    let mut passed = 0;
    for file in &files {
        let name = file.display().to_string();
        let body = std::fs::read(file).expect("readable");
        match capacity_aws::wire::check_described_instances(&body) {
            Ok(()) => passed += 1,
            // The 2015 preview lacks agentConnected; ECS's answer today always has it.
            Err(e) => {
                assert!(name.contains("2015-preview"), "{name}: {e}");
                assert_eq!(
                    e.path(),
                    Some("containerInstances[0].agentConnected"),
                    "{name}"
                );
            }
        }
    }
    assert_eq!(passed, files.len() - 1, "all but the 2015 preview pass");
}
