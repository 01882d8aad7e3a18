//! The published samples of what `aws ecs describe-container-instances` prints
//! (`../shared/fixtures/real/`, provenance in its SOURCES.md) read through the dump reader —
//! capacity-aws's one model and strict converter — or fail with a message naming the field.
//! Skipped, with a note, where `../shared` is not beside the project; under CI, which has it,
//! its absence fails.

use std::path::PathBuf;

use ecs_capacity::dump::{InputError, InstanceDump, parse_instances};

fn samples(prefix: &str) -> Option<Vec<PathBuf>> {
    moto_harness::real_samples(prefix)
}

#[test]
fn every_published_describe_output_reads_or_names_the_missing_field() {
    let Some(files) = samples("describe-container-instances-") else {
        eprintln!("../shared/fixtures/real not found: skipped");
        return;
    };
    assert!(
        files.len() >= 5,
        "expected the five published samples: {files:?}"
    );
    let mut read = 0;
    for file in &files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).expect("sample readable");
        let mut dump = InstanceDump::default();
        match parse_instances(&name, &text, &mut dump) {
            Ok(()) => {
                assert!(!dump.instances.is_empty(), "{name}: no instance read");
                for ci in &dump.instances {
                    assert!(
                        ci.registered.cpu > 0 && ci.registered.memory_mib > 0,
                        "{name}: {ci:?}"
                    );
                    assert!(ci.remaining.cpu <= ci.registered.cpu, "{name}: {ci:?}");
                }
                read += 1;
            }
            Err(InputError::Instance { file, source }) => {
                // The 2015 preview output predates `agentConnected`: refused, naming it.
                assert_eq!(file, name);
                assert_eq!(
                    source.path(),
                    Some("containerInstances[0].agentConnected"),
                    "{source}"
                );
                assert!(
                    name.contains("2015"),
                    "only the 2015 sample lacks a field: {source}"
                );
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }
    assert_eq!(read, files.len() - 1, "every sample but the 2015 one reads");
}
