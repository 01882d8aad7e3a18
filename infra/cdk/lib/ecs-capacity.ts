// EcsCapacity: the resources of infra/template.yaml as one CDK construct.
//
// Each construct id below is the template's logical id of the same resource (or the id the SAM
// transform generates for it), so the parity test (test/parity.test.ts) can pair them; comments
// on why a resource is shaped as it is live in infra/template.yaml and are not repeated here.
// The template stays the reference: a change there fails the parity test until it is made here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnResource, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as v from './validate';

/** How the scale-out policy adds hosts (the template's ScaleOutAdjustment). */
export enum ScaleOutAdjustment {
  /** Add the number of hosts the calculator computed (metric HostsToAdd) in one step. */
  HOSTS_TO_ADD = 'HostsToAdd',
  /** The book's fixed +1 host each time ContainerCapacity is below the headroom. */
  PLUS_ONE = 'PlusOne',
}

/**
 * Who scales the group (the template's ScalingMode). docs/scaling-modes.md says which fits whom.
 */
export enum ScalingMode {
  /**
   * This construct scales the group: the calculator's metrics drive alarms and step policies,
   * the terminate lifecycle hook and lifecycle-drainer drain each host before it goes, the
   * scale-in-chooser picks the hosts to remove.
   */
  SELF_MANAGED = 'self-managed',
  /**
   * The group is behind an ECS capacity provider with managed scaling and managed termination
   * protection, which keep scaling it: the construct adds no alarm, policy or hook to the
   * group and only consolidates (the calculator sets the hosts the cluster can do without to
   * DRAINING). No drainer, chooser, lifecycle topic or failure queue is created.
   */
  CAPACITY_PROVIDER = 'capacity-provider',
}

/** How the self-managed scale-in removes hosts (the template's ScaleInAdjustment). */
export enum ScaleInAdjustment {
  /**
   * Remove, in one step, the hosts the calculator's consolidation plan can do without
   * (metric HostsToRemove; the chooser offers Auto Scaling exactly those).
   */
  HOSTS_TO_REMOVE = 'HostsToRemove',
  /** The book's one host at a time while IdleHostCapacity stays above 1. */
  MINUS_ONE = 'MinusOne',
}

/** The worst-case task, given instead of discovered (ContainerMaxCpu and ContainerMaxMemory). */
export interface WorstCaseTask {
  /** CPU units (1024 = 1 vCPU), 1 to 196608. */
  readonly cpu: number;
  /** Memory the task reserves on a host, MiB, 1 to 25165824. */
  readonly memoryMiB: number;
}

/** The three functions' code; each defaults to `<lambdaPackageDir>/<name>/bootstrap.zip`. */
export interface EcsCapacityCode {
  readonly calculator?: lambda.Code;
  readonly drainer?: lambda.Code;
  readonly chooser?: lambda.Code;
}

/**
 * The SAM template's parameters, typed, with the same defaults and limits (docs/cdk.md has
 * the table prop by parameter).
 */
export interface EcsCapacityProps {
  /** The existing ECS cluster whose capacity is managed (ClusterName). */
  readonly cluster: ecs.ICluster;
  /** The Auto Scaling group of its container instances (AutoScalingGroupName). */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /**
   * Who scales the group. With CAPACITY_PROVIDER only the calculator, its operations alarms
   * and the dashboard are created, and the props of the scaling alarms and policies, the
   * drainer and the chooser have no effect. @default ScalingMode.SELF_MANAGED
   */
  readonly scalingMode?: ScalingMode;
  /** @default - discovered from the task definitions of the cluster's services and tasks */
  readonly worstCaseTask?: WorstCaseTask;
  /** @default 'ECS/ClusterCapacity' */
  readonly metricNamespace?: string;
  /** Worst-case tasks that must always fit, 1 to 1000. @default 1 */
  readonly scaleOutHeadroom?: number;
  /** 5 to 300 seconds. @default Duration.seconds(30) */
  readonly calculatorTimeout?: Duration;
  /**
   * Also run the calculator this often, whatever the cluster does, so the metrics are never
   * older than this; whole minutes, 0 to 60; `Duration.minutes(0)` turns the schedule (and the
   * calculator-silent alarm) off. @default Duration.minutes(1)
   */
  readonly calculatorSchedule?: Duration;
  /**
   * With the schedule on, alarm when no ContainerCapacity was published for this long; whole
   * minutes, 2 to 60. @default Duration.minutes(5)
   */
  readonly calculatorSilentAfter?: Duration;
  /** @default ScaleOutAdjustment.HOSTS_TO_ADD */
  readonly scaleOutAdjustment?: ScaleOutAdjustment;
  /** 60, 120, 180, 300, 600, 900 or 3600 seconds. @default Duration.minutes(1) */
  readonly scaleOutAlarmPeriod?: Duration;
  /** 1 to 10. @default 1 */
  readonly scaleOutEvaluationPeriods?: number;
  /** 60, 120, 180, 300, 600, 900 or 3600 seconds. @default Duration.minutes(1) */
  readonly scaleInAlarmPeriod?: Duration;
  /** 1 to 60. @default 5 */
  readonly scaleInEvaluationPeriods?: number;
  /** Warm-up of the step scale-out policy, 0 to 3600 seconds. @default Duration.seconds(300) */
  readonly scaleOutWarmup?: Duration;
  /**
   * Cooldown of the scale-in policy with ScaleInAdjustment.MINUS_ONE, 0 to 86400 seconds (the
   * HostsToRemove step policy has none). @default Duration.seconds(300)
   */
  readonly scaleInCooldown?: Duration;
  /** @default ScaleInAdjustment.HOSTS_TO_REMOVE */
  readonly scaleInAdjustment?: ScaleInAdjustment;
  /**
   * Hosts allowed to be leaving the cluster at once (DRAINING, or planned): a number of hosts,
   * 0 to 9999 (0: the plan never names a host), or a share of the cluster from '1%' to
   * '100%', rounded up (at least 1). A whole number may be given as a number or a string.
   * @default '10%'
   */
  readonly disruptionBudget?: string | number;
  /**
   * How long a host must have been found removable, run after run, before the consolidation
   * plan names it; whole seconds, 0 to 3600. @default Duration.seconds(300)
   */
  readonly consolidationStability?: Duration;
  /** Heartbeat timeout of the terminate hook, 30 to 7200 seconds. @default Duration.seconds(1800) */
  readonly lifecycleHeartbeatTimeout?: Duration;
  /** 1 to 300 seconds. @default Duration.seconds(5) */
  readonly drainPollInterval?: Duration;
  /** Total drain time across republished invocations, 60 to 172800 seconds. @default Duration.seconds(7200) */
  readonly drainMaxDuration?: Duration;
  /** @default autoscaling.DefaultResult.CONTINUE */
  readonly drainDeadlineResult?: autoscaling.DefaultResult;
  /** The chooser's ECS read budget, 100 to 1800 ms. @default Duration.millis(1200) */
  readonly chooserReadBudget?: Duration;
  /** The group's service-linked role, which invokes the chooser. @default 'AWSServiceRoleForAutoScaling' */
  readonly autoScalingServiceLinkedRoleName?: string;
  /** @default - CloudFormation names the chooser */
  readonly chooserFunctionName?: string;
  /** One of CloudWatch's retentions (not INFINITE). @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default lambda.ApplicationLogLevel.INFO */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /** Creates an SNS topic under its own KMS key that e-mails this address. @default - no topic */
  readonly alarmEmail?: string;
  /** An existing topic also told about the operations alarms (AlarmTopicArn). @default - none */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Directory holding `<name>/bootstrap.zip` for the three functions, as `make package` writes
   * them. @default path.join(process.cwd(), 'target', 'lambda')
   */
  readonly lambdaPackageDir?: string;
  /** Code for any function, instead of the zip in lambdaPackageDir. @default - the zips */
  readonly code?: EcsCapacityCode;
  /**
   * Prefix of the alarm, dashboard and log group names; give one per instance when a stack
   * holds more than one. @default Aws.STACK_NAME (as the template)
   */
  readonly namePrefix?: string;
}

/** The template's defaults, by prop, for readers and tests. */
export const ECS_CAPACITY_DEFAULTS = {
  metricNamespace: 'ECS/ClusterCapacity',
  scaleOutHeadroom: 1,
  calculatorTimeout: Duration.seconds(30),
  calculatorSchedule: Duration.minutes(1),
  calculatorSilentAfter: Duration.minutes(5),
  scaleOutAdjustment: ScaleOutAdjustment.HOSTS_TO_ADD,
  scaleOutAlarmPeriod: Duration.seconds(60),
  scaleOutEvaluationPeriods: 1,
  scaleInAlarmPeriod: Duration.seconds(60),
  scaleInEvaluationPeriods: 5,
  scaleOutWarmup: Duration.seconds(300),
  scaleInCooldown: Duration.seconds(300),
  scalingMode: ScalingMode.SELF_MANAGED,
  scaleInAdjustment: ScaleInAdjustment.HOSTS_TO_REMOVE,
  disruptionBudget: '10%',
  consolidationStability: Duration.seconds(300),
  lifecycleHeartbeatTimeout: Duration.seconds(1800),
  drainPollInterval: Duration.seconds(5),
  drainMaxDuration: Duration.seconds(7200),
  drainDeadlineResult: autoscaling.DefaultResult.CONTINUE,
  chooserReadBudget: Duration.millis(1200),
  autoScalingServiceLinkedRoleName: 'AWSServiceRoleForAutoScaling',
  logRetention: logs.RetentionDays.ONE_MONTH,
  logLevel: lambda.ApplicationLogLevel.INFO,
} as const;

const ALARM_PERIODS = [60, 120, 180, 300, 600, 900, 3600] as const;
const LOG_RETENTIONS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

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

const FUNCTION_DEFAULTS = {
  handler: 'bootstrap',
  runtime: lambda.Runtime.PROVIDED_AL2023,
  architecture: lambda.Architecture.ARM_64,
  memorySize: 128,
  loggingFormat: lambda.LoggingFormat.JSON,
  systemLogLevelV2: lambda.SystemLogLevel.WARN,
} as const;

/**
 * Acknowledges cdk-nag findings on one resource, each with its reason, without depending on
 * cdk-nag: through aws-cdk-lib's Validations (what cdk-nag v3 reads) and the `cdk_nag`
 * metadata (what cdk-nag v2's NagSuppressions writes and reads).
 */
function suppressNag(resource: CfnResource, rules: ReadonlyArray<{ id: string; reason: string; appliesTo?: string[] }>) {
  // cdk-nag v3 names a granular finding <rule>[<finding>], e.g. AwsSolutions-IAM5[Resource::*].
  Validations.of(resource).acknowledge(...rules.flatMap(({ id, reason, appliesTo }) =>
    (appliesTo ?? [undefined]).map((finding) => ({ id: finding === undefined ? id : `${id}[${finding}]`, reason }))));
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...rules] });
}

/** A resource as cdk-nag's IAM5 names it in a finding ("Resource::arn:<AWS::Partition>:..."). */
function nagResourceFinding(scope: Construct, resource: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [sep, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(sep);
    }
    if (o['Fn::GetAtt']) {
      const [r, a] = o['Fn::GetAtt'] as [string, string];
      return `<${r}.${a}>`;
    }
    if (o.Ref) return `<${String(o.Ref)}>`;
    return JSON.stringify(node);
  };
  return `Resource::${flatten(Stack.of(scope).resolve(resource))}`;
}

const lambdaAssumeRole = () => new iam.ServicePrincipal('lambda.amazonaws.com');

/**
 * Keeps an existing ECS cluster on EC2 the right size: capacity-calculator (metrics), alarms
 * and Auto Scaling policies on the group, the terminate lifecycle hook and lifecycle-drainer,
 * the scale-in-chooser (a custom termination policy), operations alarms and a dashboard. The
 * same resources as infra/template.yaml. With ScalingMode.CAPACITY_PROVIDER only the
 * calculator (which then consolidates), its operations alarms and the dashboard: the members
 * of the self-managed resources are then undefined.
 */
export class EcsCapacity extends Construct {
  /** Who scales the group. */
  readonly scalingMode: ScalingMode;
  readonly calculatorFunction: lambda.Function;
  /** Self-managed mode only. */
  readonly drainerFunction?: lambda.Function;
  /** Self-managed mode only. */
  readonly chooserFunction?: lambda.Function;
  /**
   * The chooser's alias "live": its ARN is the custom termination policy to put first in the
   * group's termination policies (a construct cannot change a group it was only given).
   * Self-managed mode only.
   */
  readonly chooserAlias?: lambda.Alias;
  /** The topic of the terminate lifecycle hook. Self-managed mode only. */
  readonly lifecycleTopic?: sns.ITopic;
  /** The drainer's on-failure destination. Self-managed mode only. */
  readonly failureQueue?: sqs.Queue;
  /** The topic created for alarmEmail, if any. */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Every alarm, by the template's logical id: CalculatorErrorsAlarm always, CalculatorSilentAlarm
   * with the schedule on; in self-managed mode also ContainerCapacityAlarm, IdleHostCapacityAlarm,
   * DrainerFailureQueueAlarm, DrainsAtDeadlineAlarm, ChooserErrorsAlarm, HostsToAddAlarm (with
   * HOSTS_TO_ADD) and HostsToRemoveAlarm (with HOSTS_TO_REMOVE).
   */
  readonly alarms: Readonly<Record<string, cloudwatch.CfnAlarm>>;
  readonly dashboard: cloudwatch.CfnDashboard;
  /** The dashboard in the CloudWatch console. */
  readonly dashboardUrl: string;
  /**
   * The AWS CLI command that puts the chooser first in the group's termination policies.
   * Self-managed mode only.
   */
  readonly terminationPoliciesCommand?: string;

  constructor(scope: Construct, id: string, props: EcsCapacityProps) {
    super(scope, id);
    const d = ECS_CAPACITY_DEFAULTS;
    const name = (prop: string, parameter: string): v.PropName => ({ prop, parameter });

    // ------------------------------------------------------------ props, checked like the template
    const worstCase = props.worstCaseTask && {
      cpu: v.count(name('worstCaseTask.cpu', 'ContainerMaxCpu'), props.worstCaseTask.cpu, 1, 196608),
      memoryMiB: v.count(name('worstCaseTask.memoryMiB', 'ContainerMaxMemory'), props.worstCaseTask.memoryMiB, 1, 25165824),
    };
    const metricNamespace = v.pattern(name('metricNamespace', 'MetricNamespace'), props.metricNamespace ?? d.metricNamespace,
      /^(?!AWS\/)[A-Za-z0-9 ._/#:-]{1,255}$/, '1-255 characters of A-Z a-z 0-9 space . _ / # : -, not starting with AWS/');
    const headroom = v.count(name('scaleOutHeadroom', 'ScaleOutHeadroom'), props.scaleOutHeadroom ?? d.scaleOutHeadroom, 1, 1000);
    const calculatorTimeout = v.seconds(name('calculatorTimeout', 'CalculatorTimeoutSeconds'), props.calculatorTimeout ?? d.calculatorTimeout, 5, 300);
    const scheduleMinutes = v.minutes(name('calculatorSchedule', 'CalculatorScheduleMinutes'), props.calculatorSchedule ?? d.calculatorSchedule, 0, 60);
    const silentMinutes = v.minutes(name('calculatorSilentAfter', 'CalculatorSilentMinutes'), props.calculatorSilentAfter ?? d.calculatorSilentAfter, 2, 60);
    const adjustment = v.valueOneOf(name('scaleOutAdjustment', 'ScaleOutAdjustment'), props.scaleOutAdjustment ?? d.scaleOutAdjustment,
      Object.values(ScaleOutAdjustment));
    const scaleOutPeriod = v.secondsOneOf(name('scaleOutAlarmPeriod', 'ScaleOutAlarmPeriodSeconds'), props.scaleOutAlarmPeriod ?? d.scaleOutAlarmPeriod, ALARM_PERIODS);
    const scaleOutEvaluations = v.count(name('scaleOutEvaluationPeriods', 'ScaleOutEvaluationPeriods'), props.scaleOutEvaluationPeriods ?? d.scaleOutEvaluationPeriods, 1, 10);
    const scaleInPeriod = v.secondsOneOf(name('scaleInAlarmPeriod', 'ScaleInAlarmPeriodSeconds'), props.scaleInAlarmPeriod ?? d.scaleInAlarmPeriod, ALARM_PERIODS);
    const scaleInEvaluations = v.count(name('scaleInEvaluationPeriods', 'ScaleInEvaluationPeriods'), props.scaleInEvaluationPeriods ?? d.scaleInEvaluationPeriods, 1, 60);
    const warmup = v.seconds(name('scaleOutWarmup', 'ScaleOutWarmupSeconds'), props.scaleOutWarmup ?? d.scaleOutWarmup, 0, 3600);
    const cooldown = v.seconds(name('scaleInCooldown', 'ScaleInCooldownSeconds'), props.scaleInCooldown ?? d.scaleInCooldown, 0, 86400);
    const scalingMode = v.valueOneOf(name('scalingMode', 'ScalingMode'), props.scalingMode ?? d.scalingMode, Object.values(ScalingMode));
    const scaleInAdjustment = v.valueOneOf(name('scaleInAdjustment', 'ScaleInAdjustment'), props.scaleInAdjustment ?? d.scaleInAdjustment,
      Object.values(ScaleInAdjustment));
    const disruptionBudget = v.disruptionBudget(name('disruptionBudget', 'DisruptionBudget'), props.disruptionBudget ?? d.disruptionBudget);
    const stability = v.seconds(name('consolidationStability', 'ConsolidationStabilitySeconds'),
      props.consolidationStability ?? d.consolidationStability, 0, 3600);
    const heartbeat = v.seconds(name('lifecycleHeartbeatTimeout', 'LifecycleHeartbeatTimeout'), props.lifecycleHeartbeatTimeout ?? d.lifecycleHeartbeatTimeout, 30, 7200);
    const pollInterval = v.seconds(name('drainPollInterval', 'DrainPollIntervalSeconds'), props.drainPollInterval ?? d.drainPollInterval, 1, 300);
    const drainMax = v.seconds(name('drainMaxDuration', 'DrainMaxSeconds'), props.drainMaxDuration ?? d.drainMaxDuration, 60, 172800);
    const deadlineResult = v.valueOneOf(name('drainDeadlineResult', 'DrainDeadlineResult'), props.drainDeadlineResult ?? d.drainDeadlineResult,
      [autoscaling.DefaultResult.CONTINUE, autoscaling.DefaultResult.ABANDON]);
    const readBudget = v.milliseconds(name('chooserReadBudget', 'ChooserReadBudgetMs'), props.chooserReadBudget ?? d.chooserReadBudget, 100, 1800);
    const serviceLinkedRole = v.pattern(name('autoScalingServiceLinkedRoleName', 'AutoScalingServiceLinkedRoleName'),
      props.autoScalingServiceLinkedRoleName ?? d.autoScalingServiceLinkedRoleName,
      /^AWSServiceRoleForAutoScaling(_[A-Za-z0-9+=,.@-]{1,60})?$/, 'AWSServiceRoleForAutoScaling or AWSServiceRoleForAutoScaling_<suffix>');
    const chooserFunctionName = props.chooserFunctionName === undefined ? undefined
      : v.pattern(name('chooserFunctionName', 'ChooserFunctionName'), props.chooserFunctionName, /^[A-Za-z0-9_-]{1,64}$/,
        'a Lambda function name (1-64 letters, digits, hyphens, underscores)');
    const retention = v.valueOneOf(name('logRetention', 'LogRetentionDays'), props.logRetention ?? d.logRetention,
      LOG_RETENTIONS as readonly number[] as readonly logs.RetentionDays[]);
    const logLevel = v.valueOneOf(name('logLevel', 'LogLevel'), props.logLevel ?? d.logLevel,
      LOG_LEVELS as readonly string[] as readonly lambda.ApplicationLogLevel[]);
    const alarmEmail = props.alarmEmail === undefined ? undefined
      : v.pattern(name('alarmEmail', 'AlarmEmail'), props.alarmEmail, /^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'one e-mail address');
    const prefix = props.namePrefix ?? Aws.STACK_NAME;
    const packageDir = props.lambdaPackageDir ?? path.join(process.cwd(), 'target', 'lambda');

    const clusterName = props.cluster.clusterName;
    const clusterArn = props.cluster.clusterArn;
    const groupName = props.autoScalingGroup.autoScalingGroupName;
    // The template's conditions SelfManaged, OnCapacityProvider, ScalesOutByHostsToAdd,
    // ScalesInByHostsToRemove and ScalesInByMinusOne.
    this.scalingMode = scalingMode;
    const selfManaged = scalingMode === ScalingMode.SELF_MANAGED;
    const byHostsToAdd = selfManaged && adjustment === ScaleOutAdjustment.HOSTS_TO_ADD;
    const byHostsToRemove = selfManaged && scaleInAdjustment === ScaleInAdjustment.HOSTS_TO_REMOVE;
    const byMinusOne = selfManaged && scaleInAdjustment === ScaleInAdjustment.MINUS_ONE;
    const code = (fn: string, given: lambda.Code | undefined): lambda.Code => {
      if (given) return given;
      const zip = path.join(packageDir, fn, 'bootstrap.zip');
      if (!fs.existsSync(zip)) {
        throw new Error(`EcsCapacity: no ${fn} package at ${zip}: run \`make package\`, or set lambdaPackageDir or code`);
      }
      return lambda.Code.fromAsset(zip);
    };
    const logGroup = (id: string, fn: string) => new logs.LogGroup(this, id, {
      logGroupName: `/ecs-capacity/${prefix}/${fn}`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const writeOwnLogGroup = (group: logs.LogGroup) => new iam.PolicyStatement({
      sid: 'WriteOwnLogGroup',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [group.logGroupArn],
    });
    const listThisClustersContainerInstances = () => new iam.PolicyStatement({
      sid: 'ListThisClustersContainerInstances',
      actions: ['ecs:ListContainerInstances'],
      resources: [clusterArn],
    });
    const onThisCluster = (sid: string, actions: string[]) => new iam.PolicyStatement({
      sid, actions, resources: ['*'], conditions: { ArnEquals: { 'ecs:cluster': clusterArn } },
    });
    const iam5 = (reason: string, resources = ['Resource::*']) => ({ id: 'AwsSolutions-IAM5', reason, appliesTo: resources });
    // The group's ARN has a "*" for its id, unknown for a group that exists already.
    const groupArns = `arn:${Aws.PARTITION}:autoscaling:${Aws.REGION}:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/${groupName}`;

    // ------------------------------------------------------------ capacity-calculator
    const calculatorLogGroup = logGroup('CalculatorLogGroup', 'capacity-calculator');
    const calculatorRole = new iam.Role(this, 'CalculatorRole', {
      description: 'capacity-calculator - reads one ECS cluster and its group, marks the hosts it plans to remove, publishes to one metric namespace',
      assumedBy: lambdaAssumeRole(),
      inlinePolicies: {
        'capacity-calculator': new iam.PolicyDocument({
          statements: [
            listThisClustersContainerInstances(),
            onThisCluster('ReadThisClustersInstancesServicesAndTasks', [
              'ecs:DescribeContainerInstances', 'ecs:ListServices', 'ecs:DescribeServices', 'ecs:ListTasks', 'ecs:DescribeTasks',
            ]),
            // The consolidation plan's marks on this cluster's container instances.
            onThisCluster('MarkThisClustersContainerInstances', ['ecs:PutAttributes', 'ecs:DeleteAttributes']),
            new iam.PolicyStatement({
              sid: 'ReadTheGroup',
              actions: ['autoscaling:DescribeAutoScalingGroups'],
              resources: ['*'],
            }),
            new iam.PolicyStatement({
              sid: 'PublishToThisNamespaceOnly',
              actions: ['cloudwatch:PutMetricData'],
              resources: ['*'],
              conditions: { StringEquals: { 'cloudwatch:namespace': metricNamespace } },
            }),
            writeOwnLogGroup(calculatorLogGroup),
          ],
        }),
      },
    });
    suppressNag(calculatorRole.node.defaultChild as CfnResource, [iam5(
      'ECS container instance, service and task reads, container instance attributes and PutMetricData support no resource ARN here; '
      + 'each of those "*" statements is conditioned on ecs:cluster (this cluster) or cloudwatch:namespace; '
      + 'autoscaling:DescribeAutoScalingGroups supports no resource-level permission at all (a read only)')]);
    if (!worstCase) {
      // ecs:DescribeTaskDefinition on "*": AWS scopes it neither by resource nor by condition key
      // (task definitions belong to no cluster); granted only to discover the worst case. (cdk-nag's
      // IAM5 does not check AWS::IAM::RolePolicy: nothing to suppress.)
      new iam.CfnRolePolicy(this, 'CalculatorTaskDefinitionReadPolicy', {
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

    if (!selfManaged) {
      // The calculator checks the group is behind a capacity provider with managed scaling and
      // managed termination protection, then drains the planned hosts itself. (cdk-nag's IAM5
      // does not check AWS::IAM::RolePolicy: nothing to suppress.)
      new iam.CfnRolePolicy(this, 'CalculatorConsolidationPolicy', {
        roleName: calculatorRole.roleName,
        policyName: 'consolidate-on-capacity-provider',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'ReadThisClustersCapacityProviders', Effect: 'Allow', Action: 'ecs:DescribeClusters', Resource: clusterArn },
            { Sid: 'ReadCapacityProviders', Effect: 'Allow', Action: 'ecs:DescribeCapacityProviders', Resource: '*' },
            {
              Sid: 'DrainAndReactivateThisClustersInstances', Effect: 'Allow', Action: 'ecs:UpdateContainerInstancesState', Resource: '*',
              Condition: { ArnEquals: { 'ecs:cluster': clusterArn } },
            },
          ],
        },
      });
    }

    const calculatorEnvironment: Record<string, string> = {
      METRIC_NAMESPACE: metricNamespace,
      SCALE_OUT_HEADROOM: String(headroom),
      DISRUPTION_BUDGET: disruptionBudget,
      CONSOLIDATION_STABILITY_SECONDS: String(stability),
      // The group the plan is bounded by (never below MinSize), and in capacity-provider mode
      // the group the capacity provider must manage before anything is drained.
      AUTO_SCALING_GROUP_NAME: groupName,
      SCALING_MODE: scalingMode,
      // The cluster of the scheduled runs (a scheduled event names none).
      ECS_CLUSTER: clusterArn,
    };
    if (worstCase) {
      calculatorEnvironment.CONTAINER_MAX_CPU = String(worstCase.cpu);
      calculatorEnvironment.CONTAINER_MAX_MEMORY = String(worstCase.memoryMiB);
    }
    this.calculatorFunction = new lambda.Function(this, 'CapacityCalculatorFunction', {
      ...FUNCTION_DEFAULTS,
      description: 'Publishes ContainerCapacity, IdleHostCapacity, HostsToAdd, HostsToRemove and UnplacedTasks for the ECS cluster',
      code: code('capacity-calculator', props.code?.calculator),
      timeout: Duration.seconds(calculatorTimeout),
      reservedConcurrentExecutions: 1,
      role: calculatorRole,
      logGroup: calculatorLogGroup,
      applicationLogLevelV2: logLevel,
      environment: calculatorEnvironment,
    });
    (this.calculatorFunction.node.defaultChild as CfnResource).addMetadata('NoOnFailureDestinationBecause',
      'A capacity event is worth only its moment: each run reads the cluster as it is now, and the next container '
      + 'instance event recomputes everything. A stored event replayed later would only repeat a reading; a run that '
      + 'fails shows in the Errors metric and alarm.');
    new lambda.CfnEventInvokeConfig(this, 'CapacityCalculatorFunctionEventInvokeConfig', {
      functionName: this.calculatorFunction.functionName,
      qualifier: '$LATEST',
      maximumRetryAttempts: 1,
      maximumEventAgeInSeconds: 180,
    });
    const calculatorRule = (id: string, pattern: object) => {
      const rule = new events.CfnRule(this, id, {
        eventPattern: pattern,
        targets: [{ id: `${id}LambdaTarget`.slice(0, 64), arn: this.calculatorFunction.functionArn }],
      });
      new lambda.CfnPermission(this, `${id}Permission`, {
        action: 'lambda:InvokeFunction',
        functionName: this.calculatorFunction.functionName,
        principal: 'events.amazonaws.com',
        sourceArn: rule.attrArn,
      });
    };
    calculatorRule('CapacityCalculatorFunctionContainerInstanceStateChange', {
      source: ['aws.ecs'],
      'detail-type': ['ECS Container Instance State Change'],
      detail: { clusterArn: [clusterArn] },
    });
    calculatorRule('CapacityCalculatorFunctionServiceTaskPlacementFailure', {
      source: ['aws.ecs'],
      'detail-type': ['ECS Service Action'],
      detail: { eventName: ['SERVICE_TASK_PLACEMENT_FAILURE'], clusterArn: [clusterArn] },
    });
    const hasSchedule = scheduleMinutes !== 0;
    if (hasSchedule) {
      const schedule = new events.CfnRule(this, 'CalculatorScheduleRule', {
        description: `Runs the capacity-calculator of cluster ${clusterName} on a schedule`,
        scheduleExpression: scheduleMinutes === 1 ? 'rate(1 minute)' : `rate(${scheduleMinutes} minutes)`,
        state: 'ENABLED',
        targets: [{ id: 'capacity-calculator', arn: this.calculatorFunction.functionArn }],
      });
      new lambda.CfnPermission(this, 'CalculatorScheduleInvokePermission', {
        action: 'lambda:InvokeFunction',
        functionName: this.calculatorFunction.functionName,
        principal: 'events.amazonaws.com',
        sourceArn: schedule.attrArn,
      });
    }

    // ------------------------------------------------------------ self-managed mode only
    // The lifecycle hook, drainer and chooser (the template's condition SelfManaged).
    let lifecycleTopicName: string | undefined;
    if (selfManaged) {
      // ------------------------------------------------------------ lifecycle-drainer
      const lifecycleTopic = new sns.CfnTopic(this, 'LifecycleTopic', { kmsMasterKeyId: 'alias/aws/sns' });
      lifecycleTopicName = lifecycleTopic.attrTopicName;
      this.lifecycleTopic = sns.Topic.fromTopicArn(this, 'LifecycleTopicRef', lifecycleTopic.ref);
      const hookRole = new iam.Role(this, 'LifecycleHookRole', {
        description: 'Auto Scaling publishes the terminate lifecycle notifications to the topic',
        assumedBy: new iam.ServicePrincipal('autoscaling.amazonaws.com'),
        inlinePolicies: {
          'publish-lifecycle-notifications': new iam.PolicyDocument({
            statements: [new iam.PolicyStatement({
              sid: 'PublishToTheLifecycleTopicOnly', actions: ['sns:Publish'], resources: [lifecycleTopic.ref],
            })],
          }),
        },
      });
      new autoscaling.CfnLifecycleHook(this, 'TerminateLifecycleHook', {
        autoScalingGroupName: groupName,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeout: heartbeat,
        defaultResult: 'CONTINUE',
        notificationTargetArn: lifecycleTopic.ref,
        roleArn: hookRole.roleArn,
      });

      const drainerLogGroup = logGroup('DrainerLogGroup', 'lifecycle-drainer');
      this.failureQueue = new sqs.Queue(this, 'DrainerFailureQueue', {
        retentionPeriod: Duration.seconds(1209600),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      suppressNag(this.failureQueue.node.defaultChild as CfnResource, [
        { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the failure destination of the drainer (Lambda on-failure records); it has no consumer that could fail' },
        { id: 'AwsSolutions-SQS4', reason: 'Its one writer is Lambda on-failure delivery with the drainer role (sqs:SendMessage on this queue only); a TLS-only queue policy would be a resource the SAM template does not have, which the parity test forbids' },
      ]);
      const drainerRole = new iam.Role(this, 'DrainerRole', {
        description: "lifecycle-drainer - drains one ECS cluster's instances for one Auto Scaling group",
        assumedBy: lambdaAssumeRole(),
        inlinePolicies: {
          'lifecycle-drainer': new iam.PolicyDocument({
            statements: [
              listThisClustersContainerInstances(),
              onThisCluster('DrainThisClustersInstancesAndWatchTheirTasks', [
                'ecs:DescribeContainerInstances', 'ecs:UpdateContainerInstancesState', 'ecs:ListTasks', 'ecs:DescribeTasks',
              ]),
              new iam.PolicyStatement({
                sid: 'CompleteThisGroupsLifecycleActions',
                actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
                resources: [groupArns],
              }),
              new iam.PolicyStatement({ sid: 'RepublishToTheLifecycleTopicOnly', actions: ['sns:Publish'], resources: [lifecycleTopic.ref] }),
              new iam.PolicyStatement({
                sid: 'SendFailedNotificationsToTheFailureQueueOnly', actions: ['sqs:SendMessage'], resources: [this.failureQueue.queueArn],
              }),
              writeOwnLogGroup(drainerLogGroup),
            ],
          }),
        },
      });
      suppressNag(drainerRole.node.defaultChild as CfnResource, [
        iam5('ECS container instance and task actions support no resource ARN here; the "*" statement is conditioned on ecs:cluster (this cluster)'),
        iam5('The lifecycle actions of this one group: its ARN has a "*" for the group id, which a group that exists already does not give',
          [nagResourceFinding(this, groupArns)]),
      ]);
      this.drainerFunction = new lambda.Function(this, 'LifecycleDrainerFunction', {
        ...FUNCTION_DEFAULTS,
        description: 'Drains an ECS container instance before Auto Scaling terminates it',
        code: code('lifecycle-drainer', props.code?.drainer),
        timeout: Duration.seconds(900),
        recursiveLoop: lambda.RecursiveLoop.ALLOW,
        role: drainerRole,
        logGroup: drainerLogGroup,
        applicationLogLevelV2: logLevel,
        environment: {
          ECS_CLUSTER: clusterName,
          POLL_INTERVAL_SECONDS: String(pollInterval),
          MAX_DRAIN_SECONDS: String(drainMax),
          DEADLINE_RESULT: deadlineResult,
          HEARTBEAT_TIMEOUT_SECONDS: String(heartbeat),
          REPUBLISH_TOPIC_ARN: lifecycleTopic.ref,
        },
      });
      new lambda.CfnEventInvokeConfig(this, 'LifecycleDrainerFunctionEventInvokeConfig', {
        functionName: this.drainerFunction.functionName,
        qualifier: '$LATEST',
        maximumRetryAttempts: 2,
        maximumEventAgeInSeconds: 3600,
        destinationConfig: { onFailure: { destination: this.failureQueue.queueArn } },
      });
      new sns.CfnSubscription(this, 'LifecycleDrainerFunctionInstanceTerminating', {
        endpoint: this.drainerFunction.functionArn,
        protocol: 'lambda',
        topicArn: lifecycleTopic.ref,
      });
      new lambda.CfnPermission(this, 'LifecycleDrainerFunctionInstanceTerminatingPermission', {
        action: 'lambda:InvokeFunction',
        functionName: this.drainerFunction.functionName,
        principal: 'sns.amazonaws.com',
        sourceArn: lifecycleTopic.ref,
      });

      const metricFilter = (id: string, metricName: string, filterPattern: string, clusterField: string) =>
        new logs.CfnMetricFilter(this, id, {
          logGroupName: drainerLogGroup.logGroupName,
          filterPattern,
          metricTransformations: [{
            metricNamespace, metricName, metricValue: '1', unit: 'Count',
            dimensions: [{ key: 'ClusterName', value: clusterField }],
          }],
        });
      metricFilter('DrainsCompletedMetricFilter', 'LifecycleActionsCompleted',
        '{ $.fields.message = "lifecycle action completed" }', '$.span.cluster');
      metricFilter('DrainsAtDeadlineMetricFilter', 'DrainsAtDeadline',
        '{ $.fields.message = "DRAIN DEADLINE REACHED: completing the lifecycle action with tasks still on the instance" && $.fields.still_running > 0 }',
        '$.span.cluster');
      metricFilter('DrainsFailedMetricFilter', 'DrainsFailed',
        '{ $.level = "ERROR" && $.fields.message = "lifecycle notification not handled" }', '$.fields.cluster');

      // ------------------------------------------------------------ scale-in-chooser
      const chooserLogGroup = logGroup('ChooserLogGroup', 'scale-in-chooser');
      const chooserRole = new iam.Role(this, 'ChooserRole', {
        description: "scale-in-chooser - reads the task counts of one ECS cluster's container instances",
        assumedBy: lambdaAssumeRole(),
        inlinePolicies: {
          'scale-in-chooser': new iam.PolicyDocument({
            statements: [
              listThisClustersContainerInstances(),
              onThisCluster('DescribeThisClustersContainerInstances', ['ecs:DescribeContainerInstances']),
              writeOwnLogGroup(chooserLogGroup),
            ],
          }),
        },
      });
      suppressNag(chooserRole.node.defaultChild as CfnResource, [iam5(
        'ecs:DescribeContainerInstances supports no resource ARN here; the statement is conditioned on ecs:cluster (this cluster)')]);
      this.chooserFunction = new lambda.Function(this, 'ScaleInChooserFunction', {
        ...FUNCTION_DEFAULTS,
        description: 'Custom termination policy - offers Auto Scaling the ECS hosts cheapest to drain',
        functionName: chooserFunctionName,
        code: code('scale-in-chooser', props.code?.chooser),
        timeout: Duration.seconds(2),
        role: chooserRole,
        logGroup: chooserLogGroup,
        applicationLogLevelV2: logLevel,
        environment: { ECS_CLUSTER: clusterName, ECS_READ_BUDGET_MS: String(readBudget) },
        currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
      });
      // As SAM's AutoPublishAlias: a new version on each code change, old ones retained.
      const version = this.chooserFunction.currentVersion;
      this.chooserAlias = new lambda.Alias(this, 'ScaleInChooserFunctionAliaslive', { aliasName: 'live', version });
      new lambda.CfnPermission(this, 'ChooserInvokeByAutoScalingPermission', {
        action: 'lambda:InvokeFunction',
        functionName: this.chooserAlias.functionArn,
        principal: Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/autoscaling.amazonaws.com/${Role}', { Role: serviceLinkedRole }),
      });
      this.terminationPoliciesCommand = `aws autoscaling update-auto-scaling-group --region ${Aws.REGION} --auto-scaling-group-name ${groupName} --termination-policies ${this.chooserAlias.functionArn} Default`;
    }

    // ------------------------------------------------------------ operations alarms
    const opsTopics: string[] = [];
    if (alarmEmail !== undefined) {
      const key = new kms.CfnKey(this, 'AlarmTopicKey', {
        description: `${prefix} - encrypts the alarm topic; CloudWatch alarms may use it`,
        enableKeyRotation: true,
        pendingWindowInDays: 7,
        keyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'TheAccountAdministersTheKey', Effect: 'Allow',
              Principal: { AWS: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root` },
              Action: 'kms:*', Resource: '*',
            },
            {
              Sid: 'CloudWatchAlarmsOfThisAccountPublish', Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
              Condition: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
            },
          ],
        },
      });
      key.applyRemovalPolicy(RemovalPolicy.DESTROY);
      const topic = new sns.CfnTopic(this, 'AlarmTopic', {
        kmsMasterKeyId: key.ref,
        subscription: [{ protocol: 'email', endpoint: alarmEmail }],
      });
      this.alarmTopic = sns.Topic.fromTopicArn(this, 'AlarmTopicRef', topic.ref);
      opsTopics.push(topic.ref);
    }
    if (props.alarmTopic) opsTopics.push(props.alarmTopic.topicArn);

    const alarms: Record<string, cloudwatch.CfnAlarm> = {};
    interface AlarmSpec {
      readonly suffix: string;
      readonly description: string;
      readonly namespace: string;
      readonly metricName: string;
      readonly dimension: readonly [string, string];
      readonly statistic: string;
      readonly period: number;
      readonly evaluationPeriods: number;
      readonly datapointsToAlarm?: number;
      readonly threshold: number;
      readonly comparisonOperator: string;
      readonly treatMissingData: string;
      readonly alarmActions?: string[];
      readonly okActions?: string[];
    }
    const alarm = (id: string, spec: AlarmSpec) => {
      alarms[id] = new cloudwatch.CfnAlarm(this, id, {
        alarmName: `${prefix}-${spec.suffix}`,
        alarmDescription: spec.description,
        namespace: spec.namespace,
        metricName: spec.metricName,
        dimensions: [{ name: spec.dimension[0], value: spec.dimension[1] }],
        statistic: spec.statistic,
        period: spec.period,
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapointsToAlarm,
        threshold: spec.threshold,
        comparisonOperator: spec.comparisonOperator,
        treatMissingData: spec.treatMissingData,
        alarmActions: spec.alarmActions && spec.alarmActions.length > 0 ? spec.alarmActions : undefined,
        okActions: spec.okActions && spec.okActions.length > 0 ? spec.okActions : undefined,
      });
      return alarms[id];
    };
    const operations = (okToo: boolean) => ({ alarmActions: opsTopics, okActions: okToo ? opsTopics : undefined });

    if (this.failureQueue) {
      alarm('DrainerFailureQueueAlarm', {
        suffix: 'lifecycle-notification-failed',
        description: `The drainer of cluster ${clusterName} gave up on a lifecycle notification after its retries (or it waited too long): the host may have been terminated with tasks on it. The notification waits in the failure queue (14 days): read its drain's logs, then replay or delete it (docs/runbook.md).`,
        namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimension: ['QueueName', this.failureQueue.queueName],
        statistic: 'Maximum', period: 60, evaluationPeriods: 1, threshold: 0,
        comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching', ...operations(true),
      });
      alarm('DrainsAtDeadlineAlarm', {
        suffix: 'drain-deadline-reached',
        description: `A drain on cluster ${clusterName} reached DrainMaxSeconds with tasks still on the host: the lifecycle action was completed (${deadlineResult}) and the host terminates with them (docs/runbook.md).`,
        namespace: metricNamespace, metricName: 'DrainsAtDeadline', dimension: ['ClusterName', clusterName],
        statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(false),
      });
    }
    alarm('CalculatorErrorsAlarm', {
      suffix: 'capacity-calculator-failing',
      description: `The capacity-calculator of cluster ${clusterName} failed in each of the last three 5-minute periods: the capacity metrics are stale and the cluster scales on old numbers (docs/runbook.md).`,
      namespace: 'AWS/Lambda', metricName: 'Errors', dimension: ['FunctionName', this.calculatorFunction.functionName],
      statistic: 'Sum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 3, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
    });
    if (!selfManaged) {
      alarm('ConsolidationRefusedAlarm', {
        suffix: 'consolidation-refused',
        description: `The capacity-calculator of cluster ${clusterName} refused to drain hosts for the last three 5-minute periods: its log line "consolidation refused" says why (docs/runbook.md).`,
        namespace: metricNamespace, metricName: 'ConsolidationRefused', dimension: ['ClusterName', clusterName],
        statistic: 'Minimum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 3, threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
      });
    }
    if (hasSchedule) {
      alarm('CalculatorSilentAlarm', {
        suffix: 'capacity-calculator-silent',
        description: `The capacity-calculator of cluster ${clusterName} published no ContainerCapacity for ${silentMinutes} minutes: the scaling alarms have no data and the group holds its size until it publishes again (docs/runbook.md).`,
        namespace: metricNamespace, metricName: 'ContainerCapacity', dimension: ['ClusterName', clusterName],
        statistic: 'SampleCount', period: 60, evaluationPeriods: silentMinutes, datapointsToAlarm: silentMinutes, threshold: 1,
        comparisonOperator: 'LessThanThreshold', treatMissingData: 'breaching', ...operations(true),
      });
    }
    if (this.chooserFunction) {
      alarm('ChooserErrorsAlarm', {
        suffix: 'scale-in-chooser-failing',
        description: `The scale-in-chooser of cluster ${clusterName} answered Auto Scaling with an error: Auto Scaling retries and group ${groupName} does not scale in until it answers (docs/scale-in-chooser.md).`,
        namespace: 'AWS/Lambda', metricName: 'Errors', dimension: ['FunctionName', this.chooserFunction.functionName],
        statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
      });
    }

    // ------------------------------------------------------------ alarms and policies (self-managed only)
    if (selfManaged) {
      const scaleOutPolicy = new autoscaling.CfnScalingPolicy(this, 'ScaleOutPolicy', {
        autoScalingGroupName: groupName,
        policyType: 'StepScaling',
        adjustmentType: 'ChangeInCapacity',
        metricAggregationType: byHostsToAdd ? 'Maximum' : 'Minimum',
        estimatedInstanceWarmup: warmup,
        stepAdjustments: byHostsToAdd
          ? HOSTS_TO_ADD_STEPS.map(([lower, upper, adjust]) => ({
            metricIntervalLowerBound: lower, metricIntervalUpperBound: upper, scalingAdjustment: adjust,
          }))
          : [{ metricIntervalUpperBound: 0, scalingAdjustment: 1 }],
      });
      alarm('ContainerCapacityAlarm', {
        suffix: 'container-capacity-low',
        description: `Fewer than ${headroom} worst-case tasks fit on cluster ${clusterName}: scale out (with ScaleOutAdjustment=HostsToAdd the HostsToAdd alarm acts, this one only reports).`,
        namespace: metricNamespace, metricName: 'ContainerCapacity', dimension: ['ClusterName', clusterName],
        statistic: 'Minimum', period: scaleOutPeriod, evaluationPeriods: scaleOutEvaluations, threshold: headroom,
        comparisonOperator: 'LessThanThreshold', treatMissingData: 'notBreaching',
        alarmActions: byHostsToAdd ? undefined : [scaleOutPolicy.ref],
      });
      if (byHostsToAdd) {
        alarm('HostsToAddAlarm', {
          suffix: 'hosts-to-add',
          description: `Cluster ${clusterName} needs hosts for tasks that wait for room or to bring ContainerCapacity back to ${headroom}: the step policy adds as many as the calculator computed, in one step.`,
          namespace: metricNamespace, metricName: 'HostsToAdd', dimension: ['ClusterName', clusterName],
          statistic: 'Maximum', period: 10, evaluationPeriods: 1, threshold: 1,
          comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching',
          alarmActions: [scaleOutPolicy.ref],
        });
      }
      // The book's scale-in (MINUS_ONE): one host at a time, the cooldown counted after the drain.
      const scaleInPolicy = byMinusOne ? new autoscaling.CfnScalingPolicy(this, 'ScaleInPolicy', {
        autoScalingGroupName: groupName,
        policyType: 'SimpleScaling',
        adjustmentType: 'ChangeInCapacity',
        scalingAdjustment: -1,
        cooldown: String(cooldown),
      }) : undefined;
      alarm('IdleHostCapacityAlarm', {
        suffix: 'idle-host-capacity-high',
        description: `More than one host of cluster ${clusterName} is idle in worst-case tasks for the whole period: with ScaleInAdjustment=MinusOne remove one host (drained first by the lifecycle hook); with HostsToRemove the HostsToRemove alarm acts and this one only reports.`,
        namespace: metricNamespace, metricName: 'IdleHostCapacity', dimension: ['ClusterName', clusterName],
        statistic: 'Minimum', period: scaleInPeriod, evaluationPeriods: scaleInEvaluations, threshold: 1,
        comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
        alarmActions: scaleInPolicy ? [scaleInPolicy.ref] : undefined,
      });
      if (byHostsToRemove) {
        // The consolidation plan's size in one step, 20 at most (no cooldown: the calculator
        // counts the hosts the group is terminating as leaving).
        const consolidationPolicy = new autoscaling.CfnScalingPolicy(this, 'ConsolidationScaleInPolicy', {
          autoScalingGroupName: groupName,
          policyType: 'StepScaling',
          adjustmentType: 'ChangeInCapacity',
          metricAggregationType: 'Minimum',
          stepAdjustments: HOSTS_TO_REMOVE_STEPS.map(([lower, upper, adjust]) => ({
            metricIntervalLowerBound: lower, metricIntervalUpperBound: upper, scalingAdjustment: adjust,
          })),
        });
        alarm('HostsToRemoveAlarm', {
          suffix: 'hosts-to-remove',
          description: `Cluster ${clusterName} can do without hosts, each removable for the plan's stability window (the consolidation plan): the step policy removes as many as planned, in one step; the scale-in chooser offers Auto Scaling the planned hosts, the drainer drains them.`,
          namespace: metricNamespace, metricName: 'HostsToRemove', dimension: ['ClusterName', clusterName],
          // One period: the plan's stability window, host by host, is the waiting.
          statistic: 'Minimum', period: scaleInPeriod, evaluationPeriods: 1, datapointsToAlarm: 1,
          threshold: 1, comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching',
          alarmActions: [consolidationPolicy.ref],
        });
      }
    }
    this.alarms = alarms;

    // ------------------------------------------------------------ dashboard
    // The alarms widget in the template's order: the self-managed alarms, HostsToAdd,
    // HostsToRemove, the silent alarm, the errors alarm.
    const alarmOrder = ['ContainerCapacityAlarm', 'IdleHostCapacityAlarm', 'DrainerFailureQueueAlarm', 'DrainsAtDeadlineAlarm',
      'ChooserErrorsAlarm', 'HostsToAddAlarm', 'HostsToRemoveAlarm', 'ConsolidationRefusedAlarm', 'CalculatorSilentAlarm',
      'CalculatorErrorsAlarm'];
    this.dashboard = new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: prefix,
      dashboardBody: Stack.of(this).toJsonString(dashboardBody({
        clusterName, groupName, metricNamespace, headroom, scaleOutPeriod, scaleInPeriod, scalingMode,
        alarmArns: alarmOrder.filter((a) => alarms[a]).map((a) => alarms[a].attrArn),
        calculator: this.calculatorFunction.functionName,
        selfManaged: this.failureQueue && lifecycleTopicName && this.drainerFunction && this.chooserFunction ? {
          failureQueueName: this.failureQueue.queueName,
          lifecycleTopicName,
          drainer: this.drainerFunction.functionName,
          chooser: this.chooserFunction.functionName,
        } : undefined,
      })),
    });
    this.dashboardUrl = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboard.ref}`;
  }
}

interface DashboardInputs {
  clusterName: string; groupName: string; metricNamespace: string; headroom: number;
  scaleOutPeriod: number; scaleInPeriod: number; scalingMode: ScalingMode; alarmArns: string[]; calculator: string;
  /** The drains, the drainer and the chooser: self-managed mode only. */
  selfManaged?: { failureQueueName: string; lifecycleTopicName: string; drainer: string; chooser: string };
}

/** The template's dashboard body, widget by widget. */
function dashboardBody(i: DashboardInputs): object {
  const region = Aws.REGION;
  const ns = i.metricNamespace;
  const byCluster = (metric: string, extra?: object) => [ns, metric, 'ClusterName', i.clusterName, ...(extra ? [extra] : [])];
  const lambdaMetric = (fn: string, metric: string, extra?: object) => ['AWS/Lambda', metric, 'FunctionName', fn, ...(extra ? [extra] : [])];
  const durationMax = { stat: 'Maximum', yAxis: 'right', label: 'Duration max (ms)' };
  const metricWidget = (x: number, y: number, width: number, properties: object) =>
    ({ type: 'metric', x, y, width, height: 6, properties: { region, view: 'timeSeries', ...properties } });
  const sm = i.selfManaged;
  const selfManagedWidgets = sm ? [
    metricWidget(0, 20, 12, {
      title: "Drain outcomes (from the drainer's logs) and the failure queue", stat: 'Sum', period: 300,
      yAxis: { left: { min: 0 }, right: { min: 0 } },
      metrics: [
        byCluster('LifecycleActionsCompleted', { label: 'lifecycle actions completed' }),
        byCluster('DrainsAtDeadline', { label: 'completed at the deadline with tasks running' }),
        byCluster('DrainsFailed', { label: 'attempts that failed' }),
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', sm.failureQueueName, { stat: 'Maximum', yAxis: 'right', label: 'in the failure queue' }],
      ],
    }),
    metricWidget(12, 20, 12, {
      title: 'Lifecycle notifications (hook and republished drains)', stat: 'Sum', period: 300, yAxis: { left: { min: 0 } },
      metrics: [
        ['AWS/SNS', 'NumberOfMessagesPublished', 'TopicName', sm.lifecycleTopicName, { label: 'published' }],
        ['AWS/SNS', 'NumberOfNotificationsDelivered', 'TopicName', sm.lifecycleTopicName, { label: 'delivered to the drainer' }],
        ['AWS/SNS', 'NumberOfNotificationsFailed', 'TopicName', sm.lifecycleTopicName, { label: 'delivery failed' }],
      ],
    }),
    metricWidget(0, 26, 12, {
      title: 'lifecycle-drainer', stat: 'Sum', period: 60, yAxis: { left: { min: 0 }, right: { min: 0 } },
      metrics: [
        lambdaMetric(sm.drainer, 'Invocations'), lambdaMetric(sm.drainer, 'Errors'), lambdaMetric(sm.drainer, 'Throttles'),
        lambdaMetric(sm.drainer, 'DestinationDeliveryFailures', { label: 'not delivered to the failure queue' }),
        lambdaMetric(sm.drainer, 'Duration', durationMax),
      ],
    }),
    metricWidget(12, 26, 12, {
      title: 'scale-in-chooser (Auto Scaling waits 2000 ms)', stat: 'Sum', period: 60,
      yAxis: { left: { min: 0 }, right: { min: 0 } },
      annotations: { horizontal: [{ label: 'Auto Scaling stops waiting', value: 2000, yAxis: 'right' }] },
      metrics: [
        lambdaMetric(sm.chooser, 'Invocations'), lambdaMetric(sm.chooser, 'Errors'), lambdaMetric(sm.chooser, 'Throttles'),
        lambdaMetric(sm.chooser, 'Duration', durationMax),
      ],
    }),
  ] : [];
  return {
    start: '-PT12H',
    widgets: [
      { type: 'text', x: 0, y: 0, width: 24, height: 2, properties: {
        markdown: `## ECS cluster ${i.clusterName}: capacity and draining\nAuto Scaling group **${i.groupName}**, stack ${Aws.STACK_NAME}, scaling mode ${i.scalingMode}. Metrics in ${ns}. What each alarm means and what to look at first: docs/runbook.md of ecs-capacity.`,
      } },
      metricWidget(0, 2, 8, {
        title: 'ContainerCapacity (worst-case tasks that still fit)', stat: 'Minimum', period: i.scaleOutPeriod,
        yAxis: { left: { min: 0 } }, annotations: { horizontal: [{ label: 'scale out below', value: i.headroom }] },
        metrics: [byCluster('ContainerCapacity')],
      }),
      metricWidget(8, 2, 8, {
        title: "IdleHostCapacity (idle hosts' worth of slots)", stat: 'Minimum', period: i.scaleInPeriod,
        yAxis: { left: { min: 0 } }, annotations: { horizontal: [{ label: 'scale in above', value: 1 }] },
        metrics: [byCluster('IdleHostCapacity')],
      }),
      metricWidget(16, 2, 8, {
        title: 'Scale-out demand', stat: 'Maximum', period: 10, yAxis: { left: { min: 0 } },
        annotations: { horizontal: [{ label: 'HostsToAdd: add hosts from', value: 1 }] },
        metrics: [byCluster('HostsToAdd'), byCluster('UnplacedTasks')],
      }),
      metricWidget(0, 8, 12, {
        title: 'Hosts (group metrics collection must be on)', stat: 'Maximum', period: 60, yAxis: { left: { min: 0 } },
        metrics: [
          ['AWS/AutoScaling', 'GroupDesiredCapacity', 'AutoScalingGroupName', i.groupName, { label: 'desired' }],
          ['AWS/AutoScaling', 'GroupInServiceInstances', 'AutoScalingGroupName', i.groupName, { label: 'in service' }],
          ['AWS/AutoScaling', 'GroupTerminatingInstances', 'AutoScalingGroupName', i.groupName, { label: 'terminating (draining)' }],
          byCluster('ActiveContainerInstances', { label: 'ACTIVE container instances' }),
        ],
      }),
      { type: 'alarm', x: 12, y: 8, width: 12, height: 6, properties: {
        title: 'Alarms', sortBy: 'stateUpdatedTimestamp', alarms: i.alarmArns,
      } },
      metricWidget(0, 14, 12, {
        title: 'Consolidation (hosts the cluster can do without)', stat: 'Minimum', period: i.scaleInPeriod,
        yAxis: { left: { min: 0 } }, annotations: { horizontal: [{ label: 'HostsToRemove: remove from', value: 1 }] },
        metrics: [
          byCluster('HostsToRemove'),
          // What the calculator drains and undoes itself (capacity-provider mode).
          ...(i.scalingMode === ScalingMode.CAPACITY_PROVIDER ? [
            byCluster('HostsDrained', { stat: 'Sum', label: 'set DRAINING' }),
            byCluster('HostsReactivated', { stat: 'Sum', label: 'set ACTIVE again (tasks waited)' }),
            byCluster('ConsolidationRefused', { stat: 'Maximum', label: 'refused (see the log)' }),
          ] : []),
        ],
      }),
      ...selfManagedWidgets,
      metricWidget(12, 14, 12, {
        title: 'capacity-calculator', stat: 'Sum', period: 60, yAxis: { left: { min: 0 }, right: { min: 0 } },
        metrics: [
          lambdaMetric(i.calculator, 'Invocations'), lambdaMetric(i.calculator, 'Errors'), lambdaMetric(i.calculator, 'Throttles'),
          lambdaMetric(i.calculator, 'AsyncEventsDropped', { label: 'events dropped (too old or retried out)' }),
          lambdaMetric(i.calculator, 'Duration', durationMax),
        ],
      }),
    ],
  };
}
