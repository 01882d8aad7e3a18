//! `ecs-capacity report`: the cluster in worst-case tasks, per instance and in total.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use capacity_aws::TaskPlacement;
use std::collections::BTreeMap;

use capacity_core::fit::{GroupLaunch, InstanceTypeInfo, Recommendation, TypeFit, fit, recommend};
use capacity_core::placement::ServicePlacement;
use capacity_core::run::{
    Consolidation, PlanMemory, RunInput, Settings, Trigger, decide, tasks_to_fit,
};
use capacity_core::{
    Assessment, CapacityError, ClusterCapacity, ContainerInstance, Demand, Resource, ScaleInPlan,
    ScalePolicy, TaskShape, WorstCase, cluster_capacity,
};
use serde::Serialize;

/// Everything the report shows, ready for text or JSON: the cluster's
/// [`Assessment`] as capacity-core computed it (flattened into the JSON), and the per-instance
/// rows and totals that explain it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cluster: String,
    pub worst_case: WorstCase,
    /// The shapes the worst case was taken from (`family:revision` names).
    pub task_shapes: Vec<TaskShape>,
    pub instances: Vec<InstanceRow>,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The book's min-over-resources-of-sums figure, for comparison.
    pub book_capacity: u64,
    /// The consolidation plan of the same reading, without a stability window (a report is
    /// one reading): which hosts could go, why each, why the others stay. A host whose tasks
    /// the reading cannot vouch for (an offline dump names no task) is never planned.
    pub scale_in_plan: ScaleInPlan,
    pub per_resource: Vec<ResourceTotal>,
    /// Today's tasks on each instance type asked about (`--auto-scaling-group`,
    /// `--instance-types`), and the launch order that needs the fewest vCPUs or costs least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitReport>,
}

/// The instance types to fit today's tasks on: the group's (which also size new hosts) and
/// others to compare, with a price per type per hour when given.
#[derive(Debug, Clone, Default)]
pub struct TypeChoice {
    /// The group's types, as read (`--auto-scaling-group`).
    pub launch: Option<GroupLaunch>,
    /// Every type to compare, the group's first, in order.
    pub candidates: Vec<InstanceTypeInfo>,
    /// USD per instance-hour, per type.
    pub prices: Option<BTreeMap<String, f64>>,
}

/// Today's tasks (running and waiting) packed on each type ([`capacity_core::fit`]).
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    pub types: Vec<TypeFit>,
    pub recommendation: Recommendation,
    /// One sentence: what to launch first, and what it saves.
    pub advice: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceRow {
    pub id: String,
    pub ec2_instance_id: Option<String>,
    pub instance_type: Option<String>,
    pub status: String,
    pub agent_connected: bool,
    pub remaining_cpu: u32,
    pub remaining_memory_mib: u32,
    /// The worst case's static ports that are taken on this instance.
    pub worst_case_ports_taken: Vec<String>,
    pub remaining_gpus: u32,
    pub slots: u32,
    pub slots_when_empty: u32,
    /// The resource that binds, or why the instance counts nothing.
    pub binding: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceTotal {
    pub resource: &'static str,
    pub slots: u64,
}

/// A shape named `family:revision`: shapes read from a live cluster are named by ARN, and
/// the short name says it all.
fn short_named(shape: &TaskShape) -> TaskShape {
    let name = shape
        .name
        .rsplit_once(":task-definition/")
        .map_or(shape.name.as_str(), |(_, short)| short);
    TaskShape {
        name: name.to_owned(),
        ..shape.clone()
    }
}

fn ports_taken(instance: &ContainerInstance, worst: &WorstCase) -> Vec<String> {
    let tcp = worst
        .ports_tcp
        .intersection(&instance.remaining.ports_tcp)
        .map(|p| p.to_string());
    let udp = worst
        .ports_udp
        .intersection(&instance.remaining.ports_udp)
        .map(|p| format!("{p}/udp"));
    tcp.chain(udp).collect()
}

/// Computes the report with capacity-core: the per-instance rows, and the calculator's own
/// decision for the same reading ([`capacity_core::run::decide`], observing, with no group
/// and no stability window): the one assessment it publishes (with `demand`: what waits for
/// room, from the services) and its consolidation plan from `placement` (which tasks run
/// where; [`TaskPlacement::default`] when unknown) and the services' placement `rules`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    cluster: &str,
    instances: &[ContainerInstance],
    shapes: &[TaskShape],
    worst: &WorstCase,
    demand: &Demand,
    placement: &TaskPlacement,
    rules: &[ServicePlacement],
    policy: &ScalePolicy,
    types: &TypeChoice,
) -> Result<Report, CapacityError> {
    let cap: ClusterCapacity = cluster_capacity(instances, worst)?;
    let rows = instances
        .iter()
        .zip(cap.instances())
        .map(|(inst, slots)| InstanceRow {
            id: inst.id.clone(),
            ec2_instance_id: inst.ec2_instance_id.clone(),
            instance_type: inst.instance_type.clone(),
            status: inst.status.to_string(),
            agent_connected: inst.agent_connected,
            remaining_cpu: inst.remaining.cpu,
            remaining_memory_mib: inst.remaining.memory_mib,
            worst_case_ports_taken: ports_taken(inst, worst),
            remaining_gpus: inst.remaining.gpus,
            slots: slots.slots,
            slots_when_empty: slots.slots_when_empty,
            binding: match (&slots.exclusion, slots.binding) {
                (Some(why), _) => format!("excluded: {why}"),
                (None, Some(r)) => r.to_string(),
                (None, None) => "-".to_owned(),
            },
        })
        .collect();
    let per_resource = Resource::ALL
        .into_iter()
        .filter_map(|r| {
            cap.per_resource().get(r).map(|slots| ResourceTotal {
                resource: r.as_str(),
                slots,
            })
        })
        .collect();
    let settings = Settings {
        consolidation: Consolidation::Observe,
        policy: *policy,
        stability_window: std::time::Duration::ZERO,
        ..Settings::default()
    };
    let tags = Default::default();
    let decision = decide(&RunInput {
        instances,
        worst_case: worst,
        demand,
        placement,
        services: rules,
        group: Err("the report reads no Auto Scaling group"),
        launch: types.launch.as_ref(),
        provider: None,
        memory: &PlanMemory::default(),
        cluster_tags: Ok(&tags),
        settings: &settings,
        trigger: Trigger::Schedule,
        now_unix_secs: 0,
    })?;
    Ok(Report {
        cluster: cluster.to_owned(),
        worst_case: worst.clone(),
        task_shapes: shapes.iter().map(short_named).collect(),
        instances: rows,
        // The same assessment and plan the calculator computes.
        assessment: decision.assessment,
        book_capacity: cap.book_capacity(),
        scale_in_plan: decision.plan,
        per_resource,
        fit: fit_report(instances, worst, demand, placement, types),
    })
}

/// Today's tasks on each candidate type, when there are candidates and the tasks were listed.
fn fit_report(
    instances: &[ContainerInstance],
    worst: &WorstCase,
    demand: &Demand,
    placement: &TaskPlacement,
    types: &TypeChoice,
) -> Option<FitReport> {
    if types.candidates.is_empty() {
        return None;
    }
    let tasks = tasks_to_fit(placement, demand)?;
    let fits: Vec<TypeFit> = types
        .candidates
        .iter()
        .map(|t| fit(&tasks, &demand.daemons, &t.host(instances), worst))
        .collect();
    let recommendation = recommend(&fits, types.prices.as_ref());
    let current = types
        .launch
        .as_ref()
        .and_then(|l| l.types.first())
        .map(|t| t.info.name.as_str());
    Some(FitReport {
        advice: recommendation.advice(&fits, current),
        types: fits,
        recommendation,
    })
}

fn describe_shape(
    cpu: u32,
    memory: u32,
    tcp: &BTreeSet<u16>,
    udp: &BTreeSet<u16>,
    gpus: u32,
    awsvpc: bool,
) -> String {
    let mut s = format!("{cpu} CPU units, {memory} MiB");
    if !tcp.is_empty() {
        let ports: Vec<String> = tcp.iter().map(u16::to_string).collect();
        let _ = write!(s, ", static TCP port(s) {}", ports.join(" "));
    }
    if !udp.is_empty() {
        let ports: Vec<String> = udp.iter().map(u16::to_string).collect();
        let _ = write!(s, ", static UDP port(s) {}", ports.join(" "));
    }
    if gpus > 0 {
        let _ = write!(s, ", {gpus} GPU(s)");
    }
    if awsvpc {
        s.push_str(", awsvpc (1 ENI)");
    }
    s
}

/// Renders a table of rows; the first row is the header. Columns are left-aligned except
/// those listed in `right`.
pub fn table(rows: &[Vec<String>], right: &[usize]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let w = widths.get(c).copied().unwrap_or(0);
            if c > 0 {
                line.push_str("  ");
            }
            if right.contains(&c) {
                let _ = write!(line, "{cell:>w$}");
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl Report {
    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let w = &self.worst_case;
        let mut out = String::new();
        let _ = writeln!(out, "Cluster: {}", self.cluster);
        let _ = writeln!(
            out,
            "Worst-case task: {}",
            describe_shape(
                w.cpu,
                w.memory_mib,
                &w.ports_tcp,
                &w.ports_udp,
                w.gpus,
                w.awsvpc
            )
        );
        for s in &self.task_shapes {
            let _ = writeln!(
                out,
                "  from {}: {}",
                s.name,
                describe_shape(
                    s.cpu,
                    s.memory_mib,
                    &s.ports_tcp,
                    &s.ports_udp,
                    s.gpus,
                    s.awsvpc
                )
            );
        }
        out.push('\n');
        let mut rows = vec![
            [
                "INSTANCE",
                "EC2 ID",
                "TYPE",
                "STATUS",
                "CPU LEFT",
                "MEM LEFT",
                "PORTS TAKEN",
                "GPUS",
                "SLOTS",
                "WHEN EMPTY",
                "BINDS",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for r in &self.instances {
            rows.push(vec![
                r.id.clone(),
                r.ec2_instance_id.clone().unwrap_or_else(|| "-".to_owned()),
                r.instance_type.clone().unwrap_or_else(|| "-".to_owned()),
                if r.agent_connected {
                    r.status.clone()
                } else {
                    format!("{} (agent off)", r.status)
                },
                r.remaining_cpu.to_string(),
                r.remaining_memory_mib.to_string(),
                if r.worst_case_ports_taken.is_empty() {
                    "-".to_owned()
                } else {
                    r.worst_case_ports_taken.join(",")
                },
                r.remaining_gpus.to_string(),
                r.slots.to_string(),
                r.slots_when_empty.to_string(),
                r.binding.clone(),
            ]);
        }
        out.push_str(&table(&rows, &[4, 5, 7, 8, 9]));
        out.push('\n');
        let _ = writeln!(
            out,
            "ContainerCapacity: {} worst-case task(s) on {} counted instance(s) (book formula, min of per-resource sums: {})",
            self.assessment.container_capacity,
            self.assessment.counted_instances,
            self.book_capacity
        );
        let per: Vec<String> = self
            .per_resource
            .iter()
            .map(|r| format!("{} {}", r.resource, r.slots))
            .collect();
        let _ = writeln!(out, "Per resource: {}", per.join(", "));
        let _ = writeln!(
            out,
            "IdleHostCapacity: {:.2} (largest host holds {} worst-case task(s) when empty)",
            self.assessment.idle_host_capacity, self.assessment.largest_host_slots
        );
        let _ = writeln!(
            out,
            "Decision (headroom {}): {}: {}",
            self.assessment.headroom, self.assessment.decision, self.assessment.explanation
        );
        let _ = write!(out, "Consolidation plan: {}", self.scale_in_plan);
        if let Some(fit) = &self.fit {
            out.push_str(&fit.to_text());
        }
        out
    }
}

impl FitReport {
    /// The table per type, best first, and the advice.
    pub fn to_text(&self) -> String {
        let mut rows = vec![
            [
                "instance type",
                "hosts",
                "vCPUs",
                "stranded vCPUs",
                "stranded GiB",
                "tasks that fit on none",
                "cost per hour",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for name in &self.recommendation.order {
            let Some(f) = self.types.iter().find(|f| &f.instance_type == name) else {
                continue;
            };
            rows.push(vec![
                f.instance_type.clone(),
                f.hosts.to_string(),
                f.vcpus.to_string(),
                format!("{:.1}", f.stranded_vcpu),
                format!("{:.1}", f.stranded_memory_gib),
                f.unplaceable.to_string(),
                self.recommendation
                    .hourly_cost
                    .get(name)
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            ]);
        }
        format!(
            "\nToday's tasks on each instance type (first-fit decreasing, each host running the daemons), best first:\n{}{}\n",
            table(&rows, &[1, 2, 3, 4, 5, 6]),
            self.advice
        )
    }
}
