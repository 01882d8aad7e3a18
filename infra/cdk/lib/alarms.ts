// The alarms. Each is one `alarm('Id', { … })` call: its construct id is the template's logical
// id, its name `<prefix>-<suffix>`, and it is kept by that id for the construct's `alarms` and
// the dashboard's alarm list. Here: the alarm topic (alarmEmail, under its own KMS key) and the
// operations alarms, which tell the topics that something needs a person; the scaling alarms,
// which drive the self-managed loop's policies instead, are in self-managed.ts.
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CheckedProps } from './props';

export interface AlarmSpec {
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

/** Adds the alarm `id` (the template's logical id). */
export type AddAlarm = (id: string, spec: AlarmSpec) => cloudwatch.CfnAlarm;

export interface Alarms {
  /** Every alarm made with `alarm`, by the template's logical id. */
  readonly byId: Record<string, cloudwatch.CfnAlarm>;
  readonly alarm: AddAlarm;
  /** The topic created for alarmEmail, if any. */
  readonly alarmTopic?: sns.ITopic;
}

/** What the operations alarms watch: the calculator, and in self-managed mode the drainer's queue and the chooser. */
export interface Watched {
  readonly calculatorFunction: lambda.Function;
  readonly failureQueue?: sqs.Queue;
  readonly chooserFunction?: lambda.Function;
}

/** The alarm topic for alarmEmail, then the operations alarms, in scope; `alarm` makes the others. */
export function addOperationsAlarms(scope: Construct, p: CheckedProps, watched: Watched): Alarms {
  let alarmTopic: sns.ITopic | undefined;
  const opsTopics: string[] = [];
  if (p.alarmEmail !== undefined) {
    const key = new kms.CfnKey(scope, 'AlarmTopicKey', {
      description: `${p.prefix} - encrypts the alarm topic; CloudWatch alarms may use it`,
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
    const topic = new sns.CfnTopic(scope, 'AlarmTopic', {
      kmsMasterKeyId: key.ref,
      subscription: [{ protocol: 'email', endpoint: p.alarmEmail }],
    });
    alarmTopic = sns.Topic.fromTopicArn(scope, 'AlarmTopicRef', topic.ref);
    opsTopics.push(topic.ref);
  }
  if (p.alarmTopic) opsTopics.push(p.alarmTopic.topicArn);

  const byId: Record<string, cloudwatch.CfnAlarm> = {};
  const alarm: AddAlarm = (id, spec) => {
    byId[id] = new cloudwatch.CfnAlarm(scope, id, {
      alarmName: `${p.prefix}-${spec.suffix}`,
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
    return byId[id];
  };
  const operations = (okToo: boolean) => ({ alarmActions: opsTopics, okActions: okToo ? opsTopics : undefined });

  if (watched.failureQueue) {
    alarm('DrainerFailureQueueAlarm', {
      suffix: 'lifecycle-notification-failed',
      description: `The drainer of cluster ${p.clusterName} gave up on a lifecycle notification after its retries (or it waited too long): the host may have been terminated with tasks on it. The notification waits in the failure queue (14 days): read its drain's logs, then replay or delete it (docs/runbook.md).`,
      namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimension: ['QueueName', watched.failureQueue.queueName],
      statistic: 'Maximum', period: 60, evaluationPeriods: 1, threshold: 0,
      comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching', ...operations(true),
    });
    alarm('DrainsAtDeadlineAlarm', {
      suffix: 'drain-deadline-reached',
      description: `A drain on cluster ${p.clusterName} reached DrainMaxSeconds with tasks still on the host: the lifecycle action was completed (${p.deadlineResult}) and the host terminates with them (docs/runbook.md).`,
      namespace: p.metricNamespace, metricName: 'DrainsAtDeadline', dimension: ['ClusterName', p.clusterName],
      statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(false),
    });
  }
  alarm('CalculatorErrorsAlarm', {
    suffix: 'capacity-calculator-failing',
    description: `The capacity-calculator of cluster ${p.clusterName} failed in each of the last three 5-minute periods: the capacity metrics are stale and the cluster scales on old numbers (docs/runbook.md).`,
    namespace: 'AWS/Lambda', metricName: 'Errors', dimension: ['FunctionName', watched.calculatorFunction.functionName],
    statistic: 'Sum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 3, threshold: 1,
    comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
  });
  if (!p.selfManaged) {
    alarm('ConsolidationRefusedAlarm', {
      suffix: 'consolidation-refused',
      description: `The capacity-calculator of cluster ${p.clusterName} refused to drain hosts for the last three 5-minute periods: its log line "consolidation refused" says why (docs/runbook.md).`,
      namespace: p.metricNamespace, metricName: 'ConsolidationRefused', dimension: ['ClusterName', p.clusterName],
      statistic: 'Minimum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 3, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
    });
    // A drain of the calculator's own that still held tasks after drainGiveUpAfter, set ACTIVE
    // again: each one needs a look (docs/runbook.md).
    alarm('DrainsGivenUpAlarm', {
      suffix: 'drains-given-up',
      description: `The capacity-calculator of cluster ${p.clusterName} gave up a drain that still held tasks after ${p.drainGiveUp} s and set the host ACTIVE again: its log line "hosts this function drained are ACTIVE again (undone or given up)" names the host (docs/runbook.md).`,
      namespace: p.metricNamespace, metricName: 'DrainsGivenUp', dimension: ['ClusterName', p.clusterName],
      statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(false),
    });
  }
  if (p.hasSchedule) {
    alarm('CalculatorSilentAlarm', {
      suffix: 'capacity-calculator-silent',
      description: `The capacity-calculator of cluster ${p.clusterName} published no ContainerCapacity for ${p.silentMinutes} minutes: the scaling alarms have no data and the group holds its size until it publishes again (docs/runbook.md).`,
      namespace: p.metricNamespace, metricName: 'ContainerCapacity', dimension: ['ClusterName', p.clusterName],
      statistic: 'SampleCount', period: 60, evaluationPeriods: p.silentMinutes, datapointsToAlarm: p.silentMinutes, threshold: 1,
      comparisonOperator: 'LessThanThreshold', treatMissingData: 'breaching', ...operations(true),
    });
  }
  if (watched.chooserFunction) {
    alarm('ChooserErrorsAlarm', {
      suffix: 'scale-in-chooser-failing',
      description: `The scale-in-chooser of cluster ${p.clusterName} answered Auto Scaling with an error: Auto Scaling retries and group ${p.groupName} does not scale in until it answers (docs/scale-in-chooser.md).`,
      namespace: 'AWS/Lambda', metricName: 'Errors', dimension: ['FunctionName', watched.chooserFunction.functionName],
      statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold', treatMissingData: 'notBreaching', ...operations(true),
    });
  }

  return { byId, alarm, alarmTopic };
}
