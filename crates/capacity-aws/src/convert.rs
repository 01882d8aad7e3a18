//! SDK types into capacity-core types, failing on a missing field with a typed error.

use aws_sdk_ecs::types as ecs;
use capacity_core::{
    ContainerDefinition, ContainerInstance, NetworkMode, PortMapping, Protocol, TaskDefinition,
};

use crate::Error;
use crate::ecs_json::{ContainerInstanceJson, EcsJsonError};

const TASK_DEFINITION: &str = "task definition";

/// Converts a described container instance through the one strict conversion of ECS's
/// container-instance JSON ([`crate::ecs_json`]): its ARN, status and both resource lists
/// are required; the ENI limit is left unknown (ECS does not report it).
pub fn container_instance(ci: &ecs::ContainerInstance) -> Result<ContainerInstance, Error> {
    ContainerInstanceJson::from_sdk(ci)
        .to_core("")
        .map_err(|e| match e {
            EcsJsonError::Capacity(e) => Error::Capacity(e),
            other => Error::InvalidInstance {
                id: ci
                    .container_instance_arn()
                    .or(ci.ec2_instance_id())
                    .unwrap_or("(unknown)")
                    .to_owned(),
                source: other,
            },
        })
}

/// Converts a described task definition into what decides its placement.
pub fn task_definition(td: &ecs::TaskDefinition) -> Result<TaskDefinition, Error> {
    let name = td
        .task_definition_arn()
        .map(str::to_owned)
        .or_else(|| td.family().map(|f| format!("{f}:{}", td.revision())))
        .ok_or_else(|| Error::MissingField {
            what: TASK_DEFINITION,
            id: "(unknown)".to_owned(),
            field: "taskDefinitionArn",
        })?;
    let network_mode = match td.network_mode() {
        None => NetworkMode::Bridge,
        Some(mode) => NetworkMode::parse(mode.as_str()).ok_or_else(|| Error::InvalidField {
            what: TASK_DEFINITION,
            id: name.clone(),
            field: "networkMode",
            value: mode.as_str().to_owned(),
        })?,
    };
    let mut containers = Vec::with_capacity(td.container_definitions().len());
    for c in td.container_definitions() {
        containers.push(container(&name, c)?);
    }
    Ok(TaskDefinition {
        cpu: td.cpu().map(str::to_owned),
        memory: td.memory().map(str::to_owned),
        network_mode,
        containers,
        placement_constraints: td
            .placement_constraints()
            .iter()
            .filter_map(|c| c.expression().map(str::to_owned))
            .collect(),
        name,
    })
}

fn container(task: &str, c: &ecs::ContainerDefinition) -> Result<ContainerDefinition, Error> {
    let cname = c.name().unwrap_or("(unnamed)");
    let invalid = |field, value: &dyn std::fmt::Display| Error::InvalidField {
        what: TASK_DEFINITION,
        id: format!("{task} container {cname}"),
        field,
        value: value.to_string(),
    };
    let non_negative = |field, v: i32| u32::try_from(v).map_err(|_| invalid(field, &v));
    let port = |field, v: Option<i32>| {
        v.map(|p| u16::try_from(p).map_err(|_| invalid(field, &p)))
            .transpose()
    };
    let mut port_mappings = Vec::with_capacity(c.port_mappings().len());
    for m in c.port_mappings() {
        port_mappings.push(PortMapping {
            container_port: port("containerPort", m.container_port())?,
            host_port: port("hostPort", m.host_port())?,
            protocol: match m.protocol() {
                Some(ecs::TransportProtocol::Udp) => Protocol::Udp,
                _ => Protocol::Tcp,
            },
        });
    }
    let mut gpus = 0u32;
    for r in c.resource_requirements() {
        if *r.r#type() == ecs::ResourceType::Gpu {
            let n: u32 = r
                .value()
                .trim()
                .parse()
                .map_err(|_| invalid("resourceRequirements GPU", &r.value()))?;
            gpus = gpus.saturating_add(n);
        }
    }
    Ok(ContainerDefinition {
        name: cname.to_owned(),
        cpu: non_negative("cpu", c.cpu())?,
        memory: c.memory().map(|v| non_negative("memory", v)).transpose()?,
        memory_reservation: c
            .memory_reservation()
            .map(|v| non_negative("memoryReservation", v))
            .transpose()?,
        port_mappings,
        gpus,
    })
}
