//! The task the headroom (and every figure in worst-case tasks) is counted in: by default the
//! cluster's worst case, or a smaller shape the team names ([`HeadroomTask`]).
//!
//! The trade-off: counted in the worst case, the headroom always holds one more of the
//! largest task; a cluster whose worst case is a rare large job then keeps a large job's room
//! free all day. Counted in a service's task, the headroom holds one more of that task and
//! the rare large one, when it comes, waits for a host (HostsToAdd packs it by its own shape
//! on a placement failure). `docs/fitting-hosts.md` has the simulator's figures.

use std::fmt;

use crate::{TaskShape, WorstCase};

/// What the headroom is counted in (`HEADROOM_TASK`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HeadroomTask {
    /// The cluster's worst case (the per-resource maximum of its tasks): the default.
    #[default]
    WorstCase,
    /// The current task of this service (`service:NAME`).
    Service(String),
    /// A shape by CPU units and MiB (`CPU/MEMORY`, e.g. `512/1024`).
    Shape { cpu: u32, memory_mib: u32 },
}

impl HeadroomTask {
    /// `worst-case` (or empty), `service:NAME`, or `CPU/MEMORY` in CPU units and MiB (each
    /// 1–196 608 and 1–6 291 456, ECS's task limits).
    pub fn parse(value: &str) -> Result<HeadroomTask, String> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("worst-case") {
            return Ok(HeadroomTask::WorstCase);
        }
        if let Some(name) = value.strip_prefix("service:") {
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("{value:?}: service:NAME needs a service name"));
            }
            return Ok(HeadroomTask::Service(name.to_owned()));
        }
        let Some((cpu, memory)) = value.split_once('/') else {
            return Err(format!(
                "{value:?}: expected worst-case, service:NAME or CPU/MEMORY (e.g. 512/1024)"
            ));
        };
        let number = |what: &str, text: &str, max: u32| -> Result<u32, String> {
            match text.trim().parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{value:?}: {what} must be a whole number from 1 to {max}"
                )),
            }
        };
        Ok(HeadroomTask::Shape {
            cpu: number("CPU units", cpu, 196_608)?,
            memory_mib: number("MiB", memory, 6_291_456)?,
        })
    }

    /// The unit the run counts in: `discovered` (the worst case) by default, the named
    /// service's task (`service_shape` finds it among the reading's tasks), or the shape. A
    /// service whose task the reading does not show is why the worst case is kept (`Err`
    /// carries the worst case and the reason, to log).
    pub fn unit(
        &self,
        discovered: &WorstCase,
        service_shape: impl FnOnce(&str) -> Option<TaskShape>,
    ) -> Result<WorstCase, (WorstCase, String)> {
        let keep = |why: String| (discovered.clone(), why);
        match self {
            HeadroomTask::WorstCase => Ok(discovered.clone()),
            HeadroomTask::Service(name) => {
                let shape = service_shape(name).ok_or_else(|| {
                    keep(format!(
                        "no task of service {name} in the reading: the headroom is counted in the worst case"
                    ))
                })?;
                WorstCase::of([&shape]).map_err(|e| keep(e.to_string()))
            }
            HeadroomTask::Shape { cpu, memory_mib } => {
                WorstCase::cpu_memory(*cpu, *memory_mib).map_err(|e| keep(e.to_string()))
            }
        }
    }
}

impl fmt::Display for HeadroomTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadroomTask::WorstCase => f.write_str("worst-case"),
            HeadroomTask::Service(name) => write!(f, "service:{name}"),
            HeadroomTask::Shape { cpu, memory_mib } => write!(f, "{cpu}/{memory_mib}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form_and_names_a_bad_value() {
        assert_eq!(HeadroomTask::parse(""), Ok(HeadroomTask::WorstCase));
        assert_eq!(
            HeadroomTask::parse("Worst-Case"),
            Ok(HeadroomTask::WorstCase)
        );
        assert_eq!(
            HeadroomTask::parse("service:web"),
            Ok(HeadroomTask::Service("web".into()))
        );
        assert_eq!(
            HeadroomTask::parse(" 512/1024 "),
            Ok(HeadroomTask::Shape {
                cpu: 512,
                memory_mib: 1024
            })
        );
        for bad in ["service:", "512", "0/1024", "512/x", "web"] {
            let err = HeadroomTask::parse(bad).expect_err(bad);
            assert!(err.contains(bad.trim()), "{err}");
        }
        assert_eq!(
            HeadroomTask::parse("service:api").map(|h| h.to_string()),
            Ok("service:api".into())
        );
    }

    #[test]
    fn the_unit_is_the_services_task_or_the_shape_and_a_missing_service_keeps_the_worst_case() {
        let worst = WorstCase::cpu_memory(4096, 8192).unwrap();
        let web = TaskShape::new("web:3", 512, 1024);
        let by_service = HeadroomTask::Service("web".into());
        assert_eq!(
            by_service.unit(&worst, |_| Some(web.clone())),
            Ok(WorstCase::of([&web]).unwrap())
        );
        let (kept, why) = by_service.unit(&worst, |_| None).unwrap_err();
        assert_eq!(kept, worst);
        assert!(why.contains("service web"), "{why}");
        let shape = HeadroomTask::Shape {
            cpu: 256,
            memory_mib: 512,
        };
        assert_eq!(
            shape.unit(&worst, |_| None),
            Ok(WorstCase::cpu_memory(256, 512).unwrap())
        );
        assert_eq!(HeadroomTask::WorstCase.unit(&worst, |_| None), Ok(worst));
    }
}
