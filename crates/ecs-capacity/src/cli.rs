//! The command line of `ecs-capacity`: clap's derive structs, the subcommands and their flags.
//!
//! In the library so that a test can ask clap itself which flags each subcommand has (the docs
//! check in tests/contract); `main.rs` parses them and runs the commands.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Capacity of an ECS cluster on EC2 in worst-case tasks: report on a cluster now, or
/// simulate how its alarms and scaling policies behave under a load.
#[derive(Parser)]
#[command(name = "ecs-capacity", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Per-instance slots, ContainerCapacity, IdleHostCapacity and the scale decision, from a
    /// live cluster (--cluster) or from `aws ecs` JSON dumps (--instances)
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Simulate the scaling loop (Auto Scaling group, ECS scheduler, services, CloudWatch
    /// alarms, scaling policies, lifecycle-hook drains) on a scenario
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
}

const REPORT_EXAMPLES: &str = "\
Examples:
  aws ecs describe-container-instances --cluster prod --container-instances ... > ci.json
  aws ecs describe-task-definition --task-definition web:42 > web.json
  ecs-capacity report --instances ci.json --task-definitions web.json
  ecs-capacity report --instances ci.json --task-cpu 250 --task-memory 400 --port 80
  ecs-capacity report --cluster prod --format json";

const SIMULATE_EXAMPLES: &str = "\
Examples:
  ecs-capacity simulate                      # the book's walk-through (embedded: book)
  ecs-capacity simulate diurnal --compare --chart out/day.svg
  ecs-capacity simulate batch --compare      # a batch fleet arriving at once
  ecs-capacity simulate batch --sweep --chart out/frontier.svg   # compare at equal cost
  ecs-capacity simulate deploy --sensitivity # ECS's back-off and our reaction delay
  ecs-capacity simulate fragmented --compare --with-consolidation --what-if recommended-types
  ecs-capacity simulate diurnal --compare --backoff none --reaction-delay 0s
  ecs-capacity simulate my-scenario.yaml --policy hosts-to-add --seed 3
  ecs-capacity simulate diurnal --policy hosts-to-add --termination default
  ecs-capacity simulate diurnal --print-scenario > my-scenario.yaml";

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["cluster", "instances"])))]
pub struct ReportArgs {
    /// Read this live cluster (name or ARN), read-only, with the standard AWS configuration
    /// (profile, region, AWS_ENDPOINT_URL); the worst case is discovered as the calculator
    /// does unless given by --task-definitions or the --task-* flags
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "instances",
        required_unless_present = "instances"
    )]
    pub cluster: Option<String>,
    /// JSON printed by `aws ecs describe-container-instances`; several files are merged;
    /// `-` reads standard input
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub instances: Vec<String>,
    /// JSON printed by `aws ecs describe-task-definition`, one file per task definition the
    /// cluster must be able to place
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub task_definitions: Vec<String>,
    /// A task shape by flags: CPU units it reserves (1024 = 1 vCPU)
    #[arg(long, value_name = "UNITS")]
    pub task_cpu: Option<u32>,
    /// A task shape by flags: MiB it reserves
    #[arg(long, value_name = "MIB")]
    pub task_memory: Option<u32>,
    /// A static TCP host port of that task (repeatable)
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// A static UDP host port of that task (repeatable)
    #[arg(long = "udp-port", value_name = "PORT")]
    pub udp_ports: Vec<u16>,
    /// The task uses awsvpc networking (one ENI per task)
    #[arg(long)]
    pub awsvpc: bool,
    /// GPUs the task needs
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub gpus: u32,
    /// Worst-case tasks that must always fit (the scale-out threshold)
    #[arg(long, value_name = "TASKS", default_value_t = 1)]
    pub headroom: u32,
    /// With --cluster: the cluster's Auto Scaling group: new hosts are sized on the type it
    /// launches (as the calculator does), and today's tasks are fitted on each of its types
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub auto_scaling_group: Option<String>,
    /// With --cluster: instance types to fit today's tasks on too (ones the group does not
    /// have yet), comma-separated, e.g. m5.xlarge,r5.large,c6i.2xlarge
    #[arg(
        long,
        value_name = "TYPES",
        value_delimiter = ',',
        requires = "cluster"
    )]
    pub instance_types: Vec<String>,
    /// Order the types by cost instead of vCPUs: USD per instance-hour as TYPE=PRICE pairs
    /// (m5.xlarge=0.192,c5.xlarge=0.17) or a JSON file of {"TYPE": PRICE}; every type
    /// compared needs a price
    #[arg(long, value_name = "PRICES|FILE", requires = "cluster")]
    pub prices: Option<String>,
    /// Output format: text for people, json for machines
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// An embedded scenario (book, diurnal, batch, deploy, fragmented, production) or a YAML or JSON
    /// scenario file
    #[arg(default_value = "book", value_name = "SCENARIO")]
    pub scenario: String,
    /// Run the scenario with the book's ±1 policy, ECS capacity providers' managed scaling
    /// and hosts-to-add, side by side
    #[arg(long, conflicts_with_all = ["policy", "sweep", "sensitivity"])]
    pub compare: bool,
    /// With --compare: add the template's two other modes, capacity-provider+consolidation
    /// (ScalingMode=capacity-provider, issue #20) and hosts-to-add-minus-one
    /// (ScaleInAdjustment=MinusOne, the book's scale-in); with --sweep: add the first at
    /// target 100 and the second at headroom 1, 2, 4, 8, 16 (in the table; the chart draws
    /// the three default policies only)
    #[arg(long)]
    pub with_consolidation: bool,
    /// Compare at equal cost: capacity-provider at target capacity 100, 90, 80, 70, 60,
    /// hosts-to-add at headroom 1, 2, 4, 8, 16, the book at its headroom, and the ideal
    /// (perfect packing, no boot time); with --chart, the frontier (vCPU-hours across,
    /// task-minutes pending up)
    #[arg(long, conflicts_with_all = ["policy", "sensitivity", "termination"])]
    pub sweep: bool,
    /// capacity-provider against hosts-to-add with ECS's placement back-off at none, default
    /// and slowest, and hosts-to-add at a reaction delay of 0s, 20s and 60s
    #[arg(long, conflicts_with_all = ["policy", "chart", "termination"])]
    pub sensitivity: bool,
    /// Override ECS's placement back-off for services without a capacity provider
    /// (ecs.placement_backoff)
    #[arg(long, value_enum, value_name = "BACKOFF")]
    pub backoff: Option<BackoffArg>,
    /// Override the delay from the calculator's trigger to its datapoint reaching the alarm
    /// (calculator.reaction_delay; a multiple of the step, e.g. 0s, 20s, 1m)
    #[arg(long, value_name = "DURATION")]
    pub reaction_delay: Option<String>,
    /// Cap the hosts one step of the hosts-to-add policy adds (the template's table goes to
    /// 80), to measure what its large steps buy
    #[arg(long, value_name = "HOSTS", value_parser = clap::value_parser!(u32).range(1..=80))]
    pub largest_step: Option<u32>,
    /// Override the scenario's scaling policy
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    /// Override how the group picks instances on scale-in (asg.termination); the
    /// capacity-provider policy always uses managed termination protection
    #[arg(long, value_enum)]
    pub termination: Option<TerminationArg>,
    /// Override the scenario's seed (which instance a scale-in terminates)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rerun the scenario with a change the project recommends or a setting it replaced
    /// (repeatable): recommended-types (the group launches the types in the order the fit
    /// recommends for the day's tasks, prioritized), worst-case-margin (the consolidation
    /// plan keeps room for one more worst-case task, as before, instead of the largest task
    /// that moves)
    #[arg(long, value_enum, value_name = "CHANGE")]
    pub what_if: Vec<WhatIfArg>,
    /// Override what the headroom is counted in (scaling.headroom_task, the calculator's
    /// HEADROOM_TASK): worst-case, service:NAME or CPU/MEMORY
    #[arg(long, value_name = "TASK")]
    pub headroom_task: Option<String>,
    /// Write a chart of the run(s) to this SVG file
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// Print the timeline of events also with --compare (a single run prints it anyway)
    #[arg(long, conflicts_with = "no_timeline")]
    pub timeline: bool,
    /// Print only the summary
    #[arg(long)]
    pub no_timeline: bool,
    /// Output format: text (timeline and summary) or json (the summaries)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print the scenario's source (e.g. an embedded one, to start a file of your own) and exit
    #[arg(long)]
    pub print_scenario: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Alarm on ContainerCapacity below the headroom, simple policy +1 with a cooldown
    Book,
    /// ECS capacity providers' managed scaling (CapacityProviderReservation, target
    /// tracking, warm-up) with managed termination protection
    CapacityProvider,
    /// The loop the template deploys: HostsToAdd (waiting tasks packed, plus the headroom) on
    /// a 10-second alarm, step policy adding that many hosts, with instance warmup; scale-in
    /// by the consolidation plan (HostsToRemove, the chooser terminating the planned hosts)
    #[value(name = "hosts-to-add", alias = "hosts-to-add+consolidation")]
    HostsToAdd,
    /// The template's ScalingMode=capacity-provider (issue #20): capacity-provider, plus the
    /// calculator setting the consolidation plan's hosts DRAINING within the disruption
    /// budget, undone when tasks wait
    #[value(name = "capacity-provider+consolidation")]
    CapacityProviderConsolidation,
    /// hosts-to-add with the template's ScaleInAdjustment=MinusOne: scale-in on
    /// IdleHostCapacity, one host per cooldown
    #[value(name = "hosts-to-add-minus-one")]
    HostsToAddMinusOne,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhatIfArg {
    /// The group launches the allowed types in the order the fit recommends (fewest vCPUs
    /// for the day's tasks first), prioritized
    RecommendedTypes,
    /// The consolidation plan's margin in worst-case tasks (before issue 27), not the
    /// largest task that moves
    WorstCaseMargin,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BackoffArg {
    /// No throttle: a waiting task is retried every step
    None,
    /// Retries every 10 s for about 50 s, then 5, 10 and 15 minutes
    Default,
    /// 15 minutes after 3 failed attempts, then 27 minutes
    Slowest,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TerminationArg {
    /// EC2 Auto Scaling's default termination policy
    Default,
    /// The scale-in chooser: unregistered, then the fewest tasks
    Chooser,
}
