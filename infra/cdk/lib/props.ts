// The construct's props: the SAM template's parameters, typed, with the template's defaults,
// and checkProps, which applies the defaults and refuses what the template would refuse
// (the range checks are in validate.ts) before any resource is built. The rest of the
// construct reads the checked values only, never the props.
import * as path from 'node:path';
import { Aws, Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
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

/** Whether the consolidation plan is acted on (the template's Consolidation). */
export enum Consolidation {
  /** Mark, drain and remove the hosts the plan names. */
  ACT = 'act',
  /**
   * Plan and publish HostsRemovable (with the plan in the calculator's log), act on nothing:
   * no mark, no drain, no scale-in by the plan. Run it for a week before you let consolidation
   * act (docs/runbook.md).
   */
  OBSERVE = 'observe',
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
  /**
   * The task the headroom, ContainerCapacity and HostsToAdd are counted in: '' or 'worst-case'
   * (the worst case), 'service:NAME' (that service's task, as the calculator reads it) or
   * 'CPU/MEMORY' in CPU units 1 to 99999 and MiB 1 to 999999 (e.g. '512/1024'). Smaller than
   * the worst case, a rare large task waits for a host instead of one being kept free all day
   * (docs/fitting-hosts.md). @default '' (the worst case)
   */
  readonly headroomTask?: string;
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
  /** @default Consolidation.ACT */
  readonly consolidation?: Consolidation;
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
  /** Hosts each Availability Zone of the group keeps at least when consolidating, 0 to 1000. @default 1 */
  readonly minHostsPerZone?: number;
  /**
   * Capacity-provider mode: a drain of the calculator's own that still holds tasks after this
   * long is given up (the host is set ACTIVE again; DrainsGivenUpAlarm reports it); whole
   * seconds, 60 to 86400. @default Duration.seconds(900)
   */
  readonly drainGiveUpAfter?: Duration;
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
  headroomTask: '',
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
  consolidation: Consolidation.ACT,
  disruptionBudget: '10%',
  consolidationStability: Duration.seconds(300),
  minHostsPerZone: 1,
  drainGiveUpAfter: Duration.seconds(900),
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

/**
 * The props with their defaults applied and checked like the template, and the template's
 * conditions on them: what every part of the construct builds from. Durations are whole
 * seconds, but scheduleMinutes and silentMinutes (minutes) and readBudget (milliseconds).
 */
export interface CheckedProps {
  readonly worstCase?: WorstCaseTask;
  readonly metricNamespace: string;
  readonly headroom: number;
  /** As the calculator reads it ('' is the worst case). */
  readonly headroomTask: string;
  readonly calculatorTimeout: number;
  /** 0: no schedule (and no silent alarm). */
  readonly scheduleMinutes: number;
  readonly silentMinutes: number;
  readonly adjustment: ScaleOutAdjustment;
  readonly scaleOutPeriod: number;
  readonly scaleOutEvaluations: number;
  readonly scaleInPeriod: number;
  readonly scaleInEvaluations: number;
  readonly warmup: number;
  readonly cooldown: number;
  readonly scalingMode: ScalingMode;
  readonly scaleInAdjustment: ScaleInAdjustment;
  readonly consolidation: Consolidation;
  /** As the calculator reads it: hosts ('3') or a share ('10%'). */
  readonly disruptionBudget: string;
  readonly stability: number;
  readonly minHostsPerZone: number;
  /** Seconds. */
  readonly drainGiveUp: number;
  readonly heartbeat: number;
  readonly pollInterval: number;
  readonly drainMax: number;
  readonly deadlineResult: autoscaling.DefaultResult;
  readonly readBudget: number;
  readonly serviceLinkedRole: string;
  readonly chooserFunctionName?: string;
  readonly retention: logs.RetentionDays;
  readonly logLevel: lambda.ApplicationLogLevel;
  readonly alarmEmail?: string;
  /** The existing topic also told about the operations alarms. */
  readonly alarmTopic?: sns.ITopic;
  readonly prefix: string;
  readonly packageDir: string;
  readonly code: EcsCapacityCode;
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly groupName: string;
  // The template's conditions SelfManaged (OnCapacityProvider is its negation),
  // ScalesOutByHostsToAdd, ScalesInByHostsToRemove, ScalesInByMinusOne and HasCalculatorSchedule.
  readonly selfManaged: boolean;
  readonly byHostsToAdd: boolean;
  readonly byHostsToRemove: boolean;
  readonly byMinusOne: boolean;
  readonly hasSchedule: boolean;
}

/**
 * The props checked like the template, in the order of its parameters: the first value it would
 * refuse throws an EcsCapacityPropError naming the prop, the parameter and the valid range.
 */
export function checkProps(props: EcsCapacityProps): CheckedProps {
  const d = ECS_CAPACITY_DEFAULTS;
  const name = (prop: string, parameter: string): v.PropName => ({ prop, parameter });
  const worstCase = props.worstCaseTask && {
    cpu: v.count(name('worstCaseTask.cpu', 'ContainerMaxCpu'), props.worstCaseTask.cpu, 1, 196608),
    memoryMiB: v.count(name('worstCaseTask.memoryMiB', 'ContainerMaxMemory'), props.worstCaseTask.memoryMiB, 1, 25165824),
  };
  const metricNamespace = v.pattern(name('metricNamespace', 'MetricNamespace'), props.metricNamespace ?? d.metricNamespace,
    /^(?!AWS\/)[A-Za-z0-9 ._/#:-]{1,255}$/, '1-255 characters of A-Z a-z 0-9 space . _ / # : -, not starting with AWS/');
  const headroom = v.count(name('scaleOutHeadroom', 'ScaleOutHeadroom'), props.scaleOutHeadroom ?? d.scaleOutHeadroom, 1, 1000);
  const headroomTask = v.pattern(name('headroomTask', 'HeadroomTask'), props.headroomTask ?? d.headroomTask,
    /^$|^worst-case$|^service:[A-Za-z0-9_-]{1,255}$|^[1-9][0-9]{0,4}\/[1-9][0-9]{0,5}$/,
    "empty, worst-case, service:NAME (an ECS service name) or CPU/MEMORY in CPU units 1-99999 and MiB 1-999999 (e.g. 512/1024)");
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
  const consolidation = v.valueOneOf(name('consolidation', 'Consolidation'), props.consolidation ?? d.consolidation,
    Object.values(Consolidation));
  const disruptionBudget = v.disruptionBudget(name('disruptionBudget', 'DisruptionBudget'), props.disruptionBudget ?? d.disruptionBudget);
  const stability = v.seconds(name('consolidationStability', 'ConsolidationStabilitySeconds'),
    props.consolidationStability ?? d.consolidationStability, 0, 3600);
  const minHostsPerZone = v.count(name('minHostsPerZone', 'MinHostsPerZone'), props.minHostsPerZone ?? d.minHostsPerZone, 0, 1000);
  const drainGiveUp = v.seconds(name('drainGiveUpAfter', 'DrainGiveUpSeconds'), props.drainGiveUpAfter ?? d.drainGiveUpAfter, 60, 86400);
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
  const selfManaged = scalingMode === ScalingMode.SELF_MANAGED;
  return {
    worstCase, metricNamespace, headroom, headroomTask, calculatorTimeout, scheduleMinutes, silentMinutes, adjustment,
    scaleOutPeriod, scaleOutEvaluations, scaleInPeriod, scaleInEvaluations, warmup, cooldown, scalingMode,
    scaleInAdjustment, consolidation, disruptionBudget, stability, minHostsPerZone, drainGiveUp, heartbeat, pollInterval, drainMax, deadlineResult, readBudget,
    serviceLinkedRole, chooserFunctionName, retention, logLevel, alarmEmail, alarmTopic: props.alarmTopic,
    prefix: props.namePrefix ?? Aws.STACK_NAME,
    packageDir: props.lambdaPackageDir ?? path.join(process.cwd(), 'target', 'lambda'),
    code: props.code ?? {},
    clusterName: props.cluster.clusterName,
    clusterArn: props.cluster.clusterArn,
    groupName: props.autoScalingGroup.autoScalingGroupName,
    selfManaged,
    byHostsToAdd: selfManaged && adjustment === ScaleOutAdjustment.HOSTS_TO_ADD,
    byHostsToRemove: selfManaged && scaleInAdjustment === ScaleInAdjustment.HOSTS_TO_REMOVE,
    byMinusOne: selfManaged && scaleInAdjustment === ScaleInAdjustment.MINUS_ONE,
    hasSchedule: scheduleMinutes !== 0,
  };
}
