// What the three functions (capacity-calculator, lifecycle-drainer, scale-in-chooser) share:
// their runtime settings, where their code comes from, their log groups, and the IAM
// statements each role repeats for this one cluster.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CheckedProps } from './props';

export const FUNCTION_DEFAULTS = {
  handler: 'bootstrap',
  runtime: lambda.Runtime.PROVIDED_AL2023,
  architecture: lambda.Architecture.ARM_64,
  memorySize: 128,
  loggingFormat: lambda.LoggingFormat.JSON,
  systemLogLevelV2: lambda.SystemLogLevel.WARN,
} as const;

export const lambdaAssumeRole = () => new iam.ServicePrincipal('lambda.amazonaws.com');

/** The code given for the function, else its zip as `make package` writes it (which must exist). */
export function functionCode(p: CheckedProps, fn: string, given: lambda.Code | undefined): lambda.Code {
  if (given) return given;
  const zip = path.join(p.packageDir, fn, 'bootstrap.zip');
  if (!fs.existsSync(zip)) {
    throw new Error(`EcsCapacity: no ${fn} package at ${zip}: run \`make package\`, or set lambdaPackageDir or code`);
  }
  return lambda.Code.fromAsset(zip);
}

export const functionLogGroup = (scope: Construct, p: CheckedProps, id: string, fn: string) => new logs.LogGroup(scope, id, {
  logGroupName: `/ecs-capacity/${p.prefix}/${fn}`,
  retention: p.retention,
  removalPolicy: RemovalPolicy.DESTROY,
});

export const writeOwnLogGroup = (group: logs.LogGroup) => new iam.PolicyStatement({
  sid: 'WriteOwnLogGroup',
  actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  resources: [group.logGroupArn],
});

export const listThisClustersContainerInstances = (p: CheckedProps) => new iam.PolicyStatement({
  sid: 'ListThisClustersContainerInstances',
  actions: ['ecs:ListContainerInstances'],
  resources: [p.clusterArn],
});

export const onThisCluster = (p: CheckedProps, sid: string, actions: string[]) => new iam.PolicyStatement({
  sid, actions, resources: ['*'], conditions: { ArnEquals: { 'ecs:cluster': p.clusterArn } },
});
