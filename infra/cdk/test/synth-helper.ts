// Builds the construct in a fresh stack for the tests, with placeholder zips (no `make package`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { EcsCapacity, EcsCapacityProps } from '../lib';

export const CLUSTER = 'parity-cluster';
export const GROUP = 'parity-group';
export const CONSTRUCT_ID = 'EcsCapacity';

export type ExtraProps = Omit<EcsCapacityProps, 'cluster' | 'autoScalingGroup'>;

export interface Built {
  readonly stack: Stack;
  readonly capacity: EcsCapacity;
}

let packageDir: string | undefined;

/**
 * A directory laid out as `make package` writes target/lambda: <name>/bootstrap.zip for the
 * three functions. The files are placeholders (synth hashes and stages them, nothing unzips).
 */
export function placeholderPackageDir(): string {
  if (packageDir) return packageDir;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-capacity-cdk-'));
  for (const fn of ['capacity-calculator', 'lifecycle-drainer', 'scale-in-chooser']) {
    fs.mkdirSync(path.join(dir, fn));
    fs.writeFileSync(path.join(dir, fn, 'bootstrap.zip'), `placeholder for ${fn}`);
  }
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  packageDir = dir;
  return dir;
}

/** The construct on an imported cluster and group, with the placeholder zips. */
export function build(extra: ExtraProps | ((stack: Stack) => ExtraProps) = {}): Built {
  const app = new App();
  const stack = new Stack(app, 'ParityStack');
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-00000000', availabilityZones: ['eu-west-1a'] });
  const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: CLUSTER, vpc });
  const autoScalingGroup = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', GROUP);
  const capacity = new EcsCapacity(stack, CONSTRUCT_ID, {
    cluster,
    autoScalingGroup,
    lambdaPackageDir: placeholderPackageDir(),
    ...(typeof extra === 'function' ? extra(stack) : extra),
  });
  return { stack, capacity };
}
