//! The services section, checked: each service, its task definition and its changes (steps,
//! ramps, deployments to a new revision), every task shape fitting an instance type.

use capacity_core::TaskShape;
use serde_saphyr::Spanned;

use super::{Checker, line};
use crate::scenario::ScenarioError;
use crate::scenario::file::{ChangeFile, JobFile, ServiceFile, TaskFile};
use crate::scenario::model::{Change, ChangeKind, InstanceType, JobRun, Service, ServiceKind};

pub(super) fn services(
    c: &Checker,
    raw: &Spanned<Vec<Spanned<ServiceFile>>>,
    instance_types: &[InstanceType],
    duration: u64,
) -> Result<Vec<Service>, ScenarioError> {
    if raw.value.is_empty() {
        return Err(c.err(line(raw), "services", "needs at least one service"));
    }
    let mut services = Vec::new();
    for (i, s) in raw.value.iter().enumerate() {
        let base = format!("services[{i}]");
        if services.iter().any(|o: &Service| o.name == s.value.name) {
            return Err(c.err(
                line(s),
                format!("{base}.name"),
                format!("service {:?} is defined twice", s.value.name),
            ));
        }
        services.push(service(c, s, &base, instance_types, duration)?);
    }
    Ok(services)
}

/// One service; `base` is its field (`services[i]`).
fn service(
    c: &Checker,
    raw: &Spanned<ServiceFile>,
    base: &str,
    instance_types: &[InstanceType],
    duration: u64,
) -> Result<Service, ScenarioError> {
    let svc_line = line(raw);
    let s = &raw.value;
    let shape = task_shape(
        c,
        instance_types,
        line(&s.task),
        &format!("{base}.task"),
        &s.name,
        1,
        &s.task.value,
    )?;
    if s.maximum_percent < 100 || s.maximum_percent > 400 {
        return Err(c.err(
            svc_line,
            format!("{base}.maximum_percent"),
            "must be between 100 and 400",
        ));
    }
    if s.minimum_healthy_percent > 100 {
        return Err(c.err(
            svc_line,
            format!("{base}.minimum_healthy_percent"),
            "must be between 0 and 100",
        ));
    }
    let mut changes = Vec::new();
    // Revision 1 is the service's task; each deployment makes the next one.
    let mut revision = 1;
    let mut last_at = 0;
    for (j, ch) in s.changes.iter().enumerate() {
        let field = format!("{base}.changes[{j}]");
        let at = ch.value.at;
        if at.0 > duration {
            return Err(c.err(
                line(ch),
                format!("{field}.at"),
                format!("{at} is after the end of the scenario"),
            ));
        }
        if at.0 < last_at {
            return Err(c.err(
                line(ch),
                format!("{field}.at"),
                "changes must be in time order",
            ));
        }
        last_at = at.0;
        let kind = change(
            c,
            ch,
            &field,
            instance_types,
            duration,
            &s.name,
            revision + 1,
        )?;
        match kind {
            // The next change comes after the ramp.
            ChangeKind::Ramp { until, .. } => last_at = until,
            ChangeKind::Deploy(_) => revision += 1,
            ChangeKind::Step(_) => {}
        }
        changes.push(Change { at: at.0, kind });
    }
    if s.daemon && (s.desired != 0 || s.spread_by_zone || s.distinct_instance) {
        return Err(c.err(
            svc_line,
            format!("{base}.daemon"),
            "a DAEMON service runs one task on every instance: it takes no desired count, spread or distinct_instance",
        ));
    }
    Ok(Service {
        name: s.name.clone(),
        shape,
        desired: s.desired,
        minimum_healthy_percent: s.minimum_healthy_percent,
        maximum_percent: s.maximum_percent,
        changes,
        kind: if s.daemon {
            ServiceKind::Daemon
        } else {
            ServiceKind::Replica
        },
        spread_by_zone: s.spread_by_zone,
        distinct_instance: s.distinct_instance,
    })
}

/// The standalone jobs, after the services (`services` holds them: no name twice).
pub(super) fn jobs(
    c: &Checker,
    raw: &[Spanned<JobFile>],
    instance_types: &[InstanceType],
    duration: u64,
    services: &[Service],
) -> Result<Vec<Service>, ScenarioError> {
    let mut out: Vec<Service> = Vec::new();
    for (i, j) in raw.iter().enumerate() {
        let base = format!("jobs[{i}]");
        let job = &j.value;
        if services.iter().chain(&out).any(|s| s.name == job.name) {
            return Err(c.err(
                line(j),
                format!("{base}.name"),
                format!("{:?} is already a service or job", job.name),
            ));
        }
        let shape = task_shape(
            c,
            instance_types,
            line(&job.task),
            &format!("{base}.task"),
            &job.name,
            1,
            &job.task.value,
        )?;
        if job.runs.is_empty() {
            return Err(c.err(line(j), format!("{base}.runs"), "needs at least one run"));
        }
        let mut runs = Vec::new();
        for (k, r) in job.runs.iter().enumerate() {
            let field = format!("{base}.runs[{k}]");
            if r.value.at.0 > duration {
                return Err(c.err(
                    line(r),
                    format!("{field}.at"),
                    format!("{} is after the end of the scenario", r.value.at),
                ));
            }
            if r.value.count == 0 || r.value.duration.0 == 0 {
                return Err(c.err(line(r), field, "a run needs a count and a duration above 0"));
            }
            runs.push(JobRun {
                at: r.value.at.0,
                count: r.value.count,
                duration: r.value.duration.0,
            });
        }
        out.push(Service {
            name: job.name.clone(),
            shape,
            desired: 0,
            minimum_healthy_percent: 0,
            maximum_percent: 100,
            changes: Vec::new(),
            kind: ServiceKind::Job(runs),
            spread_by_zone: false,
            distinct_instance: false,
        });
    }
    Ok(out)
}

/// What one change does; a deployment makes revision `next_revision` of `service`.
fn change(
    c: &Checker,
    raw: &Spanned<ChangeFile>,
    field: &str,
    instance_types: &[InstanceType],
    duration: u64,
    service: &str,
    next_revision: u32,
) -> Result<ChangeKind, ScenarioError> {
    let ch_line = line(raw);
    let ch = &raw.value;
    Ok(match (ch.desired, ch.ramp_to, &ch.deploy) {
        (Some(d), None, None) => {
            if ch.until.is_some() {
                return Err(c.err(
                    ch_line,
                    format!("{field}.until"),
                    "only a ramp (ramp_to) has an end",
                ));
            }
            ChangeKind::Step(d)
        }
        (None, Some(to), None) => {
            let until = ch.until.ok_or_else(|| {
                c.err(
                    ch_line,
                    format!("{field}.until"),
                    "a ramp needs the time it ends",
                )
            })?;
            if until.0 <= ch.at.0 || until.0 > duration {
                return Err(c.err(
                    ch_line,
                    format!("{field}.until"),
                    "must be after `at` and within the scenario",
                ));
            }
            ChangeKind::Ramp { to, until: until.0 }
        }
        (None, None, Some(task)) => ChangeKind::Deploy(task_shape(
            c,
            instance_types,
            line(task),
            &format!("{field}.deploy"),
            service,
            next_revision,
            &task.value,
        )?),
        _ => {
            return Err(c.err(
                ch_line,
                field,
                "needs exactly one of desired, ramp_to (with until) or deploy",
            ));
        }
    })
}

fn task_shape(
    c: &Checker,
    types: &[InstanceType],
    line: u64,
    field: &str,
    service: &str,
    revision: u32,
    t: &TaskFile,
) -> Result<TaskShape, ScenarioError> {
    let fits = |ty: &InstanceType| {
        ty.cpu >= t.cpu
            && ty.memory_mib >= t.memory
            && ty.gpus >= t.gpus
            && (!t.awsvpc || ty.max_enis.is_none_or(|m| m >= 2))
    };
    if !types.iter().any(fits) {
        return Err(c.err(
            line,
            field,
            format!(
                "{} CPU units / {} MiB / {} GPU(s){} fits on no instance type of the scenario",
                t.cpu,
                t.memory,
                t.gpus,
                if t.awsvpc { " / 1 ENI" } else { "" }
            ),
        ));
    }
    if t.cpu == 0 && t.memory == 0 {
        return Err(c.err(
            line,
            field,
            "a task must reserve CPU units or memory (cpu, memory)",
        ));
    }
    if let Some(p) = t.ports.iter().chain(&t.udp_ports).find(|p| **p == 0) {
        return Err(c.err(
            line,
            format!("{field}.ports"),
            format!("{p} is not a static host port (leave dynamic ports out)"),
        ));
    }
    if t.awsvpc && !(t.ports.is_empty() && t.udp_ports.is_empty()) {
        return Err(c.err(
            line,
            format!("{field}.ports"),
            "awsvpc tasks take an ENI, not host ports",
        ));
    }
    let mut shape = TaskShape::new(format!("{service}:{revision}"), t.cpu, t.memory);
    shape.gpus = t.gpus;
    shape.ports_tcp.extend(t.ports.iter().copied());
    shape.ports_udp.extend(t.udp_ports.iter().copied());
    shape.awsvpc = t.awsvpc;
    Ok(shape)
}
