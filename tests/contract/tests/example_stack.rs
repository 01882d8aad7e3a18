//! `infra/example-stack.yaml` nests `infra/template.yaml`: it must give every parameter the
//! nested template requires, no parameter it does not declare, and read only outputs it has.

use std::collections::BTreeSet;

use infra_contract::Template;
use serde_json::Value;

const MAIN: &str = include_str!("../../../infra/template.yaml");
const EXAMPLE: &str = include_str!("../../../infra/example-stack.yaml");

fn parse(yaml: &str) -> Template {
    Template::parse(yaml).expect("template parses")
}

#[test]
fn the_example_nests_the_main_template_with_the_parameters_it_declares() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let nested: Vec<_> = example
        .resources_of_type("AWS::Serverless::Application")
        .collect();
    let [(id, capacity)] = nested.as_slice() else {
        panic!("one nested application expected: {nested:?}");
    };
    assert_eq!(
        capacity.location.as_ref().and_then(Value::as_str),
        Some("template.yaml"),
        "{id} nests infra/template.yaml itself, not a copy"
    );
    let given: BTreeSet<&str> = capacity
        .parameters
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    let declared: BTreeSet<&str> = main.parameters().keys().map(String::as_str).collect();
    let undeclared: Vec<_> = given.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "{id} passes undeclared parameters {undeclared:?}"
    );
    let required: BTreeSet<&str> = main
        .parameters()
        .iter()
        .filter(|(_, p)| p.default.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    let missing: Vec<_> = required.difference(&given).collect();
    assert!(
        missing.is_empty(),
        "{id} does not pass required parameters {missing:?}"
    );
}

#[test]
fn the_example_reads_only_outputs_the_main_template_has() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let mut read = 0;
    for (name, output) in example.outputs() {
        // `!GetAtt Capacity.Outputs.X` reads as the string "Capacity.Outputs.X".
        let Some(target) = output.value.0.as_str() else {
            continue;
        };
        if output.value.1.as_deref() != Some("!GetAtt") {
            continue;
        }
        if let Some(("Capacity", nested)) = target.split_once(".Outputs.") {
            read += 1;
            assert!(
                main.outputs().contains_key(nested),
                "output {name} reads {nested}, which infra/template.yaml does not output"
            );
        }
    }
    assert!(
        read > 0,
        "the example surfaces the capacity stack's outputs"
    );
}

#[test]
fn the_examples_group_asks_the_chooser_first_then_the_default_policy() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let group = example
        .raw_resource("AutoScalingGroup")
        .expect("the example's group");
    // `!If [SelfManaged, [<the chooser>, Default], [Default]]`, read untagged: on a capacity
    // provider there is no chooser.
    let choice = group["Properties"]["TerminationPolicies"]
        .as_array()
        .expect("the group names its termination policies");
    let [condition, self_managed, on_capacity_provider] = choice.as_slice() else {
        panic!("an !If of the two modes expected: {choice:?}");
    };
    assert_eq!(condition, "SelfManaged");
    assert_eq!(on_capacity_provider, &serde_json::json!(["Default"]));
    let policies = self_managed
        .as_array()
        .expect("the self-managed group names its termination policies");
    // Auto Scaling wants the Lambda function first and Default last.
    let [chooser, default] = policies.as_slice() else {
        panic!("two termination policies expected: {policies:?}");
    };
    assert_eq!(default, "Default");
    // The alias ARN, spelled from the function name the example gives the nested stack and
    // the alias the main template publishes (tags are dropped: `!Sub x` reads as "x").
    let given = example
        .resources_of_type("AWS::Serverless::Application")
        .find_map(|(_, p)| p.parameters.as_ref()?.get("ChooserFunctionName").cloned())
        .expect("the example names the chooser");
    let name = given.as_str().expect("a !Sub of the name");
    let alias = main
        .raw_resource("ScaleInChooserFunction")
        .and_then(|f| f["Properties"]["AutoPublishAlias"].as_str())
        .expect("the chooser publishes an alias");
    assert_eq!(
        chooser.as_str(),
        Some(
            format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}:{alias}")
                .as_str()
        ),
        "the first policy is the chooser's alias, never $LATEST"
    );
    // The name reaches the function.
    let function = main
        .raw_resource("ScaleInChooserFunction")
        .expect("the chooser");
    assert_eq!(
        function["Properties"]["FunctionName"],
        serde_json::json!([
            "HasChooserFunctionName",
            "ChooserFunctionName",
            "AWS::NoValue"
        ]),
        "FunctionName is !If [HasChooserFunctionName, !Ref ChooserFunctionName, !Ref AWS::NoValue]"
    );
}

#[test]
fn the_examples_hosts_drain_on_a_spot_interruption() {
    assert!(
        EXAMPLE.contains("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true"),
        "the hosts' ECS config sets ECS_ENABLE_SPOT_INSTANCE_DRAINING=true"
    );
}

#[test]
fn on_a_capacity_provider_the_example_is_what_the_calculator_checks_for() {
    let example = parse(EXAMPLE);
    // The mode reaches the nested stack.
    let given = example
        .resources_of_type("AWS::Serverless::Application")
        .find_map(|(_, p)| p.parameters.as_ref()?.get("ScalingMode").cloned())
        .expect("the example passes ScalingMode");
    assert_eq!(given, "ScalingMode");
    // The provider the calculator refuses to act without: managed scaling and managed
    // termination protection on this group, the group's new hosts protected from scale-in.
    let provider = example
        .raw_resource("CapacityProvider")
        .expect("the example's capacity provider");
    assert_eq!(provider["Condition"], "OnCapacityProvider");
    let asg = &provider["Properties"]["AutoScalingGroupProvider"];
    assert_eq!(asg["AutoScalingGroupArn"], "AutoScalingGroup");
    assert_eq!(asg["ManagedScaling"]["Status"], "ENABLED");
    assert_eq!(asg["ManagedTerminationProtection"], "ENABLED");
    let group = example
        .raw_resource("AutoScalingGroup")
        .expect("the example's group");
    assert_eq!(
        group["Properties"]["NewInstancesProtectedFromScaleIn"],
        serde_json::json!(["OnCapacityProvider", true, "AWS::NoValue"])
    );
    let associations = example
        .raw_resource("ClusterCapacityProviders")
        .expect("the provider is the cluster's");
    assert_eq!(associations["Condition"], "OnCapacityProvider");
    // The service uses the provider in that mode and the EC2 launch type otherwise.
    let service = example
        .raw_resource("Service")
        .expect("the example service");
    assert_eq!(
        service["Properties"]["LaunchType"],
        serde_json::json!(["SelfManaged", "EC2", "AWS::NoValue"])
    );
}

#[test]
fn the_examples_own_copies_of_the_main_parameters_allow_what_they_allow() {
    let (main, example) = (parse(MAIN), parse(EXAMPLE));
    let given = example
        .resources_of_type("AWS::Serverless::Application")
        .find_map(|(_, p)| p.parameters.clone())
        .expect("the example passes parameters");
    let mut copies = 0;
    for (name, value) in &given {
        // `!Ref X` reads untagged as "X": a parameter of the example passed on as it is.
        let Some(own) = value.as_str().and_then(|r| example.parameter(r)) else {
            continue;
        };
        let nested = main
            .parameter(name)
            .unwrap_or_else(|| panic!("the main template declares {name}"));
        assert_eq!(own.default, nested.default, "{name}: the example's Default");
        assert_eq!(
            own.allowed_values, nested.allowed_values,
            "{name}: the example's AllowedValues"
        );
        assert_eq!(
            own.min_value, nested.min_value,
            "{name}: the example's MinValue"
        );
        assert_eq!(
            own.max_value, nested.max_value,
            "{name}: the example's MaxValue"
        );
        copies += 1;
    }
    // ScalingMode, Consolidation, ScaleOutHeadroom, ScaleOutAdjustment, AlarmEmail.
    assert!(
        copies >= 5,
        "{copies} parameters passed on as the example's own"
    );
    assert_eq!(
        given.get("Consolidation"),
        Some(&serde_json::json!("Consolidation"))
    );
}
