//! The contract between `infra/template.yaml` and the Lambda binaries it deploys:
//!
//! * every environment variable the template sets is one the binary reads, and every variable
//!   the binary requires is set on every deployment, not only under some template condition
//!   ([`check`]);
//! * every value a deployment can give a variable — each parameter's default, minimum,
//!   maximum and allowed values — is one the binary accepts
//!   ([`Template::deployable_environments`], fed to the binaries' own config parsers);
//! * the alarms watch the metrics the calculator publishes, and the scale-out step policy adds
//!   the hosts the calculator computed (the tests in `tests/`).
//!
//! * the dashboard names only metrics and alarms that exist ([`render_sub`] renders its
//!   `!Sub` body), and the log metric filters match the JSON lines the drainer writes
//!   ([`filter_matches`]).
//!
//! Each binary lists what it reads as `ENV_VARS: &[(name, required)]`; this crate reads the
//! template's functions (SAM or plain Lambda) and checks one against the other.
//!
//! ```
//! use infra_contract::{check, Source, Template};
//!
//! let template = Template::parse(r#"
//! Parameters:
//!   ClusterName: { Type: String }
//!   Poll: { Type: Number, Default: 5, MinValue: 1, MaxValue: 300 }
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
//! assert_eq!(drainer.variables["ECS_CLUSTER"], Source::Parameter("ClusterName".into()));
//! let reads = &[("ECS_CLUSTER", true), ("POLL_INTERVAL_SECONDS", false)];
//! assert!(check(drainer, reads).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde_json::Value;
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
    #[serde(rename = "Parameters", default)]
    parameters: BTreeMap<String, Parameter>,
    #[serde(rename = "Resources")]
    resources: BTreeMap<String, Resource>,
    #[serde(rename = "Outputs", default)]
    outputs: BTreeMap<String, Output>,
    /// The whole template as plain JSON (short-form tags dropped: `!Ref X` reads as `"X"`),
    /// for properties the typed view does not name.
    #[serde(skip)]
    raw: Value,
}

/// A template output; `value` keeps its short-form tag (`!GetAtt`, `!Ref`, ...).
#[derive(Debug, Deserialize)]
pub struct Output {
    #[serde(rename = "Value")]
    pub value: Tagged<Value>,
}

/// A template parameter's constraints, as written (numbers stay numbers).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Parameter {
    #[serde(rename = "Default", default)]
    pub default: Option<Value>,
    #[serde(rename = "MinValue", default)]
    pub min_value: Option<Value>,
    #[serde(rename = "MaxValue", default)]
    pub max_value: Option<Value>,
    #[serde(rename = "AllowedValues", default)]
    pub allowed_values: Option<Vec<Value>>,
    #[serde(rename = "AllowedPattern", default)]
    pub allowed_pattern: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Option<Properties>,
}

/// The properties the contract reads, of whatever resource type (others are ignored).
/// Short-form tags (`!Ref`, `!If`, ...) are kept one level deep: on the property itself, and on
/// each environment variable.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Properties {
    /// SAM function: the build output, `../target/lambda/<binary>/bootstrap.zip`.
    #[serde(default)]
    code_uri: Option<Value>,
    #[serde(default)]
    environment: Option<Environment>,
    /// CloudWatch alarm.
    #[serde(default)]
    pub namespace: Option<Tagged<Value>>,
    #[serde(default)]
    pub metric_name: Option<Value>,
    #[serde(default)]
    pub dimensions: Option<Value>,
    #[serde(default)]
    pub statistic: Option<Value>,
    #[serde(default)]
    pub threshold: Option<Tagged<Value>>,
    #[serde(default)]
    pub comparison_operator: Option<Value>,
    #[serde(default)]
    pub alarm_actions: Option<Tagged<Value>>,
    /// Auto Scaling policy.
    #[serde(default)]
    pub policy_type: Option<Value>,
    #[serde(default)]
    pub step_adjustments: Option<Tagged<Value>>,
    #[serde(default)]
    pub metric_aggregation_type: Option<Value>,
    /// CloudWatch dashboard: the body, usually `!Sub` of a JSON text.
    #[serde(default)]
    pub dashboard_body: Option<Tagged<Value>>,
    /// Nested application or stack: where its template is, and what it is given.
    #[serde(default)]
    pub location: Option<Value>,
    #[serde(default)]
    pub parameters: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct Environment {
    #[serde(rename = "Variables", default)]
    variables: BTreeMap<String, Tagged<Value>>,
}

/// One function of the template and the environment it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Logical id in the template.
    pub logical_id: String,
    /// The binary, from a `CodeUri` ending in `/<binary>/bootstrap.zip`.
    pub binary: Option<String>,
    /// Variable name and where its value comes from.
    pub variables: BTreeMap<String, Source>,
}

/// Where the template takes a variable's value from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `!Ref P` of a template parameter: on every deployment.
    Parameter(String),
    /// `!If [C, !Ref P, !Ref AWS::NoValue]`: only when parameter P differs from its default
    /// (the template's convention for conditions that guard a variable).
    ParameterUnlessDefault(String),
    /// A literal, on every deployment.
    Literal(String),
    /// Known only at deploy time (a resource's `!Ref` or `!GetAtt`, `!Sub`, ...), on every
    /// deployment.
    DeployTime,
    /// Any other conditional value.
    Conditional,
}

impl Source {
    fn always_set(&self) -> bool {
        !matches!(
            self,
            Source::ParameterUnlessDefault(_) | Source::Conditional
        )
    }
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
        let mut template: Template =
            serde_saphyr::from_str(yaml).map_err(|e| TemplateError(e.to_string()))?;
        template.raw = serde_saphyr::from_str(yaml).map_err(|e| TemplateError(e.to_string()))?;
        Ok(template)
    }

    /// One resource as plain JSON (`Type`, `Condition`, `Metadata`, `Properties`), short-form
    /// tags dropped.
    pub fn raw_resource(&self, logical_id: &str) -> Option<&Value> {
        self.raw.get("Resources")?.get(logical_id)
    }

    /// The type of a resource, if the template has it.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources.get(logical_id).map(|r| r.kind.as_str())
    }

    /// Logical ids of every resource of type `kind` (with or without properties).
    pub fn ids_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(id, _)| id.as_str())
    }

    /// A parameter by name.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.get(name)
    }

    /// Every parameter, by name.
    pub fn parameters(&self) -> &BTreeMap<String, Parameter> {
        &self.parameters
    }

    /// Every output, by name.
    pub fn outputs(&self) -> &BTreeMap<String, Output> {
        &self.outputs
    }

    /// Logical id and properties of each resource of type `kind`, in logical-id order.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Properties)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .filter_map(|(id, r)| Some((id.as_str(), r.properties.as_ref()?)))
    }

    /// The properties of one resource.
    pub fn resource(&self, logical_id: &str) -> Option<&Properties> {
        self.resources.get(logical_id)?.properties.as_ref()
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
                    .and_then(Value::as_str)
                    .and_then(binary_of_code_uri);
                let variables = properties
                    .and_then(|p| p.environment.as_ref())
                    .map(|e| {
                        e.variables
                            .iter()
                            .map(|(name, value)| (name.clone(), self.source(value)))
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

    fn source(&self, value: &Tagged<Value>) -> Source {
        let parameter = |name: &str| self.parameters.contains_key(name).then(|| name.to_owned());
        match (value.1.as_deref(), &value.0) {
            (Some("!Ref"), Value::String(name)) => {
                parameter(name).map_or(Source::DeployTime, Source::Parameter)
            }
            (Some("!If"), Value::Array(branches)) => conditional_parameter(branches)
                .and_then(parameter)
                .map_or(Source::Conditional, Source::ParameterUnlessDefault),
            (Some(_), _) => Source::DeployTime,
            (None, Value::Object(map)) => match map.iter().next() {
                Some((key, Value::String(name))) if key == "Ref" && map.len() == 1 => {
                    parameter(name).map_or(Source::DeployTime, Source::Parameter)
                }
                Some((key, Value::Array(branches))) if key == "Fn::If" && map.len() == 1 => {
                    conditional_parameter(branches)
                        .and_then(parameter)
                        .map_or(Source::Conditional, Source::ParameterUnlessDefault)
                }
                _ => Source::DeployTime,
            },
            (None, Value::String(s)) => Source::Literal(s.clone()),
            (None, Value::Number(n)) => Source::Literal(n.to_string()),
            (None, Value::Bool(b)) => Source::Literal(b.to_string()),
            (None, _) => Source::DeployTime,
        }
    }

    /// Every value parameter `name` can take that its constraints single out: default,
    /// minimum, maximum, each allowed value (as CloudFormation passes them: strings).
    pub fn notable_values(&self, name: &str) -> BTreeSet<String> {
        let Some(p) = self.parameters.get(name) else {
            return BTreeSet::new();
        };
        p.default
            .iter()
            .chain(&p.min_value)
            .chain(&p.max_value)
            .chain(p.allowed_values.iter().flatten())
            .map(as_parameter_string)
            .collect()
    }

    /// The environments a deployment can give `function`: everything at its default, at its
    /// minimum, at its maximum, and each allowed value of each parameter on top of the
    /// defaults. `supplied(variable)` stands in for what the template does not fix: values
    /// known only at deploy time, and parameters without a default.
    pub fn deployable_environments(
        &self,
        function: &Function,
        supplied: impl Fn(&str) -> String,
    ) -> Vec<BTreeMap<String, String>> {
        let mut environments = vec![
            self.environment(function, &supplied, |_, _| None),
            self.environment(function, &supplied, |_, p| p.min_value.clone()),
            self.environment(function, &supplied, |_, p| p.max_value.clone()),
        ];
        let parameters: BTreeSet<&str> = function
            .variables
            .values()
            .filter_map(|source| match source {
                Source::Parameter(p) | Source::ParameterUnlessDefault(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        for name in parameters {
            let allowed = self
                .parameters
                .get(name)
                .and_then(|p| p.allowed_values.clone())
                .unwrap_or_default();
            for value in allowed {
                environments.push(self.environment(function, &supplied, |n, _| {
                    (n == name).then(|| value.clone())
                }));
            }
        }
        environments.sort();
        environments.dedup();
        environments
    }

    /// `function`'s environment when each parameter takes `choose(name, parameter)`, or its
    /// default when that is `None`.
    fn environment(
        &self,
        function: &Function,
        supplied: &impl Fn(&str) -> String,
        choose: impl Fn(&str, &Parameter) -> Option<Value>,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (variable, source) in &function.variables {
            let value = match source {
                Source::Parameter(name) | Source::ParameterUnlessDefault(name) => {
                    let parameter = self.parameters.get(name).cloned().unwrap_or_default();
                    let value = choose(name, &parameter).or_else(|| parameter.default.clone());
                    let unset = matches!(source, Source::ParameterUnlessDefault(_))
                        && value == parameter.default;
                    match value {
                        _ if unset => None,
                        Some(value) => Some(as_parameter_string(&value)),
                        None => Some(supplied(variable)),
                    }
                }
                Source::Literal(v) => Some(v.clone()),
                Source::DeployTime => Some(supplied(variable)),
                Source::Conditional => None,
            };
            if let Some(value) = value {
                env.insert(variable.clone(), value);
            }
        }
        env
    }
}

/// `[C, P, AWS::NoValue]` (tags dropped) or `[C, {Ref: P}, {Ref: AWS::NoValue}]` -> `P`.
fn conditional_parameter(branches: &[Value]) -> Option<&str> {
    fn name(v: &Value) -> Option<&str> {
        match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => m.get("Ref").and_then(Value::as_str),
            _ => None,
        }
    }
    match branches {
        [_, then, otherwise] if name(otherwise) == Some("AWS::NoValue") => name(then),
        _ => None,
    }
}

/// A parameter value as CloudFormation hands it to a resource: a string, integers without
/// a fraction.
fn as_parameter_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_i64().map_or_else(|| n.to_string(), |i| i.to_string()),
        other => other.to_string(),
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

/// A `!Sub` that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubError {
    #[error("${{{0}}} names nothing the renderer knows")]
    Unresolved(String),
    #[error("unclosed ${{ at byte {0}")]
    Unclosed(usize),
    #[error("not a !Sub of a string or of [string, variables]: {0}")]
    Shape(String),
}

/// Renders a `!Sub` (or `Fn::Sub`): the string form, or `[text, {variables}]`. A variable is
/// rendered too: a string as a `!Sub` of its own (inner short-form tags are not kept), and
/// `[condition, then, else]` (an `!If`) by `condition(name)`. Other `${Name}` go to
/// `resolve(Name)` (`Name` may be `Resource.Attribute` or `AWS::Region`); `${!Text}` is the
/// literal `${Text}`.
pub fn render_sub(
    sub: &Tagged<Value>,
    condition: &dyn Fn(&str) -> bool,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubError> {
    let body = match (sub.1.as_deref(), &sub.0) {
        (Some("!Sub"), body) => body,
        (None, Value::Object(map)) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            &map["Fn::Sub"]
        }
        (_, other) => return Err(SubError::Shape(other.to_string())),
    };
    match body {
        Value::String(text) => render_sub_text(text, resolve),
        Value::Array(parts) => match parts.as_slice() {
            [Value::String(text), Value::Object(variables)] => {
                let mut rendered = BTreeMap::new();
                for (name, value) in variables {
                    rendered.insert(name.as_str(), render_variable(value, condition, resolve)?);
                }
                render_sub_text(text, &|name| {
                    rendered.get(name).cloned().or_else(|| resolve(name))
                })
            }
            _ => Err(SubError::Shape(body.to_string())),
        },
        other => Err(SubError::Shape(other.to_string())),
    }
}

fn render_variable(
    value: &Value,
    condition: &dyn Fn(&str) -> bool,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubError> {
    match value {
        Value::String(text) => render_sub_text(text, resolve),
        Value::Array(branches) => match branches.as_slice() {
            [Value::String(name), then, otherwise] => {
                let chosen = if condition(name) { then } else { otherwise };
                render_variable(chosen, condition, resolve)
            }
            _ => Err(SubError::Shape(value.to_string())),
        },
        other => Err(SubError::Shape(other.to_string())),
    }
}

/// The text of a `!Sub` with each `${Name}` replaced by `resolve(Name)`.
pub fn render_sub_text(
    text: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or(SubError::Unclosed(text.len() - rest.len() + start))?;
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            None => out.push_str(
                &resolve(name.trim()).ok_or_else(|| SubError::Unresolved(name.to_owned()))?,
            ),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value at a metric filter selector such as `$.fields.message` in a JSON log event.
pub fn select<'a>(event: &'a Value, selector: &str) -> Option<&'a Value> {
    let path = selector.strip_prefix("$.")?;
    path.split('.').try_fold(event, |value, key| value.get(key))
}

/// Whether the CloudWatch Logs JSON filter pattern `pattern` matches `event`, for the subset
/// the template uses: `{ $.a.b = "text" && $.c > 0 }` (clauses joined by `&&`; operators
/// `=`, `!=`, `>`, `<`, `>=`, `<=`; a quoted string or a number on the right, no wildcards).
/// A selector that is absent does not match, as in CloudWatch.
pub fn filter_matches(pattern: &str, event: &Value) -> Result<bool, String> {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .ok_or_else(|| format!("not a JSON filter pattern: {pattern}"))?;
    for clause in inner.split("&&") {
        let clause = clause.trim();
        let (selector, op, literal) = ["!=", ">=", "<=", "=", ">", "<"]
            .iter()
            .find_map(|op| {
                let (l, r) = clause.split_once(op)?;
                Some((l.trim(), *op, r.trim()))
            })
            .ok_or_else(|| format!("no operator in clause {clause:?}"))?;
        if literal.contains('*') || clause.contains("||") {
            return Err(format!("unsupported clause {clause:?}"));
        }
        let Some(value) = select(event, selector) else {
            return Ok(false);
        };
        let holds = if let Some(text) = literal.strip_prefix('"').and_then(|l| l.strip_suffix('"'))
        {
            match op {
                "=" => value.as_str() == Some(text),
                "!=" => value.as_str() != Some(text),
                _ => return Err(format!("{op} on a string in {clause:?}")),
            }
        } else {
            let expected: f64 = literal
                .parse()
                .map_err(|_| format!("not a number or a quoted string: {literal}"))?;
            let Some(actual) = value.as_f64() else {
                return Ok(false);
            };
            match op {
                "=" => actual == expected,
                "!=" => actual != expected,
                ">" => actual > expected,
                "<" => actual < expected,
                ">=" => actual >= expected,
                "<=" => actual <= expected,
                _ => return Err(format!("unknown operator {op}")),
            }
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
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
            Some(source) if !source.always_set() => breaches.push(Breach::RequiredConditional {
                function: name(),
                variable,
            }),
            Some(_) => {}
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  MetricNamespace: { Type: String, Default: ECS/ClusterCapacity }
  Cpu: { Type: Number, Default: 0, MinValue: 0, MaxValue: 4096 }
  Memory: { Type: Number, Default: 0, MinValue: 0, MaxValue: 8192 }
  Result: { Type: String, Default: CONTINUE, AllowedValues: [CONTINUE, ABANDON] }
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
          TOPIC: !Ref Topic
          RESULT: !Ref Result
          SOMETIMES: !If [C, literal, !Ref AWS::NoValue]
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Code: { ZipFile: "" }
"#;

    fn template() -> Template {
        Template::parse(TEMPLATE).expect("test template parses")
    }

    fn calculator() -> Function {
        template()
            .functions()
            .into_iter()
            .find(|f| f.logical_id == "Calculator")
            .expect("calculator is a function")
    }

    #[test]
    fn functions_are_found_by_type_with_their_binary() {
        let found: Vec<_> = template()
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
    fn sources_tell_parameters_from_resources_literals_and_conditions() {
        let v = calculator().variables;
        assert_eq!(
            v["METRIC_NAMESPACE"],
            Source::Parameter("MetricNamespace".into())
        );
        assert_eq!(v["SCALE_OUT_HEADROOM"], Source::Literal("1".into()));
        assert_eq!(v["TOPIC"], Source::DeployTime);
        assert_eq!(
            v["CONTAINER_MAX_CPU"],
            Source::ParameterUnlessDefault("Cpu".into())
        );
        assert_eq!(
            v["CONTAINER_MAX_MEMORY"],
            Source::ParameterUnlessDefault("Memory".into())
        );
        assert_eq!(v["SOMETIMES"], Source::Conditional);
    }

    #[test]
    fn a_variable_the_binary_does_not_read_is_a_breach() {
        let reads = &[
            ("METRIC_NAMESPACE", false),
            ("CONTAINER_MAX_CPU", false),
            ("CONTAINER_MAX_MEMORY", false),
            ("TOPIC", false),
            ("RESULT", false),
            ("SOMETIMES", false),
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
            ("TOPIC", true),
            ("RESULT", false),
            ("SOMETIMES", true),
            ("ECS_CLUSTER", true),
        ];
        let breach = |v: &str, conditional| {
            let (function, variable) = ("Calculator".to_owned(), v.to_owned());
            if conditional {
                Breach::RequiredConditional { function, variable }
            } else {
                Breach::RequiredMissing { function, variable }
            }
        };
        assert_eq!(
            check(&calculator(), reads),
            [
                breach("CONTAINER_MAX_CPU", true),
                breach("SOMETIMES", true),
                breach("ECS_CLUSTER", false),
            ]
        );
    }

    #[test]
    fn deployable_environments_cover_defaults_bounds_and_allowed_values() {
        let t = template();
        let envs = t.deployable_environments(&calculator(), |v| format!("<{v}>"));
        let has = |pairs: &[(&str, Option<&str>)]| {
            envs.iter().any(|env| {
                pairs
                    .iter()
                    .all(|(k, v)| env.get(*k).map(String::as_str) == *v)
            })
        };
        // Defaults: the conditional pair unset (their parameters are at their defaults).
        assert!(has(&[
            ("CONTAINER_MAX_CPU", None),
            ("CONTAINER_MAX_MEMORY", None),
            ("METRIC_NAMESPACE", Some("ECS/ClusterCapacity")),
            ("SCALE_OUT_HEADROOM", Some("1")),
            ("TOPIC", Some("<TOPIC>")),
            ("RESULT", Some("CONTINUE")),
        ]));
        // Maximum: the pair set together.
        assert!(has(&[
            ("CONTAINER_MAX_CPU", Some("4096")),
            ("CONTAINER_MAX_MEMORY", Some("8192"))
        ]));
        // Each allowed value.
        assert!(has(&[("RESULT", Some("ABANDON"))]));
        // Never one of the pair without the other.
        assert!(
            !envs.iter().any(|env| env.contains_key("CONTAINER_MAX_CPU")
                != env.contains_key("CONTAINER_MAX_MEMORY"))
        );
        assert!(envs.iter().all(|env| !env.contains_key("SOMETIMES")));
    }

    #[test]
    fn notable_values_are_strings_as_cloudformation_passes_them() {
        let t = template();
        let values: Vec<_> = t.notable_values("Cpu").into_iter().collect();
        assert_eq!(values, ["0", "4096"]);
        let values: Vec<_> = t.notable_values("Result").into_iter().collect();
        assert_eq!(values, ["ABANDON", "CONTINUE"]);
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
    fn sub_renders_references_variables_conditions_and_literals() {
        let t = Template::parse(
            r#"
Resources:
  D:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardBody: !Sub
        - '[${Extra}"${Fn}", "${Q.Arn}", "${!NotMe}"]'
        - Extra: !If [C, !Sub '"${Alarm.Arn}", ', ""]
"#,
        )
        .expect("parses");
        let body = t.resource("D").and_then(|p| p.dashboard_body.as_ref());
        let body = body.expect("a body");
        let resolve = |name: &str| Some(format!("<{name}>"));
        assert_eq!(
            render_sub(body, &|_| true, &resolve),
            Ok(r#"["<Alarm.Arn>", "<Fn>", "<Q.Arn>", "${NotMe}"]"#.to_owned())
        );
        assert_eq!(
            render_sub(body, &|_| false, &resolve),
            Ok(r#"["<Fn>", "<Q.Arn>", "${NotMe}"]"#.to_owned())
        );
        assert_eq!(
            render_sub(body, &|_| true, &|n| (n != "Fn").then(|| n.to_owned())),
            Err(SubError::Unresolved("Fn".into()))
        );
        assert_eq!(
            render_sub_text("a ${b", &|n| Some(n.to_owned())),
            Err(SubError::Unclosed(2))
        );
    }

    #[test]
    fn filter_patterns_match_nested_fields_strings_and_numbers() {
        let line = serde_json::json!({
            "level": "ERROR",
            "fields": {"message": "done", "still_running": 2},
            "span": {"cluster": "prod"}
        });
        let m = |p: &str| filter_matches(p, &line);
        assert_eq!(
            m(r#"{ $.fields.message = "done" && $.fields.still_running > 0 }"#),
            Ok(true)
        );
        assert_eq!(
            m(r#"{ $.fields.message = "done" && $.fields.still_running > 2 }"#),
            Ok(false)
        );
        assert_eq!(
            m(r#"{ $.message = "done" }"#),
            Ok(false),
            "top level is not fields"
        );
        assert_eq!(m(r#"{ $.level != "INFO" }"#), Ok(true));
        assert!(m(r#"{ $.fields.message = "do*" }"#).is_err());
        assert!(m("$.level = ERROR").is_err());
        assert_eq!(
            select(&line, "$.span.cluster"),
            Some(&serde_json::json!("prod"))
        );
    }

    #[test]
    fn invalid_yaml_is_an_error_not_an_empty_template() {
        assert!(Template::parse("Resources: [unclosed").is_err());
    }
}
