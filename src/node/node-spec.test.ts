import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildNode,
  mergeTaints,
  nodeConditions,
  nodeMetadataCurrent,
  PROVIDER_TAINT,
  type NodeSpecConfig,
} from './node-spec.ts';

const cfg: NodeSpecConfig = {
  name: 'virtual-kubelet',
  internalIP: '10.0.0.5',
  kubeletPort: 10250,
  capacity: { cpu: '2000', memory: '8Ti', pods: '10000' },
  kubeletVersion: 'v1.34.0-eci-virtual-node',
  operatingSystem: 'linux',
  architecture: 'amd64',
  extraLabels: { type: 'overridden-attempt', 'topology.kubernetes.io/zone': 'cn-hangzhou-h' },
};

test('the node carries the names users type: labels, taint, endpoint, capacity', () => {
  const node = buildNode(cfg, new Date(0));
  assert.equal(node.metadata?.labels?.type, 'virtual-kubelet', 'fixed labels win over extra ones');
  assert.equal(node.metadata?.labels?.['kubernetes.io/role'], 'agent');
  assert.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'virtual-kubelet');
  assert.equal(node.metadata?.labels?.['kubernetes.io/os'], 'linux');
  assert.equal(node.metadata?.labels?.['topology.kubernetes.io/zone'], 'cn-hangzhou-h');
  assert.deepEqual(node.spec?.taints, [
    { key: 'virtual-kubelet.io/provider', value: 'alibabacloud', effect: 'NoSchedule' },
  ]);
  assert.equal(node.status?.daemonEndpoints?.kubeletEndpoint?.Port, 10250);
  assert.deepEqual(node.status?.addresses?.[0], { type: 'InternalIP', address: '10.0.0.5' });
  assert.deepEqual(node.status?.allocatable, cfg.capacity);
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.status, 'True');
  for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) {
    assert.equal(node.status?.conditions?.find((c) => c.type === t)?.status, 'False', t);
  }
});

test('a condition keeps its transition time while its status holds, and takes now when it flips', () => {
  const t0 = new Date(1000);
  const t1 = new Date(2000);
  const prev = [
    { type: 'Ready', status: 'True', lastTransitionTime: t0, lastHeartbeatTime: t0 },
    { type: 'MemoryPressure', status: 'Unknown', lastTransitionTime: t0 },
  ];
  const next = nodeConditions(prev, t1);
  const ready = next.find((c) => c.type === 'Ready');
  assert.equal(ready?.lastTransitionTime, t0);
  assert.equal(ready?.lastHeartbeatTime, t1);
  assert.equal(next.find((c) => c.type === 'MemoryPressure')?.lastTransitionTime, t1);
});

test('mergeTaints keeps other owners taints and adds ours once', () => {
  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  assert.deepEqual(mergeTaints([unreachable, PROVIDER_TAINT]), [unreachable, PROVIDER_TAINT]);
  assert.deepEqual(mergeTaints(undefined), [PROVIDER_TAINT]);
  assert.deepEqual(mergeTaints([{ ...PROVIDER_TAINT, value: 'old' }]), [PROVIDER_TAINT]);
});

test('nodeMetadataCurrent sees a missing label or taint', () => {
  const node = buildNode(cfg, new Date(0));
  assert.equal(nodeMetadataCurrent(node, cfg), true);
  assert.equal(nodeMetadataCurrent({ ...node, spec: { taints: [] } }, cfg), false);
  assert.equal(
    nodeMetadataCurrent({ ...node, metadata: { name: cfg.name, labels: { type: 'virtual-kubelet' } } }, cfg),
    false,
  );
});
