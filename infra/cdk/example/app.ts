// Example CDK app: EcsCapacity on an existing ECS cluster and Auto Scaling group, found by name.
//
//   make package                       # the three functions -> target/lambda/<name>/bootstrap.zip
//   cd infra/cdk && npm ci && npx tsc -p .
//   npx cdk deploy -c clusterName=my-cluster -c autoScalingGroupName=my-cluster-asg
//
// Context: clusterName, autoScalingGroupName (required), stackName (default ecs-capacity),
// lambdaPackageDir (default <repository>/target/lambda), alarmEmail (optional), nag=true to run
// cdk-nag's AwsSolutions checks (synth fails on a finding; `make infra-check` does this).
import * as path from 'node:path';
import { App, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EcsCapacity } from '../lib';

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

// Three lines: the construct, its cluster and group; everything else has the template's defaults.
const capacity = new EcsCapacity(stack, 'EcsCapacity', {
  cluster,
  autoScalingGroup,
  alarmEmail: context('alarmEmail'),
  lambdaPackageDir: context('lambdaPackageDir') ?? path.resolve(__dirname, '..', '..', '..', '..', 'target', 'lambda'),
});

new CfnOutput(stack, 'ScaleInChooserAliasArn', {
  description: "The custom termination policy to put first in the group's termination policies",
  value: capacity.chooserAlias.functionArn,
});
new CfnOutput(stack, 'ScaleInChooserTerminationPoliciesCommand', {
  description: 'Run once (a stack cannot change a group it does not own): the chooser first, then the default policy',
  value: capacity.terminationPoliciesCommand,
});
new CfnOutput(stack, 'LifecycleTopicArn', { value: capacity.lifecycleTopic.topicArn });
new CfnOutput(stack, 'DrainerFailureQueueUrl', { value: capacity.failureQueue.queueUrl });
new CfnOutput(stack, 'DashboardUrl', { value: capacity.dashboardUrl });
