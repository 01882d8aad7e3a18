//! Scenario files for `ecs-capacity simulate`: YAML or JSON (JSON is read as YAML), checked
//! field by field. Every error names the line and the field.
//!
//! The format is documented in docs/cli.md; the embedded scenarios are complete examples.
//!
//! `file` is the format as written, `parse` checks it into the `model` the simulator runs,
//! with its `policy` and the `alarm`s each policy gets; `deployed` holds the template's defaults.

mod alarm;
pub mod deployed;
mod file;
mod model;
mod parse;
mod policy;

use thiserror::Error;

pub use alarm::{Action, Alarm, Comparison, Metric, MissingData, Statistic};
pub use model::{
    Asg, Change, ChangeKind, DEFAULT_ZONES, InstanceType, JobRun, LaunchOrderSetting,
    ManagedScaling, PlacementBackoff, Scenario, Service, ServiceKind, Strategy,
};
pub use parse::parse;
pub use policy::{HOSTS_TO_ADD_ALARM_PERIOD, LARGEST_STEP, PolicyKind, Termination};

/// The book's chapter 12 walk-through: one t2.micro, a service going 1 → 2 → 1.
pub const BOOK: &str = include_str!("../../scenarios/book.yaml");
/// A day of diurnal load on mixed instance sizes, with a spike and a rolling deployment.
pub const DIURNAL: &str = include_str!("../../scenarios/diurnal.yaml");
/// Two batch jobs of 160 and 120 tasks arriving at once on an idle two-host cluster.
pub const BATCH: &str = include_str!("../../scenarios/batch.yaml");
/// A 60-task service redeployed to a revision of twice the memory, maximum 200 %.
pub const DEPLOY: &str = include_str!("../../scenarios/deploy.yaml");
/// 16 small services of varied shapes, each with its own daily peak: fragmented hosts.
pub const FRAGMENTED: &str = include_str!("../../scenarios/fragmented.yaml");
/// A production-shaped day: three zones, a daemon, zone-spread services, a one-per-host
/// cache, standalone jobs, hosts outside the group.
pub const PRODUCTION: &str = include_str!("../../scenarios/production.yaml");
/// A group with no instance (MinSize 0): its first service and a nightly job.
pub const FROM_ZERO: &str = include_str!("../../scenarios/from-zero.yaml");

/// The embedded scenarios by name.
pub const EMBEDDED: [(&str, &str); 7] = [
    ("book", BOOK),
    ("diurnal", DIURNAL),
    ("batch", BATCH),
    ("deploy", DEPLOY),
    ("fragmented", FRAGMENTED),
    ("production", PRODUCTION),
    ("from-zero", FROM_ZERO),
];

/// Why a scenario cannot be used.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}{}: {field}: {message}", at_line(*.line))]
    Invalid {
        file: String,
        line: u64,
        field: String,
        message: String,
    },
}

fn at_line(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// Loads a scenario: the name of an embedded one, or a file path.
pub fn load(name_or_path: &str) -> Result<Scenario, LoadError> {
    if let Some((name, text)) = EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(parse(&format!("<embedded {name}>"), text)?);
    }
    let text = std::fs::read_to_string(name_or_path).map_err(|source| LoadError::Read {
        file: name_or_path.to_owned(),
        source,
    })?;
    Ok(parse(name_or_path, &text)?)
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(
        "cannot read scenario {file} (embedded scenarios: book, diurnal, batch, deploy, fragmented, production)"
    )]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}
