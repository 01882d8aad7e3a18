//! The published "ECS Container Instance State Change" samples (`../shared/fixtures/real/`,
//! provenance in its SOURCES.md) parse, round-trip, and carry the instance's full figures
//! through capacity-aws's one strict converter. Skipped, with a note, where `../shared` is
//! not beside the project (CI has it).

use std::path::PathBuf;

use capacity_calculator::event::parse;

#[test]
fn every_published_state_change_parses_and_carries_its_instance() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/fixtures/real not found: skipped");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ecs-state-change-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
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
