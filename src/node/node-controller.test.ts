// The node controller against an in-memory API server and a fake clock: registration, the Lease
// heartbeat, status refresh, and putting the Node back when it is deleted, in milliseconds.
import { afterEach, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Api, CoreV1Event, V1Lease, V1Node } from '@kubernetes/client-node';
import { pino } from 'pino';
import { EventRecorder } from '../kube/events.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { apiError, FakeKube } from '../../test/support/fake-kube.ts';
import { settle, turns } from '../../test/support/turns.ts';
import { LEASE_NAMESPACE } from './lease.ts';
import { NodeController, type NodeControllerOptions } from './node-controller.ts';
import { PROVIDER_TAINT, type NodeSpecConfig } from './node-spec.ts';

const log = pino({ level: 'silent' });
const START = Date.parse('2026-01-01T00:00:00Z');
const spec: NodeSpecConfig = {
  name: 'vk',
  internalIP: '10.0.0.5',
  kubeletPort: 10250,
  capacity: { cpu: '2000', memory: '8Ti', pods: '10000' },
  kubeletVersion: 'v1.34.0-eci-virtual-node',
  operatingSystem: 'linux',
  architecture: 'amd64',
};

interface Harness {
  kube: FakeKube;
  clock: FakeClock;
  ctl: NodeController;
  node: () => V1Node | undefined;
  lease: () => V1Lease | undefined;
  events: () => CoreV1Event[];
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function harness(
  o: { kube?: FakeKube; clock?: FakeClock; over?: Partial<NodeControllerOptions>; ready?: boolean } = {},
): Promise<Harness> {
  const clock = o.clock ?? new FakeClock(START);
  const kube = o.kube ?? new FakeKube({ now: () => clock.now() });
  const ctl = new NodeController({
    kube: kube.clients,
    spec,
    clock,
    log,
    events: new EventRecorder({
      api: kube.core as unknown as CoreV1Api,
      component: 'eci-virtual-node',
      host: 'vk',
      clock,
      log,
    }),
    ...o.over,
  });
  const ac = new AbortController();
  const run = ctl.run(ac.signal);
  stops.push(async () => {
    ac.abort();
    await run;
  });
  if (o.ready !== false) await settle('registered', () => ctl.ready);
  return {
    kube,
    clock,
    ctl,
    node: () => kube.get<V1Node>('nodes', 'vk'),
    lease: () => kube.get<V1Lease>('leases', `${LEASE_NAMESPACE}/vk`),
    events: () => kube.list<CoreV1Event>('events'),
  };
}

const condition = (n: V1Node | undefined, type: string) =>
  n?.status?.conditions?.find((c) => c.type === type);
const renewMs = (l: V1Lease | undefined) => new Date(l?.spec?.renewTime ?? 0).getTime();

describe('NodeController: registration', () => {
  test('registers the Node Ready with its labels, taint and address, and a Lease it owns', async () => {
    const h = await harness();
    const node = h.node();
    assert.equal(node?.metadata?.labels?.type, 'virtual-kubelet');
    assert.deepEqual(node?.spec?.taints, [PROVIDER_TAINT]);
    assert.equal(condition(node, 'Ready')?.status, 'True');
    assert.deepEqual(node?.status?.addresses, [{ type: 'InternalIP', address: '10.0.0.5' }]);
    await settle('lease', () => h.lease() !== undefined);
    const lease = h.lease();
    assert.equal(lease?.spec?.holderIdentity, 'vk');
    assert.equal(lease?.spec?.leaseDurationSeconds, 40);
    assert.deepEqual(
      lease?.metadata?.ownerReferences?.map((r) => `${r.kind}/${r.name}/${r.uid}`),
      [`Node/vk/${node?.metadata?.uid}`],
      'the Lease goes with the Node',
    );
    assert.equal(renewMs(lease), START);
    assert.match(String(lease?.spec?.renewTime), /\.\d{6}Z$/, 'MicroTime: six fractional digits');
  });

  test('a Node from an earlier run is brought up to date, not recreated, and a stale address is dropped', async () => {
    const clock = new FakeClock(START);
    const kube = new FakeKube({ now: () => clock.now() });
    const earlier = kube.put<V1Node>('nodes', {
      metadata: { name: 'vk', labels: { type: 'virtual-kubelet', team: 'ops' } },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }] },
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.5' },
          { type: 'Hostname', address: 'vk' },
        ],
        conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: new Date(START - 60_000) }],
      },
    });
    const h = await harness({ kube, clock });
    const node = h.node();
    assert.equal(kube.count('createNode'), 0);
    assert.equal(node?.metadata?.uid, earlier.metadata?.uid, 'the same Node object');
    assert.equal(node?.metadata?.labels?.team, 'ops', "others' labels stay");
    assert.equal(node?.metadata?.labels?.['kubernetes.io/role'], 'agent', 'ours are added');
    assert.deepEqual(
      node?.spec?.taints?.map((t) => t.key),
      ['node.kubernetes.io/unreachable', PROVIDER_TAINT.key],
      "the node lifecycle controller's taint stays beside ours",
    );
    assert.deepEqual(node?.status?.addresses, [{ type: 'InternalIP', address: '10.0.0.5' }]);
    assert.equal(condition(node, 'Ready')?.status, 'True');
  });

  test('the label patch carries the resourceVersion it read, so a concurrent change is not overwritten', async () => {
    const clock = new FakeClock(START);
    const kube = new FakeKube({ now: () => clock.now() });
    kube.put<V1Node>('nodes', { metadata: { name: 'vk', labels: {} }, spec: {} });
    // Someone writes the Node between our read and our patch: the patch must be refused (409) and
    // registration retried from a fresh read, not blindly applied.
    const readNode = kube.core.readNode;
    let raced = false;
    kube.core.readNode = async (a) => {
      const n = await readNode(a);
      if (!raced) {
        raced = true;
        kube.put<V1Node>('nodes', { ...n, spec: { taints: [{ key: 'other', effect: 'NoExecute' }] } });
      }
      return n;
    };
    const h = await harness({ kube, clock, ready: false });
    await settle('first patch refused', () => kube.count('patchNode') === 1);
    assert.equal(h.ctl.ready, false);
    await h.clock.advance(1000);
    await settle('registered on the retry', () => h.ctl.ready);
    assert.deepEqual(
      h.node()?.spec?.taints?.map((t) => t.key),
      ['other', PROVIDER_TAINT.key],
      'the concurrent taint was kept',
    );
  });

  test('a create that loses the race to another writer adopts the Node that won', async () => {
    const clock = new FakeClock(START);
    const kube = new FakeKube({ now: () => clock.now() });
    const readNode = kube.core.readNode;
    let first = true;
    kube.core.readNode = async (a) => {
      if (first) {
        first = false;
        // Not there when read; created by someone else before our create.
        const err = apiError(404, 'nodes "vk" not found');
        kube.put<V1Node>('nodes', { metadata: { name: 'vk' }, spec: {} });
        throw err;
      }
      return readNode(a);
    };
    const h = await harness({ kube, clock });
    assert.equal(kube.count('createNode'), 1, 'the create was refused');
    assert.equal(h.node()?.metadata?.labels?.type, 'virtual-kubelet', 'the winner was brought up to date');
    assert.equal(condition(h.node(), 'Ready')?.status, 'True');
  });

  test('a failing API server is retried with growing delays until the Node is registered', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const clock = new FakeClock(START);
    const kube = new FakeKube({ now: () => clock.now() });
    kube.failNext('readNode');
    kube.failNext('readNode');
    const h = await harness({ kube, clock, ready: false });
    await settle('first try', () => kube.count('readNode') === 1);
    await h.clock.advance(499);
    assert.equal(kube.count('readNode'), 1);
    await h.clock.advance(1);
    await settle('second try at 0.5 s', () => kube.count('readNode') === 2);
    await h.clock.advance(999);
    assert.equal(kube.count('readNode'), 2, 'the second delay is twice the first');
    await h.clock.advance(1);
    await settle('registered', () => h.ctl.ready);
    assert.ok(h.node());
  });

  test('a self-registered node whose taint was removed reports it instead of patching taints', async () => {
    const clock = new FakeClock(START);
    const kube = new FakeKube({ now: () => clock.now() });
    kube.put<V1Node>('nodes', { metadata: { name: 'vk', labels: {} }, spec: {} });
    const h = await harness({ kube, clock, over: { spec: { ...spec, selfRegistered: true } } });
    assert.deepEqual(h.node()?.spec?.taints ?? [], [], 'NodeRestriction forbids it: not tried');
    assert.equal(h.node()?.metadata?.labels?.['kubernetes.io/role'], undefined, 'a label a node may not set');
    await settle('Warning event', () => h.events().some((e) => e.reason === 'ProviderTaintMissing'));
    const msg = h.events().find((e) => e.reason === 'ProviderTaintMissing')?.message ?? '';
    assert.match(msg, /kubectl taint node vk virtual-kubelet\.io\/provider=alibabacloud:NoSchedule/);
  });
});

describe('NodeController: heartbeat and status', () => {
  test('renews its Lease every period with the resourceVersion it holds, one write per renewal', async () => {
    const h = await harness({ over: { leaseRenewMs: 10_000 } });
    await settle('lease', () => h.lease() !== undefined);
    for (let i = 1; i <= 3; i++) {
      await h.clock.advance(10_000);
      await settle(`renewal ${i}`, () => renewMs(h.lease()) === START + i * 10_000);
    }
    assert.equal(h.kube.count('createNamespacedLease'), 1);
    assert.equal(h.kube.count('replaceNamespacedLease'), 3, 'no conflicts, no rereads');
    assert.equal(h.kube.count('readNamespacedLease'), 1, 'read only before it existed');
    assert.equal(h.ctl.lastLeaseRenewAt, START + 30_000);
  });

  test('a Lease written by someone else meanwhile is reread and renewed, not lost', async () => {
    const h = await harness({ over: { leaseRenewMs: 10_000 } });
    await settle('lease', () => h.lease() !== undefined);
    const theirs = h.lease()!;
    h.kube.put<V1Lease>('leases', { ...theirs, spec: { ...theirs.spec, holderIdentity: 'intruder' } });
    await h.clock.advance(10_000);
    await settle('renewed', () => renewMs(h.lease()) === START + 10_000);
    assert.equal(h.lease()?.spec?.holderIdentity, 'vk');
    assert.ok(h.kube.count('readNamespacedLease') >= 2, 'reread after the 409');
  });

  test('a failed renewal is tried again at the next period, and liveness shows the gap', async () => {
    const h = await harness({ over: { leaseRenewMs: 10_000 } });
    await settle('lease', () => h.lease() !== undefined);
    h.kube.failNext('replaceNamespacedLease');
    await h.clock.advance(10_000);
    await settle('tried', () => h.kube.count('replaceNamespacedLease') === 1);
    await turns();
    assert.equal(h.ctl.lastLeaseRenewAt, START, 'the failed renewal does not count as alive');
    await h.clock.advance(10_000);
    await settle('renewed', () => renewMs(h.lease()) === START + 20_000);
    assert.equal(h.ctl.lastLeaseRenewAt, START + 20_000);
  });

  test('the status refresh moves the heartbeat and keeps the time Ready last changed', async () => {
    const h = await harness({ over: { statusRefreshMs: 60_000, leaseRenewMs: 3_600_000 } });
    const before = condition(h.node(), 'Ready');
    await h.clock.advance(60_000);
    await settle('refreshed', () => h.kube.count('patchNodeStatus') === 1);
    const after = condition(h.node(), 'Ready');
    assert.equal(new Date(after?.lastHeartbeatTime ?? 0).getTime(), START + 60_000);
    assert.equal(
      new Date(after?.lastTransitionTime ?? 0).getTime(),
      new Date(before?.lastTransitionTime ?? 1).getTime(),
    );
  });
});

describe('NodeController: deletion', () => {
  test('a deleted Node is registered again at once, with a new Lease owned by the new Node', async () => {
    const h = await harness({ over: { leaseRenewMs: 10_000 } });
    await settle('lease', () => h.lease() !== undefined);
    const oldUid = h.node()?.metadata?.uid;
    h.kube.delete('nodes', 'vk');
    assert.equal(h.lease(), undefined, 'the Lease went with its Node');
    await settle('back', () => h.node() !== undefined && h.node()?.metadata?.uid !== oldUid);
    // The lease loop is woken: no need to wait for the renew period.
    await settle('new lease', () => h.lease() !== undefined);
    assert.equal(h.lease()?.metadata?.ownerReferences?.[0]?.uid, h.node()?.metadata?.uid);
    assert.equal(condition(h.node(), 'Ready')?.status, 'True');
  });

  test('deleting the Node while it owns instances posts a Warning that says how to uninstall', async () => {
    const h = await harness({ over: { ownedInstances: () => 3 } });
    h.kube.delete('nodes', 'vk');
    await settle('warned', () => h.events().some((e) => e.reason === 'NodeDeletedWithInstances'));
    const e = h.events().find((x) => x.reason === 'NodeDeletedWithInstances');
    assert.equal(e?.type, 'Warning');
    assert.match(e?.message ?? '', /owns 3 ECI container group\(s\).*eci-virtual-node cleanup/);
    await settle('back', () => h.node() !== undefined);
  });

  test('a deletion missed while the watch was down is found by the relist and repaired', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const h = await harness({ over: { leaseRenewMs: 3_600_000, statusRefreshMs: 3_600_000 } });
    await settle('watching', () => h.kube.count('watch /api/v1/nodes') === 1);
    const lists = h.kube.count('listNode');
    // The watch ends at once (counted as a failure: a short backoff), and meanwhile the Node goes and
    // the history is compacted, so resuming is refused with 410 Gone and only a relist sees it.
    h.kube.closeWatches();
    await turns();
    const oldUid = h.node()?.metadata?.uid;
    h.kube.delete('nodes', 'vk');
    h.kube.compact();
    await h.clock.advance(125);
    await settle('resume tried', () => h.kube.count('watch /api/v1/nodes') === 2);
    assert.equal(h.node(), undefined, 'nothing repaired yet: the watch missed the deletion');
    await h.clock.advance(500);
    await settle('relisted', () => h.kube.count('listNode') > lists);
    await settle('back', () => h.node() !== undefined && h.node()?.metadata?.uid !== oldUid);
  });

  test('stopping the controller leaves the Node in place', async () => {
    const h = await harness();
    const stop = stops.pop()!;
    await stop();
    assert.ok(h.node(), 'a restart is a heartbeat gap, not a node going away');
    assert.equal(h.kube.calls.filter((c) => c.startsWith('delete')).length, 0);
  });
});
