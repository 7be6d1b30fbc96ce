// The provider's side of the boundary, against the ECI emulator through the official SDK: it creates
// only with inputs handed to it, never reads Kubernetes, and sweeps a node's groups on uninstall.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startEmulator, type RunningEmulator } from '../../emulator/server.ts';
import { systemClock } from '../../util/clock.ts';
import type { PodInputs } from '../provider.ts';
import { EciClient } from './eci-client.ts';
import { EciProvider } from './eci-provider.ts';
import { configMap, pod, refs } from '../../../test/support/eci-mapping-fixtures.ts';

const log = pino({ level: 'silent' });
let emu: RunningEmulator;
let eci: EciClient;
// The providers' status feeds run until the file is done.
const stop = new AbortController();

before(async () => {
  emu = await startEmulator({ port: 0, logger: log });
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

const provider = (nodeName: string) =>
  new EciProvider({ eci, clusterId: 'c-test', nodeName, hostIP: '10.0.0.1', clock: systemClock, log });

function inputs(): PodInputs {
  const vsw = emu.config.region.vSwitches[0]!;
  return {
    refs: refs({ configMaps: [configMap('cfg', { greeting: 'hello' })] }),
    placement: {
      vSwitchIds: [vsw.id],
      securityGroupId: emu.config.region.securityGroups.find((g) => g.vpcId === vsw.vpcId)!.id,
    },
  };
}

const withConfigMap = (name: string, uid: string) =>
  pod(
    {
      containers: [
        {
          name: 'app',
          image: 'busybox',
          env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } }],
        },
      ],
    },
    { name, uid },
  );

test('without inputs a pod that needs an instance gets needs-inputs and nothing is created', async () => {
  const p = provider('vk-inputs');
  await p.start(() => undefined, stop.signal);
  const outcome = await p.syncPod(
    withConfigMap('a', '00000000-0000-4000-8000-00000000000a'),
    undefined,
    AbortSignal.timeout(30_000),
  );
  assert.equal(outcome.kind, 'needs-inputs');
  assert.equal(p.index.size, 0);
  assert.equal(eci.calls.get('CreateContainerGroup') ?? 0, 0, 'no create call');
});

test('with inputs it creates from them; later syncs need none', async () => {
  const p = provider('vk-inputs-2');
  await p.start(() => undefined, stop.signal);
  const podA = withConfigMap('b', '00000000-0000-4000-8000-00000000000b');
  const created = await p.syncPod(podA, inputs(), AbortSignal.timeout(30_000));
  assert.equal(created.kind, 'status');
  assert.equal(p.index.size, 1);
  const [entry] = p.index.forUid(podA.metadata!.uid!);
  const group = (await eci.describeContainerGroups({ containerGroupIds: [entry!.id] }))[0]!;
  const env = Object.fromEntries((group.containers?.[0]?.environmentVars ?? []).map((e) => [e.key, e.value]));
  assert.equal(env.GREETING, 'hello', 'the ConfigMap value handed in reached the group');
  const again = await p.syncPod(podA, undefined, AbortSignal.timeout(30_000));
  assert.equal(again.kind, 'status', 'an existing instance needs no inputs');
});

test('deleteAllInstances removes every group of the node, indexed or not, and only those', async () => {
  const mine = provider('vk-sweep');
  const other = provider('vk-other');
  await mine.start(() => undefined, stop.signal);
  await other.start(() => undefined, stop.signal);
  for (const [p, uid] of [
    [mine, '00000000-0000-4000-8000-0000000000c1'],
    [mine, '00000000-0000-4000-8000-0000000000c2'],
    [other, '00000000-0000-4000-8000-0000000000c3'],
  ] as const) {
    assert.equal(
      (await p.syncPod(withConfigMap(`p-${uid.slice(-2)}`, uid), inputs(), AbortSignal.timeout(30_000))).kind,
      'status',
    );
  }
  // An uninstaller never loaded the index: a fresh provider of the same node.
  const uninstaller = provider('vk-sweep');
  const said: string[] = [];
  const n = await uninstaller.deleteAllInstances({ say: (l) => said.push(l), timeoutMs: 60_000 });
  assert.equal(n, 2);
  assert.match(said.join('\n'), /ECI container groups: deleting 2 /);
  const left = await eci.describeContainerGroups({});
  const nodes = left.map((g) => g.tags?.find((t) => t.key?.endsWith('node-name'))?.value);
  assert.ok(!nodes.includes('vk-sweep'), `no group of vk-sweep is left (${nodes.join(', ')})`);
  assert.ok(nodes.includes('vk-other'), 'the other node keeps its group');
});

test('a group the status feed saw Running before its create call returned stays Running', async () => {
  // Under load the create answer can arrive after the group started and the feed applied that: the
  // provider must not write its Pending placeholder over what the feed saw (the feed skips a status
  // it has already applied, so the pod would wait for the next full resync).
  const p = provider('vk-late-answer');
  let fedRunning = false;
  eci.createContainerGroup = async (req, signal) => {
    const id = await EciClient.prototype.createContainerGroup.call(eci, req, signal);
    const deadline = Date.now() + 30_000;
    while (p.index.get(id)?.group.status !== 'Running') {
      assert.ok(Date.now() < deadline, 'the feed saw the group Running');
      await new Promise((r) => setTimeout(r, 50));
    }
    fedRunning = true;
    return id;
  };
  await p.start(() => undefined, stop.signal);
  const late = withConfigMap('late', '00000000-0000-4000-8000-0000000000ff');
  const outcome = await p
    .syncPod(late, inputs(), AbortSignal.timeout(60_000))
    .finally(() => delete (eci as Partial<EciClient>).createContainerGroup);
  assert.ok(fedRunning, 'the path under test ran: the feed applied Running before create returned');
  assert.equal(outcome.kind, 'status');
  assert.equal(p.index.forUid(late.metadata!.uid!)[0]?.group.status, 'Running');
  assert.equal(outcome.kind === 'status' ? outcome.status.phase : undefined, 'Running');
});

test('with a pending-write delay, a create waits for the status feed instead of saying Pending at once', async () => {
  const p = new EciProvider({
    eci,
    clusterId: 'c-test',
    nodeName: 'vk-pending-delay',
    hostIP: '10.0.0.1',
    clock: systemClock,
    log,
    pendingWriteDelayMs: 2_500,
  });
  const changed: string[] = [];
  await p.start((key) => changed.push(key), stop.signal);
  const fresh = withConfigMap('fresh', '00000000-0000-4000-8000-0000000000fe');
  const outcome = await p.syncPod(fresh, inputs(), AbortSignal.timeout(30_000));
  assert.equal(outcome.kind, 'later', 'no Pending status written at the create');
  assert.equal(outcome.kind === 'later' ? outcome.afterMs : 0, 2_500);
  assert.ok(
    outcome.events?.some((e) => e.reason === 'ContainerGroupCreated'),
    'the create is still told as an Event',
  );
  // The feed's news brings the pod back, and its one status write says Running.
  const deadline = Date.now() + 30_000;
  while (!changed.some((k) => k.endsWith('/fresh'))) {
    assert.ok(Date.now() < deadline, 'the status feed reported the group');
    await new Promise((r) => setTimeout(r, 50));
  }
  const next = await p.syncPod(fresh, undefined, AbortSignal.timeout(30_000));
  assert.equal(next.kind === 'status' ? next.status.phase : next.kind, 'Running');
});
