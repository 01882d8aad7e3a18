// cdk-nag findings the construct acknowledges, each on the resource it concerns and with its
// reason (docs/cdk.md lists them). The construct does not depend on cdk-nag: an app runs it.
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Acknowledges cdk-nag findings on one resource, each with its reason, without depending on
 * cdk-nag: through aws-cdk-lib's Validations (what cdk-nag v3 reads) and the `cdk_nag`
 * metadata (what cdk-nag v2's NagSuppressions writes and reads).
 */
export function suppressNag(resource: CfnResource, rules: ReadonlyArray<{ id: string; reason: string; appliesTo?: string[] }>) {
  // cdk-nag v3 names a granular finding <rule>[<finding>], e.g. AwsSolutions-IAM5[Resource::*].
  Validations.of(resource).acknowledge(...rules.flatMap(({ id, reason, appliesTo }) =>
    (appliesTo ?? [undefined]).map((finding) => ({ id: finding === undefined ? id : `${id}[${finding}]`, reason }))));
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...rules] });
}

/** A resource as cdk-nag's IAM5 names it in a finding ("Resource::arn:<AWS::Partition>:..."). */
export function nagResourceFinding(scope: Construct, resource: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [sep, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(sep);
    }
    if (o['Fn::GetAtt']) {
      const [r, a] = o['Fn::GetAtt'] as [string, string];
      return `<${r}.${a}>`;
    }
    if (o.Ref) return `<${String(o.Ref)}>`;
    return JSON.stringify(node);
  };
  return `Resource::${flatten(Stack.of(scope).resolve(resource))}`;
}

/** AwsSolutions-IAM5 (a wildcard in an IAM policy) acknowledged for these findings. */
export const iam5 = (reason: string, resources = ['Resource::*']) => ({ id: 'AwsSolutions-IAM5', reason, appliesTo: resources });
