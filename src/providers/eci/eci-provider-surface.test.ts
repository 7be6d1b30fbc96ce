// The provider's use of the rest of the ECI surface, against the emulator through the official SDK:
// restarts where they are the remedy, image cache matching, the fail strategy and the pending limit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as $Eci from '@alicloud/eci20180808';
import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { EmulatorAdminClient } from '../../emulator/admin/client.ts';
import type { RunningEmulator } from '../../emulator/server.ts';
import { startTestEmulator } from '../../../test/support/emulator-sdk.ts';
import { systemClock } from '../../util/clock.ts';
import type { PodInputs, ProviderEvent, SyncOutcome } from '../provider.ts';
import { EciClient } from './eci-client.ts';
import { EciProvider, type EciProviderOptions } from './eci-provider.ts';
import { container, pod, refs } from '../../../test/support/eci-mapping-fixtures.ts';
import { RESTART_PENDING_TAG } from './restarts.ts';

const log = pino({ level: 'silent' });
let emu: RunningEmulator;
let eci: EciClient;
let admin: EmulatorAdminClient;
const stop = new AbortController();

before(async () => {
  emu = await startTestEmulator();
  admin = new EmulatorAdminClient(emu.url);
  eci = new EciClient({
    credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
    regionId: emu.regionId,
    endpoint: emu.endpoint,
    protocol: emu.protocol,
    clock: systemClock,
    log,
  });
});
after(async () => {
  stop.abort();
  await emu.close();
});

let nodes = 0;
async function provider(over: Partial<EciProviderOptions> = {}, nodeName = `vk-surface-${++nodes}`) {
  const p = new EciProvider({
    eci,
    clusterId: 'c-surface',
    nodeName,
    hostIP: '10.0.0.1',
    clock: systemClock,
    log,
    statusIntervalMs: 100,
    ...over,
  });
  await p.start(() => undefined, stop.signal);
  return p;
}

const inputs = (vSwitchIds = ['vsw-emulator-h']): PodInputs => ({
  refs: refs(),
  placement: { vSwitchIds, securityGroupId: 'sg-emulator' },
});

let pods = 0;
function newPod(spec: Partial<NonNullable<V1Pod['spec']>> = {}, annotations: Record<string, string> = {}) {
  const n = ++pods;
  return pod(spec, {
    name: `surface-${n}`,
    uid: `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`,
    annotations,
    creationTimestamp: new Date(),
  });
}

const timeout = () => AbortSignal.timeout(30_000);
const reasons = (events: ProviderEvent[] | undefined) => (events ?? []).map((e) => e.reason);

/** Syncs until `done` holds (the status feed keeps the index current meanwhile), collecting events. */
async function syncUntil(
  p: EciProvider,
  v1: V1Pod,
  done: (o: SyncOutcome) => boolean,
  ms = 15_000,
): Promise<{ last: SyncOutcome; events: ProviderEvent[] }> {
  const events: ProviderEvent[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const o = await p.syncPod(v1, inputs(), timeout());
    events.push(...(o.events ?? []));
    if (o.kind === 'status') v1.status = o.status;
    if (done(o)) return { last: o, events };
    if (Date.now() > deadline) throw new Error(`timed out; last outcome ${JSON.stringify(o)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const running = (o: SyncOutcome) =>
  o.kind === 'status' && o.status.containerStatuses?.every((c) => c.state?.running) === true;

test('a changed init container image is applied by a restart, tagged so it survives the controller', async () => {
  const p = await provider();
  const v1 = newPod({ initContainers: [container({ name: 'init', image: 'busybox:1' })] });
  await syncUntil(p, v1, running);
  const id = p.index.forUid(v1.metadata!.uid!)[0]!.id;
  v1.spec!.initContainers![0]!.image = 'busybox:2';
  const { events } = await syncUntil(p, v1, (o) => reasons(o.events).includes('ContainerGroupRestarted'));
  assert.ok(
    events.some((e) => e.reason === 'ContainerGroupRestarted' && e.message.includes('init container')),
  );
  const g = await admin.waitForContainerGroup(
    id,
    (x) => x.status === 'Running' && x.containers[0]!.state === 'Running',
  );
  assert.equal((g.spec as { initContainers: { image: string }[] }).initContainers[0]!.image, 'busybox:2');
  assert.equal(g.containers[0]!.restartCount, 1);
  assert.ok(!g.tags.some((t) => t.key === RESTART_PENDING_TAG), 'the pending tag is gone');
  const { last } = await syncUntil(
    p,
    v1,
    (o) => o.kind === 'status' && o.status.containerStatuses?.[0]?.restartCount === 1,
  );
  assert.equal(last.kind, 'status');
});

test('a group adopted with a pending restart is restarted once', async () => {
  const nodeName = `vk-surface-adopt`;
  const first = await provider({}, nodeName);
  const v1 = newPod();
  await syncUntil(first, v1, running);
  const id = first.index.forUid(v1.metadata!.uid!)[0]!.id;
  // As if an earlier controller stopped between its update and its restart.
  const g0 = await admin.getContainerGroup(id);
  await eci.updateContainerGroup(
    new $Eci.UpdateContainerGroupRequest({
      containerGroupId: id,
      tag: [...g0.tags, { key: RESTART_PENDING_TAG, value: 'x' }].map(
        (t) => new $Eci.UpdateContainerGroupRequestTag(t),
      ),
    }),
  );
  const adopter = await provider({}, nodeName);
  const { events } = await syncUntil(adopter, v1, (o) =>
    reasons(o.events).includes('ContainerGroupRestarted'),
  );
  assert.equal(events.filter((e) => e.reason === 'ContainerGroupRestarted').length, 1);
  const g = await admin.waitForContainerGroup(
    id,
    (x) => x.status === 'Running' && x.containers[0]!.restartCount === 1,
  );
  assert.ok(!g.tags.some((t) => t.key === RESTART_PENDING_TAG));
});

test('a container stuck in a state ECI does not retry is restarted after the grace period', async () => {
  const p = await provider({ stuckGraceMs: 300 });
  const v1 = newPod();
  await syncUntil(p, v1, running);
  const id = p.index.forUid(v1.metadata!.uid!)[0]!.id;
  await admin.stickContainer(id, 'app', { reason: 'RunContainerError' });
  const started = Date.now();
  const { events } = await syncUntil(p, v1, (o) => reasons(o.events).includes('ContainerGroupRestarted'));
  assert.ok(Date.now() - started >= 300, 'not before the grace period');
  assert.match(events.find((e) => e.reason === 'ContainerGroupRestarted')!.message, /RunContainerError/);
  const { last } = await syncUntil(
    p,
    v1,
    (o) => running(o) && o.kind === 'status' && o.status.containerStatuses?.[0]?.restartCount === 1,
  );
  assert.equal(last.kind, 'status');
});

test('a stuck container under restartPolicy Never is left alone', async () => {
  const p = await provider({ stuckGraceMs: 100 });
  const v1 = newPod({ restartPolicy: 'Never' });
  await syncUntil(p, v1, running);
  const id = p.index.forUid(v1.metadata!.uid!)[0]!.id;
  await admin.stickContainer(id, 'app');
  await new Promise((r) => setTimeout(r, 600));
  const o = await p.syncPod(v1, inputs(), timeout());
  assert.ok(!reasons(o.events).includes('ContainerGroupRestarted'));
  assert.equal((await admin.getContainerGroup(id)).containers[0]!.restartCount, 0);
});

test('imc-perfect-match sends the cache holding every image, or none', async () => {
  const p = await provider();
  const mk = (images: string[]) =>
    eci.createImageCache(
      new $Eci.CreateImageCacheRequest({
        imageCacheName: `perfect-${images.length}`,
        image: images,
        securityGroupId: 'sg-emulator',
        vSwitchId: 'vsw-emulator-h',
      }),
    );
  const partial = await mk(['nginx:p1']);
  const full = await mk(['nginx:p1', 'redis:p1']);
  for (const id of [partial, full]) await syncCacheReady(id);
  const both = newPod(
    {
      containers: [container({ name: 'a', image: 'nginx:p1' }), container({ name: 'b', image: 'redis:p1' })],
    },
    { 'k8s.aliyun.com/imc-perfect-match': 'true', 'k8s.aliyun.com/eci-auto-imc': 'true' },
  );
  const o = await p.syncPod(both, inputs(), timeout());
  assert.ok(reasons(o.events).includes('ImageCacheMatched'));
  const id = p.index.forUid(both.metadata!.uid!)[0]!.id;
  assert.equal((await admin.getContainerGroup(id)).imageCacheId, full);

  const none = newPod(
    {
      containers: [container({ name: 'a', image: 'nginx:p1' }), container({ name: 'b', image: 'mysql:p1' })],
    },
    { 'k8s.aliyun.com/imc-perfect-match': 'true' },
  );
  const o2 = await p.syncPod(none, inputs(), timeout());
  assert.ok(reasons(o2.events).includes('ImageCacheNotMatched'));
  const id2 = p.index.forUid(none.metadata!.uid!)[0]!.id;
  assert.equal((await admin.getContainerGroup(id2)).imageCacheId, undefined, 'no partial match');
});

async function syncCacheReady(id: string) {
  for (let i = 0; i < 200; i++) {
    const [c] = await eci.describeImageCaches({ imageCacheId: id });
    if (c?.status === 'Ready') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`image cache ${id} never became Ready`);
}

test('fail-fast fails the pod at the first failed create; the default retries', async () => {
  await admin.setZoneStock('cn-hangzhou-h', 0);
  try {
    const p = await provider();
    const fast = newPod({}, { 'k8s.aliyun.com/eci-fail-strategy': 'fail-fast' });
    const o = await p.syncPod(fast, inputs(), timeout());
    assert.equal(o.kind, 'status');
    if (o.kind === 'status') {
      assert.equal(o.status.phase, 'Failed');
      assert.equal(o.status.reason, 'ZoneStockOut');
      assert.match(o.status.message ?? '', /fail-fast/);
    }
    const back = await p.syncPod(newPod(), inputs(), timeout());
    assert.equal(back.kind, 'retry');
  } finally {
    await admin.setZoneStock('cn-hangzhou-h', null);
  }
});

test('eci-max-pending-minute fails a pod still Pending past it and deletes its group', async () => {
  await admin.setLifecycle({
    stages: [
      { from: 'Scheduling', to: 'Pending', delayMs: 30 },
      { from: 'Pending', to: 'Running', delayMs: 600_000 },
      { from: 'Restarting', to: 'Pending', delayMs: 50 },
      { from: 'Updating', to: 'Pending', delayMs: 50 },
      { from: 'Terminating', to: 'Deleted', delayMs: 50 },
    ],
  });
  try {
    const p = await provider();
    const v1 = newPod({}, { 'k8s.aliyun.com/eci-max-pending-minute': '10' });
    const created = await p.syncPod(v1, inputs(), timeout());
    assert.equal(created.kind, 'status');
    if (created.kind === 'status') {
      v1.status = created.status;
      assert.ok((created.requeueAfterMs ?? 0) > 9 * 60_000, 'looks again when the limit comes');
    }
    const id = p.index.forUid(v1.metadata!.uid!)[0]!.id;
    v1.metadata!.creationTimestamp = new Date(Date.now() - 11 * 60_000);
    const o = await p.syncPod(v1, inputs(), timeout());
    assert.equal(o.kind, 'status');
    if (o.kind === 'status')
      assert.deepEqual([o.status.phase, o.status.reason], ['Failed', 'PendingTimeout']);
    assert.equal(p.index.forUid(v1.metadata!.uid!).length, 0);
    await admin.waitForContainerGroup(id, (g) => g.status === 'Terminating').catch(() => undefined);
  } finally {
    await admin.setLifecycle({
      stages: [
        { from: 'Scheduling', to: 'Pending', delayMs: 30 },
        { from: 'Pending', to: 'Running', delayMs: 60 },
        { from: 'Restarting', to: 'Pending', delayMs: 50 },
        { from: 'Updating', to: 'Pending', delayMs: 50 },
        { from: 'Terminating', to: 'Deleted', delayMs: 50 },
      ],
    });
  }
});
