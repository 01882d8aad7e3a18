use super::*;
use crate::{ContainerInstance, Resources};

fn host(name: &str, cpu: u32, memory: u32) -> HostTemplate {
    HostTemplate {
        instance_type: Some(name.to_owned()),
        registered: Resources::new(cpu, memory),
        eni_task_slots: None,
    }
}

fn info(name: &str, vcpus: u32, memory_mib: u32) -> InstanceTypeInfo {
    InstanceTypeInfo {
        name: name.to_owned(),
        vcpus,
        memory_mib,
        max_enis: None,
        gpus: 0,
        registered: None,
    }
}

#[test]
fn a_host_full_of_memory_strands_its_cpu_and_the_other_type_does_not() {
    let task = TaskShape::new("api:1", 1024, 3072);
    let worst = WorstCase::of([&task]).unwrap();
    let tasks = [(task, 6)];
    // c5.xlarge: 2 tasks by memory, 2 vCPUs left on each of 3 hosts.
    let c5 = fit(&tasks, &[], &host("c5.xlarge", 4096, 7418), &worst);
    assert_eq!(c5.hosts, 3);
    assert_eq!(c5.stranded_vcpu, 6.0);
    assert_eq!(c5.stranded_memory_gib, 0.0);
    // m5.xlarge: 4 by CPU on the first host (its 3 GiB left are stranded), 2 on the second.
    let m5 = fit(&tasks, &[], &host("m5.xlarge", 4096, 15708), &worst);
    assert_eq!(m5.hosts, 2);
    assert_eq!(m5.stranded_vcpu, 0.0);
    assert!(m5.stranded_memory_gib > 0.0);
    assert_eq!(recommend(&[c5, m5], None).order, ["m5.xlarge", "c5.xlarge"]);
}

#[test]
fn every_host_runs_its_daemons_first_and_a_task_no_host_holds_is_counted_apart() {
    let web = TaskShape::new("web:1", 1024, 1024);
    let agent = TaskShape::new("agent:1", 1024, 512);
    let huge = TaskShape::new("huge:1", 8192, 1024);
    let worst = WorstCase::of([&web]).unwrap();
    let f = fit(
        &[(web, 6), (huge, 2)],
        &[agent],
        &host("m5.xlarge", 4096, 15708),
        &worst,
    );
    // 3 web tasks per host once the agent runs.
    assert_eq!(f.hosts, 2);
    assert_eq!(f.unplaceable, 2);
    assert_eq!(f.vcpus, 8);
}

#[test]
fn a_price_orders_by_cost_and_a_type_that_cannot_hold_every_task_goes_last() {
    let task = TaskShape::new("api:1", 1024, 3072);
    let worst = WorstCase::of([&task]).unwrap();
    let tasks = [(task, 6)];
    let c5 = fit(&tasks, &[], &host("c5.xlarge", 4096, 7418), &worst);
    let m5 = fit(&tasks, &[], &host("m5.xlarge", 4096, 15708), &worst);
    let tiny = fit(&tasks, &[], &host("t3.micro", 2048, 900), &worst);
    let prices = BTreeMap::from([
        ("c5.xlarge".to_owned(), 0.10),
        ("m5.xlarge".to_owned(), 0.30),
        ("t3.micro".to_owned(), 0.01),
    ]);
    // 3 c5 at 0.10 cost less than 2 m5 at 0.30.
    let r = recommend(&[m5.clone(), c5.clone(), tiny.clone()], Some(&prices));
    assert_eq!(r.order, ["c5.xlarge", "m5.xlarge", "t3.micro"]);
    assert!((r.hourly_cost["c5.xlarge"] - 0.3).abs() < 1e-9);
    // Without a price for every type: by vCPUs.
    let some = BTreeMap::from([("c5.xlarge".to_owned(), 0.10)]);
    assert_eq!(
        recommend(&[c5, m5, tiny], Some(&some)).order,
        ["m5.xlarge", "c5.xlarge", "t3.micro"]
    );
}

#[test]
fn the_next_type_is_the_first_when_prioritized_and_the_fewest_tasks_per_unit_by_price() {
    let worst = WorstCase::cpu_memory(1024, 2048).unwrap();
    let types = vec![
        AllowedType {
            info: info("m5.xlarge", 4, 16384),
            weight: 2,
        },
        AllowedType {
            info: info("m5.large", 2, 8192),
            weight: 1,
        },
    ];
    let prioritized = GroupLaunch {
        types: types.clone(),
        order: LaunchOrder::Prioritized,
    };
    let (h, w) = next_type(&prioritized, &[], &worst).unwrap();
    assert_eq!((h.instance_type.as_deref(), w), (Some("m5.xlarge"), 2));
    // 4096 CPU units; 16384 MiB less 10 %.
    assert_eq!((h.registered.cpu, h.registered.memory_mib), (4096, 14745));
    // By price: m5.xlarge holds 4 per 2 units, m5.large 2 per unit: equal; the first.
    let by_price = GroupLaunch {
        types: vec![
            AllowedType {
                info: info("m5.xlarge", 4, 16384),
                weight: 4,
            },
            types[1].clone(),
        ],
        order: LaunchOrder::ByPrice,
    };
    let (h, w) = next_type(&by_price, &[], &worst).unwrap();
    assert_eq!(
        (h.instance_type.as_deref(), w),
        (Some("m5.xlarge"), 4),
        "1 per unit"
    );
}

#[test]
fn a_host_of_the_type_already_registered_says_what_it_offers() {
    let mut seen =
        ContainerInstance::active("ci-1", Resources::new(2048, 7680), Resources::new(0, 0));
    seen.instance_type = Some("m5.large".to_owned());
    let h = info("m5.large", 2, 8192).host(&[seen]);
    assert_eq!(h.registered.memory_mib, 7680);
    let known = InstanceTypeInfo {
        registered: Some(Resources::new(2048, 7000)),
        ..info("m5.large", 2, 8192)
    };
    assert_eq!(known.host(&[]).registered.memory_mib, 7000);
}

#[test]
fn the_launch_order_follows_the_mixed_instances_policy() {
    let over = |t: &str| TypeOverride {
        instance_type: Some(t.to_owned()),
        weight: None,
        launch_template: None,
    };
    let one = LaunchSpec::default();
    assert_eq!(one.order(), LaunchOrder::OneType);
    let mixed = LaunchSpec {
        overrides: vec![over("m5.xlarge"), over("c5.xlarge")],
        ..LaunchSpec::default()
    };
    assert_eq!(mixed.order(), LaunchOrder::Prioritized);
    let cheapest = LaunchSpec {
        on_demand_allocation_strategy: Some("lowest-price".into()),
        ..mixed.clone()
    };
    assert_eq!(cheapest.order(), LaunchOrder::ByPrice);
    let spot = LaunchSpec {
        on_demand_percentage_above_base_capacity: Some(20),
        spot_allocation_strategy: Some("capacity-optimized-prioritized".into()),
        ..mixed
    };
    assert_eq!(spot.order(), LaunchOrder::ByPrice);
}

#[test]
fn types_within_five_percent_of_the_fewest_vcpus_go_larger_host_first() {
    let fit_of = |name: &str, hosts: u32, vcpus: u32| TypeFit {
        instance_type: name.to_owned(),
        hosts,
        vcpus,
        stranded_vcpu: 0.0,
        stranded_memory_gib: 0.0,
        unplaceable: 0,
    };
    // m5.large saves 4 % of the vCPUs with twice the hosts: m5.xlarge first.
    let close = [
        fit_of("m5.large", 50, 100),
        fit_of("m5.xlarge", 26, 104),
        fit_of("c5.xlarge", 30, 120),
    ];
    assert_eq!(
        recommend(&close, None).order,
        ["m5.xlarge", "m5.large", "c5.xlarge"]
    );
    // Saving 10 %: the smaller type first.
    let far = [fit_of("m5.large", 45, 90), fit_of("m5.xlarge", 25, 100)];
    assert_eq!(recommend(&far, None).order, ["m5.large", "m5.xlarge"]);
}

#[test]
fn the_advice_names_the_type_to_launch_first_and_what_it_saves_against_todays_first() {
    let task = TaskShape::new("cache:3", 1024, 6144);
    let worst = WorstCase::of([&task]).unwrap();
    let tasks = [(task, 10)];
    let c5 = fit(&tasks, &[], &host("c5.xlarge", 4096, 7418), &worst);
    let m5 = fit(&tasks, &[], &host("m5.xlarge", 4096, 15708), &worst);
    let fits = [c5, m5];
    let r = recommend(&fits, None);
    assert_eq!(
        r.advice(&fits, Some("c5.xlarge")),
        "launch m5.xlarge first: 50 % fewer vCPUs for today's tasks than c5.xlarge (20 against 40 vCPUs, on 5 hosts against 10)"
    );
    assert!(
        r.advice(&fits, Some("m5.xlarge"))
            .starts_with("the group already launches m5.xlarge first")
    );
}
