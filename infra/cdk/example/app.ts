// Example CDK app: EcsCapacity on an existing ECS cluster and Auto Scaling group, found by name.
//
//   make package                       # the three functions -> target/lambda/<name>/bootstrap.zip
//   cd infra/cdk && npm ci && npx tsc -p .
//   npx cdk deploy -c clusterName=my-cluster -c autoScalingGroupName=my-cluster-asg
//   npx cdk deploy -c clusterName=my-cluster -c autoScalingGroupName=my-cluster-asg -c scalingMode=capacity-provider
//
// Context: clusterName, autoScalingGroupName (required), scalingMode (self-managed, the default,
// or capacity-provider: the group is behind an ECS capacity provider with managed scaling and
// managed termination protection, and the stack only consolidates), consolidation (act, the
// default, or observe: plan and publish HostsRemovable, act on nothing), stackName (default
// ecs-capacity), lambdaPackageDir (default <repository>/target/lambda), alarmEmail (optional),
// nag=true to run cdk-nag's AwsSolutions checks (synth fails on a finding; `make infra-check`
// does this).
import * as path from 'node:path';
import { App, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Consolidation, EcsCapacity, ScalingMode } from '../lib';

const app = new App();
if (app.node.tryGetContext('nag') === 'true') Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const context = (key: string): string | undefined => app.node.tryGetContext(key) as string | undefined;
const required = (key: string): string => {
  const value = context(key);
  if (!value) throw new Error(`context ${key} is required: cdk synth -c ${key}=<name>`);
  return value;
};

const stack = new Stack(app, context('stackName') ?? 'ecs-capacity', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'ecs-capacity (CDK): keeps an existing ECS cluster on EC2 the right size and drains its hosts before they go',
});

// Imported by name: nothing is looked up at synth time, so no credentials are needed to synth.
const clusterName = required('clusterName');
const cluster = ecs.Cluster.fromClusterArn(stack, 'Cluster',
  stack.formatArn({ service: 'ecs', resource: 'cluster', resourceName: clusterName }));
const autoScalingGroup = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', required('autoScalingGroupName'));
const modes = Object.values(ScalingMode) as string[];
const scalingMode = context('scalingMode') ?? ScalingMode.SELF_MANAGED;
if (!modes.includes(scalingMode)) throw new Error(`context scalingMode must be one of ${modes.join(', ')}, got ${scalingMode}`);
// The construct refuses any other value, naming it.
const consolidation = (context('consolidation') ?? Consolidation.ACT) as Consolidation;

// Three lines: the construct, its cluster and group; everything else has the template's defaults.
const capacity = new EcsCapacity(stack, 'EcsCapacity', {
  cluster,
  autoScalingGroup,
  scalingMode: scalingMode as ScalingMode,
  consolidation,
  alarmEmail: context('alarmEmail'),
  lambdaPackageDir: context('lambdaPackageDir') ?? path.resolve(__dirname, '..', '..', '..', '..', 'target', 'lambda'),
});

// The chooser, the lifecycle topic and the failure queue exist in self-managed mode only.
if (capacity.chooserAlias && capacity.terminationPoliciesCommand) {
  new CfnOutput(stack, 'ScaleInChooserAliasArn', {
    description: "The custom termination policy to put first in the group's termination policies",
    value: capacity.chooserAlias.functionArn,
  });
  new CfnOutput(stack, 'ScaleInChooserTerminationPoliciesCommand', {
    description: 'Run once (a stack cannot change a group it does not own): the chooser first, then the default policy',
    value: capacity.terminationPoliciesCommand,
  });
}
if (capacity.lifecycleTopic) new CfnOutput(stack, 'LifecycleTopicArn', { value: capacity.lifecycleTopic.topicArn });
if (capacity.failureQueue) new CfnOutput(stack, 'DrainerFailureQueueUrl', { value: capacity.failureQueue.queueUrl });
new CfnOutput(stack, 'ScalingMode', { value: capacity.scalingMode });
new CfnOutput(stack, 'DashboardUrl', { value: capacity.dashboardUrl });
