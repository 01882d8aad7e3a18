// The capacity-calculator: its role (and, on a capacity provider, the policy that lets it drain
// the planned hosts), the function, and what runs it: the ECS events of this cluster and the
// schedule. It exists in both scaling modes; everything else reads its metrics.
import { CfnResource, Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  FUNCTION_DEFAULTS, functionCode, functionLogGroup, lambdaAssumeRole, listThisClustersContainerInstances, onThisCluster,
  writeOwnLogGroup,
} from './functions';
import { iam5, suppressNag } from './nag';
import { CheckedProps } from './props';

/** The cluster tag in which the calculator keeps the time of the cluster's last shortfall. */
export const LAST_SHORTFALL_TAG = 'ecs-capacity.last-shortfall';

/** The calculator in scope, with its construct ids the template's logical ids. */
export function addCapacityCalculator(scope: Construct, p: CheckedProps): lambda.Function {
  const calculatorLogGroup = functionLogGroup(scope, p, 'CalculatorLogGroup', 'capacity-calculator');
  const calculatorRole = new iam.Role(scope, 'CalculatorRole', {
    description: 'capacity-calculator - reads one ECS cluster and its group, marks the hosts it plans to remove, publishes to one metric namespace',
    assumedBy: lambdaAssumeRole(),
    inlinePolicies: {
      'capacity-calculator': new iam.PolicyDocument({
        statements: [
          listThisClustersContainerInstances(p),
          onThisCluster(p, 'ReadThisClustersInstancesServicesAndTasks', [
            'ecs:DescribeContainerInstances', 'ecs:ListServices', 'ecs:DescribeServices', 'ecs:ListTasks', 'ecs:DescribeTasks',
          ]),
          // The consolidation plan's marks on this cluster's container instances.
          onThisCluster(p, 'MarkThisClustersContainerInstances', ['ecs:PutAttributes', 'ecs:DeleteAttributes']),
          // The plan's memory of the cluster's last shortfall, the cluster tag
          // ecs-capacity.last-shortfall: this cluster only, that one tag key only.
          new iam.PolicyStatement({
            sid: 'ReadThisClustersTags',
            actions: ['ecs:ListTagsForResource'],
            resources: [p.clusterArn],
          }),
          new iam.PolicyStatement({
            sid: 'TagThisClusterWithItsLastShortfall',
            actions: ['ecs:TagResource'],
            resources: [p.clusterArn],
            conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [LAST_SHORTFALL_TAG] } },
          }),
          new iam.PolicyStatement({
            sid: 'ReadTheGroup',
            actions: ['autoscaling:DescribeAutoScalingGroups'],
            resources: ['*'],
          }),
          // The instance types the group launches and their sizes: new hosts are sized on them,
          // and StrandedVcpu / StrandedMemoryGiB measured. Read once an hour.
          new iam.PolicyStatement({
            sid: 'ReadTheGroupsInstanceTypes',
            actions: ['autoscaling:DescribeLaunchConfigurations', 'ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstanceTypes'],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'PublishToThisNamespaceOnly',
            actions: ['cloudwatch:PutMetricData'],
            resources: ['*'],
            conditions: { StringEquals: { 'cloudwatch:namespace': p.metricNamespace } },
          }),
          writeOwnLogGroup(calculatorLogGroup),
        ],
      }),
    },
  });
  suppressNag(calculatorRole.node.defaultChild as CfnResource, [iam5(
    'ECS container instance, service and task reads, container instance attributes and PutMetricData support no resource ARN here; '
    + 'each of those "*" statements is conditioned on ecs:cluster (this cluster) or cloudwatch:namespace; '
    + 'autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeLaunchConfigurations, ec2:DescribeLaunchTemplateVersions and '
    + 'ec2:DescribeInstanceTypes support no resource-level permission at all (reads only)')]);
  if (!p.worstCase) {
    // ecs:DescribeTaskDefinition on "*": AWS scopes it neither by resource nor by condition key
    // (task definitions belong to no cluster); granted only to discover the worst case. (cdk-nag's
    // IAM5 does not check AWS::IAM::RolePolicy: nothing to suppress.)
    new iam.CfnRolePolicy(scope, 'CalculatorTaskDefinitionReadPolicy', {
      roleName: calculatorRole.roleName,
      policyName: 'discover-worst-case-task',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{
          Sid: 'ReadTaskDefinitionsToDiscoverTheWorstCase',
          Effect: 'Allow',
          Action: 'ecs:DescribeTaskDefinition',
          Resource: '*',
        }],
      },
    });
  }

  if (!p.selfManaged) {
    // The calculator checks the group is behind a capacity provider with managed scaling and
    // managed termination protection, then drains the planned hosts itself. (cdk-nag's IAM5
    // does not check AWS::IAM::RolePolicy: nothing to suppress.)
    new iam.CfnRolePolicy(scope, 'CalculatorConsolidationPolicy', {
      roleName: calculatorRole.roleName,
      policyName: 'consolidate-on-capacity-provider',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'ReadThisClustersCapacityProviders', Effect: 'Allow', Action: 'ecs:DescribeClusters', Resource: p.clusterArn },
          { Sid: 'ReadCapacityProviders', Effect: 'Allow', Action: 'ecs:DescribeCapacityProviders', Resource: '*' },
          {
            Sid: 'DrainAndReactivateThisClustersInstances', Effect: 'Allow', Action: 'ecs:UpdateContainerInstancesState', Resource: '*',
            Condition: { ArnEquals: { 'ecs:cluster': p.clusterArn } },
          },
        ],
      },
    });
  }

  const calculatorEnvironment: Record<string, string> = {
    METRIC_NAMESPACE: p.metricNamespace,
    SCALE_OUT_HEADROOM: String(p.headroom),
    DISRUPTION_BUDGET: p.disruptionBudget,
    CONSOLIDATION_STABILITY_SECONDS: String(p.stability),
    // The group the plan is bounded by (never below MinSize), and in capacity-provider mode
    // the group the capacity provider must manage before anything is drained.
    AUTO_SCALING_GROUP_NAME: p.groupName,
    SCALING_MODE: p.scalingMode,
    // observe: plan and publish HostsRemovable, act on nothing.
    CONSOLIDATION: p.consolidation,
    MIN_HOSTS_PER_ZONE: String(p.minHostsPerZone),
    // The task the headroom is counted in ('': the worst case).
    HEADROOM_TASK: p.headroomTask,
    // Read in capacity-provider mode only; set in both, as the template does.
    DRAIN_GIVE_UP_SECONDS: String(p.drainGiveUp),
    // The cluster of the scheduled runs (a scheduled event names none).
    ECS_CLUSTER: p.clusterArn,
  };
  if (p.worstCase) {
    calculatorEnvironment.CONTAINER_MAX_CPU = String(p.worstCase.cpu);
    calculatorEnvironment.CONTAINER_MAX_MEMORY = String(p.worstCase.memoryMiB);
  }
  const calculatorFunction = new lambda.Function(scope, 'CapacityCalculatorFunction', {
    ...FUNCTION_DEFAULTS,
    description: 'Publishes ContainerCapacity, IdleHostCapacity, HostsToAdd, HostsToRemove and UnplacedTasks for the ECS cluster',
    code: functionCode(p, 'capacity-calculator', p.code.calculator),
    timeout: Duration.seconds(p.calculatorTimeout),
    reservedConcurrentExecutions: 1,
    role: calculatorRole,
    logGroup: calculatorLogGroup,
    applicationLogLevelV2: p.logLevel,
    environment: calculatorEnvironment,
  });
  (calculatorFunction.node.defaultChild as CfnResource).addMetadata('NoOnFailureDestinationBecause',
    'A capacity event is worth only its moment: each run reads the cluster as it is now, and the next container '
    + 'instance event recomputes everything. A stored event replayed later would only repeat a reading; a run that '
    + 'fails shows in the Errors metric and alarm.');
  new lambda.CfnEventInvokeConfig(scope, 'CapacityCalculatorFunctionEventInvokeConfig', {
    functionName: calculatorFunction.functionName,
    qualifier: '$LATEST',
    maximumRetryAttempts: 1,
    maximumEventAgeInSeconds: 180,
  });
  const calculatorRule = (id: string, pattern: object) => {
    const rule = new events.CfnRule(scope, id, {
      eventPattern: pattern,
      targets: [{ id: `${id}LambdaTarget`.slice(0, 64), arn: calculatorFunction.functionArn }],
    });
    new lambda.CfnPermission(scope, `${id}Permission`, {
      action: 'lambda:InvokeFunction',
      functionName: calculatorFunction.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: rule.attrArn,
    });
  };
  calculatorRule('CapacityCalculatorFunctionContainerInstanceStateChange', {
    source: ['aws.ecs'],
    'detail-type': ['ECS Container Instance State Change'],
    detail: { clusterArn: [p.clusterArn] },
  });
  calculatorRule('CapacityCalculatorFunctionServiceTaskPlacementFailure', {
    source: ['aws.ecs'],
    'detail-type': ['ECS Service Action'],
    detail: { eventName: ['SERVICE_TASK_PLACEMENT_FAILURE'], clusterArn: [p.clusterArn] },
  });
  if (p.hasSchedule) {
    const schedule = new events.CfnRule(scope, 'CalculatorScheduleRule', {
      description: `Runs the capacity-calculator of cluster ${p.clusterName} on a schedule`,
      scheduleExpression: p.scheduleMinutes === 1 ? 'rate(1 minute)' : `rate(${p.scheduleMinutes} minutes)`,
      state: 'ENABLED',
      targets: [{ id: 'capacity-calculator', arn: calculatorFunction.functionArn }],
    });
    new lambda.CfnPermission(scope, 'CalculatorScheduleInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: calculatorFunction.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: schedule.attrArn,
    });
  }
  return calculatorFunction;
}
