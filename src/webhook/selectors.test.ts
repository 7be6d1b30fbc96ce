import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode, ErrorCodes } from '../util/errors.ts';
import { parseSelectors } from './selectors.ts';

describe('parseSelectors: accepted', () => {
  const cases: [string, string, ReturnType<typeof parseSelectors>][] = [
    ['empty text (ACK ships `selectors: ""`)', '', []],
    ['blank text', '  \n ', []],
    ['empty array', '[]', []],
    [
      'the documented ConfigMap example',
      `[{
        "name": "demo",
        "namespaceSelector": { "matchLabels": { "app": "nginx" } },
        "objectSelector": { "matchLabels": { "type": "test" } },
        "effect": { "annotations": { "k8s.aliyun.com/eci-auto-imc": "true" } }
      }]`,
      [
        {
          name: 'demo',
          namespaceSelector: { matchLabels: { app: 'nginx' } },
          objectSelector: { matchLabels: { type: 'test' } },
          effect: { annotations: { 'k8s.aliyun.com/eci-auto-imc': 'true' }, labels: {} },
        },
      ],
    ],
    [
      'the Selector CRD spelling (namespaceLabels / objectLabels) and matchExpressions',
      `[{
        "name": "crd-style",
        "namespaceLabels": { "matchExpressions": [{ "key": "env", "operator": "In", "values": ["prod"] }] },
        "objectLabels": { "matchLabels": {} },
        "effect": { "labels": { "cost-center": "x1" } }
      }]`,
      [
        {
          name: 'crd-style',
          namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] },
          objectSelector: undefined,
          effect: { annotations: {}, labels: { 'cost-center': 'x1' } },
        },
      ],
    ],
    [
      'no effect: the selector only routes',
      '[{"name":"route-only","objectSelector":{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}}]',
      [
        {
          name: 'route-only',
          namespaceSelector: undefined,
          objectSelector: { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] },
          effect: { annotations: {}, labels: {} },
        },
      ],
    ],
  ];
  for (const [name, json, want] of cases) test(name, () => assert.deepEqual(parseSelectors(json), want));
});

describe('parseSelectors: rejected, naming the bad key and index', () => {
  const ok = '{"name":"ok","objectSelector":{"matchLabels":{"a":"b"}}}';
  const cases: [string, string, RegExp][] = [
    ['not JSON', '[{', /not valid JSON/],
    ['not an array', '{"name":"x"}', /selectors: .*array/i],
    ['missing name', `[${ok},{"objectSelector":{"matchLabels":{"a":"b"}}}]`, /selectors\[1\]\.name/],
    [
      'empty name',
      '[{"name":" ","objectSelector":{"matchLabels":{"a":"b"}}}]',
      /selectors\[0\]\.name: must not be empty/,
    ],
    [
      'selects every pod',
      '[{"name":"all"}]',
      /selectors\[0\]: needs a non-empty namespaceSelector or objectSelector/,
    ],
    [
      'empty selectors select every pod too',
      '[{"name":"all","namespaceSelector":{},"objectSelector":{"matchLabels":{}}}]',
      /selectors\[0\]: needs a non-empty/,
    ],
    [
      'non-string label value',
      `[${ok},${ok},{"name":"n","objectSelector":{"matchLabels":{"a":1}}}]`,
      /selectors\[2\]\.objectSelector\.matchLabels\.a/,
    ],
    [
      'unknown key (a typo would silently widen the selector)',
      '[{"name":"t","namespaceSelecter":{"matchLabels":{"a":"b"}},"objectSelector":{"matchLabels":{"a":"b"}}}]',
      /selectors\[0\].*namespaceSelecter/,
    ],
    [
      'both spellings at once',
      '[{"name":"t","objectSelector":{"matchLabels":{"a":"b"}},"objectLabels":{"matchLabels":{"a":"b"}}}]',
      /selectors\[0\]\.objectLabels: give objectSelector or objectLabels, not both/,
    ],
    [
      'bad operator',
      '[{"name":"t","objectSelector":{"matchExpressions":[{"key":"a","operator":"Equals","values":["b"]}]}}]',
      /selectors\[0\]\.objectSelector\.matchExpressions\[0\]\.operator/,
    ],
    [
      'In without values',
      '[{"name":"t","objectSelector":{"matchExpressions":[{"key":"a","operator":"In"}]}}]',
      /selectors\[0\]\.objectSelector\.matchExpressions\[0\]\.values: must not be empty for In/,
    ],
    [
      'an effect label value the API server would reject',
      '[{"name":"t","objectSelector":{"matchLabels":{"a":"b"}},"effect":{"labels":{"team":"not valid!"}}}]',
      /selectors\[0\]\.effect\.labels\.team: a label value must be/,
    ],
    [
      'an effect annotation key the API server would reject',
      '[{"name":"t","objectSelector":{"matchLabels":{"a":"b"}},"effect":{"annotations":{"Bad_Prefix.COM/x":"1"}}}]',
      /selectors\[0\]\.effect\.annotations.*Bad_Prefix\.COM\/x.*prefix must be a DNS subdomain/,
    ],
  ];
  for (const [name, json, want] of cases) {
    test(name, () => {
      assert.throws(
        () => parseSelectors(json),
        (err: Error) => {
          assert.ok(hasCode(err, ErrorCodes.CONFIG_INVALID), 'error code');
          assert.match(err.message, want);
          return true;
        },
      );
    });
  }
});
