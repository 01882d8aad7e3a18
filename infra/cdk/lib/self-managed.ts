// The self-managed loop (ScalingMode.SELF_MANAGED only): the construct scales the group itself.
// The drain before each host goes (drainer.ts), the scale-in-chooser that offers Auto Scaling
// the hosts to remove, and the scaling alarms and step policies driven by the calculator's
// metrics. On a capacity provider none of this exists: ECS scales the group.
import { Aws, CfnResource, Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AddAlarm } from './alarms';
import { addLifecycleDrainer, LifecycleDrainer } from './drainer';
import {
  FUNCTION_DEFAULTS, functionCode, functionLogGroup, lambdaAssumeRole, listThisClustersContainerInstances, onThisCluster,
  writeOwnLogGroup,
} from './functions';
import { iam5, suppressNag } from './nag';
import { CheckedProps } from './props';

// HostsToAdd (threshold 1): n falls in [n-1, n) and adds n hosts up to 12, then Auto Scaling's
// 20 steps per policy round up (the template explains the table; the simulator's copy is
// ecs_capacity::sim::alarms::HOSTS_TO_ADD_STEPS).
const HOSTS_TO_ADD_STEPS: ReadonlyArray<readonly [number, number | undefined, number]> = [
  [0, 1, 1], [1, 2, 2], [2, 3, 3], [3, 4, 4], [4, 5, 5], [5, 6, 6], [6, 7, 7], [7, 8, 8],
  [8, 9, 9], [9, 10, 10], [10, 11, 11], [11, 12, 12], [12, 16, 16], [16, 20, 20], [20, 25, 25],
  [25, 32, 32], [32, 40, 40], [40, 50, 50], [50, 64, 64], [64, undefined, 80],
];

// HostsToRemove (threshold 1): n falls in [n-1, n) and removes n hosts up to 19; 20 and more
// remove 20 (the template explains the table; the simulator's copy is ecs_capacity::sim::alarms).
const HOSTS_TO_REMOVE_STEPS: ReadonlyArray<readonly [number, number | undefined, number]> = [
  ...Array.from({ length: 19 }, (_, i) => [i, i + 1, -(i + 1)] as const),
  [19, undefined, -20],
];

export interface SelfManagedLoop extends LifecycleDrainer {
  readonly chooserFunction: lambda.Function;
  /** Its alias "live": the custom termination policy to put first in the group's termination policies. */
  readonly chooserAlias: lambda.Alias;
  /** The AWS CLI command that puts the chooser first in the group's termination policies. */
  readonly terminationPoliciesCommand: string;
}

/**
 * The hook and drainer, then the chooser, in scope. The scaling alarms and policies are made
 * later (addScalingPolicies), after the operations alarms, where the template has them.
 */
export function addSelfManagedLoop(scope: Construct, p: CheckedProps): SelfManagedLoop {
  const drainer = addLifecycleDrainer(scope, p);

  // ------------------------------------------------------------ scale-in-chooser
  const chooserLogGroup = functionLogGroup(scope, p, 'ChooserLogGroup', 'scale-in-chooser');
  const chooserRole = new iam.Role(scope, 'ChooserRole', {
    description: "scale-in-chooser - reads the task counts of one ECS cluster's container instances",
    assumedBy: lambdaAssumeRole(),
    inlinePolicies: {
      'scale-in-chooser': new iam.PolicyDocument({
        statements: [
          listThisClustersContainerInstances(p),
          onThisCluster(p, 'DescribeThisClustersContainerInstances', ['ecs:DescribeContainerInstances']),
          writeOwnLogGroup(chooserLogGroup),
        ],
      }),
    },
  });
  suppressNag(chooserRole.node.defaultChild as CfnResource, [iam5(
    'ecs:DescribeContainerInstances supports no resource ARN here; the statement is conditioned on ecs:cluster (this cluster)')]);
  const chooserFunction = new lambda.Function(scope, 'ScaleInChooserFunction', {
    ...FUNCTION_DEFAULTS,
    description: 'Custom termination policy - offers Auto Scaling the ECS hosts cheapest to drain',
    functionName: p.chooserFunctionName,
    code: functionCode(p, 'scale-in-chooser', p.code.chooser),
    timeout: Duration.seconds(2),
    role: chooserRole,
    logGroup: chooserLogGroup,
    applicationLogLevelV2: p.logLevel,
    environment: { ECS_CLUSTER: p.clusterName, ECS_READ_BUDGET_MS: String(p.readBudget) },
    currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
  });
  // As SAM's AutoPublishAlias: a new version on each code change, old ones retained.
  const version = chooserFunction.currentVersion;
  const chooserAlias = new lambda.Alias(scope, 'ScaleInChooserFunctionAliaslive', { aliasName: 'live', version });
  new lambda.CfnPermission(scope, 'ChooserInvokeByAutoScalingPermission', {
    action: 'lambda:InvokeFunction',
    functionName: chooserAlias.functionArn,
    principal: Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/autoscaling.amazonaws.com/${Role}', { Role: p.serviceLinkedRole }),
  });
  const terminationPoliciesCommand = `aws autoscaling update-auto-scaling-group --region ${Aws.REGION} --auto-scaling-group-name ${p.groupName} --termination-policies ${chooserAlias.functionArn} Default`;

  return { ...drainer, chooserFunction, chooserAlias, terminationPoliciesCommand };
}

/**
 * The scaling alarms and the step (or, with MINUS_ONE, simple) policies they drive: scale-out on
 * HostsToAdd or ContainerCapacity, scale-in on HostsToRemove or IdleHostCapacity.
 */
export function addScalingPolicies(scope: Construct, p: CheckedProps, alarm: AddAlarm) {
  const scaleOutPolicy = new autoscaling.CfnScalingPolicy(scope, 'ScaleOutPolicy', {
    autoScalingGroupName: p.groupName,
    policyType: 'StepScaling',
    adjustmentType: 'ChangeInCapacity',
    metricAggregationType: p.byHostsToAdd ? 'Maximum' : 'Minimum',
    estimatedInstanceWarmup: p.warmup,
    stepAdjustments: p.byHostsToAdd
      ? HOSTS_TO_ADD_STEPS.map(([lower, upper, adjust]) => ({
        metricIntervalLowerBound: lower, metricIntervalUpperBound: upper, scalingAdjustment: adjust,
      }))
      : [{ metricIntervalUpperBound: 0, scalingAdjustment: 1 }],
  });
  alarm('ContainerCapacityAlarm', {
    suffix: 'container-capacity-low',
    description: `Fewer than ${p.headroom} worst-case tasks fit on cluster ${p.clusterName}: scale out (with ScaleOutAdjustment=HostsToAdd the HostsToAdd alarm acts, this one only reports).`,
    namespace: p.metricNamespace, metricName: 'ContainerCapacity', dimension: ['ClusterName', p.clusterName],
    statistic: 'Minimum', period: p.scaleOutPeriod, evaluationPeriods: p.scaleOutEvaluations, threshold: p.headroom,
    comparisonOperator: 'LessThanThreshold', treatMissingData: 'notBreaching',
    alarmActions: p.byHostsToAdd ? undefined : [scaleOutPolicy.ref],
  });
  if (p.byHostsToAdd) {
    alarm('HostsToAddAlarm', {
      suffix: 'hosts-to-add',
      description: `Cluster ${p.clusterName} needs hosts for tasks that wait for room or to bring ContainerCapacity back to ${p.headroom}: the step policy adds as many as the calculator computed, in one step.`,
      namespace: p.metricNamespace, metricName: 'HostsToAdd', dimension: ['ClusterName', p.clusterName],
      statistic: 'Maximum', period: 10, evaluationPeriods: 1, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching',
      alarmActions: [scaleOutPolicy.ref],
    });
  }
  // The book's scale-in (MINUS_ONE): one host at a time, the cooldown counted after the drain.
  const scaleInPolicy = p.byMinusOne ? new autoscaling.CfnScalingPolicy(scope, 'ScaleInPolicy', {
    autoScalingGroupName: p.groupName,
    policyType: 'SimpleScaling',
    adjustmentType: 'ChangeInCapacity',
    scalingAdjustment: -1,
    cooldown: String(p.cooldown),
  }) : undefined;
  alarm('IdleHostCapacityAlarm', {
    suffix: 'idle-host-capacity-high',
    description: `More than one host of cluster ${p.clusterName} is idle in worst-case tasks for the whole period: with ScaleInAdjustment=MinusOne remove one host (drained first by the lifecycle hook); with HostsToRemove the HostsToRemove alarm acts and this one only reports.`,
    namespace: p.metricNamespace, metricName: 'IdleHostCapacity', dimension: ['ClusterName', p.clusterName],
    statistic: 'Minimum', period: p.scaleInPeriod, evaluationPeriods: p.scaleInEvaluations, threshold: 1,
    comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
    alarmActions: scaleInPolicy ? [scaleInPolicy.ref] : undefined,
  });
  if (p.byHostsToRemove) {
    // The consolidation plan's size in one step, 20 at most (no cooldown: the calculator
    // counts the hosts the group is terminating as leaving).
    const consolidationPolicy = new autoscaling.CfnScalingPolicy(scope, 'ConsolidationScaleInPolicy', {
      autoScalingGroupName: p.groupName,
      policyType: 'StepScaling',
      adjustmentType: 'ChangeInCapacity',
      metricAggregationType: 'Minimum',
      stepAdjustments: HOSTS_TO_REMOVE_STEPS.map(([lower, upper, adjust]) => ({
        metricIntervalLowerBound: lower, metricIntervalUpperBound: upper, scalingAdjustment: adjust,
      })),
    });
    alarm('HostsToRemoveAlarm', {
      suffix: 'hosts-to-remove',
      description: `Cluster ${p.clusterName} can do without hosts, each removable for the plan's stability window (the consolidation plan): the step policy removes as many as planned, in one step; the scale-in chooser offers Auto Scaling the planned hosts, the drainer drains them.`,
      namespace: p.metricNamespace, metricName: 'HostsToRemove', dimension: ['ClusterName', p.clusterName],
      // One period: the plan's stability window, host by host, is the waiting.
      statistic: 'Minimum', period: p.scaleInPeriod, evaluationPeriods: 1, datapointsToAlarm: 1,
      threshold: 1, comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching',
      alarmActions: [consolidationPolicy.ref],
    });
  }
}
