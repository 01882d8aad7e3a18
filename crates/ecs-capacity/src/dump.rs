//! The JSON the AWS CLI prints, as serde structs, and their conversion to capacity-core types.
//!
//! * `aws ecs describe-container-instances` → [`DescribeContainerInstances`]
//! * `aws ecs describe-task-definition` → [`DescribeTaskDefinition`]
//!
//! Field names are the CLI's (camelCase). Container instances are read with capacity-aws's
//! one model of that JSON and its one strict converter (the calculator reads events with the
//! same). A field the math needs that is missing or of the wrong type is an error naming the
//! file and the JSON path of the field.

use std::io::Read;

use capacity_aws::ecs_json::{ContainerInstanceJson, EcsJsonError};
use capacity_core::{
    CapacityError, ContainerDefinition, ContainerInstance, NetworkMode, PortMapping, Protocol,
    TaskDefinition, TaskShape,
};
use serde::Deserialize;
use thiserror::Error;

/// Why an input file could not be used.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("cannot read {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: at {path}: {message}")]
    Json {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: {path}: {message}")]
    Field {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: {source}")]
    Instance {
        file: String,
        #[source]
        source: EcsJsonError,
    },
    #[error("{file}")]
    Capacity {
        file: String,
        #[source]
        source: CapacityError,
    },
}

/// Reads a whole file, or standard input for `-`.
pub fn read_input(file: &str) -> Result<String, InputError> {
    let mut text = String::new();
    let result = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    result.map_err(|source| InputError::Read {
        file: display_name(file),
        source,
    })?;
    Ok(text)
}

fn display_name(file: &str) -> String {
    if file == "-" {
        "<stdin>".to_owned()
    } else {
        file.to_owned()
    }
}

/// Deserializes `text` and names the JSON path of the first bad field.
fn parse_json<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<T, InputError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        InputError::Json {
            file: display_name(file),
            path: if path == "." {
                "the top level".to_owned()
            } else {
                path
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// The output of `aws ecs describe-container-instances`: container instances in
/// capacity-aws's one model of ECS's container-instance JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeContainerInstances {
    pub container_instances: Vec<ContainerInstanceJson>,
    #[serde(default)]
    pub failures: Vec<FailureJson>,
}

/// One element of `failures`: an ARN ECS could not describe.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureJson {
    pub arn: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

/// Converts one described container instance (capacity-aws's strict conversion); `index`
/// is its position in the file. The report names it by the last segment of its ARN.
pub fn to_container_instance(
    file: &str,
    index: usize,
    json: &ContainerInstanceJson,
) -> Result<ContainerInstance, InputError> {
    let mut instance = json
        .to_core(&format!("containerInstances[{index}]"))
        .map_err(|e| match e {
            EcsJsonError::Capacity(source) => InputError::Capacity {
                file: display_name(file),
                source,
            },
            source => InputError::Instance {
                file: display_name(file),
                source,
            },
        })?;
    if let Some((_, short)) = instance.id.rsplit_once('/') {
        instance.id = short.to_owned();
    }
    Ok(instance)
}

/// Container instances read from one or several dumps, with the describe failures found.
#[derive(Debug, Default)]
pub struct InstanceDump {
    pub instances: Vec<ContainerInstance>,
    /// `file: arn: reason` for every entry of `failures`.
    pub failures: Vec<String>,
}

/// Parses the text of one `describe-container-instances` dump.
pub fn parse_instances(file: &str, text: &str, out: &mut InstanceDump) -> Result<(), InputError> {
    let dump: DescribeContainerInstances = parse_json(file, text)?;
    for (index, json) in dump.container_instances.iter().enumerate() {
        out.instances
            .push(to_container_instance(file, index, json)?);
    }
    for f in &dump.failures {
        out.failures.push(format!(
            "{}: {}: {}{}",
            display_name(file),
            f.arn.as_deref().unwrap_or("(no arn)"),
            f.reason.as_deref().unwrap_or("(no reason)"),
            f.detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// Reads every dump in `files` (`-` is standard input, at most once).
pub fn load_instances(files: &[String]) -> Result<InstanceDump, InputError> {
    let mut out = InstanceDump::default();
    for file in files {
        let text = read_input(file)?;
        parse_instances(file, &text, &mut out)?;
    }
    Ok(out)
}

/// The output of `aws ecs describe-task-definition`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeTaskDefinition {
    pub task_definition: TaskDefinitionJson,
}

/// The parts of a task definition that decide what its tasks reserve on a host.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionJson {
    pub task_definition_arn: Option<String>,
    pub family: String,
    pub revision: Option<u32>,
    pub network_mode: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub container_definitions: Vec<ContainerDefinitionJson>,
    #[serde(default)]
    pub placement_constraints: Vec<PlacementConstraintJson>,
}

/// One `placementConstraints` entry of a task definition (`memberOf` and its expression).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraintJson {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub expression: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinitionJson {
    pub name: String,
    #[serde(default)]
    pub cpu: u32,
    pub memory: Option<u32>,
    pub memory_reservation: Option<u32>,
    #[serde(default)]
    pub port_mappings: Vec<PortMappingJson>,
    #[serde(default)]
    pub resource_requirements: Vec<ResourceRequirementJson>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMappingJson {
    pub container_port: Option<u16>,
    pub host_port: Option<u16>,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirementJson {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Converts a task definition dump into the shape its tasks reserve.
pub fn to_task_shape(file: &str, json: &TaskDefinitionJson) -> Result<TaskShape, InputError> {
    let field_error = |path: String, message: String| InputError::Field {
        file: display_name(file),
        path,
        message,
    };
    let network_mode = match json.network_mode.as_deref() {
        None => NetworkMode::Bridge,
        Some(s) => NetworkMode::parse(s).ok_or_else(|| {
            field_error(
                "taskDefinition.networkMode".to_owned(),
                format!("unknown network mode {s:?} (expected bridge, host, awsvpc or none)"),
            )
        })?,
    };
    let mut containers = Vec::with_capacity(json.container_definitions.len());
    for (i, c) in json.container_definitions.iter().enumerate() {
        let mut port_mappings = Vec::with_capacity(c.port_mappings.len());
        for (j, m) in c.port_mappings.iter().enumerate() {
            let protocol = match m.protocol.as_deref() {
                None | Some("tcp") => Protocol::Tcp,
                Some("udp") => Protocol::Udp,
                Some(other) => {
                    return Err(field_error(
                        format!(
                            "taskDefinition.containerDefinitions[{i}].portMappings[{j}].protocol"
                        ),
                        format!("unknown protocol {other:?} (expected tcp or udp)"),
                    ));
                }
            };
            port_mappings.push(PortMapping {
                container_port: m.container_port,
                host_port: m.host_port,
                protocol,
            });
        }
        let mut gpus = 0u32;
        for (j, r) in c.resource_requirements.iter().enumerate() {
            if r.kind == "GPU" {
                let n: u32 = r.value.trim().parse().map_err(|_| {
                    field_error(
                        format!(
                            "taskDefinition.containerDefinitions[{i}].resourceRequirements[{j}].value"
                        ),
                        format!("GPU count {:?} is not a whole number", r.value),
                    )
                })?;
                gpus = gpus.saturating_add(n);
            }
        }
        containers.push(ContainerDefinition {
            name: c.name.clone(),
            cpu: c.cpu,
            memory: c.memory,
            memory_reservation: c.memory_reservation,
            port_mappings,
            gpus,
        });
    }
    let name = match json.revision {
        Some(r) => format!("{}:{r}", json.family),
        None => json.family.clone(),
    };
    let def = TaskDefinition {
        name,
        cpu: json.cpu.clone(),
        memory: json.memory.clone(),
        network_mode,
        containers,
        placement_constraints: json
            .placement_constraints
            .iter()
            .filter_map(|c| c.expression.clone())
            .collect(),
    };
    TaskShape::from_definition(&def).map_err(|source| InputError::Capacity {
        file: display_name(file),
        source,
    })
}

/// Parses the text of one `describe-task-definition` dump; a bare task definition object
/// (as printed with `--query taskDefinition`) is accepted too.
pub fn parse_task_definition(file: &str, text: &str) -> Result<TaskShape, InputError> {
    let wrapped = serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.get("taskDefinition").is_some())
        .unwrap_or(true);
    let json = if wrapped {
        parse_json::<DescribeTaskDefinition>(file, text)?.task_definition
    } else {
        parse_json::<TaskDefinitionJson>(file, text)?
    };
    to_task_shape(file, &json)
}

/// Reads every task definition dump in `files`.
pub fn load_task_shapes(files: &[String]) -> Result<Vec<TaskShape>, InputError> {
    files
        .iter()
        .map(|file| parse_task_definition(file, &read_input(file)?))
        .collect()
}
