import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decide,
  EMPTY_PROFILE,
  escapePointer,
  labelsMatch,
  toleratesVirtualNode,
  type AdmissionPod,
  type JsonPatchOp,
  type RoutingProfile,
  type RoutingSelector,
} from './decide.ts';

const TOL = { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' };
const NS_SEL = { type: 'virtual-kubelet' };

function pod(over: { ns?: string; labels?: Record<string, string>; spec?: AdmissionPod['spec'] } = {}) {
  return {
    metadata: { name: 'p', namespace: over.ns ?? 'team-a', ...(over.labels ? { labels: over.labels } : {}) },
    spec: { containers: [{ name: 'c', image: 'nginx' }], ...over.spec },
  } as AdmissionPod;
}

const ROUTE_FRESH: JsonPatchOp[] = [
  { op: 'add', path: '/spec/tolerations', value: [TOL] },
  { op: 'add', path: '/spec/nodeSelector', value: NS_SEL },
];

const selector = (s: Partial<RoutingSelector> & { name: string }): RoutingSelector => ({
  effect: { annotations: {}, labels: {} },
  ...s,
});

interface Case {
  name: string;
  pod: AdmissionPod;
  ns?: Record<string, string>;
  profile?: RoutingProfile;
  patch: JsonPatchOp[];
  routed: boolean;
  reason: RegExp;
}

const cases: Case[] = [
  {
    name: 'unlabelled pod in an unlabelled namespace is unchanged',
    pod: pod(),
    ns: {},
    patch: [],
    routed: false,
    reason: /no ECI label/,
  },
  {
    name: 'pod label alibabacloud.com/eci=true routes',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true' } }),
    ns: {},
    patch: ROUTE_FRESH,
    routed: true,
    reason: /pod label alibabacloud.com\/eci=true/,
  },
  {
    name: 'legacy pod label eci=true routes',
    pod: pod({ labels: { eci: 'true' } }),
    ns: {},
    patch: ROUTE_FRESH,
    routed: true,
    reason: /pod label eci=true/,
  },
  {
    name: 'label value other than "true" does not route',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'yes' } }),
    ns: {},
    patch: [],
    routed: false,
    reason: /no ECI label/,
  },
  {
    name: 'namespace label routes every pod in it',
    pod: pod(),
    ns: { 'alibabacloud.com/eci': 'true' },
    patch: ROUTE_FRESH,
    routed: true,
    reason: /namespace label/,
  },
  {
    name: 'legacy eci=true on the namespace does not route (ACK accepts the legacy label on pods only)',
    pod: pod(),
    ns: { eci: 'true' },
    patch: [],
    routed: false,
    reason: /no ECI label/,
  },
  {
    name: 'pod label alibabacloud.com/eci=false opts out in a labelled namespace',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'false' } }),
    ns: { 'alibabacloud.com/eci': 'true' },
    patch: [],
    routed: false,
    reason: /alibabacloud.com\/eci=false opts out/,
  },
  {
    name: 'legacy eci=false opts out too',
    pod: pod({ labels: { eci: 'false' } }),
    ns: { 'alibabacloud.com/eci': 'true' },
    patch: [],
    routed: false,
    reason: /eci=false opts out/,
  },
  {
    name: 'the current label outranks the legacy one',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true', eci: 'false' } }),
    ns: {},
    patch: ROUTE_FRESH,
    routed: true,
    reason: /alibabacloud.com\/eci=true/,
  },
  {
    name: 'opt-out also beats a matching eci-profile selector',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'false', team: 'batch' } }),
    ns: {},
    profile: { selectors: [selector({ name: 's', objectSelector: { matchLabels: { team: 'batch' } } })] },
    patch: [],
    routed: false,
    reason: /opts out/,
  },
  {
    name: 'kube-system is never routed, even with the label',
    pod: pod({ ns: 'kube-system', labels: { 'alibabacloud.com/eci': 'true' } }),
    ns: { 'alibabacloud.com/eci': 'true' },
    patch: [],
    routed: false,
    reason: /namespace kube-system is never routed/,
  },
  {
    name: "the controller's own pods are never routed",
    pod: pod({ labels: { app: 'ack-virtual-node-controller', 'alibabacloud.com/eci': 'true' } }),
    ns: { 'alibabacloud.com/eci': 'true' },
    patch: [],
    routed: false,
    reason: /own pod/,
  },
  {
    name: 'a pod already bound to a node is left alone',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true' }, spec: { nodeName: 'worker-1' } }),
    patch: [],
    routed: false,
    reason: /already bound to node worker-1/,
  },
  {
    name: 'namespace labels unknown: the pod label still routes',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true' } }),
    ns: undefined,
    patch: ROUTE_FRESH,
    routed: true,
    reason: /pod label/,
  },
  {
    name: 'the toleration is appended to existing ones, the nodeSelector replaced, node affinity dropped',
    pod: pod({
      labels: { 'alibabacloud.com/eci': 'true' },
      spec: {
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }],
        nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'big' },
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} },
          podAntiAffinity: {},
        },
      },
    }),
    patch: [
      { op: 'add', path: '/spec/tolerations/-', value: TOL },
      { op: 'add', path: '/spec/nodeSelector', value: NS_SEL },
      { op: 'remove', path: '/spec/affinity/nodeAffinity' },
    ],
    routed: true,
    reason: /routed/,
  },
  {
    name: 'an equivalent toleration is not duplicated (Equal with the taint value)',
    pod: pod({
      labels: { 'alibabacloud.com/eci': 'true' },
      spec: {
        tolerations: [
          {
            key: 'virtual-kubelet.io/provider',
            operator: 'Equal',
            value: 'alibabacloud',
            effect: 'NoSchedule',
          },
        ],
      },
    }),
    patch: [{ op: 'add', path: '/spec/nodeSelector', value: NS_SEL }],
    routed: true,
    reason: /routed/,
  },
  {
    name: 'a pod already routed needs no patch',
    pod: pod({
      labels: { 'alibabacloud.com/eci': 'true' },
      spec: { tolerations: [TOL], nodeSelector: { type: 'virtual-kubelet' } },
    }),
    patch: [],
    routed: true,
    reason: /already routed/,
  },
  {
    name: 'an eci-profile objectSelector routes and adds its effect',
    pod: pod({ labels: { team: 'batch' } }),
    ns: {},
    profile: {
      selectors: [
        selector({
          name: 'batch',
          objectSelector: { matchLabels: { team: 'batch' } },
          effect: {
            annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' },
            labels: { 'cost-center': 'x1' },
          },
        }),
      ],
    },
    patch: [
      ...ROUTE_FRESH,
      { op: 'add', path: '/metadata/labels/cost-center', value: 'x1' },
      { op: 'add', path: '/metadata/annotations', value: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' } },
    ],
    routed: true,
    reason: /eci-profile selector batch/,
  },
  {
    name: 'a selector with both parts needs both to match',
    pod: pod({ labels: { team: 'batch' } }),
    ns: { env: 'dev' },
    profile: {
      selectors: [
        selector({
          name: 'both',
          namespaceSelector: { matchLabels: { env: 'prod' } },
          objectSelector: { matchLabels: { team: 'batch' } },
        }),
      ],
    },
    patch: [],
    routed: false,
    reason: /no ECI label/,
  },
  {
    name: 'a namespaceSelector cannot match when the namespace labels are unknown',
    pod: pod(),
    ns: undefined,
    profile: { selectors: [selector({ name: 'ns', namespaceSelector: { matchLabels: { env: 'prod' } } })] },
    patch: [],
    routed: false,
    reason: /no ECI label/,
  },
  {
    name: 'namespaceSelector with matchExpressions routes',
    pod: pod(),
    ns: { env: 'prod' },
    profile: {
      selectors: [
        selector({
          name: 'prod',
          namespaceSelector: {
            matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }],
          },
        }),
      ],
    },
    patch: ROUTE_FRESH,
    routed: true,
    reason: /eci-profile selector prod/,
  },
  {
    name: "effects never overwrite the pod's own values; the first matching selector wins a key",
    pod: {
      metadata: {
        name: 'p',
        namespace: 'team-a',
        labels: { 'alibabacloud.com/eci': 'true', tier: 'mine' },
        annotations: { 'k8s.aliyun.com/eci-use-specs': '8-16Gi' },
      },
      spec: {},
    },
    ns: {},
    profile: {
      selectors: [
        selector({
          name: 'first',
          objectSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
          effect: {
            annotations: { 'k8s.aliyun.com/eci-use-specs': '2-4Gi', 'k8s.aliyun.com/eci-auto-imc': 'true' },
            labels: { tier: 'theirs' },
          },
        }),
        selector({
          name: 'second',
          objectSelector: { matchLabels: { tier: 'mine' } },
          effect: { annotations: { 'k8s.aliyun.com/eci-auto-imc': 'false', 'x/y': 'z' }, labels: {} },
        }),
      ],
    },
    patch: [
      ...ROUTE_FRESH,
      { op: 'add', path: '/metadata/annotations/k8s.aliyun.com~1eci-auto-imc', value: 'true' },
      { op: 'add', path: '/metadata/annotations/x~1y', value: 'z' },
    ],
    routed: true,
    reason: /pod label alibabacloud.com\/eci=true, eci-profile selector first, eci-profile selector second/,
  },
];

describe('decide', () => {
  for (const c of cases) {
    test(c.name, () => {
      const d = decide(c.pod, c.ns, c.profile ?? EMPTY_PROFILE);
      assert.deepEqual(d.patch, c.patch);
      assert.equal(d.routed, c.routed);
      assert.match(d.reason, c.reason);
    });
  }

  test('does not modify its input', () => {
    const p = pod({ labels: { 'alibabacloud.com/eci': 'true' }, spec: { tolerations: [] } });
    const before = structuredClone(p);
    decide(p, {}, EMPTY_PROFILE);
    assert.deepEqual(p, before);
  });
});

describe('toleratesVirtualNode', () => {
  const cases: [string, Parameters<typeof toleratesVirtualNode>[0], boolean][] = [
    ['exact Exists', TOL, true],
    ['Exists without effect', { key: 'virtual-kubelet.io/provider', operator: 'Exists' }, true],
    ['wildcard: empty key with Exists', { operator: 'Exists' }, true],
    ['empty key with Equal tolerates nothing', { value: 'alibabacloud' }, false],
    ['Equal with the taint value', { key: 'virtual-kubelet.io/provider', value: 'alibabacloud' }, true],
    ['Equal with another value', { key: 'virtual-kubelet.io/provider', value: 'azure' }, false],
    ['other effect', { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoExecute' }, false],
    ['other key', { key: 'dedicated', operator: 'Exists' }, false],
  ];
  for (const [name, t, want] of cases) test(name, () => assert.equal(toleratesVirtualNode(t), want));
});

describe('labelsMatch', () => {
  const labels = { a: '1', b: '2' };
  const cases: [string, Parameters<typeof labelsMatch>[0], boolean][] = [
    ['empty selector matches all', {}, true],
    ['matchLabels all present', { matchLabels: { a: '1', b: '2' } }, true],
    ['matchLabels one differs', { matchLabels: { a: '1', b: '3' } }, false],
    ['In', { matchExpressions: [{ key: 'a', operator: 'In', values: ['0', '1'] }] }, true],
    ['In, key absent', { matchExpressions: [{ key: 'z', operator: 'In', values: ['1'] }] }, false],
    ['NotIn, key absent', { matchExpressions: [{ key: 'z', operator: 'NotIn', values: ['1'] }] }, true],
    ['NotIn, value listed', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'b', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, false],
    [
      'labels and expressions are ANDed',
      { matchLabels: { a: '1' }, matchExpressions: [{ key: 'c', operator: 'Exists' }] },
      false,
    ],
  ];
  for (const [name, sel, want] of cases) test(name, () => assert.equal(labelsMatch(sel, labels), want));
});

test('escapePointer follows RFC 6901', () => {
  assert.equal(escapePointer('alibabacloud.com/eci'), 'alibabacloud.com~1eci');
  assert.equal(escapePointer('a~b/c'), 'a~0b~1c');
});
