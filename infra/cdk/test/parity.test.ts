// Parity: the construct builds what infra/template.yaml builds, for the template's defaults and
// for other parameter values. The template is read from disk at test time and transformed by
// the SAM translator (test/sam.ts), so a change to either side alone fails here, naming each
// difference: resource counts by type, resources by name, and property paths with both values
// (IAM actions and conditions, alarm settings, step adjustments, environment variables, event
// patterns, the dashboard body). normalize.ts and compare.ts say what is evaluated and what is
// left out.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { EcsCapacity } from '../lib';
import { Template as Assertions } from 'aws-cdk-lib/assertions';
import { constructName, differences, templateName } from './compare';
import { Evaluated, Json, Template, TemplateEvaluator } from './normalize';
import { PARAMETER_PROPS, propsFor } from './parameters';
import { samTemplate } from './sam';
import { build, CLUSTER, GROUP } from './synth-helper';

type Values = Record<string, Json>;

function evaluateTemplate(values: Values): Evaluated {
  return new TemplateEvaluator(samTemplate(), values, templateName).evaluate();
}

/**
 * The template's outputs and what the construct exposes for each: the example app outputs
 * them, and a new template output without an entry here fails the outputs test.
 */
const OUTPUTS: Readonly<Record<string, (c: EcsCapacity) => string | undefined>> = {
  CapacityCalculatorFunctionArn: (c) => c.calculatorFunction.functionArn,
  // Self-managed mode only (undefined on a capacity provider, as the template's condition).
  LifecycleDrainerFunctionArn: (c) => c.drainerFunction?.functionArn,
  ScaleInChooserAliasArn: (c) => c.chooserAlias?.functionArn,
  ScaleInChooserVersionArn: (c) => c.chooserAlias?.version.functionArn,
  ScaleInChooserTerminationPoliciesCommand: (c) => c.terminationPoliciesCommand,
  LifecycleTopicArn: (c) => c.lifecycleTopic?.topicArn,
  ContainerCapacityAlarmName: (c) => c.alarms.ContainerCapacityAlarm?.ref,
  HostsToAddAlarmName: (c) => c.alarms.HostsToAddAlarm?.ref,
  HostsToRemoveAlarmName: (c) => c.alarms.HostsToRemoveAlarm?.ref,
  IdleHostCapacityAlarmName: (c) => c.alarms.IdleHostCapacityAlarm?.ref,
  DrainerFailureQueueUrl: (c) => c.failureQueue?.queueUrl,
  DashboardUrl: (c) => c.dashboardUrl,
  AlarmTopicArn: (c) => c.alarmTopic?.topicArn,
};

function evaluateConstruct(values: Values): Evaluated {
  const { stack, capacity } = build(propsFor(values));
  for (const [name, exposed] of Object.entries(OUTPUTS)) {
    const value = exposed(capacity);
    if (value !== undefined) new CfnOutput(stack, name, { value });
  }
  const synthesized = Assertions.fromStack(stack).toJSON() as Template;
  const names = new Map<string, string>();
  const prefix = `${capacity.node.path}/`;
  for (const c of capacity.node.findAll()) {
    if (!CfnResource.isCfnResource(c)) continue;
    names.set(Stack.of(c).resolve(c.logicalId) as string, constructName(c.node.path.slice(prefix.length)));
  }
  const nameOf = (logicalId: string) => {
    const name = names.get(logicalId);
    if (!name) throw new Error(`resource ${logicalId} is not part of the EcsCapacity construct`);
    return name;
  };
  // The construct's stack has no template parameters: the values went in as props.
  const { Parameters: _p, Rules: _r, ...rest } = synthesized;
  return new TemplateEvaluator(rest, {}, nameOf).evaluate();
}

const REQUIRED: Values = { ClusterName: CLUSTER, AutoScalingGroupName: GROUP };
const everyParameterChanged = (): Values =>
  Object.fromEntries(Object.entries(PARAMETER_PROPS).map(([name, p]) => [name, p.changed]));

// At least this many resources on both sides, so a case cannot pass by both building nothing:
// the whole loop in self-managed mode, the calculator, its alarms and the dashboard on a
// capacity provider.
const SELF_MANAGED_MIN = 35;
const CAPACITY_PROVIDER_MIN = 12;

const CASES: ReadonlyArray<{ name: string; values: () => Values; min: number }> = [
  { name: "the template's defaults and a construct given only the cluster and the group", values: () => REQUIRED, min: SELF_MANAGED_MIN },
  {
    name: 'every parameter changed (capacity-provider, MinusOne, PlusOne, a given worst case, both alarm topics, a named chooser)',
    values: everyParameterChanged, min: CAPACITY_PROVIDER_MIN,
  },
  {
    name: 'every parameter changed but ScalingMode (self-managed with MinusOne and PlusOne: every prop of the drainer, chooser and policies shows)',
    values: () => ({ ...everyParameterChanged(), ScalingMode: 'self-managed' }), min: SELF_MANAGED_MIN,
  },
  {
    name: 'HostsToAdd with a given worst case, an existing alarm topic only and no schedule',
    values: () => ({
      ...REQUIRED, ContainerMaxCpu: 2048, ContainerMaxMemory: 4096, AlarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops', CalculatorScheduleMinutes: 0,
    }),
    min: SELF_MANAGED_MIN,
  },
  {
    name: 'capacity-provider mode with the other defaults',
    values: () => ({ ...REQUIRED, ScalingMode: 'capacity-provider' }), min: CAPACITY_PROVIDER_MIN,
  },
  {
    name: 'capacity-provider mode with an alarm e-mail, a given worst case, no schedule and a budget of 0 hosts',
    values: () => ({
      ...REQUIRED, ScalingMode: 'capacity-provider', AlarmEmail: 'ops@example.com', ContainerMaxCpu: 1024, ContainerMaxMemory: 2048,
      CalculatorScheduleMinutes: 0, DisruptionBudget: '0', ConsolidationStabilitySeconds: 0,
    }),
    min: 8,
  },
  {
    name: 'self-managed with ScaleInAdjustment=MinusOne (the book\'s one-at-a-time scale-in, no consolidation policy)',
    values: () => ({ ...REQUIRED, ScaleInAdjustment: 'MinusOne', ScaleInCooldownSeconds: 900 }), min: SELF_MANAGED_MIN,
  },
  {
    name: 'self-managed with PlusOne and HostsToRemove, a budget of 100% and the longest stability',
    values: () => ({ ...REQUIRED, ScaleOutAdjustment: 'PlusOne', DisruptionBudget: '100%', ConsolidationStabilitySeconds: 3600 }),
    min: SELF_MANAGED_MIN,
  },
];

describe('parity with infra/template.yaml', () => {
  it('names an EcsCapacity prop for every template parameter, and no other', () => {
    const declared = Object.keys(samTemplate().Parameters as Record<string, Json>);
    const missing = declared.filter((p) => !(p in PARAMETER_PROPS));
    const stale = Object.keys(PARAMETER_PROPS).filter((p) => !declared.includes(p));
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] },
      `template parameters without a prop in test/parameters.ts (add the prop to the construct): ${missing.join(', ') || '-'}; `
      + `props for parameters the template no longer has: ${stale.join(', ') || '-'}`);
  });

  it('changes every parameter to a value the template accepts', () => {
    const declared = samTemplate().Parameters as Record<string, Record<string, Json>>;
    for (const [name, p] of Object.entries(PARAMETER_PROPS)) {
      const decl = declared[name];
      if (!decl) continue;
      if (!['ClusterName', 'AutoScalingGroupName'].includes(name)) {
        assert.notEqual(String(p.changed), String(decl.Default), `${name}: the changed value is the default`);
      }
      if (Array.isArray(decl.AllowedValues)) assert.ok(decl.AllowedValues.map(String).includes(String(p.changed)), `${name}: ${p.changed} not allowed`);
      if (decl.MinValue !== undefined) assert.ok(Number(p.changed) >= Number(decl.MinValue), `${name} below MinValue`);
      if (decl.MaxValue !== undefined) assert.ok(Number(p.changed) <= Number(decl.MaxValue), `${name} above MaxValue`);
      if (typeof decl.AllowedPattern === 'string') assert.match(String(p.changed), new RegExp(decl.AllowedPattern), `${name} pattern`);
    }
  });

  for (const c of CASES) {
    it(`builds the same resources: ${c.name}`, () => {
      const template = evaluateTemplate(c.values());
      const construct = evaluateConstruct(c.values());
      // Not vacuous: both sides hold the whole loop.
      assert.ok(Object.keys(template.resources).length >= c.min, `the template evaluated to ${Object.keys(template.resources).length} resources`);
      const diffs = differences(template, construct);
      assert.deepEqual(diffs, [], `the construct differs from infra/template.yaml (${diffs.length}):\n  ${diffs.join('\n  ')}\n`);
      const unmapped = Object.keys(template.outputs).filter((o) => !(o in OUTPUTS));
      assert.deepEqual(unmapped, [], `template outputs the construct does not expose (add an attribute and an OUTPUTS entry): ${unmapped.join(', ')}`);
      assert.deepEqual(construct.outputs, template.outputs, 'what the construct exposes differs from the template outputs');
    });
  }

  it('tells a one-sided change apart (the comparison is not blind)', () => {
    // The construct against a changed copy of itself, so this holds whatever the template says.
    const template = evaluateConstruct(REQUIRED);
    const construct = evaluateConstruct(REQUIRED);
    const alarm = construct.resources.IdleHostCapacityAlarm.Properties as Record<string, Json>;
    const treatMissingData = alarm.TreatMissingData;
    alarm.TreatMissingData = 'changed';
    const role = construct.resources.DrainerRole.Properties as Record<string, Json>;
    role.Description = 'changed';
    delete construct.resources.ConsolidationScaleInPolicy;
    assert.deepEqual(differences(template, construct), [
      'resource count of AWS::AutoScaling::ScalingPolicy: template 2, construct 1',
      'ConsolidationScaleInPolicy (AWS::AutoScaling::ScalingPolicy): only in the template',
      'DrainerRole.Properties.Description: template "lifecycle-drainer - drains one ECS cluster\'s instances for one Auto Scaling group", construct "changed"',
      `IdleHostCapacityAlarm.Properties.TreatMissingData: template ${JSON.stringify(treatMissingData)}, construct "changed"`,
    ]);
  });
});
