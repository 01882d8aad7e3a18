// The comparison of two evaluated templates (normalize.ts): what is compared, what is not and
// why, and a difference list that names the resource, the property path and both values.
import { Evaluated, Json, scalar } from './normalize';

type Obj = { [key: string]: Json };

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The construct's names for the resources SAM generates under its own names. Everything else
 * has the template's logical id as its construct id.
 */
const CONSTRUCT_NAME_TO_TEMPLATE: Readonly<Record<string, string>> = {
  // lambda.Function.currentVersion; SAM's AutoPublishAlias makes <Function>Version<hash>.
  ScaleInChooserFunctionCurrentVersion: 'ScaleInChooserFunctionVersion',
};

/** A template logical id as the comparison names it (SAM's version hash dropped). */
export function templateName(logicalId: string): string {
  return logicalId.replace(/^(.+Function)Version[0-9a-f]{10}$/, '$1Version');
}

/** A construct path below the EcsCapacity construct as the comparison names it. */
export function constructName(relativePath: string): string {
  const parts = relativePath.split('/').filter((p) => p !== 'Resource' && p !== '');
  const joined = parts.join('');
  return CONSTRUCT_NAME_TO_TEMPLATE[joined] ?? joined;
}

/**
 * One resource as it is compared. Left out, on both sides:
 * - Metadata (cdk_nag suppressions, aws:cdk:path, asset paths; nothing here deploys) and
 *   DependsOn (CDK adds the role a function uses; creation order only, not what is built);
 * - a function's Code: the SAM side has a placeholder S3 location (test/sam-transform.py), the
 *   construct an asset (tests use placeholder zips);
 * - SAM's tag lambda:createdBy=SAM on functions;
 * - an EventBridge target's Id, an opaque name each tool makes up;
 * - empty objects and lists, which CloudFormation treats as absent (an alarm whose two
 *   optional topics are both off has AlarmActions [] after AWS::NoValue is removed);
 * - UpdateReplacePolicy of a Lambda version: SAM's AutoPublishAlias sets DeletionPolicy Retain
 *   only, CDK both (its validation warns W3011 otherwise); a version is never replaced in
 *   place (new code is a new logical id), so the policy never applies.
 * Normalized: numbers and booleans as strings (CloudFormation passes parameters as strings);
 * IAM statements' Action, Resource and Principal.Service as sorted lists (order and one item
 * vs a list of one mean the same to IAM); a dashboard body parsed as JSON (whitespace aside),
 * its values kept as they are.
 */
export function comparable(type: string, resource: Obj): Obj {
  const out: Obj = { Type: type };
  for (const key of ['DeletionPolicy', 'UpdateReplacePolicy']) {
    if (key in resource) out[key] = resource[key];
  }
  if (type === 'AWS::Lambda::Version') delete out.UpdateReplacePolicy;
  const props = isObject(resource.Properties) ? { ...resource.Properties } : {};
  if (type === 'AWS::Lambda::Function') {
    delete props.Code;
    if (Array.isArray(props.Tags)) {
      props.Tags = props.Tags.filter((t) => !(isObject(t) && t.Key === 'lambda:createdBy'));
    }
  }
  if (type === 'AWS::Events::Rule' && Array.isArray(props.Targets)) {
    props.Targets = props.Targets.map((t) => {
      if (!isObject(t)) return t;
      const { Id: _id, ...rest } = t;
      return rest;
    });
  }
  if (type === 'AWS::CloudWatch::Dashboard' && typeof props.DashboardBody === 'string') {
    try {
      props.DashboardBody = JSON.parse(props.DashboardBody) as Json;
    } catch (e) {
      throw new Error(`the dashboard body is not JSON after evaluation: ${(e as Error).message}\n${props.DashboardBody}`);
    }
  }
  const cleaned = clean(props);
  // The body's JSON as it is: inside it a number and a string are not the same to CloudWatch.
  if (isObject(cleaned) && 'DashboardBody' in props) cleaned.DashboardBody = props.DashboardBody;
  if (cleaned !== undefined) out.Properties = cleaned;
  return out;
}

const IAM_LISTS = new Set(['Action', 'NotAction', 'Resource', 'NotResource']);

function clean(node: Json): Json | undefined {
  if (Array.isArray(node)) {
    const items = node.map((n) => clean(n)).filter((n) => n !== undefined) as Json[];
    return items.length === 0 ? undefined : items;
  }
  if (isObject(node)) {
    const out: Obj = {};
    for (const [key, value] of Object.entries(node)) {
      const v = key === 'Statement' && Array.isArray(value) ? clean(value.map(statement)) : clean(value);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return scalar(node);
}

/** An IAM statement with its lists sorted. */
function statement(s: Json): Json {
  if (!isObject(s)) return s;
  const out: Obj = {};
  for (const [key, value] of Object.entries(s)) {
    if (IAM_LISTS.has(key)) out[key] = sortedList(value);
    else if (key === 'Principal' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, p]) => [k, sortedList(p)]));
    } else out[key] = value;
  }
  return out;
}

function sortedList(v: Json): Json {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => scalar(x)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function show(v: Json | undefined): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

function diff(path: string, a: Json | undefined, b: Json | undefined, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diff(`${path}.${key}`, a[key], b[key], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, i) => diff(`${path}[${i}]`, item, b[i], out));
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.every((x) => typeof x === 'string') && b.every((x) => typeof x === 'string')) {
    const onlyA = a.filter((x) => !b.includes(x));
    const onlyB = b.filter((x) => !a.includes(x));
    if (onlyA.length === 0 && onlyB.length === 0) {
      out.push(`${path}: the same items in another order or count: template ${show(a)}, construct ${show(b)}`);
      return;
    }
    out.push(`${path}: only in the template ${show(onlyA)}, only in the construct ${show(onlyB)}`);
    return;
  }
  out.push(`${path}: template ${show(a)}, construct ${show(b)}`);
}

/** Every difference between the template (a) and the construct (b), one line each. */
export function differences(template: Evaluated, construct: Evaluated): string[] {
  const out: string[] = [];
  const typeOf = (r: Obj) => String(r.Type);
  const counts = (e: Evaluated) => {
    const c: Record<string, number> = {};
    for (const r of Object.values(e.resources)) c[typeOf(r)] = (c[typeOf(r)] ?? 0) + 1;
    return c;
  };
  const ca = counts(template);
  const cb = counts(construct);
  for (const type of [...new Set([...Object.keys(ca), ...Object.keys(cb)])].sort()) {
    if ((ca[type] ?? 0) !== (cb[type] ?? 0)) out.push(`resource count of ${type}: template ${ca[type] ?? 0}, construct ${cb[type] ?? 0}`);
  }
  const names = [...new Set([...Object.keys(template.resources), ...Object.keys(construct.resources)])].sort();
  for (const name of names) {
    const a = template.resources[name];
    const b = construct.resources[name];
    if (!b) { out.push(`${name} (${typeOf(a)}): only in the template`); continue; }
    if (!a) { out.push(`${name} (${typeOf(b)}): only in the construct`); continue; }
    diff(name, comparable(typeOf(a), a), comparable(typeOf(b), b), out);
  }
  return out;
}
