//! The contract between `infra/template.yaml` and the Lambda binaries it deploys: every
//! environment variable the template sets is one the binary reads, and every variable the
//! binary requires is set on every deployment, not only under some template condition.
//!
//! Each binary lists what it reads as `ENV_VARS: &[(name, required)]`; this crate reads the
//! template's functions (SAM or plain Lambda) and checks one against the other.
//!
//! ```
//! use infra_contract::{check, Template};
//!
//! let template = Template::parse(r#"
//! Resources:
//!   Drainer:
//!     Type: AWS::Serverless::Function
//!     Properties:
//!       CodeUri: ../target/lambda/lifecycle-drainer/bootstrap.zip
//!       Environment:
//!         Variables:
//!           ECS_CLUSTER: !Ref ClusterName
//!           POLL_INTERVAL_SECONDS: !If [HasPoll, !Ref Poll, !Ref AWS::NoValue]
//! "#).unwrap();
//! let drainer = &template.functions()[0];
//! assert_eq!(drainer.binary.as_deref(), Some("lifecycle-drainer"));
//! let reads = &[("ECS_CLUSTER", true), ("POLL_INTERVAL_SECONDS", false)];
//! assert!(check(drainer, reads).is_empty());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_saphyr::Tagged;
use thiserror::Error;

/// Resource types that deploy a Lambda function.
const FUNCTION_TYPES: &[&str] = &["AWS::Serverless::Function", "AWS::Lambda::Function"];

/// The template could not be read as YAML of the expected shape.
#[derive(Debug, Error)]
#[error("infra template is not valid: {0}")]
pub struct TemplateError(String);

/// The part of a CloudFormation/SAM template the contract needs.
#[derive(Debug, Deserialize)]
pub struct Template {
    #[serde(rename = "Resources")]
    resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Deserialize)]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Option<FunctionProperties>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionProperties {
    /// SAM: the build output, `../target/lambda/<binary>/bootstrap.zip`.
    #[serde(rename = "CodeUri", default)]
    code_uri: Option<serde_json::Value>,
    #[serde(rename = "Environment", default)]
    environment: Option<Environment>,
}

#[derive(Debug, Default, Deserialize)]
struct Environment {
    #[serde(rename = "Variables", default)]
    variables: BTreeMap<String, Tagged<serde_json::Value>>,
}

/// One function of the template and the environment it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Logical id in the template.
    pub logical_id: String,
    /// The binary, from a `CodeUri` ending in `/<binary>/bootstrap.zip`.
    pub binary: Option<String>,
    /// Variable name and how it is set.
    pub variables: BTreeMap<String, Setting>,
}

/// How the template sets a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// On every deployment: a literal, `!Ref`, `!Sub`, ...
    Always,
    /// Only under a template condition (`!If` / `Fn::If`, which may yield `AWS::NoValue`).
    Conditionally,
}

/// A breach of the contract between the template and a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// The template sets a variable the binary never reads (a typo, or a setting that was
    /// removed from the binary and now silently does nothing).
    NotRead { function: String, variable: String },
    /// The binary requires a variable the template does not set.
    RequiredMissing { function: String, variable: String },
    /// The binary requires a variable the template sets only under a condition.
    RequiredConditional { function: String, variable: String },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::NotRead { function, variable } => {
                write!(
                    f,
                    "{function} sets {variable}, which its binary does not read"
                )
            }
            Breach::RequiredMissing { function, variable } => {
                write!(
                    f,
                    "{function} does not set {variable}, which its binary requires"
                )
            }
            Breach::RequiredConditional { function, variable } => write!(
                f,
                "{function} sets {variable}, which its binary requires, only under a condition"
            ),
        }
    }
}

impl Template {
    /// Parses template text; CloudFormation short-form tags (`!Ref`, `!If`, ...) are kept
    /// where the contract looks at them and ignored elsewhere.
    pub fn parse(yaml: &str) -> Result<Template, TemplateError> {
        serde_saphyr::from_str(yaml).map_err(|e| TemplateError(e.to_string()))
    }

    /// The template's Lambda functions, in logical-id order.
    pub fn functions(&self) -> Vec<Function> {
        self.resources
            .iter()
            .filter(|(_, r)| FUNCTION_TYPES.contains(&r.kind.as_str()))
            .map(|(id, r)| {
                let properties = r.properties.as_ref();
                let binary = properties
                    .and_then(|p| p.code_uri.as_ref())
                    .and_then(serde_json::Value::as_str)
                    .and_then(binary_of_code_uri);
                let variables = properties
                    .and_then(|p| p.environment.as_ref())
                    .map(|e| {
                        e.variables
                            .iter()
                            .map(|(name, value)| (name.clone(), setting(value)))
                            .collect()
                    })
                    .unwrap_or_default();
                Function {
                    logical_id: id.clone(),
                    binary,
                    variables,
                }
            })
            .collect()
    }
}

/// `../target/lambda/<binary>/bootstrap.zip` -> `<binary>` (cargo-lambda's output layout).
fn binary_of_code_uri(uri: &str) -> Option<String> {
    let dir = uri.strip_suffix("/bootstrap.zip")?;
    let (parent, binary) = dir.rsplit_once('/')?;
    parent
        .ends_with("target/lambda")
        .then(|| binary.to_owned())
        .filter(|b| !b.is_empty())
}

fn setting(value: &Tagged<serde_json::Value>) -> Setting {
    let short_form_if = value.1.as_deref() == Some("!If");
    let long_form_if = value.0.get("Fn::If").is_some();
    if short_form_if || long_form_if {
        Setting::Conditionally
    } else {
        Setting::Always
    }
}

/// Every breach of the contract between `function` and the binary that reads `reads`
/// (`(name, required)`, the binary's `ENV_VARS`); empty when the two agree.
pub fn check(function: &Function, reads: &[(&str, bool)]) -> Vec<Breach> {
    let name = || function.logical_id.clone();
    let mut breaches: Vec<Breach> = function
        .variables
        .keys()
        .filter(|v| !reads.iter().any(|(read, _)| read == v))
        .map(|v| Breach::NotRead {
            function: name(),
            variable: v.clone(),
        })
        .collect();
    for (variable, _) in reads.iter().filter(|(_, required)| *required) {
        let variable = (*variable).to_owned();
        match function.variables.get(&variable) {
            None => breaches.push(Breach::RequiredMissing {
                function: name(),
                variable,
            }),
            Some(Setting::Conditionally) => breaches.push(Breach::RequiredConditional {
                function: name(),
                variable,
            }),
            Some(Setting::Always) => {}
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Calculator:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../target/lambda/capacity-calculator/bootstrap.zip
      Environment:
        Variables:
          METRIC_NAMESPACE: !Ref MetricNamespace
          CONTAINER_MAX_CPU: !If [HasCpu, !Ref Cpu, !Ref AWS::NoValue]
          CONTAINER_MAX_MEMORY:
            Fn::If: [HasMemory, { Ref: Memory }, { Ref: AWS::NoValue }]
          SCALE_OUT_HEADROOM: 1
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Code: { ZipFile: "" }
"#;

    fn calculator() -> Function {
        let template = Template::parse(TEMPLATE).expect("test template parses");
        template
            .functions()
            .into_iter()
            .find(|f| f.logical_id == "Calculator")
            .expect("calculator is a function")
    }

    #[test]
    fn functions_are_found_by_type_with_their_binary() {
        let template = Template::parse(TEMPLATE).expect("test template parses");
        let found: Vec<_> = template
            .functions()
            .into_iter()
            .map(|f| (f.logical_id, f.binary))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "Calculator".to_owned(),
                    Some("capacity-calculator".to_owned())
                ),
                ("Plain".to_owned(), None),
            ]
        );
    }

    #[test]
    fn short_and_long_form_if_are_conditional_other_values_always_set() {
        let f = calculator();
        assert_eq!(f.variables["METRIC_NAMESPACE"], Setting::Always);
        assert_eq!(f.variables["SCALE_OUT_HEADROOM"], Setting::Always);
        assert_eq!(f.variables["CONTAINER_MAX_CPU"], Setting::Conditionally);
        assert_eq!(f.variables["CONTAINER_MAX_MEMORY"], Setting::Conditionally);
    }

    #[test]
    fn a_variable_the_binary_does_not_read_is_a_breach() {
        let reads = &[
            ("METRIC_NAMESPACE", false),
            ("CONTAINER_MAX_CPU", false),
            ("CONTAINER_MAX_MEMORY", false),
        ];
        assert_eq!(
            check(&calculator(), reads),
            [Breach::NotRead {
                function: "Calculator".into(),
                variable: "SCALE_OUT_HEADROOM".into()
            }]
        );
    }

    #[test]
    fn a_required_variable_unset_or_set_under_a_condition_is_a_breach() {
        let reads = &[
            ("METRIC_NAMESPACE", true),
            ("CONTAINER_MAX_CPU", true),
            ("CONTAINER_MAX_MEMORY", false),
            ("SCALE_OUT_HEADROOM", false),
            ("ECS_CLUSTER", true),
        ];
        assert_eq!(
            check(&calculator(), reads),
            [
                Breach::RequiredConditional {
                    function: "Calculator".into(),
                    variable: "CONTAINER_MAX_CPU".into()
                },
                Breach::RequiredMissing {
                    function: "Calculator".into(),
                    variable: "ECS_CLUSTER".into()
                },
            ]
        );
    }

    #[test]
    fn code_uri_names_the_binary_only_in_cargo_lambda_layout() {
        assert_eq!(
            binary_of_code_uri("../target/lambda/lifecycle-drainer/bootstrap.zip").as_deref(),
            Some("lifecycle-drainer")
        );
        assert_eq!(binary_of_code_uri("s3://bucket/key.zip"), None);
        assert_eq!(binary_of_code_uri("../target/lambda//bootstrap.zip"), None);
        assert_eq!(binary_of_code_uri("dist/x/bootstrap.zip"), None);
    }

    #[test]
    fn invalid_yaml_is_an_error_not_an_empty_template() {
        assert!(Template::parse("Resources: [unclosed").is_err());
    }
}
