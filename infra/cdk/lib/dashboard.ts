// The CloudWatch dashboard: the template's body, widget by widget. The drain and chooser
// widgets exist in self-managed mode only; the consolidation widget shows, on a capacity
// provider, what the calculator drains and undoes itself; the stranded room, in both modes, the
// CPU and memory today's tasks would leave unusable on hosts of the type the group launches.
import { Aws, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CheckedProps, ScalingMode } from './props';
import { SelfManagedLoop } from './self-managed';

/** The dashboard in scope, its alarms widget listing those of `alarms` the template's lists. */
export function addDashboard(scope: Construct, p: CheckedProps, alarms: Readonly<Record<string, cloudwatch.CfnAlarm>>,
  calculatorFunction: lambda.Function, loop: SelfManagedLoop | undefined): cloudwatch.CfnDashboard {
  // The alarms widget in the template's order: the self-managed alarms, HostsToAdd,
  // HostsToRemove, the capacity-provider alarms, the silent alarm, the errors alarm.
  const alarmOrder = ['ContainerCapacityAlarm', 'IdleHostCapacityAlarm', 'DrainerFailureQueueAlarm', 'DrainsAtDeadlineAlarm',
    'ChooserErrorsAlarm', 'HostsToAddAlarm', 'HostsToRemoveAlarm', 'ConsolidationRefusedAlarm', 'DrainsGivenUpAlarm', 'CalculatorSilentAlarm',
    'CalculatorErrorsAlarm'];
  return new cloudwatch.CfnDashboard(scope, 'Dashboard', {
    dashboardName: p.prefix,
    dashboardBody: Stack.of(scope).toJsonString(dashboardBody({
      clusterName: p.clusterName, groupName: p.groupName, metricNamespace: p.metricNamespace, headroom: p.headroom,
      scaleOutPeriod: p.scaleOutPeriod, scaleInPeriod: p.scaleInPeriod, scalingMode: p.scalingMode,
      alarmArns: alarmOrder.filter((a) => alarms[a]).map((a) => alarms[a].attrArn),
      calculator: calculatorFunction.functionName,
      selfManaged: loop ? {
        failureQueueName: loop.failureQueue.queueName,
        lifecycleTopicName: loop.lifecycleTopic.attrTopicName,
        drainer: loop.drainerFunction.functionName,
        chooser: loop.chooserFunction.functionName,
      } : undefined,
    })),
  });
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
          byCluster('HostsRemovable', { label: 'HostsRemovable (the plan; all observe mode publishes)' }),
          // What the calculator drains and undoes itself (capacity-provider mode).
          ...(i.scalingMode === ScalingMode.CAPACITY_PROVIDER ? [
            byCluster('HostsDrained', { stat: 'Sum', label: 'set DRAINING' }),
            byCluster('HostsReactivated', { stat: 'Sum', label: 'set ACTIVE again (tasks waited)' }),
            byCluster('DrainsGivenUp', { stat: 'Sum', label: 'drains given up (see the runbook)' }),
            byCluster('ConsolidationRefused', { stat: 'Maximum', label: 'refused (see the log)' }),
          ] : []),
        ],
      }),
      // Below the self-managed widgets (rows 20 and 26), or in their place on a capacity provider.
      metricWidget(0, sm ? 32 : 20, 12, {
        title: 'Stranded room', stat: 'Average', period: 300, yAxis: { left: { min: 0 }, right: { min: 0 } },
        metrics: [
          byCluster('StrandedVcpu', { label: 'vCPUs no task of the mix can use, on the type the group launches' }),
          byCluster('StrandedMemoryGiB', { yAxis: 'right', label: 'memory (GiB) no task of the mix can use' }),
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
