import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunConfig, RUN_DEFAULTS } from './run-config.ts';
import { ErrorCodes, hasCode } from '../util/errors.ts';

test('with nothing given, every setting has its default', () => {
  const c = resolveRunConfig({}, {});
  assert.equal(c.node.nodeName, RUN_DEFAULTS.nodeName);
  assert.equal(c.node.kubeletPort, 10250);
  assert.equal(c.logLevel, 'info');
  assert.deepEqual(c.eciProfile, { namespace: 'kube-system', name: 'eci-profile' });
  assert.deepEqual(c.kube, { kubeconfig: undefined, inCluster: false, qps: 200, burst: 400 });
  assert.equal(c.webhook, undefined, 'the webhook is off unless a port is given');
  assert.equal(c.metrics, undefined);
  assert.equal(c.eci.mode, 'emulator');
  assert.equal(c.kubeProxy, true);
});

// Precedence, per setting: flag over environment over default.
const precedence: [
  string,
  Record<string, string>,
  Record<string, string>,
  (c: ReturnType<typeof resolveRunConfig>) => unknown,
  unknown,
][] = [
  ['node name from env', {}, { VKUBELET_NODE_NAME: 'vk-env' }, (c) => c.node.nodeName, 'vk-env'],
  [
    'node name: flag wins',
    { nodeName: 'vk-flag' },
    { VKUBELET_NODE_NAME: 'vk-env' },
    (c) => c.node.nodeName,
    'vk-flag',
  ],
  ['node IP from env', {}, { VKUBELET_POD_IP: '10.9.9.9' }, (c) => c.node.nodeIp, '10.9.9.9'],
  [
    'node IP: flag wins',
    { nodeIp: '10.1.1.1' },
    { VKUBELET_POD_IP: '10.9.9.9' },
    (c) => c.node.nodeIp,
    '10.1.1.1',
  ],
  ['kubelet port from env', {}, { KUBELET_PORT: '11250' }, (c) => c.node.kubeletPort, 11250],
  [
    'kubelet port: flag wins',
    { kubeletPort: '12250' },
    { KUBELET_PORT: '11250' },
    (c) => c.node.kubeletPort,
    12250,
  ],
  ['log level from env', {}, { LOG_LEVEL: 'debug' }, (c) => c.logLevel, 'debug'],
  ['log level: flag wins', { logLevel: 'warn' }, { LOG_LEVEL: 'debug' }, (c) => c.logLevel, 'warn'],
  ['kubeconfig from env', {}, { KUBECONFIG: '/k/env' }, (c) => c.kube.kubeconfig, '/k/env'],
  [
    'kubeconfig: flag wins',
    { kubeconfig: '/k/flag' },
    { KUBECONFIG: '/k/env' },
    (c) => c.kube.kubeconfig,
    '/k/flag',
  ],
  [
    'in a pod without a kubeconfig: in-cluster',
    {},
    { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
    (c) => c.kube.inCluster,
    true,
  ],
  [
    'a kubeconfig wins over in-cluster',
    { kubeconfig: '/k' },
    { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
    (c) => c.kube.inCluster,
    false,
  ],
  [
    'an empty variable counts as unset',
    {},
    { VKUBELET_NODE_NAME: '' },
    (c) => c.node.nodeName,
    'virtual-kubelet',
  ],
  [
    'the webhook port turns the webhook on',
    { webhookPort: '9443' },
    {},
    (c) => c.webhook,
    { port: 9443, endpoint: 'service', name: 'eci-virtual-node' },
  ],
  ['ECI_KUBE_PROXY=false', {}, { ECI_KUBE_PROXY: 'false' }, (c) => c.kubeProxy, false],
];
for (const [name, flags, env, read, want] of precedence) {
  test(name, () => assert.deepEqual(read(resolveRunConfig(flags, env)), want));
}

const invalid: [string, Record<string, string>, Record<string, string>, RegExp][] = [
  [
    'a bad node name from env names both',
    {},
    { VKUBELET_NODE_NAME: 'Bad_Name' },
    /--node-name \(or env VKUBELET_NODE_NAME\)/,
  ],
  ['a bad port', { webhookPort: 'x' }, {}, /--webhook-port: must be a port/],
  ['a bad qps', { kubeApiQps: '0' }, {}, /--kube-api-qps: must be a number >= 1/],
  ['a bad profile reference', { eciProfile: 'just-a-name' }, {}, /--eci-profile: must be namespace\/name/],
  ['a bad log level from env', {}, { LOG_LEVEL: 'loud' }, /--log-level \(or env LOG_LEVEL\)/],
  ['a bad ECI variable', {}, { ECI_REGION: 'nowhere' }, /ECI_REGION \(environment\)/],
];
for (const [name, flags, env, message] of invalid) {
  test(`rejects ${name}`, () =>
    assert.throws(
      () => resolveRunConfig(flags, env),
      (err: unknown) => hasCode(err, ErrorCodes.CONFIG_INVALID) && message.test((err as Error).message),
    ));
}
