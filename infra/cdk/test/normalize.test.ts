// The template evaluator the parity test stands on: each intrinsic, on a small template.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Json, Template, TemplateEvaluator } from './normalize';

const template = {
  Parameters: {
    Size: { Type: 'Number', Default: 0 },
    Mode: { Type: 'String', Default: 'A' },
    Email: { Type: 'String', Default: '' },
  },
  Mappings: { Periods: { A: { Seconds: 60 }, B: { Seconds: 300 } } },
  Conditions: {
    HasSize: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Size' }, '0'] }] },
    IsA: { 'Fn::Equals': [{ Ref: 'Mode' }, 'A'] },
    SizedA: { 'Fn::And': [{ Condition: 'HasSize' }, { Condition: 'IsA' }] },
    AnyOf: { 'Fn::Or': [{ Condition: 'HasSize' }, { Condition: 'IsA' }] },
  },
  Resources: {
    Topic: { Type: 'AWS::SNS::Topic', Condition: 'SizedA', Properties: {} },
    Thing: {
      Type: 'Test::Thing',
      Properties: {
        Size: { 'Fn::If': ['HasSize', { Ref: 'Size' }, { Ref: 'AWS::NoValue' }] },
        List: [{ 'Fn::If': ['IsA', 'a', { Ref: 'AWS::NoValue' }] }, { 'Fn::If': ['SizedA', { Ref: 'Topic' }, { Ref: 'AWS::NoValue' }] }],
        Any: { 'Fn::If': ['AnyOf', 'yes', 'no'] },
        Arn: { 'Fn::Sub': 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${Mode}-${!Literal}' },
        WithVars: { 'Fn::Sub': ['${X}/${Other.Arn}', { X: { Ref: 'Mode' } }] },
        Joined: { 'Fn::Join': ['-', ['a', { Ref: 'Size' }, { 'Fn::GetAtt': ['Other', 'Arn'] }]] },
        Picked: { 'Fn::Select': [1, { 'Fn::Split': ['/', 'x/y/z'] }] },
        Period: { 'Fn::FindInMap': ['Periods', { Ref: 'Mode' }, 'Seconds'] },
      },
    },
    Other: { Type: 'Test::Other', Properties: { Target: { Ref: 'Thing' } } },
  },
  Outputs: {
    TopicArn: { Condition: 'SizedA', Value: { Ref: 'Topic' } },
    Name: { Value: { 'Fn::GetAtt': 'Other.Name' } },
  },
};

const evaluate = (values: Record<string, Json>) => new TemplateEvaluator(template as unknown as Template, values, (id) => `n-${id}`).evaluate();

describe('TemplateEvaluator', () => {
  it('evaluates at the defaults: false conditions drop resources, keys and list items', () => {
    const e = evaluate({});
    assert.deepEqual(Object.keys(e.resources).sort(), ['n-Other', 'n-Thing']);
    assert.deepEqual(e.resources['n-Thing'].Properties, {
      List: ['a'],
      Any: 'yes',
      Arn: 'arn:aws:sns:eu-west-1:123456789012:A-${Literal}',
      WithVars: 'A/<GetAtt n-Other.Arn>',
      Joined: 'a-0-<GetAtt n-Other.Arn>',
      Picked: 'y',
      Period: 60,
    });
    assert.deepEqual(e.resources['n-Other'].Properties, { Target: '<Ref n-Thing>' });
    assert.deepEqual(e.outputs, { Name: '<GetAtt n-Other.Name>' });
  });

  it('evaluates given values: numbers compare as the strings CloudFormation passes', () => {
    const e = evaluate({ Size: 3, Mode: 'A' });
    assert.ok('n-Topic' in e.resources);
    assert.deepEqual((e.resources['n-Thing'].Properties as Record<string, Json>).List, ['a', '<Ref n-Topic>']);
    assert.equal((e.resources['n-Thing'].Properties as Record<string, Json>).Size, 3);
    assert.deepEqual(e.outputs, { TopicArn: '<Ref n-Topic>', Name: '<GetAtt n-Other.Name>' });
    const b = evaluate({ Mode: 'B' });
    assert.equal((b.resources['n-Thing'].Properties as Record<string, Json>).Any, 'no');
    assert.equal((b.resources['n-Thing'].Properties as Record<string, Json>).Period, 300);
  });

  it('refuses what it cannot evaluate, naming where', () => {
    assert.throws(() => evaluate({ Nope: 1 }), /parameter Nope is given but the template declares no such parameter/);
    const bad = { Resources: { R: { Type: 'T', Properties: { V: { 'Fn::Base64': 'x' } } } } };
    assert.throws(() => new TemplateEvaluator(bad, {}, (id) => id).evaluate(), /R\.Properties\.V: unsupported intrinsic Fn::Base64/);
    const dangling = { Resources: { R: { Type: 'T', Properties: { V: { Ref: 'Missing' } } } } };
    assert.throws(() => new TemplateEvaluator(dangling, {}, (id) => id).evaluate(), /Ref to Missing, which is neither a parameter nor a resource/);
  });
});
