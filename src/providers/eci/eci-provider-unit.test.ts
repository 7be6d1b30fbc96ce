// The ECI provider on a fake clock against an in-memory ECI: adoption, idempotent creates, zone
// failover, what each cloud error becomes, lost groups, and the deletes that keep one group per pod.
// (eci-provider*.test.ts drive it against the emulator through the official SDK.)
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { FakeEci } from '../../../test/support/fake-eci.ts';
import { settle } from '../../../test/support/turns.ts';
import type { PodInputs, SyncOutcome } from '../provider.ts';
import { EciProvider } from './eci-provider.ts';
import { pod, refs } from '../../../test/support/eci-mapping-fixtures.ts';
import { TAG_KEYS } from './mapping/index.ts';
import { shortHash } from './mapping/names.ts';

const log = pino({ level: 'silent' });
const START = Date.parse('2026-01-01T00:00:00Z');
const NODE = 'vk';
const never = new AbortController().signal;

const inputs = (vSwitchIds = ['vsw-a', 'vsw-b']): PodInputs => ({
  refs: refs(),
  placement: { vSwitchIds, securityGroupId: 'sg-1' },
});

let n = 0;
function newPod(spec: Partial<NonNullable<V1Pod['spec']>> = {}, name = `p${++n}`): V1Pod {
  return pod({ nodeName: NODE, ...spec }, { name, namespace: 'shop', uid: `uid-${name}` });
}
const identity = (p: V1Pod) => ({
  clusterId: 'c1',
  nodeName: NODE,
  namespace: p.metadata!.namespace!,
  podName: p.metadata!.name!,
  podUid: p.metadata!.uid!,
});

interface Harness {
  eci: FakeEci;
  clock: FakeClock;
  provider: EciProvider;
  notified: string[];
}

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

async function harness(seed: (eci: FakeEci) => void = () => undefined): Promise<Harness> {
  const clock = new FakeClock(START);
  const eci = new FakeEci({ now: () => clock.now() });
  seed(eci);
  const provider = new EciProvider({
    eci: eci.client,
    clusterId: 'c1',
    nodeName: NODE,
    hostIP: '10.0.0.5',
    clock,
    log,
    statusIntervalMs: 2000,
    resyncMs: 60_000,
  });
  const notified: string[] = [];
  const ac = new AbortController();
  stops.push(ac);
  await provider.start((key) => notified.push(key), ac.signal);
  return { eci, clock, provider, notified };
}

const reasons = (o: SyncOutcome) => (o.events ?? []).map((e) => e.reason);
const phase = (o: SyncOutcome) => (o.kind === 'status' ? o.status.phase : undefined);

describe('EciProvider: creating', () => {
  test('a pod without a group asks for inputs first and makes no cloud call', async () => {
    const h = await harness();
    const o = await h.provider.syncPod(newPod(), undefined, never);
    assert.equal(o.kind, 'needs-inputs');
    assert.equal(h.eci.calls.get('CreateContainerGroup') ?? 0, 0);
  });

  test('creates one group tagged with the pod identity and ClientToken = pod UID, and never a second', async () => {
    const h = await harness();
    const p = newPod();
    const o = await h.provider.syncPod(p, inputs(), never);
    assert.equal(o.kind, 'status');
    assert.equal(phase(o), 'Pending');
    assert.ok(reasons(o).includes('ContainerGroupCreated'));
    const req = h.eci.created[0]!;
    assert.equal(req.clientToken, p.metadata!.uid);
    const tags = Object.fromEntries((req.tag ?? []).map((t) => [t.key, t.value]));
    assert.equal(tags[TAG_KEYS.POD_UID], p.metadata!.uid);
    assert.equal(tags[TAG_KEYS.NODE_NAME], NODE);
    const again = await h.provider.syncPod(p, undefined, never);
    assert.equal(again.kind, 'status', 'the indexed group answers without inputs');
    assert.equal(h.eci.calls.get('CreateContainerGroup'), 1);
    assert.equal(h.eci.size, 1);
  });

  test('adopts the groups an earlier run created: their pods report status without a create', async () => {
    const p = newPod();
    const h = await harness((eci) => eci.seed(identity(p), 'Running'));
    assert.equal(h.provider.index.size, 1);
    const o = await h.provider.syncPod(p, undefined, never);
    assert.equal(phase(o), 'Running');
    assert.equal(h.eci.calls.get('CreateContainerGroup') ?? 0, 0);
  });

  test('a zone without stock is reported and the next vSwitch in order is used', async () => {
    const h = await harness();
    h.eci.outOfStock.add('vsw-a');
    const o = await h.provider.syncPod(newPod(), inputs(), never);
    assert.equal(o.kind, 'status');
    assert.deepEqual(
      h.eci.log.filter((l) => l.startsWith('CreateContainerGroup')),
      ['CreateContainerGroup vsw-a', 'CreateContainerGroup vsw-b'],
    );
    assert.deepEqual(reasons(o).slice(0, 2), ['ZoneOutOfStock', 'ZoneFailover']);
    assert.equal(h.eci.created[0]!.clientToken, h.eci.created[1]!.clientToken, 'one token across zones');
  });

  test('no stock in any zone is a retry that names the vSwitches', async () => {
    const h = await harness();
    h.eci.outOfStock.add('vsw-a');
    h.eci.outOfStock.add('vsw-b');
    const o = await h.provider.syncPod(newPod(), inputs(), never);
    assert.equal(o.kind, 'retry');
    assert.equal(o.kind === 'retry' && o.reason, 'ZoneStockOut');
    assert.match(o.kind === 'retry' ? o.message : '', /vSwitches vsw-a, vsw-b/);
    assert.equal(o.kind === 'retry' && o.status?.phase, 'Pending');
  });

  test('a request ECI calls invalid refuses the pod; a server error is retried', async () => {
    const h = await harness();
    h.eci.failNext('CreateContainerGroup', 'InvalidParameter.Memory', 'too large', 400);
    const refused = await h.provider.syncPod(newPod(), inputs(['vsw-a']), never);
    assert.equal(refused.kind, 'refused');
    assert.match(refused.kind === 'refused' ? refused.message : '', /InvalidParameter\.Memory: too large/);
    h.eci.failNext('CreateContainerGroup', 'ServiceUnavailable', 'try later', 503);
    const retry = await h.provider.syncPod(newPod(), inputs(['vsw-a']), never);
    assert.equal(retry.kind, 'retry');
    assert.equal(retry.kind === 'retry' && retry.reason, 'ProviderCreateFailed');
    assert.equal(h.eci.size, 0);
  });

  test('with the create quota spent it says when to look again instead of waiting in a worker', async () => {
    const h = await harness();
    h.eci.quotaWait.set('CreateContainerGroup', 1500);
    const o = await h.provider.syncPod(newPod(), inputs(), never);
    assert.deepEqual(o, { kind: 'later', afterMs: 1500, events: [] });
    assert.equal(h.eci.calls.get('CreateContainerGroup') ?? 0, 0);
  });
});

describe('EciProvider: lost groups', () => {
  test('a group that vanished is replaced under restartPolicy Always, with a token derived from it', async () => {
    const p = newPod({ restartPolicy: 'Always' });
    let lost = '';
    const h = await harness((eci) => (lost = eci.seed(identity(p))));
    h.eci.vanish(lost);
    await h.clock.advance(60_000); // the next full resync sees it gone
    await settle('the pod was told', () => h.notified.includes(`shop/${p.metadata!.name}`));
    const o = await h.provider.syncPod(p, undefined, never);
    assert.equal(o.kind, 'needs-inputs');
    const created = await h.provider.syncPod(p, inputs(), never);
    assert.ok(reasons(created).includes('ContainerGroupLost'));
    assert.equal(h.eci.created[0]!.clientToken, `${p.metadata!.uid}-${shortHash(lost)}`);
    assert.equal(h.provider.index.forUid(p.metadata!.uid!).length, 1);
  });

  test('under restartPolicy Never the pod fails instead, saying its group is gone', async () => {
    const p = newPod({ restartPolicy: 'Never' });
    p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
    let lost = '';
    const h = await harness((eci) => (lost = eci.seed(identity(p))));
    h.eci.vanish(lost);
    await h.clock.advance(60_000);
    await settle('the pod was told', () => h.notified.length > 0);
    const o = await h.provider.syncPod(p, inputs(), never);
    assert.equal(phase(o), 'Failed');
    assert.equal(o.kind === 'status' && o.status.reason, 'ContainerGroupLost');
    assert.equal(o.kind === 'status' && o.status.conditions?.[0]?.status, 'False', 'no longer Ready');
    assert.equal(h.eci.calls.get('CreateContainerGroup') ?? 0, 0);
  });

  test('the status feed tells the controller which pod changed when its group does', async () => {
    const p = newPod();
    let id = '';
    const h = await harness((eci) => (id = eci.seed(identity(p), 'Pending')));
    h.eci.setStatus(id, 'Running');
    await h.clock.advance(2000);
    await settle('notified', () => h.notified.includes(`shop/${p.metadata!.name}`));
    assert.equal(phase(await h.provider.syncPod(p, undefined, never)), 'Running');
  });
});

describe('EciProvider: deleting', () => {
  test('deletePod deletes the group and converges when called again', async () => {
    const p = newPod();
    let id = '';
    const h = await harness((eci) => (id = eci.seed(identity(p))));
    await h.provider.deletePod(p, never);
    assert.equal(h.eci.has(id), false);
    assert.equal(h.provider.index.size, 0);
    await h.provider.deletePod(p, never);
    assert.equal(h.eci.calls.get('DeleteContainerGroup'), 1, 'nothing left to delete the second time');
  });

  test('deleteStale deletes the groups of an earlier pod of the same name, not the live one', async () => {
    const earlier = newPod({}, 'web');
    const live = { ...newPod({}, 'web'), metadata: { ...earlier.metadata, uid: 'uid-web-2' } };
    let old = '';
    let mine = '';
    const h = await harness((eci) => {
      old = eci.seed(identity(earlier));
      mine = eci.seed(identity(live));
    });
    await h.provider.deleteStale('shop/web', 'uid-web-2', never);
    assert.equal(h.eci.has(old), false);
    assert.equal(h.eci.has(mine), true);
    await h.provider.deleteStale('shop/web', undefined, never);
    assert.equal(h.eci.has(mine), false, 'no live pod: every group of the name goes');
  });

  test('collectOrphans deletes the groups whose pod is gone and keeps the rest', async () => {
    const kept = newPod();
    const orphan = newPod();
    let keptId = '';
    let orphanId = '';
    let foreign = '';
    const h = await harness((eci) => {
      keptId = eci.seed(identity(kept));
      orphanId = eci.seed(identity(orphan));
      foreign = eci.seed({ ...identity(orphan), nodeName: 'another-node' });
    });
    await h.provider.collectOrphans(new Set([kept.metadata!.uid!]), never);
    assert.equal(h.eci.has(keptId), true);
    assert.equal(h.eci.has(orphanId), false);
    assert.equal(h.eci.has(foreign), true, "another node's group is never touched");
  });

  test('a failed delete leaves the group indexed, so the retry deletes it', async () => {
    const p = newPod();
    let id = '';
    const h = await harness((eci) => (id = eci.seed(identity(p))));
    h.eci.failNext('DeleteContainerGroup');
    await assert.rejects(h.provider.deletePod(p, never), /ServiceUnavailable/);
    assert.equal(h.provider.index.forUid(p.metadata!.uid!).length, 1);
    await h.provider.deletePod(p, never);
    assert.equal(h.eci.has(id), false);
  });
});
