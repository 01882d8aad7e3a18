use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use capacity_core::{ScalePolicy, TaskShape, WorstCase};
use clap::Parser;
use ecs_capacity::cli::{
    BackoffArg, Cli, Command, Format, PolicyArg, ReportArgs, SimulateArgs, TerminationArg,
    WhatIfArg,
};
use ecs_capacity::scenario::{self, PolicyKind, Termination};
use ecs_capacity::summary::{Summary, summary_table, timeline};
use ecs_capacity::{chart, dump, live, report, sim};

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
        let mut types =
            live::instance_types(args.auto_scaling_group.as_deref(), &args.instance_types)?;
        if let Some(value) = &args.prices {
            let prices = live::prices(value)?;
            if let Some(t) = types
                .candidates
                .iter()
                .find(|t| !prices.contains_key(&t.name))
            {
                return Err(format!(
                    "--prices: no price for {}: every type compared needs one",
                    t.name
                )
                .into());
            }
            types.prices = Some(prices);
        }
        report::build(
            &snap.cluster_name,
            &snap.instances,
            &shapes,
            &snap.worst_case,
            &snap.demand,
            &snap.placement,
            &snap.placement_rules,
            &policy,
            &types,
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
            &[],
            &policy,
            &report::TypeChoice::default(),
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
    let day_fits = args
        .what_if
        .contains(&WhatIfArg::RecommendedTypes)
        .then(|| sim::what_if::day_fit_table(&base));
    if day_fits.is_some() {
        base = sim::what_if::with_recommended_types(&base);
    }
    if let Some(value) = &args.headroom_task {
        let task = capacity_core::run::HeadroomTask::parse(value)
            .map_err(|e| format!("--headroom-task {e}"))?;
        if let capacity_core::run::HeadroomTask::Service(name) = &task
            && !base.services.iter().any(|s| &s.name == name)
        {
            return Err(
                format!("--headroom-task: the scenario has no service named {name:?}").into(),
            );
        }
        base.headroom_task = task;
    }
    if args.what_if.contains(&WhatIfArg::WorstCaseMargin) {
        base.margin_task = capacity_core::consolidation::MarginTask::WorstCase;
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
            if let Some(fits) = &day_fits {
                println!(
                    "\nThe day's tasks on whole instances of each allowed type (sampled every 15m), best first:"
                );
                print!("{}", ecs_capacity::summary::day_fit_table(fits));
            }
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
