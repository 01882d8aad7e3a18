use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use capacity_core::{ScalePolicy, TaskShape, WorstCase};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use ecs_capacity::scenario::{self, PolicyKind, Termination};
use ecs_capacity::summary::{Summary, summary_table, timeline};
use ecs_capacity::{chart, dump, live, report, sim};

/// Capacity of an ECS cluster on EC2 in worst-case tasks: report on a cluster now, or
/// simulate how its alarms and scaling policies behave under a load.
#[derive(Parser)]
#[command(name = "ecs-capacity", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
  ecs-capacity simulate diurnal --compare --backoff none --reaction-delay 0s
  ecs-capacity simulate my-scenario.yaml --policy hosts-to-add --seed 3
  ecs-capacity simulate diurnal --policy hosts-to-add --termination default
  ecs-capacity simulate diurnal --print-scenario > my-scenario.yaml";

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["cluster", "instances"])))]
struct ReportArgs {
    /// Read this live cluster (name or ARN), read-only, with the standard AWS configuration
    /// (profile, region, AWS_ENDPOINT_URL); the worst case is discovered as the calculator
    /// does unless given by --task-definitions or the --task-* flags
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "instances",
        required_unless_present = "instances"
    )]
    cluster: Option<String>,
    /// JSON printed by `aws ecs describe-container-instances`; several files are merged;
    /// `-` reads standard input
    #[arg(long, value_name = "FILE", num_args = 1..)]
    instances: Vec<String>,
    /// JSON printed by `aws ecs describe-task-definition`, one file per task definition the
    /// cluster must be able to place
    #[arg(long, value_name = "FILE", num_args = 1..)]
    task_definitions: Vec<String>,
    /// A task shape by flags: CPU units it reserves (1024 = 1 vCPU)
    #[arg(long, value_name = "UNITS")]
    task_cpu: Option<u32>,
    /// A task shape by flags: MiB it reserves
    #[arg(long, value_name = "MIB")]
    task_memory: Option<u32>,
    /// A static TCP host port of that task (repeatable)
    #[arg(long = "port", value_name = "PORT")]
    ports: Vec<u16>,
    /// A static UDP host port of that task (repeatable)
    #[arg(long = "udp-port", value_name = "PORT")]
    udp_ports: Vec<u16>,
    /// The task uses awsvpc networking (one ENI per task)
    #[arg(long)]
    awsvpc: bool,
    /// GPUs the task needs
    #[arg(long, value_name = "N", default_value_t = 0)]
    gpus: u32,
    /// Worst-case tasks that must always fit (the scale-out threshold)
    #[arg(long, value_name = "TASKS", default_value_t = 1)]
    headroom: u32,
    /// Output format: text for people, json for machines
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct SimulateArgs {
    /// An embedded scenario (book, diurnal, batch, deploy, fragmented) or a YAML or JSON
    /// scenario file
    #[arg(default_value = "book", value_name = "SCENARIO")]
    scenario: String,
    /// Run the scenario with the book's ±1 policy, ECS capacity providers' managed scaling
    /// and hosts-to-add, side by side
    #[arg(long, conflicts_with_all = ["policy", "sweep", "sensitivity"])]
    compare: bool,
    /// With --compare: add the template's two other modes, capacity-provider+consolidation
    /// (ScalingMode=capacity-provider, issue #20) and hosts-to-add-minus-one
    /// (ScaleInAdjustment=MinusOne, the book's scale-in); with --sweep: add the first at
    /// target 100 and the second at headroom 1, 2, 4, 8, 16 (in the table; the chart draws
    /// the three default policies only)
    #[arg(long)]
    with_consolidation: bool,
    /// Compare at equal cost: capacity-provider at target capacity 100, 90, 80, 70, 60,
    /// hosts-to-add at headroom 1, 2, 4, 8, 16, the book at its headroom, and the ideal
    /// (perfect packing, no boot time); with --chart, the frontier (vCPU-hours across,
    /// task-minutes pending up)
    #[arg(long, conflicts_with_all = ["policy", "sensitivity", "termination"])]
    sweep: bool,
    /// capacity-provider against hosts-to-add with ECS's placement back-off at none, default
    /// and slowest, and hosts-to-add at a reaction delay of 0s, 20s and 60s
    #[arg(long, conflicts_with_all = ["policy", "chart", "termination"])]
    sensitivity: bool,
    /// Override ECS's placement back-off for services without a capacity provider
    /// (ecs.placement_backoff)
    #[arg(long, value_enum, value_name = "BACKOFF")]
    backoff: Option<BackoffArg>,
    /// Override the delay from the calculator's trigger to its datapoint reaching the alarm
    /// (calculator.reaction_delay; a multiple of the step, e.g. 0s, 20s, 1m)
    #[arg(long, value_name = "DURATION")]
    reaction_delay: Option<String>,
    /// Cap the hosts one step of the hosts-to-add policy adds (the template's table goes to
    /// 80), to measure what its large steps buy
    #[arg(long, value_name = "HOSTS", value_parser = clap::value_parser!(u32).range(1..=80))]
    largest_step: Option<u32>,
    /// Override the scenario's scaling policy
    #[arg(long, value_enum)]
    policy: Option<PolicyArg>,
    /// Override how the group picks instances on scale-in (asg.termination); the
    /// capacity-provider policy always uses managed termination protection
    #[arg(long, value_enum)]
    termination: Option<TerminationArg>,
    /// Override the scenario's seed (which instance a scale-in terminates)
    #[arg(long)]
    seed: Option<u64>,
    /// Write a chart of the run(s) to this SVG file
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Print the timeline of events also with --compare (a single run prints it anyway)
    #[arg(long, conflicts_with = "no_timeline")]
    timeline: bool,
    /// Print only the summary
    #[arg(long)]
    no_timeline: bool,
    /// Output format: text (timeline and summary) or json (the summaries)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print the scenario's source (e.g. an embedded one, to start a file of your own) and exit
    #[arg(long)]
    print_scenario: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyArg {
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

#[derive(Clone, Copy, ValueEnum)]
enum BackoffArg {
    /// No throttle: a waiting task is retried every step
    None,
    /// Retries every 10 s for about 50 s, then 5, 10 and 15 minutes
    Default,
    /// 15 minutes after 3 failed attempts, then 27 minutes
    Slowest,
}

#[derive(Clone, Copy, ValueEnum)]
enum TerminationArg {
    /// EC2 Auto Scaling's default termination policy
    Default,
    /// The scale-in chooser: unregistered, then the fewest tasks
    Chooser,
}

type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => run_report(args),
        Command::Simulate(args) => run_simulate(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: some errors already quote their source (the SDK's).
            eprintln!("error: {}", capacity_aws::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn flag_shape(args: &ReportArgs) -> Option<TaskShape> {
    let given = args.task_cpu.is_some()
        || args.task_memory.is_some()
        || !args.ports.is_empty()
        || !args.udp_ports.is_empty()
        || args.awsvpc
        || args.gpus > 0;
    given.then(|| {
        let mut shape = TaskShape::new(
            "--task-* flags",
            args.task_cpu.unwrap_or(0),
            args.task_memory.unwrap_or(0),
        )
        .with_gpus(args.gpus);
        shape.ports_tcp.extend(args.ports.iter().copied());
        shape.ports_udp.extend(args.udp_ports.iter().copied());
        shape.awsvpc = args.awsvpc;
        shape
    })
}

fn run_report(args: ReportArgs) -> Result<(), Failure> {
    let policy = ScalePolicy::new(args.headroom)?;
    let mut shapes = dump::load_task_shapes(&args.task_definitions)?;
    shapes.extend(flag_shape(&args));
    let report = if let Some(cluster) = &args.cluster {
        let given = if shapes.is_empty() {
            None
        } else {
            Some(WorstCase::of(&shapes)?)
        };
        let snap = live::snapshot(cluster, given)?;
        if !snap.task_shapes.is_empty() {
            shapes = snap.task_shapes;
        }
        report::build(
            &snap.cluster_name,
            &snap.instances,
            &shapes,
            &snap.worst_case,
            &snap.demand,
            &snap.placement,
            &policy,
        )?
    } else {
        if shapes.is_empty() {
            return Err(
                "no task shape: give --task-definitions FILE... or --task-cpu/--task-memory".into(),
            );
        }
        let worst = WorstCase::of(&shapes)?;
        let loaded = dump::load_instances(&args.instances)?;
        for f in &loaded.failures {
            eprintln!("warning: ECS could not describe {f}");
        }
        let files: Vec<&str> = args
            .instances
            .iter()
            .map(|f| if f == "-" { "<stdin>" } else { f.as_str() })
            .collect();
        let name = format!("offline, from {}", files.join(", "));
        // A dump of container instances names no service: nothing is known to wait.
        report::build(
            &name,
            &loaded.instances,
            &shapes,
            &worst,
            &capacity_core::Demand::none(),
            &Default::default(),
            &policy,
        )?
    };
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(())
}

fn run_simulate(args: SimulateArgs) -> Result<(), Failure> {
    if args.print_scenario {
        let text = match scenario::EMBEDDED.iter().find(|(n, _)| *n == args.scenario) {
            Some((_, text)) => (*text).to_owned(),
            None => std::fs::read_to_string(&args.scenario)
                .map_err(|e| format!("cannot read scenario {}: {e}", args.scenario))?,
        };
        print!("{text}");
        return Ok(());
    }
    let mut base = scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        base.seed = seed;
    }
    if let Some(backoff) = args.backoff {
        base.placement_backoff = match backoff {
            BackoffArg::None => scenario::PlacementBackoff::none(),
            BackoffArg::Default => scenario::PlacementBackoff::default_schedule(),
            BackoffArg::Slowest => scenario::PlacementBackoff::slowest(),
        };
    }
    if let Some(text) = &args.reaction_delay {
        let delay = ecs_capacity::duration::parse(text)
            .ok_or_else(|| format!("--reaction-delay {text:?}: not a duration (e.g. 20s, 1m)"))?;
        if !delay.0.is_multiple_of(base.step) || delay.0 > 600 {
            return Err(format!(
                "--reaction-delay {text}: must be a multiple of the scenario's step ({}) and at most 10m",
                ecs_capacity::duration::Secs(base.step)
            )
            .into());
        }
        base.reaction_delay = delay.0;
    }
    if let Some(cap) = args.largest_step {
        base.largest_step = cap;
    }
    if args.with_consolidation && !args.compare && !args.sweep {
        return Err(
            "--with-consolidation adds columns to --compare or runs to --sweep: give one of them"
                .into(),
        );
    }
    if args.sweep {
        return run_sweep(&base, &args);
    }
    if args.sensitivity {
        let s = sim::sweep::sensitivity(&base)?;
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&s)?),
            Format::Text => {
                println!("Scenario {}: {}\n", base.name, base.description);
                print!("{}", ecs_capacity::summary::sensitivity_tables(&s));
            }
        }
        return Ok(());
    }
    if let Some(termination) = args.termination {
        base = base.with_termination(match termination {
            TerminationArg::Default => Termination::Default,
            TerminationArg::Chooser => Termination::Chooser,
        });
    }
    let policies = if args.compare {
        let mut p = vec![
            PolicyKind::Book,
            PolicyKind::CapacityProvider,
            PolicyKind::HostsToAdd,
        ];
        if args.with_consolidation {
            p.extend([
                PolicyKind::CapacityProviderConsolidation,
                PolicyKind::HostsToAddMinusOne,
            ]);
        }
        p
    } else {
        vec![match args.policy {
            Some(PolicyArg::Book) => PolicyKind::Book,
            Some(PolicyArg::CapacityProvider) => PolicyKind::CapacityProvider,
            Some(PolicyArg::HostsToAddMinusOne) => PolicyKind::HostsToAddMinusOne,
            Some(PolicyArg::CapacityProviderConsolidation) => {
                PolicyKind::CapacityProviderConsolidation
            }
            Some(PolicyArg::HostsToAdd) => PolicyKind::HostsToAdd,
            None => base.policy,
        }]
    };
    let show_progress = std::io::stderr().is_terminal();
    let mut outcomes = Vec::new();
    for policy in policies {
        let sc = base.with_policy(policy);
        let label = policy.label();
        let outcome = sim::run(&sc, &mut |done| {
            if show_progress {
                eprint!("\rsimulating {} ({label}): {:3.0} %", sc.name, done * 100.0);
                let _ = std::io::stderr().flush();
            }
        })?;
        if show_progress {
            eprint!("\r{:60}\r", "");
        }
        outcomes.push(outcome);
    }
    let summaries: Vec<Summary> = outcomes.iter().map(Summary::of).collect();
    if let Some(path) = &args.chart {
        let title = format!("{}: {}", base.name, base.description);
        let svg = chart::render(&title, &outcomes)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summaries)?),
        Format::Text => {
            let show_timeline = !args.no_timeline && (args.timeline || outcomes.len() == 1);
            println!("Scenario {}: {}", base.name, base.description);
            if show_timeline {
                for o in &outcomes {
                    println!("\nTimeline ({}):", o.policy);
                    print!("{}", timeline(o));
                }
            }
            println!("\nSummary:");
            print!("{}", summary_table(&summaries));
            print!(
                "{}",
                ecs_capacity::summary::not_as_deployed_note(&summaries)
            );
            if let Some(path) = &args.chart {
                println!("\nChart written to {}", path.display());
            }
        }
    }
    Ok(())
}

fn write_chart(path: &std::path::Path, svg: String) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn run_sweep(base: &scenario::Scenario, args: &SimulateArgs) -> Result<(), Failure> {
    if std::io::stderr().is_terminal() {
        let runs = if args.with_consolidation { 17 } else { 11 };
        eprint!("simulating {}: the frontier ({runs} runs)…", base.name);
    }
    let frontier = sim::sweep::frontier_with(base, args.with_consolidation)?;
    if std::io::stderr().is_terminal() {
        eprint!("\r{:60}\r", "");
    }
    if let Some(path) = &args.chart {
        let title = format!("{}: task-minutes pending against vCPU-hours", base.name);
        write_chart(path, chart::render_frontier(&title, &frontier)?)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&frontier)?),
        Format::Text => {
            println!("Scenario {}: {}\n", base.name, base.description);
            print!("{}", ecs_capacity::summary::frontier_table(&frontier));
            if let Some(path) = &args.chart {
                println!("\nChart written to {}", path.display());
            }
        }
    }
    Ok(())
}
