// Every parameter of infra/template.yaml and the EcsCapacity prop that stands for it. The
// parity test fails when the template gains a parameter this table does not name, so a new
// parameter cannot be forgotten in the construct.
import { Duration, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Consolidation, ScaleInAdjustment, ScaleOutAdjustment, ScalingMode } from '../lib';
import { Json } from './normalize';
import { ExtraProps } from './synth-helper';

type Values = Readonly<Record<string, Json>>;

export interface ParameterProp {
  /** The props for this parameter's value (all: every parameter's value, for pairs). */
  readonly props: (value: Json, all: Values, stack: Stack) => ExtraProps;
  /** A valid value other than the default, for the "every parameter changed" case. */
  readonly changed: Json;
}

const num = (v: Json) => Number(v);
const str = (v: Json) => String(v);
const worstCase = (all: Values): ExtraProps =>
  num(all.ContainerMaxCpu ?? 0) === 0 && num(all.ContainerMaxMemory ?? 0) === 0
    ? {}
    : { worstCaseTask: { cpu: num(all.ContainerMaxCpu ?? 0), memoryMiB: num(all.ContainerMaxMemory ?? 0) } };

export const PARAMETER_PROPS: Readonly<Record<string, ParameterProp>> = {
  // The cluster and group props; the tests always give parity-cluster and parity-group.
  ClusterName: { props: () => ({}), changed: 'parity-cluster' },
  AutoScalingGroupName: { props: () => ({}), changed: 'parity-group' },
  // With it changed, the self-managed resources are gone: the parity test also has "every
  // parameter changed but ScalingMode", where the drain, chooser and scaling props show.
  ScalingMode: { props: (v) => ({ scalingMode: str(v) as ScalingMode }), changed: 'capacity-provider' },
  ContainerMaxCpu: { props: (_v, all) => worstCase(all), changed: 512 },
  ContainerMaxMemory: { props: (_v, all) => worstCase(all), changed: 1024 },
  MetricNamespace: { props: (v) => ({ metricNamespace: str(v) }), changed: 'Team/Capacity' },
  ScaleOutHeadroom: { props: (v) => ({ scaleOutHeadroom: num(v) }), changed: 3 },
  HeadroomTask: { props: (v) => ({ headroomTask: str(v) }), changed: 'service:web' },
  CalculatorTimeoutSeconds: { props: (v) => ({ calculatorTimeout: Duration.seconds(num(v)) }), changed: 60 },
  CalculatorScheduleMinutes: { props: (v) => ({ calculatorSchedule: Duration.minutes(num(v)) }), changed: 5 },
  CalculatorSilentMinutes: { props: (v) => ({ calculatorSilentAfter: Duration.minutes(num(v)) }), changed: 15 },
  ScaleOutAdjustment: { props: (v) => ({ scaleOutAdjustment: str(v) as ScaleOutAdjustment }), changed: 'PlusOne' },
  ScaleOutAlarmPeriodSeconds: { props: (v) => ({ scaleOutAlarmPeriod: Duration.seconds(num(v)) }), changed: 300 },
  ScaleOutEvaluationPeriods: { props: (v) => ({ scaleOutEvaluationPeriods: num(v) }), changed: 2 },
  ScaleInAlarmPeriodSeconds: { props: (v) => ({ scaleInAlarmPeriod: Duration.seconds(num(v)) }), changed: 120 },
  ScaleInEvaluationPeriods: { props: (v) => ({ scaleInEvaluationPeriods: num(v) }), changed: 10 },
  ScaleOutWarmupSeconds: { props: (v) => ({ scaleOutWarmup: Duration.seconds(num(v)) }), changed: 120 },
  ScaleInCooldownSeconds: { props: (v) => ({ scaleInCooldown: Duration.seconds(num(v)) }), changed: 600 },
  ScaleInAdjustment: { props: (v) => ({ scaleInAdjustment: str(v) as ScaleInAdjustment }), changed: 'MinusOne' },
  Consolidation: { props: (v) => ({ consolidation: str(v) as Consolidation }), changed: 'observe' },
  // A whole number of hosts goes in as a number (the prop takes both), a share as a string.
  DisruptionBudget: { props: (v) => ({ disruptionBudget: /^(0|[1-9][0-9]*)$/.test(str(v)) ? num(v) : str(v) }), changed: '3' },
  ConsolidationStabilitySeconds: { props: (v) => ({ consolidationStability: Duration.seconds(num(v)) }), changed: 900 },
  MinHostsPerZone: { props: (v) => ({ minHostsPerZone: num(v) }), changed: 2 },
  DrainGiveUpSeconds: { props: (v) => ({ drainGiveUpAfter: Duration.seconds(num(v)) }), changed: 1800 },
  LifecycleHeartbeatTimeout: { props: (v) => ({ lifecycleHeartbeatTimeout: Duration.seconds(num(v)) }), changed: 600 },
  DrainPollIntervalSeconds: { props: (v) => ({ drainPollInterval: Duration.seconds(num(v)) }), changed: 10 },
  DrainMaxSeconds: { props: (v) => ({ drainMaxDuration: Duration.seconds(num(v)) }), changed: 3600 },
  DrainDeadlineResult: { props: (v) => ({ drainDeadlineResult: str(v) as autoscaling.DefaultResult }), changed: 'ABANDON' },
  ChooserReadBudgetMs: { props: (v) => ({ chooserReadBudget: Duration.millis(num(v)) }), changed: 900 },
  AutoScalingServiceLinkedRoleName: { props: (v) => ({ autoScalingServiceLinkedRoleName: str(v) }), changed: 'AWSServiceRoleForAutoScaling_team' },
  ChooserFunctionName: { props: (v) => (v === '' ? {} : { chooserFunctionName: str(v) }), changed: 'team-scale-in-chooser' },
  LogRetentionDays: { props: (v) => ({ logRetention: num(v) as logs.RetentionDays }), changed: 90 },
  LogLevel: { props: (v) => ({ logLevel: str(v) as lambda.ApplicationLogLevel }), changed: 'DEBUG' },
  AlarmEmail: { props: (v) => (v === '' ? {} : { alarmEmail: str(v) }), changed: 'ops@example.com' },
  AlarmTopicArn: {
    props: (v, _all, stack) => (v === '' ? {} : { alarmTopic: sns.Topic.fromTopicArn(stack, 'GivenAlarmTopic', str(v)) }),
    changed: 'arn:aws:sns:eu-west-1:123456789012:ops-alarms',
  },
};

/** The construct props for a set of template parameter values (undeclared ones: defaults). */
export function propsFor(values: Values): (stack: Stack) => ExtraProps {
  return (stack) => {
    let props: ExtraProps = {};
    for (const [name, value] of Object.entries(values)) {
      const mapping = PARAMETER_PROPS[name];
      if (!mapping) throw new Error(`template parameter ${name} has no EcsCapacity prop in test/parameters.ts`);
      props = { ...props, ...mapping.props(value, values, stack) };
    }
    return props;
  };
}
