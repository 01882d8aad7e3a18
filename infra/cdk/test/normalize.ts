// Brings a CloudFormation template to a form two templates can be compared in: every intrinsic
// function evaluated for one set of parameter values, every reference to a resource replaced by
// a name both sides share.
//
// Design: the SAM template keeps its parameters, conditions and !Sub strings after the
// transform; the construct resolves props in TypeScript and emits literals, Fn::Join and
// Fn::Sub. Both are evaluated by the same small interpreter: Ref to a parameter is its value
// (given, else its Default), pseudo parameters are fixed strings, Fn::If/Equals/Not/And/Or
// evaluate the template's Conditions, a resource whose Condition is false is left out,
// AWS::NoValue removes its key or list item, Fn::Sub/Join/Select/Split/FindInMap build values. What
// cannot be evaluated offline, a reference to a resource, becomes a symbol: "<Ref Name>" or
// "<GetAtt Name.Attr>", where Name is the template's logical id and, for the construct, the
// construct path below the EcsCapacity construct (its ids are the template's logical ids).
// So "arn:${AWS::Partition}:ecs:...:cluster/${ClusterName}" and the construct's formatArn of
// the cluster both become "arn:aws:ecs:eu-west-1:123456789012:cluster/parity-cluster".

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Template = { [key: string]: Json };

export const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::StackName': 'ParityStack',
  'AWS::URLSuffix': 'amazonaws.com',
};

const NO_VALUE = Symbol('AWS::NoValue');
type Value = Json | typeof NO_VALUE;

export interface Resolver {
  /** Parameter values (strings or numbers, as CloudFormation passes them). */
  readonly parameters: Readonly<Record<string, Json>>;
  /** Shared name of a logical id, or undefined when the id is not a resource. */
  readonly nameOf: (logicalId: string) => string | undefined;
}

function isObject(v: unknown): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A template evaluated for one set of parameter values; resources by shared name. */
export interface Evaluated {
  readonly resources: Record<string, { [key: string]: Json }>;
  /** Output values by output name (outputs whose Condition is false left out). */
  readonly outputs: Record<string, Json>;
}

export class TemplateEvaluator {
  private readonly parameters: Record<string, Json> = {};
  private readonly conditions: Record<string, boolean> = {};
  private readonly resources: Record<string, Json>;

  constructor(private readonly template: Template, given: Readonly<Record<string, Json>>, private readonly nameOf: (logicalId: string) => string) {
    const declared = (isObject(template.Parameters) ? template.Parameters : {}) as Record<string, Json>;
    for (const [name, decl] of Object.entries(declared)) {
      if (name in given) this.parameters[name] = given[name];
      else if (isObject(decl) && 'Default' in decl) this.parameters[name] = decl.Default;
    }
    for (const name of Object.keys(given)) {
      if (!(name in declared)) throw new Error(`parameter ${name} is given but the template declares no such parameter`);
    }
    this.resources = (isObject(template.Resources) ? template.Resources : {}) as Record<string, Json>;
    const conditions = (isObject(template.Conditions) ? template.Conditions : {}) as Record<string, Json>;
    for (const [name, expr] of Object.entries(conditions)) this.conditions[name] = this.truth(expr, name);
  }

  evaluate(): Evaluated {
    const out: Record<string, { [key: string]: Json }> = {};
    for (const [logicalId, resource] of Object.entries(this.resources)) {
      if (!isObject(resource)) continue;
      if (typeof resource.Condition === 'string' && !this.condition(resource.Condition)) continue;
      const name = this.nameOf(logicalId);
      if (name in out) throw new Error(`two resources share the name ${name}`);
      const evaluated = this.value(resource, `${name}`);
      if (!isObject(evaluated)) throw new Error(`resource ${logicalId} evaluated to nothing`);
      delete evaluated.Condition;
      out[name] = evaluated;
    }
    const outputs: Record<string, Json> = {};
    const declared = (isObject(this.template.Outputs) ? this.template.Outputs : {}) as Record<string, Json>;
    for (const [name, output] of Object.entries(declared)) {
      if (!isObject(output)) continue;
      if (typeof output.Condition === 'string' && !this.condition(output.Condition)) continue;
      const v = this.value(output.Value, `Outputs.${name}`);
      if (v !== NO_VALUE) outputs[name] = scalar(v);
    }
    return { resources: out, outputs };
  }

  private condition(name: string): boolean {
    if (!(name in this.conditions)) {
      const conditions = this.template.Conditions as Record<string, Json>;
      if (!conditions || !(name in conditions)) throw new Error(`unknown condition ${name}`);
      this.conditions[name] = this.truth(conditions[name], name);
    }
    return this.conditions[name];
  }

  private truth(expr: Json, where: string): boolean {
    if (!isObject(expr)) throw new Error(`condition ${where}: not a condition function: ${JSON.stringify(expr)}`);
    const [fn, arg] = Object.entries(expr)[0] ?? [];
    const args = Array.isArray(arg) ? arg : [];
    switch (fn) {
      case 'Condition': return this.condition(arg as string);
      case 'Fn::Not': return !this.truth(args[0], where);
      case 'Fn::And': return args.every((a) => this.truth(a, where));
      case 'Fn::Or': return args.some((a) => this.truth(a, where));
      case 'Fn::Equals': {
        const [a, b] = args.map((a2) => this.value(a2, where));
        return scalar(a as Json) === scalar(b as Json);
      }
      default: throw new Error(`condition ${where}: unsupported ${fn}`);
    }
  }

  private ref(name: string, where: string): Value {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in PSEUDO) return PSEUDO[name];
    if (name in this.parameters) return this.parameters[name];
    if (name in this.resources) return `<Ref ${this.nameOf(name)}>`;
    throw new Error(`${where}: Ref to ${name}, which is neither a parameter nor a resource`);
  }

  private getAtt(logicalId: string, attribute: string, where: string): string {
    if (!(logicalId in this.resources)) throw new Error(`${where}: GetAtt of unknown resource ${logicalId}`);
    return `<GetAtt ${this.nameOf(logicalId)}.${attribute}>`;
  }

  private sub(text: string, vars: Record<string, Json>, where: string): string {
    return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in vars) return String(scalar(this.value(vars[name], where) as Json));
      if (name.includes('.') && !(name in PSEUDO)) {
        const dot = name.indexOf('.');
        return this.getAtt(name.slice(0, dot), name.slice(dot + 1), where);
      }
      const v = this.ref(name, where);
      if (v === NO_VALUE || isObject(v) || Array.isArray(v)) throw new Error(`${where}: cannot substitute ${whole}`);
      return String(v);
    });
  }

  private value(node: Json, where: string): Value {
    if (Array.isArray(node)) {
      return node.map((item, i) => this.value(item, `${where}[${i}]`)).filter((v) => v !== NO_VALUE) as Json[];
    }
    if (!isObject(node)) return node;
    const keys = Object.keys(node);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      const fn = keys[0];
      const arg = node[fn];
      switch (fn) {
        case 'Ref': return this.ref(arg as string, where);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? arg as string[] : String(arg).split(/\.(.*)/);
          return this.getAtt(id, attr, where);
        }
        case 'Fn::Sub': {
          if (typeof arg === 'string') return this.sub(arg, {}, where);
          const [text, vars] = arg as [string, Record<string, Json>];
          return this.sub(text, vars, where);
        }
        case 'Fn::Join': {
          const [sep, items] = arg as [string, Json];
          const list = this.value(items, where);
          if (!Array.isArray(list)) throw new Error(`${where}: Fn::Join of a non-list`);
          return list.map((x) => String(scalar(x))).join(sep);
        }
        case 'Fn::Select': {
          const [index, items] = arg as [Json, Json];
          const list = this.value(items, where);
          if (!Array.isArray(list)) throw new Error(`${where}: Fn::Select of a non-list`);
          return list[Number(scalar(this.value(index, where) as Json))];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, Json];
          return String(scalar(this.value(text, where) as Json)).split(sep);
        }
        case 'Fn::FindInMap': {
          const [map, top, second] = (arg as Json[]).map((a) => String(scalar(this.value(a, where) as Json)));
          const mappings = (isObject(this.template.Mappings) ? this.template.Mappings : {}) as Record<string, Json>;
          const found = (mappings[map] as Record<string, Record<string, Json>> | undefined)?.[top]?.[second];
          if (found === undefined) throw new Error(`${where}: Fn::FindInMap ${map}.${top}.${second} not found`);
          return this.value(found, where);
        }
        case 'Fn::If': {
          const [cond, yes, no] = arg as [string, Json, Json];
          return this.condition(cond) ? this.value(yes, where) : this.value(no, where);
        }
        default: throw new Error(`${where}: unsupported intrinsic ${fn}`);
      }
    }
    const out: { [key: string]: Json } = {};
    for (const key of keys) {
      const v = this.value(node[key], `${where}.${key}`);
      if (v !== NO_VALUE) out[key] = v;
    }
    return out;
  }
}

/** Numbers and booleans as the strings CloudFormation passes; other values as they are. */
export function scalar(v: Json): Json {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
}
