// The drain before a host goes (self-managed mode only): the terminate lifecycle hook and its
// topic, lifecycle-drainer, which drains the host and completes the lifecycle action, the
// queue of the notifications it gave up on, and the metric filters that count drains from
// its logs.
import { Aws, CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  FUNCTION_DEFAULTS, functionCode, functionLogGroup, lambdaAssumeRole, listThisClustersContainerInstances, onThisCluster,
  writeOwnLogGroup,
} from './functions';
import { iam5, nagResourceFinding, suppressNag } from './nag';
import { CheckedProps } from './props';

export interface LifecycleDrainer {
  /** The topic of the terminate lifecycle hook, which the drainer also republishes to. */
  readonly lifecycleTopic: sns.CfnTopic;
  readonly lifecycleTopicRef: sns.ITopic;
  /** The drainer's on-failure destination. */
  readonly failureQueue: sqs.Queue;
  readonly drainerFunction: lambda.Function;
}

/** The hook, the drainer and its failure queue in scope, with the template's logical ids. */
export function addLifecycleDrainer(scope: Construct, p: CheckedProps): LifecycleDrainer {
  const lifecycleTopic = new sns.CfnTopic(scope, 'LifecycleTopic', { kmsMasterKeyId: 'alias/aws/sns' });
  const lifecycleTopicRef = sns.Topic.fromTopicArn(scope, 'LifecycleTopicRef', lifecycleTopic.ref);
  const hookRole = new iam.Role(scope, 'LifecycleHookRole', {
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
  new autoscaling.CfnLifecycleHook(scope, 'TerminateLifecycleHook', {
    autoScalingGroupName: p.groupName,
    lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    heartbeatTimeout: p.heartbeat,
    defaultResult: 'CONTINUE',
    notificationTargetArn: lifecycleTopic.ref,
    roleArn: hookRole.roleArn,
  });

  const drainerLogGroup = functionLogGroup(scope, p, 'DrainerLogGroup', 'lifecycle-drainer');
  const failureQueue = new sqs.Queue(scope, 'DrainerFailureQueue', {
    retentionPeriod: Duration.seconds(1209600),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  suppressNag(failureQueue.node.defaultChild as CfnResource, [
    { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the failure destination of the drainer (Lambda on-failure records); it has no consumer that could fail' },
    { id: 'AwsSolutions-SQS4', reason: 'Its one writer is Lambda on-failure delivery with the drainer role (sqs:SendMessage on this queue only); a TLS-only queue policy would be a resource the SAM template does not have, which the parity test forbids' },
  ]);
  // The group's ARN has a "*" for its id, unknown for a group that exists already.
  const groupArns = `arn:${Aws.PARTITION}:autoscaling:${Aws.REGION}:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/${p.groupName}`;
  const drainerRole = new iam.Role(scope, 'DrainerRole', {
    description: "lifecycle-drainer - drains one ECS cluster's instances for one Auto Scaling group",
    assumedBy: lambdaAssumeRole(),
    inlinePolicies: {
      'lifecycle-drainer': new iam.PolicyDocument({
        statements: [
          listThisClustersContainerInstances(p),
          onThisCluster(p, 'DrainThisClustersInstancesAndWatchTheirTasks', [
            'ecs:DescribeContainerInstances', 'ecs:UpdateContainerInstancesState', 'ecs:ListTasks', 'ecs:DescribeTasks',
          ]),
          new iam.PolicyStatement({
            sid: 'CompleteThisGroupsLifecycleActions',
            actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
            resources: [groupArns],
          }),
          new iam.PolicyStatement({ sid: 'RepublishToTheLifecycleTopicOnly', actions: ['sns:Publish'], resources: [lifecycleTopic.ref] }),
          new iam.PolicyStatement({
            sid: 'SendFailedNotificationsToTheFailureQueueOnly', actions: ['sqs:SendMessage'], resources: [failureQueue.queueArn],
          }),
          writeOwnLogGroup(drainerLogGroup),
        ],
      }),
    },
  });
  suppressNag(drainerRole.node.defaultChild as CfnResource, [
    iam5('ECS container instance and task actions support no resource ARN here; the "*" statement is conditioned on ecs:cluster (this cluster)'),
    iam5('The lifecycle actions of this one group: its ARN has a "*" for the group id, which a group that exists already does not give',
      [nagResourceFinding(scope, groupArns)]),
  ]);
  const drainerFunction = new lambda.Function(scope, 'LifecycleDrainerFunction', {
    ...FUNCTION_DEFAULTS,
    description: 'Drains an ECS container instance before Auto Scaling terminates it',
    code: functionCode(p, 'lifecycle-drainer', p.code.drainer),
    timeout: Duration.seconds(900),
    recursiveLoop: lambda.RecursiveLoop.ALLOW,
    role: drainerRole,
    logGroup: drainerLogGroup,
    applicationLogLevelV2: p.logLevel,
    environment: {
      ECS_CLUSTER: p.clusterName,
      POLL_INTERVAL_SECONDS: String(p.pollInterval),
      MAX_DRAIN_SECONDS: String(p.drainMax),
      DEADLINE_RESULT: p.deadlineResult,
      HEARTBEAT_TIMEOUT_SECONDS: String(p.heartbeat),
      REPUBLISH_TOPIC_ARN: lifecycleTopic.ref,
    },
  });
  new lambda.CfnEventInvokeConfig(scope, 'LifecycleDrainerFunctionEventInvokeConfig', {
    functionName: drainerFunction.functionName,
    qualifier: '$LATEST',
    maximumRetryAttempts: 2,
    maximumEventAgeInSeconds: 3600,
    destinationConfig: { onFailure: { destination: failureQueue.queueArn } },
  });
  new sns.CfnSubscription(scope, 'LifecycleDrainerFunctionInstanceTerminating', {
    endpoint: drainerFunction.functionArn,
    protocol: 'lambda',
    topicArn: lifecycleTopic.ref,
  });
  new lambda.CfnPermission(scope, 'LifecycleDrainerFunctionInstanceTerminatingPermission', {
    action: 'lambda:InvokeFunction',
    functionName: drainerFunction.functionName,
    principal: 'sns.amazonaws.com',
    sourceArn: lifecycleTopic.ref,
  });

  const metricFilter = (id: string, metricName: string, filterPattern: string, clusterField: string) =>
    new logs.CfnMetricFilter(scope, id, {
      logGroupName: drainerLogGroup.logGroupName,
      filterPattern,
      metricTransformations: [{
        metricNamespace: p.metricNamespace, metricName, metricValue: '1', unit: 'Count',
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

  return { lifecycleTopic, lifecycleTopicRef, failureQueue, drainerFunction };
}
