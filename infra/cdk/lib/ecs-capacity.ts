// EcsCapacity: the resources of infra/template.yaml as one CDK construct.
//
// Each construct id is the template's logical id of the same resource (or the id the SAM
// transform generates for it), so the parity test (test/parity.test.ts) can pair them; comments
// on why a resource is shaped as it is live in infra/template.yaml and are not repeated here.
// The template stays the reference: a change there fails the parity test until it is made here.
//
// This file composes the parts, one file per concern: the props checked (props.ts), the
// calculator (calculator.ts), the self-managed loop's drain and chooser (self-managed.ts,
// drainer.ts), the alarm topic and operations alarms (alarms.ts), the loop's scaling alarms and
// policies (self-managed.ts), the dashboard (dashboard.ts). They are called in the template's
// order of sections, which is the synthesized template's order of resources: a reordering here
// would change the template, not only its layout. Each part makes its resources as children of
// this construct, never of a construct of its own, so construct paths and logical ids are the
// same whichever file makes them.
import { Aws } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { addOperationsAlarms } from './alarms';
import { addCapacityCalculator } from './calculator';
import { addDashboard } from './dashboard';
import { checkProps, EcsCapacityProps, ScalingMode } from './props';
import { addScalingPolicies, addSelfManagedLoop } from './self-managed';

// The props and their enums are the construct's API too: index.ts exports them from here, and
// an app that imports lib/ecs-capacity directly finds them where they always were.
export {
  Consolidation, EcsCapacityCode, EcsCapacityProps, ECS_CAPACITY_DEFAULTS, ScaleInAdjustment, ScaleOutAdjustment, ScalingMode, WorstCaseTask,
} from './props';

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
   * with the schedule on; on a capacity provider also ConsolidationRefusedAlarm and
   * DrainsGivenUpAlarm; in self-managed mode also ContainerCapacityAlarm, IdleHostCapacityAlarm,
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
    const p = checkProps(props);
    this.scalingMode = p.scalingMode;
    this.calculatorFunction = addCapacityCalculator(this, p);

    // The hook, drainer and chooser (the template's condition SelfManaged).
    const loop = p.selfManaged ? addSelfManagedLoop(this, p) : undefined;
    this.lifecycleTopic = loop?.lifecycleTopicRef;
    this.failureQueue = loop?.failureQueue;
    this.drainerFunction = loop?.drainerFunction;
    this.chooserFunction = loop?.chooserFunction;
    this.chooserAlias = loop?.chooserAlias;
    this.terminationPoliciesCommand = loop?.terminationPoliciesCommand;

    const alarms = addOperationsAlarms(this, p, {
      calculatorFunction: this.calculatorFunction, failureQueue: this.failureQueue, chooserFunction: this.chooserFunction,
    });
    this.alarmTopic = alarms.alarmTopic;
    // The loop's scaling alarms and the policies they drive, after the operations alarms as in the template.
    if (p.selfManaged) addScalingPolicies(this, p, alarms.alarm);
    this.alarms = alarms.byId;

    this.dashboard = addDashboard(this, p, this.alarms, this.calculatorFunction, loop);
    this.dashboardUrl = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboard.ref}`;
  }
}
