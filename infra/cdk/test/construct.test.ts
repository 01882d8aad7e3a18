// Unit tests of EcsCapacity with aws-cdk-lib/assertions: props reach the resources, the limits
// are the template's (read from infra/template.yaml at test time), errors name the prop, and
// cdk-nag's AwsSolutions checks pass with the justified suppressions only.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Consolidation, EcsCapacity, EcsCapacityPropError, ScaleInAdjustment, ScaleOutAdjustment, ScalingMode } from '../lib';
import { Json } from './normalize';
import { PARAMETER_PROPS, propsFor } from './parameters';
import { samTemplate } from './sam';
import { build, CLUSTER, GROUP, placeholderPackageDir } from './synth-helper';

type Decl = Record<string, Json>;
const declared = () => samTemplate().Parameters as Record<string, Decl>;
const changed = () => Object.fromEntries(Object.entries(PARAMETER_PROPS).map(([n, p]) => [n, p.changed]));

/** Builds with every parameter changed but one, set to value. */
function buildWith(parameter: string, value: Json) {
  return build(propsFor({ ...changed(), [parameter]: value }));
}

function refusedNaming(parameter: string, value: Json) {
  assert.throws(() => buildWith(parameter, value), (e: Error) => {
    // A negative Duration cannot even be made: aws-cdk-lib refuses it first.
    if (typeof value === 'number' && value < 0 && /Duration amounts cannot be negative/.test(e.message)) return true;
    assert.ok(e instanceof EcsCapacityPropError, `${parameter}=${value}: ${e}`);
    assert.match(e.message, new RegExp(`the template's ${parameter}\\)`));
    return true;
  }, `${parameter}=${JSON.stringify(value)} was accepted`);
}

describe('EcsCapacity limits are the template parameters\' limits', () => {
  it('refuses a number just outside MinValue..MaxValue and accepts both ends', () => {
    let checked = 0;
    for (const [name, decl] of Object.entries(declared())) {
      if (decl.Type !== 'Number' || decl.AllowedValues !== undefined) continue;
      const min = Number(decl.MinValue);
      const max = Number(decl.MaxValue);
      assert.ok(Number.isFinite(min) && Number.isFinite(max), `${name} has no MinValue/MaxValue`);
      refusedNaming(name, min - 1);
      refusedNaming(name, max + 1);
      refusedNaming(name, min + 0.5);
      // 0 is "discover" for the worst-case pair, and the pair is given whole or not at all.
      if (!(name.startsWith('ContainerMax') && min === 0)) buildWith(name, min);
      buildWith(name, max);
      checked += 1;
    }
    assert.ok(checked >= 12, `only ${checked} numeric parameters checked`);
  });

  it('accepts every AllowedValue and refuses another', () => {
    let checked = 0;
    for (const [name, decl] of Object.entries(declared())) {
      if (!Array.isArray(decl.AllowedValues)) continue;
      for (const allowed of decl.AllowedValues) buildWith(name, allowed);
      refusedNaming(name, decl.Type === 'Number' ? Math.max(...decl.AllowedValues.map(Number)) + 1 : 'NotAllowed');
      checked += 1;
    }
    assert.ok(checked >= 6, `only ${checked} parameters with AllowedValues`);
  });

  it('refuses strings the AllowedPatterns refuse', () => {
    const cases: Array<[string, string]> = [
      ['MetricNamespace', 'AWS/ECS'],
      ['MetricNamespace', ''],
      ['AutoScalingServiceLinkedRoleName', 'MyAutoScalingRole'],
      ['ChooserFunctionName', 'has space'],
      ['AlarmEmail', 'ops-at-example.com'],
      ['DisruptionBudget', '101%'],
      ['DisruptionBudget', '0%'],
      ['DisruptionBudget', '10000'],
      ['DisruptionBudget', '05'],
      ['DisruptionBudget', '-1'],
      ['DisruptionBudget', ''],
      ['HeadroomTask', 'web'],
      ['HeadroomTask', 'service:'],
      ['HeadroomTask', 'Worst-Case'],
      ['HeadroomTask', '0/1024'],
      ['HeadroomTask', '100000/1024'],
      ['HeadroomTask', '512/1024 '],
    ];
    for (const [name, value] of cases) {
      assert.ok(!new RegExp(String(declared()[name].AllowedPattern)).test(value), `the template accepts ${name}=${value}`);
      refusedNaming(name, value);
    }
  });
});

/** Building with extra throws an EcsCapacityPropError naming the parameter and the value shown. */
const refused = (extra: Parameters<typeof build>[0], parameter: string, shown: string) =>
  assert.throws(() => build(extra), (e: Error) => {
    assert.ok(e instanceof EcsCapacityPropError, String(e));
    assert.match(e.message, new RegExp(`the template's ${parameter}\\)`));
    assert.ok(e.message.includes(`got ${shown}`), `the message does not name the bad value ${shown}: ${e.message}`);
    return true;
  });

describe('EcsCapacity headroom task', () => {
  const calculatorEnv = (extra: Parameters<typeof build>[0], variables: Record<string, string>) =>
    Template.fromStack(build(extra).stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike(variables) },
    });

  it('is the worst case by default, a service or a shape when given, and the calculator is told in both modes', () => {
    calculatorEnv({}, { HEADROOM_TASK: '' });
    for (const scalingMode of Object.values(ScalingMode)) {
      calculatorEnv({ scalingMode, headroomTask: 'service:web' }, { HEADROOM_TASK: 'service:web', SCALING_MODE: scalingMode });
    }
    // The other forms at their edges (the lighter capacity-provider build).
    for (const headroomTask of ['worst-case', `service:${'a'.repeat(255)}`, '1/1', '99999/999999']) {
      calculatorEnv({ scalingMode: ScalingMode.CAPACITY_PROVIDER, headroomTask }, { HEADROOM_TASK: headroomTask });
    }
  });

  it('refuses what the template refuses, naming the value', () => {
    for (const bad of ['web', 'service:', 'service:a b', '0/1024', '512/0', '100000/1', '1/1000000', ' 512/1024']) {
      refused({ headroomTask: bad }, 'HeadroomTask', JSON.stringify(bad));
    }
  });
});

describe('EcsCapacity consolidation props', () => {

  it('refuses a disruption budget the template refuses, naming the value', () => {
    for (const bad of ['11 %', '150%', '0%', '1.5', 'ten', '10000']) refused({ disruptionBudget: bad }, 'DisruptionBudget', JSON.stringify(bad));
    for (const bad of [-1, 1.5, 10000, Number.NaN]) refused({ disruptionBudget: bad }, 'DisruptionBudget', String(bad));
  });

  it('takes a budget as a share, a string of hosts or a number of hosts, and passes it on as the template does', () => {
    for (const [given, env] of [['25%', '25%'], ['100%', '100%'], ['7', '7'], [0, '0'], [9999, '9999']] as const) {
      Template.fromStack(build({ disruptionBudget: given }).stack).hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ DISRUPTION_BUDGET: env }) },
      });
    }
    Template.fromStack(build().stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DISRUPTION_BUDGET: '10%', CONSOLIDATION_STABILITY_SECONDS: '300' }) },
    });
  });

  it('refuses a consolidation stability outside 0..3600 whole seconds, naming the value', () => {
    refused({ consolidationStability: Duration.seconds(3601) }, 'ConsolidationStabilitySeconds', '3601');
    refused({ consolidationStability: Duration.hours(2) }, 'ConsolidationStabilitySeconds', '7200');
    refused({ consolidationStability: Duration.millis(1500) }, 'ConsolidationStabilitySeconds', '1.5');
    for (const ok of [Duration.seconds(0), Duration.hours(1)]) build({ consolidationStability: ok });
  });

  it('refuses a scaling mode or scale-in adjustment the template does not know', () => {
    refused({ scalingMode: 'managed' as ScalingMode }, 'ScalingMode', 'managed');
    refused({ scaleInAdjustment: 'MinusTwo' as ScaleInAdjustment }, 'ScaleInAdjustment', 'MinusTwo');
  });

  it('consolidation: act by default, observe when asked, nothing else, and the calculator is told', () => {
    const env = (extra: Parameters<typeof build>[0]) => Template.fromStack(build(extra).stack);
    env({}).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CONSOLIDATION: 'act', MIN_HOSTS_PER_ZONE: '1', DRAIN_GIVE_UP_SECONDS: '900' }) },
    });
    for (const scalingMode of Object.values(ScalingMode)) {
      env({ scalingMode, consolidation: Consolidation.OBSERVE }).hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ CONSOLIDATION: 'observe', SCALING_MODE: scalingMode }) },
      });
    }
    refused({ consolidation: 'dry-run' as Consolidation }, 'Consolidation', 'dry-run');
    refused({ consolidation: 'Observe' as Consolidation }, 'Consolidation', 'Observe');
  });

  it('refuses hosts per zone outside 0..1000 whole hosts, naming the value', () => {
    for (const bad of [-1, 1001, 1.5, Number.NaN]) refused({ minHostsPerZone: bad }, 'MinHostsPerZone', String(bad));
    for (const ok of [0, 1000]) {
      Template.fromStack(build({ minHostsPerZone: ok }).stack).hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ MIN_HOSTS_PER_ZONE: String(ok) }) },
      });
    }
  });

  it('refuses a drain give-up time outside 60..86400 whole seconds, naming the value', () => {
    refused({ drainGiveUpAfter: Duration.seconds(59) }, 'DrainGiveUpSeconds', '59');
    refused({ drainGiveUpAfter: Duration.days(2) }, 'DrainGiveUpSeconds', '172800');
    refused({ drainGiveUpAfter: Duration.millis(90500) }, 'DrainGiveUpSeconds', '90.5');
    for (const [ok, seconds] of [[Duration.minutes(1), '60'], [Duration.days(1), '86400']] as const) {
      Template.fromStack(build({ scalingMode: ScalingMode.CAPACITY_PROVIDER, drainGiveUpAfter: ok }).stack)
        .hasResourceProperties('AWS::Lambda::Function', {
          Environment: { Variables: Match.objectLike({ DRAIN_GIVE_UP_SECONDS: seconds }) },
        });
    }
  });
});

describe('EcsCapacity scaling modes', () => {
  it('capacity-provider mode creates no scaling policy, alarm on a scaling metric, or lifecycle hook', () => {
    const { stack, capacity } = build({ scalingMode: ScalingMode.CAPACITY_PROVIDER });
    const t = Template.fromStack(stack);
    for (const type of ['AWS::AutoScaling::ScalingPolicy', 'AWS::AutoScaling::LifecycleHook', 'AWS::SNS::Topic', 'AWS::SNS::Subscription',
      'AWS::SQS::Queue', 'AWS::Logs::MetricFilter', 'AWS::Lambda::Alias', 'AWS::Lambda::Version']) {
      t.resourceCountIs(type, 0);
    }
    // Nothing acts on the group: only the dashboard (its Hosts widget) and the calculator
    // (which reads it) may name it.
    const resources = t.toJSON().Resources as Record<string, { Type: string; Properties?: unknown }>;
    for (const [id, r] of Object.entries(resources)) {
      assert.ok(!r.Type.startsWith('AWS::AutoScaling::'), `${id} is a ${r.Type}`);
      if (r.Type === 'AWS::CloudWatch::Dashboard' || r.Type === 'AWS::Lambda::Function') continue;
      assert.ok(!JSON.stringify(r.Properties ?? {}).includes(GROUP), `${id} (${r.Type}) names the group`);
    }
    // The alarms left are the calculator's operations alarms, none with an Auto Scaling action.
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => r.Properties as { MetricName: string; Namespace: string; AlarmActions?: unknown[] });
    assert.deepEqual(alarms.map((a) => `${a.Namespace === 'AWS/Lambda' ? 'AWS/Lambda' : 'ns'} ${a.MetricName}`).sort(),
      ['AWS/Lambda Errors', 'ns ConsolidationRefused', 'ns ContainerCapacity', 'ns DrainsGivenUp']);
    for (const scaling of ['HostsToAdd', 'HostsToRemove', 'IdleHostCapacity']) {
      t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: scaling }, 0);
    }
    // The only Minimum alarm is the operations alarm on the calculator's refusal to drain.
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Statistic: 'Minimum' }, 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ConsolidationRefused', Statistic: 'Minimum' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SCALING_MODE: 'capacity-provider', AUTO_SCALING_GROUP_NAME: Match.anyValue() }) },
    });
    // One function: the calculator, which may drain on its own.
    t.resourceCountIs('AWS::Lambda::Function', 1);
    t.hasResourceProperties('AWS::IAM::RolePolicy', {
      PolicyName: 'consolidate-on-capacity-provider',
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'ecs:UpdateContainerInstancesState' })]) },
    });
    assert.equal(capacity.scalingMode, ScalingMode.CAPACITY_PROVIDER);
    for (const member of ['drainerFunction', 'chooserFunction', 'chooserAlias', 'lifecycleTopic', 'failureQueue', 'terminationPoliciesCommand'] as const) {
      assert.equal(capacity[member], undefined, `${member} is set in capacity-provider mode`);
    }
    assert.deepEqual(Object.keys(capacity.alarms).sort(),
      ['CalculatorErrorsAlarm', 'CalculatorSilentAlarm', 'ConsolidationRefusedAlarm', 'DrainsGivenUpAlarm']);
  });

  it('capacity-provider mode needs no drainer or chooser package', () => {
    const only = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-capacity-calculator-only-'));
    try {
      fs.mkdirSync(path.join(only, 'capacity-calculator'));
      fs.writeFileSync(path.join(only, 'capacity-calculator', 'bootstrap.zip'), 'placeholder');
      const { stack } = build({ scalingMode: ScalingMode.CAPACITY_PROVIDER, lambdaPackageDir: only });
      Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 1);
      assert.throws(() => build({ lambdaPackageDir: only }), /no lifecycle-drainer package/);
    } finally {
      fs.rmSync(only, { recursive: true, force: true });
    }
  });

  it('HostsToRemove (default): the plan alarm drives the 20-step consolidation policy; IdleHostCapacity only reports', () => {
    const { stack, capacity } = build({ scaleInAlarmPeriod: Duration.minutes(2), scaleInEvaluationPeriods: 4 });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 2);
    t.resourcePropertiesCountIs('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'SimpleScaling' }, 0);
    const steps = Array.from({ length: 19 }, (_, i) => ({ MetricIntervalLowerBound: i, MetricIntervalUpperBound: i + 1, ScalingAdjustment: -(i + 1) }));
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling', MetricAggregationType: 'Minimum', Cooldown: Match.absent(), EstimatedInstanceWarmup: Match.absent(),
      StepAdjustments: [...steps, { MetricIntervalLowerBound: 19, ScalingAdjustment: -20 }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      // One period of the scale-in period, whatever scaleInEvaluationPeriods says: the plan's
      // stability window is the waiting.
      MetricName: 'HostsToRemove', Statistic: 'Minimum', Period: 120, EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('ConsolidationScaleInPolicy') }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IdleHostCapacity', AlarmActions: Match.absent() });
    assert.ok(capacity.alarms.HostsToRemoveAlarm);
  });

  it('MinusOne: the one-host policy on IdleHostCapacity, no HostsToRemove alarm or consolidation policy', () => {
    const t = Template.fromStack(build({ scaleInAdjustment: ScaleInAdjustment.MINUS_ONE, scaleInCooldown: Duration.minutes(15) }).stack);
    t.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 2);
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'SimpleScaling', ScalingAdjustment: -1, Cooldown: '900' });
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'HostsToRemove' }, 0);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IdleHostCapacity', AlarmActions: [{ Ref: Match.stringLikeRegexp('ScaleInPolicy') }],
    });
  });

  it('DrainsGivenUpAlarm: on a capacity provider only, any give-up in 5 minutes, to the alarm topics, saying the give-up time', () => {
    const { stack, capacity } = build({ scalingMode: ScalingMode.CAPACITY_PROVIDER, alarmEmail: 'ops@example.com',
      drainGiveUpAfter: Duration.minutes(30) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, '-drains-given-up']] },
      MetricName: 'DrainsGivenUp', Namespace: 'ECS/ClusterCapacity', Statistic: 'Sum', Period: 300, EvaluationPeriods: 1,
      Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp('after 1800 s'),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    assert.ok(capacity.alarms.DrainsGivenUpAlarm);
    // The dashboard lists it and draws the give-ups beside the drains.
    const body = JSON.stringify(t.toJSON().Resources[Object.keys(t.findResources('AWS::CloudWatch::Dashboard'))[0]].Properties.DashboardBody);
    for (const shown of ['DrainsGivenUpAlarm', 'DrainsGivenUp', 'HostsDrained', 'HostsRemovable']) assert.ok(body.includes(shown), shown);
    const selfManaged = build({ alarmEmail: 'ops@example.com' });
    Template.fromStack(selfManaged.stack).resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'DrainsGivenUp' }, 0);
    assert.equal(selfManaged.capacity.alarms.DrainsGivenUpAlarm, undefined);
  });

  it('the calculator reads and writes its one tag on this cluster only, in both modes', () => {
    for (const scalingMode of Object.values(ScalingMode)) {
      Template.fromStack(build({ scalingMode }).stack).hasResourceProperties('AWS::IAM::Role', {
        Policies: [{ PolicyName: 'capacity-calculator', PolicyDocument: { Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'ReadThisClustersTags', Action: 'ecs:ListTagsForResource', Resource: Match.not('*') }),
          Match.objectLike({ Sid: 'TagThisClusterWithItsLastShortfall', Action: 'ecs:TagResource', Resource: Match.not('*'),
            Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['ecs-capacity.last-shortfall'] } } }),
        ]) } }],
      });
    }
  });

  it('the calculator may mark this cluster\'s instances and read the group in both modes', () => {
    for (const scalingMode of Object.values(ScalingMode)) {
      Template.fromStack(build({ scalingMode }).stack).hasResourceProperties('AWS::IAM::Role', {
        Policies: [{ PolicyName: 'capacity-calculator', PolicyDocument: { Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'MarkThisClustersContainerInstances', Action: ['ecs:PutAttributes', 'ecs:DeleteAttributes'], Resource: '*',
            Condition: { ArnEquals: { 'ecs:cluster': Match.anyValue() } } }),
          Match.objectLike({ Sid: 'ReadTheGroup', Action: 'autoscaling:DescribeAutoScalingGroups', Resource: '*' }),
        ]) } }],
      });
    }
  });

  it('the calculator reads the group\'s instance types in both modes, alone on "*", and shows the stranded room', () => {
    for (const scalingMode of Object.values(ScalingMode)) {
      const t = Template.fromStack(build({ scalingMode }).stack);
      t.hasResourceProperties('AWS::IAM::Role', {
        Policies: [{ PolicyName: 'capacity-calculator', PolicyDocument: { Statement: Match.arrayWith([
          Match.objectEquals({ Sid: 'ReadTheGroupsInstanceTypes', Effect: 'Allow', Resource: '*',
            Action: ['autoscaling:DescribeLaunchConfigurations', 'ec2:DescribeLaunchTemplateVersions', 'ec2:DescribeInstanceTypes'] }),
        ]) } }],
      });
      const body = JSON.stringify(t.toJSON().Resources[Object.keys(t.findResources('AWS::CloudWatch::Dashboard'))[0]].Properties.DashboardBody);
      for (const shown of ['Stranded room', 'StrandedVcpu', 'StrandedMemoryGiB']) assert.ok(body.includes(shown), `${scalingMode}: ${shown}`);
    }
  });
});

describe('EcsCapacity props reach the resources', () => {
  it('the calculator schedule: a rule at the rate, the silent alarm; off at 0', () => {
    const t = Template.fromStack(build({ calculatorSchedule: Duration.minutes(5), calculatorSilentAfter: Duration.minutes(15) }).stack);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)', State: 'ENABLED' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ContainerCapacity', Statistic: 'SampleCount', EvaluationPeriods: 15, DatapointsToAlarm: 15, TreatMissingData: 'breaching',
    });
    const every = Template.fromStack(build().stack);
    every.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    const off = Template.fromStack(build({ calculatorSchedule: Duration.minutes(0) }).stack);
    off.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    off.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Statistic: 'SampleCount' }, 0);
    off.resourceCountIs('AWS::Events::Rule', 2);
  });

  it('gives the worst case to the calculator and drops the task definition read', () => {
    const t = Template.fromStack(build({ worstCaseTask: { cpu: 512, memoryMiB: 1024 } }).stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { CONTAINER_MAX_CPU: '512', CONTAINER_MAX_MEMORY: '1024', SCALE_OUT_HEADROOM: '1' } },
    });
    t.resourceCountIs('AWS::IAM::RolePolicy', 0);
    const discovering = Template.fromStack(build().stack);
    discovering.resourceCountIs('AWS::IAM::RolePolicy', 1);
    discovering.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { CONTAINER_MAX_CPU: Match.absent(), METRIC_NAMESPACE: 'ECS/ClusterCapacity' } },
    });
  });

  it('PlusOne: no HostsToAdd alarm, the capacity alarm drives a one-step policy', () => {
    const { stack } = build({ scaleOutAdjustment: ScaleOutAdjustment.PLUS_ONE, scaleOutAlarmPeriod: Duration.minutes(5) });
    const t = Template.fromStack(stack);
    // The operations alarms, ContainerCapacity, IdleHostCapacity and HostsToRemove (the default scale-in).
    t.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'HostsToAdd' }, 0);
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling', MetricAggregationType: 'Minimum',
      StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 1 }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ContainerCapacity', Period: 300, AlarmActions: [{ Ref: Match.stringLikeRegexp('ScaleOutPolicy') }],
    });
  });

  it('drain settings reach the drainer and the hook', () => {
    const t = Template.fromStack(build({
      lifecycleHeartbeatTimeout: Duration.minutes(10), drainPollInterval: Duration.seconds(10),
      drainMaxDuration: Duration.hours(1), drainDeadlineResult: autoscaling.DefaultResult.ABANDON,
    }).stack);
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 600, AutoScalingGroupName: GROUP, DefaultResult: 'CONTINUE' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900, RecursiveLoop: 'Allow',
      Environment: { Variables: Match.objectLike({
        ECS_CLUSTER: CLUSTER, POLL_INTERVAL_SECONDS: '10', MAX_DRAIN_SECONDS: '3600', DEADLINE_RESULT: 'ABANDON', HEARTBEAT_TIMEOUT_SECONDS: '600',
      }) },
    });
  });

  it('an alarm e-mail creates a key with rotation, a topic and the subscription the operations alarms notify', () => {
    const t = Template.fromStack(build({ alarmEmail: 'ops@example.com' }).stack);
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 7 });
    t.hasResourceProperties('AWS::SNS::Topic', { Subscription: [{ Protocol: 'email', Endpoint: 'ops@example.com' }] });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, '-capacity-calculator-failing']] },
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  it('two instances in one stack differ by namePrefix', () => {
    const app = new App();
    const stack = new Stack(app, 'Two');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'] });
    for (const n of ['a', 'b']) {
      new EcsCapacity(stack, `Capacity-${n}`, {
        cluster: ecs.Cluster.fromClusterAttributes(stack, `Cluster-${n}`, { clusterName: `cluster-${n}`, vpc }),
        autoScalingGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, `Group-${n}`, `group-${n}`),
        lambdaPackageDir: placeholderPackageDir(),
        namePrefix: `team-${n}`,
      });
    }
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Lambda::Function', 6);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'team-b-hosts-to-add' });
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/ecs-capacity/team-a/lifecycle-drainer' });
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'team-a' });
  });
});

/** Logical ids each resource refers to (Ref, Fn::GetAtt, Fn::Sub names, DependsOn). */
function references(template: Record<string, Record<string, unknown>>): Map<string, Set<string>> {
  const ids = new Set(Object.keys(template));
  const out = new Map<string, Set<string>>();
  const walk = (node: unknown, into: Set<string>): void => {
    if (Array.isArray(node)) { node.forEach((n) => walk(n, into)); return; }
    if (typeof node !== 'object' || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'Ref' && typeof v === 'string' && ids.has(v)) into.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v) && ids.has(String(v[0]))) into.add(String(v[0]));
      else walk(v, into);
    }
  };
  for (const [id, r] of Object.entries(template)) {
    const into = new Set<string>();
    walk(r.Properties, into);
    for (const d of ([] as string[]).concat((r.DependsOn as string[] | string | undefined) ?? [])) into.add(d);
    out.set(id, into);
  }
  return out;
}

describe('EcsCapacity with the group in the same stack', () => {
  it('the group names the chooser alias as its first termination policy without a dependency cycle', () => {
    const app = new App();
    const stack = new Stack(app, 'Together');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    let capacity: EcsCapacity | undefined;
    const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
      vpc,
      instanceType: new ec2.InstanceType('t4g.small'),
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.ARM),
      terminationPolicies: [autoscaling.TerminationPolicy.CUSTOM_LAMBDA_FUNCTION, autoscaling.TerminationPolicy.DEFAULT],
      // The construct needs the group first; the alias ARN is read when the template is made.
      terminationPolicyCustomLambdaFunctionArn: Lazy.string({ produce: () => capacity!.chooserAlias!.functionArn }),
    });
    capacity = new EcsCapacity(stack, 'EcsCapacity', { cluster, autoScalingGroup: group, lambdaPackageDir: placeholderPackageDir() });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Record<string, unknown>>;
    const [groupId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::AutoScaling::AutoScalingGroup')!;
    const [aliasId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Alias')!;
    assert.deepEqual((resources[groupId].Properties as Record<string, unknown>).TerminationPolicies, [{ Ref: aliasId }, 'Default']);
    // No cycle: depth-first search over the references.
    const refs = references(resources);
    const state = new Map<string, 'open' | 'done'>();
    const visit = (id: string, trail: string[]): void => {
      if (state.get(id) === 'done') return;
      if (state.get(id) === 'open') assert.fail(`dependency cycle: ${[...trail, id].join(' -> ')}`);
      state.set(id, 'open');
      for (const next of refs.get(id) ?? []) visit(next, [...trail, id]);
      state.set(id, 'done');
    };
    for (const id of refs.keys()) visit(id, []);
  });
});

describe('EcsCapacity code', () => {
  it('takes the zips from lambdaPackageDir, by default target/lambda under the working directory', () => {
    const dir = placeholderPackageDir();
    const cwd = process.cwd();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-capacity-cwd-'));
    fs.mkdirSync(path.join(work, 'target'));
    fs.symlinkSync(dir, path.join(work, 'target', 'lambda'));
    try {
      process.chdir(work);
      const { stack } = build({ lambdaPackageDir: undefined });
      Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 3);
    } finally {
      process.chdir(cwd);
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('names the missing zip and how to make it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-capacity-empty-'));
    try {
      assert.throws(() => build({ lambdaPackageDir: empty }),
        new RegExp(`no capacity-calculator package at ${empty}/capacity-calculator/bootstrap.zip: run \`make package\``));
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('a code prop replaces one function\'s zip', () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-capacity-code-'));
    fs.writeFileSync(path.join(other, 'bootstrap'), 'placeholder');
    try {
      const { capacity } = build({ lambdaPackageDir: fs.mkdtempSync(path.join(os.tmpdir(), 'none-')),
        code: { calculator: lambda.Code.fromAsset(other), drainer: lambda.Code.fromAsset(other), chooser: lambda.Code.fromAsset(other) } });
      assert.equal(capacity.node.findAll().filter((c) => c instanceof lambda.Function).length, 3);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  const cases: ReadonlyArray<readonly [string, Parameters<typeof build>[0]]> = [
    ['defaults', {}],
    ['with an alarm e-mail and PlusOne', { alarmEmail: 'ops@example.com', scaleOutAdjustment: ScaleOutAdjustment.PLUS_ONE }],
    ['MinusOne', { scaleInAdjustment: ScaleInAdjustment.MINUS_ONE }],
    ['capacity-provider mode with an alarm e-mail', { scalingMode: ScalingMode.CAPACITY_PROVIDER, alarmEmail: 'ops@example.com' }],
  ];
  for (const [label, extra] of cases) {
    it(`no errors or warnings: ${label}`, () => {
      const { stack } = build(extra);
      // A queue cdk-nag must flag, beside the construct: proves the checks ran.
      new sqs.Queue(stack, 'UncheckedQueue');
      Template.fromStack(stack); // synthesized first, as the CDK's validation would see it
      const report = new AwsSolutionsChecks().validateScope(stack);
      const found = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? r.resourceLogicalId}`)).sort();
      assert.deepEqual(found, [
        'AwsSolutions-SQS3 ParityStack/UncheckedQueue/Resource',
        'AwsSolutions-SQS4 ParityStack/UncheckedQueue/Resource',
      ]);
    });
  }
});
