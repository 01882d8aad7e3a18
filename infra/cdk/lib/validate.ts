// Range checks of the construct's props: the same limits as the SAM template's parameters
// (MinValue/MaxValue, AllowedValues, AllowedPattern), so a value the template would refuse at
// deploy time is refused at synth time, with a message naming the prop, the template
// parameter and the valid range. Unresolved tokens pass: their value is known at deploy time
// only (CloudFormation then applies the service's own limits).
import { Duration, Token } from 'aws-cdk-lib';

/** A prop with the SAM template parameter it stands for, used in every error message. */
export interface PropName {
  readonly prop: string;
  readonly parameter: string;
}

export class EcsCapacityPropError extends Error {
  constructor(name: PropName, message: string) {
    super(`EcsCapacity: ${name.prop} (the template's ${name.parameter}) ${message}`);
    this.name = 'EcsCapacityPropError';
  }
}

function wholeIn(name: PropName, value: number, min: number, max: number, unit: string): number {
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EcsCapacityPropError(name, `must be a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function oneOf<T>(name: PropName, value: T, allowed: readonly T[], shown: string): T {
  if (typeof value === 'number' && Token.isUnresolved(value)) return value;
  if (typeof value === 'string' && Token.isUnresolved(value)) return value;
  if (!allowed.includes(value)) {
    throw new EcsCapacityPropError(name, `must be one of ${allowed.join(', ')} ${shown}, got ${String(value)}`);
  }
  return value;
}

/** A count within the template's MinValue..MaxValue. */
export function count(name: PropName, value: number, min: number, max: number): number {
  return wholeIn(name, value, min, max, '');
}

/** A Duration as whole seconds within min..max seconds. */
export function seconds(name: PropName, value: Duration, min: number, max: number): number {
  const s = value.toSeconds({ integral: false });
  return wholeIn(name, s, min, max, 'seconds');
}

/** A Duration as whole minutes within min..max minutes. */
export function minutes(name: PropName, value: Duration, min: number, max: number): number {
  const m = value.toMinutes({ integral: false });
  return wholeIn(name, m, min, max, 'minutes');
}

/** A Duration as whole milliseconds within min..max milliseconds. */
export function milliseconds(name: PropName, value: Duration, min: number, max: number): number {
  const ms = value.toMilliseconds({ integral: false });
  return wholeIn(name, ms, min, max, 'milliseconds');
}

/** A Duration whose whole seconds are one of the template's AllowedValues. */
export function secondsOneOf(name: PropName, value: Duration, allowed: readonly number[]): number {
  const s = value.toSeconds({ integral: false });
  return oneOf(name, s, allowed, '(seconds)');
}

export function valueOneOf<T>(name: PropName, value: T, allowed: readonly T[]): T {
  return oneOf(name, value, allowed, '');
}

/** A string matching the template's AllowedPattern. */
export function pattern(name: PropName, value: string, re: RegExp, described: string): string {
  if (Token.isUnresolved(value)) return value;
  if (!re.test(value)) {
    throw new EcsCapacityPropError(name, `must be ${described}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The disruption budget (DisruptionBudget): a whole number of hosts 0 to 9999, as a number or a
 * string, or a share '1%' to '100%', the template's AllowedPattern
 * ^(0|[1-9][0-9]{0,3}|([1-9][0-9]?|100)%)$. Returned as the string the calculator reads.
 */
export function disruptionBudget(name: PropName, value: string | number): string {
  if (Token.isUnresolved(value)) return typeof value === 'number' ? Token.asString(value) : value;
  const text = typeof value === 'number' ? String(value) : value;
  if (!/^(0|[1-9][0-9]{0,3}|([1-9][0-9]?|100)%)$/.test(text)) {
    throw new EcsCapacityPropError(name,
      `must be a number of hosts from 0 to 9999 (0 never consolidates) or a share of the cluster from 1% to 100%, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`);
  }
  return text;
}
