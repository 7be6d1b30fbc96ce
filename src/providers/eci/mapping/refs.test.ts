import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configMap, container, pod, refs, secret } from '../../../../test/support/eci-mapping-fixtures.ts';
import { missingRefs, requiredRefs, tokenKey } from './refs.ts';

const p = pod({
  imagePullSecrets: [{ name: 'regcred' }],
  initContainers: [
    container({ name: 'init', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } }] }),
  ],
  containers: [
    container({
      env: [
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'b', optional: true } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'opt', key: 'c', optional: true } } },
      ],
      envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'db', optional: true } }],
    }),
  ],
  volumes: [
    { name: 'v1', configMap: { name: 'files' } },
    { name: 'v2', secret: { secretName: 'tls', optional: true } },
    {
      name: 'kube-api-access',
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
          { serviceAccountToken: { path: 'vault', audience: 'vault' } },
        ],
      },
    },
  ],
  serviceAccountName: 'web',
});

test('requiredRefs lists every object once; required wins over optional', () => {
  const need = requiredRefs(p);
  const objects = need
    .filter((n) => n.kind !== 'ServiceAccountToken')
    .map((n) => `${n.kind}/${n.name}:${n.optional}`);
  assert.deepEqual(objects.sort(), [
    'ConfigMap/cfg:false',
    'ConfigMap/files:false',
    'ConfigMap/kube-root-ca.crt:false',
    'ConfigMap/opt:true',
    'Secret/db:false',
    'Secret/regcred:true',
    'Secret/tls:true',
  ]);
  const tokens = need.filter((n) => n.kind === 'ServiceAccountToken');
  assert.deepEqual(tokens, [
    {
      kind: 'ServiceAccountToken',
      serviceAccountName: 'web',
      audience: '',
      expirationSeconds: 3607,
      key: tokenKey('', 3607),
      optional: false,
    },
    {
      kind: 'ServiceAccountToken',
      serviceAccountName: 'web',
      audience: 'vault',
      expirationSeconds: 3600,
      key: tokenKey('vault', 3600),
      optional: false,
    },
  ]);
});

test('missingRefs drops what the caller already has', () => {
  const have = refs({
    configMaps: [configMap('cfg', {}), configMap('files', {})],
    secrets: [secret('db', {})],
    tokens: { [tokenKey('', 3607)]: 't' },
  });
  const left = missingRefs(p, have).map((n) =>
    n.kind === 'ServiceAccountToken' ? `token:${n.key}` : `${n.kind}/${n.name}`,
  );
  assert.deepEqual(left.sort(), [
    'ConfigMap/kube-root-ca.crt',
    'ConfigMap/opt',
    'Secret/regcred',
    'Secret/tls',
    'token:vault|3600',
  ]);
  assert.equal(missingRefs(pod()).length, 0, 'a pod without references needs nothing');
});
