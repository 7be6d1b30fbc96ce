import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWebhookConfiguration, isSubset, serviceDnsNames } from './configuration.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('buildWebhookConfiguration', () => {
  test('in-cluster: the Service, and a policy that can never block pod creation', () => {
    const c = buildWebhookConfiguration(
      { clientConfig: { service: { namespace: 'kube-system', name: 'ack-virtual-node-controller' } } },
      CA,
    );
    assert.equal(c.metadata?.name, 'eci-virtual-node');
    const [w, ...rest] = c.webhooks ?? [];
    assert.equal(rest.length, 0);
    assert.ok(w);
    assert.equal(w.failurePolicy, 'Ignore');
    assert.equal(w.timeoutSeconds, 5);
    assert.equal(w.sideEffects, 'None');
    assert.equal(w.reinvocationPolicy, 'Never');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.deepEqual(w.rules, [
      {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ]);
    assert.deepEqual(w.clientConfig, {
      service: { namespace: 'kube-system', name: 'ack-virtual-node-controller', port: 443, path: '/mutate' },
      caBundle: Buffer.from(CA).toString('base64'),
    });
    assert.deepEqual(w.namespaceSelector, {
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }],
    });
    assert.deepEqual(w.objectSelector, {
      matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['ack-virtual-node-controller'] }],
    });
  });

  test('local control plane: a URL; a test may narrow the scope further and rename it', () => {
    const c = buildWebhookConfiguration(
      {
        name: 'eci-virtual-node-e2e',
        clientConfig: { url: 'https://127.0.0.1:9443/mutate' },
        extraNamespaceSelector: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['t1'] }],
      },
      CA,
    );
    const w = c.webhooks?.[0];
    assert.equal(c.metadata?.name, 'eci-virtual-node-e2e');
    assert.equal(w?.clientConfig.url, 'https://127.0.0.1:9443/mutate');
    assert.equal(w?.clientConfig.service, undefined);
    assert.equal(w?.namespaceSelector?.matchExpressions?.length, 2);
  });
});

test('serviceDnsNames', () => {
  assert.deepEqual(serviceDnsNames({ namespace: 'kube-system', name: 'ack-virtual-node-controller' }), [
    'ack-virtual-node-controller.kube-system.svc',
    'ack-virtual-node-controller.kube-system.svc.cluster.local',
  ]);
});

describe('isSubset (what we set vs. what the API server returns with its defaults)', () => {
  const cases: [string, unknown, unknown, boolean][] = [
    ['defaults added by the server are ignored', { a: 1 }, { a: 1, matchPolicy: 'Equivalent' }, true],
    ['a changed value is seen', { a: { b: 'x' } }, { a: { b: 'y' } }, false],
    ['arrays compare by length and order', [{ a: 1 }, { b: 2 }], [{ a: 1, z: 0 }, { b: 2 }], true],
    ['an extra array element is a difference', [{ a: 1 }], [{ a: 1 }, { a: 2 }], false],
    ['a missing object is a difference', { a: { b: 1 } }, {}, false],
    ['undefined wants nothing', undefined, 5, true],
  ];
  for (const [name, want, have, expected] of cases)
    test(name, () => assert.equal(isSubset(want, have), expected));
});
