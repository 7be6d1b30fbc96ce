// The pod controller driven against a fake provider, an in-memory API server and a fake clock, the way
// virtual-kubelet's node/lifecycle_test.go drives its controllers against a mock provider: every path
// (create, update, delete, retry, adoption, leadership) in milliseconds, with time moved by hand.
import { afterEach, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { EventRecorder } from '../kube/events.ts';
import type { PodInputs } from '../providers/provider.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { FakeKube } from '../../test/support/fake-kube.ts';
import { FakeProvider, statusFor } from '../../test/support/fake-provider.ts';
import { settle, turns } from '../../test/support/turns.ts';
import { PodController, type PodControllerOptions } from './pod-controller.ts';

const NODE = 'vk';
const START = Date.parse('2026-01-01T00:00:00Z');
const log = pino({ level: 'silent' });

const INPUTS: PodInputs = {
  refs: { configMaps: new Map(), secrets: new Map(), serviceAccountTokens: new Map() },
  placement: { vSwitchIds: ['vsw-a'], securityGroupId: 'sg-a' },
};

let n = 0;
function newPod(name = `p${++n}`, over: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', generation: 1, ...over },
    spec: { nodeName: NODE, containers: [{ name: 'app', image: 'nginx' }] },
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date(START - 5000) }],
    },
  };
}

interface Harness {
  kube: FakeKube;
  provider: FakeProvider;
  clock: FakeClock;
  ctl: PodController;
  /** How often the controller resolved inputs. */
  resolved: () => number;
  running: { pod: string; seconds: number }[];
  events: () => CoreV1Event[];
  stop: () => Promise<void>;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** Starts a controller on node `vk` over `seed` pods; waits until it acts (or stands by, with `leading`). */
async function harness(
  o: {
    seed?: V1Pod[];
    provider?: FakeProvider;
    leading?: Promise<AbortSignal>;
    over?: Partial<PodControllerOptions>;
  } = {},
): Promise<Harness> {
  const clock = new FakeClock(START);
  const kube = new FakeKube({ now: () => clock.now() });
  const provider = o.provider ?? new FakeProvider({ now: () => clock.now() });
  for (const p of o.seed ?? []) kube.put('pods', p);
  let resolved = 0;
  const running: Harness['running'] = [];
  const ctl = new PodController({
    kube: kube.clients,
    provider,
    inputs: async () => {
      resolved++;
      return INPUTS;
    },
    nodeName: NODE,
    events: new EventRecorder({
      api: kube.core as unknown as CoreV1Api,
      component: 'eci-virtual-node',
      host: NODE,
      clock,
      log,
    }),
    clock,
    log,
    concurrency: 4,
    onPodRunning: (pod, seconds) => running.push({ pod: pod.metadata?.name ?? '', seconds }),
    ...o.over,
  });
  const ac = new AbortController();
  const run = ctl.run(ac.signal, o.leading);
  const stop = async () => {
    ac.abort();
    await run;
  };
  stops.push(stop);
  if (!o.leading) await settle('the controller started', () => ctl.started);
  return {
    kube,
    provider,
    clock,
    ctl,
    resolved: () => resolved,
    running,
    events: () => kube.list<CoreV1Event>('events'),
    stop,
  };
}

const podOf = (h: Harness, name: string) => h.kube.get<V1Pod>('pods', `shop/${name}`);
const phaseOf = (h: Harness, name: string) => podOf(h, name)?.status?.phase;
const reasons = (h: Harness) => h.events().map((e) => e.reason);

describe('PodController: create and status', () => {
  test('a new pod is created once with inputs resolved once, and its Pending status is written', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('web'));
    await settle('the instance exists', () => h.provider.instances.has(p.metadata!.uid!));
    await settle('the status was written', () => h.kube.count('patchNamespacedPodStatus') === 1);
    assert.deepEqual(
      podOf(h, 'web')?.status?.conditions?.map((c) => `${c.type}=${c.status}`),
      ['PodScheduled=True', 'Ready=False'],
    );
    // After start: stale instances of the name first, then a look without inputs, then the create.
    assert.deepEqual(h.provider.calls.slice(0, 5), [
      'start',
      'orphans',
      'stale shop/web',
      'sync shop/web',
      'sync shop/web +inputs',
    ]);
    assert.equal(h.resolved(), 1, 'inputs resolved only for the create');
    assert.equal(h.provider.instances.size, 1);
    assert.equal(phaseOf(h, 'web'), 'Pending');
    await settle('the provider event was posted', () => reasons(h).includes('InstanceCreated'));
  });

  test('an instance that starts is reported Running with the time since binding, as the cloud says it', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('web'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    await h.clock.advance(7000);
    h.provider.setPhase(p.metadata!.uid!, 'Running');
    await settle('Running written', () => phaseOf(h, 'web') === 'Running');
    assert.equal(podOf(h, 'web')?.status?.podIP, '10.1.0.7');
    assert.deepEqual(h.running, [{ pod: 'web', seconds: 12 }], 'bound 5 s before start, started 7 s later');
    assert.equal(h.resolved(), 1, 'no second create for an instance that exists');
  });

  test('a status that did not change is not written again', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('web'));
    await settle('created', () => h.kube.count('patchNamespacedPodStatus') === 1);
    // The watch echo of our own write and a later unrelated update both reconcile the pod again.
    const syncs = h.provider.count('sync shop/web');
    h.kube.put('pods', {
      ...podOf(h, 'web')!,
      metadata: { ...podOf(h, 'web')!.metadata, labels: { a: 'b' } },
    });
    await settle('reconciled again', () => h.provider.count('sync shop/web') > syncs);
    await turns();
    assert.equal(h.kube.count('patchNamespacedPodStatus'), 1, 'one write for one status');
    assert.ok(h.provider.instances.has(p.metadata!.uid!));
  });

  test('a terminal pod is never moved back out of its phase by a late answer', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('job'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    h.provider.setPhase(p.metadata!.uid!, 'Succeeded');
    await settle('Succeeded written', () => phaseOf(h, 'job') === 'Succeeded');
    const writes = h.kube.count('patchNamespacedPodStatus');
    h.provider.scripted.push({ kind: 'status', status: statusFor('Running') });
    h.provider.setPhase(p.metadata!.uid!, 'Succeeded'); // notify again; the script answers Running
    await settle('asked again', () => h.provider.scripted.length === 0);
    await turns();
    assert.equal(phaseOf(h, 'job'), 'Succeeded');
    assert.equal(h.kube.count('patchNamespacedPodStatus'), writes, 'no write was even tried');
  });

  test('a status answer with requeueAfterMs looks again after exactly that long', async () => {
    const provider = new FakeProvider();
    provider.requeueAfterMs = 30_000;
    const running = newPod('deadline', { uid: 'uid-deadline' });
    provider.seed(running, 'Running');
    const h = await harness({ seed: [running], provider });
    await settle('reported Running', () => phaseOf(h, 'deadline') === 'Running');
    await turns();
    const calls = h.provider.count('sync shop/deadline');
    await h.clock.advance(29_000);
    assert.equal(h.provider.count('sync shop/deadline'), calls, 'not before its time');
    await h.clock.advance(1000);
    await settle('looked again at 30 s', () => h.provider.count('sync shop/deadline') > calls);
  });
});

describe('PodController: retries and backoff', () => {
  test('a retry answer posts a Warning and shows its reason in the pod status', async () => {
    const h = await harness();
    const message = 'waiting for ConfigMap cfg';
    const retry = {
      kind: 'retry',
      reason: 'CreateContainerConfigError',
      message,
      status: { phase: 'Pending', reason: 'CreateContainerConfigError', message },
    } as const;
    h.provider.scripted.push(retry, retry);
    h.kube.put('pods', newPod('cfg'));
    await settle('reason shown', () => podOf(h, 'cfg')?.status?.reason === 'CreateContainerConfigError');
    assert.equal(podOf(h, 'cfg')?.status?.message, message);
    await settle('Warning posted', () =>
      h.events().some((e) => e.type === 'Warning' && e.reason === 'CreateContainerConfigError'),
    );
    assert.equal(h.provider.instances.size, 0, 'nothing created while the cause lasts');
  });

  test("the echo of the controller's own status write does not cut the backoff short", async () => {
    const h = await harness();
    const retry = {
      kind: 'retry',
      reason: 'CreateContainerConfigError',
      message: 'waiting for ConfigMap cfg',
      status: {
        phase: 'Pending',
        reason: 'CreateContainerConfigError',
        message: 'waiting for ConfigMap cfg',
      },
    } as const;
    h.provider.scripted.push(retry, retry);
    h.kube.put('pods', newPod('echo'));
    await settle('status written', () => podOf(h, 'echo')?.status?.reason === 'CreateContainerConfigError');
    // The write came back through the watch; with the clock standing still, nothing may sync again.
    await turns(200);
    assert.equal(h.provider.count('sync shop/echo'), 1, 'one sync until the backoff runs out');
  });

  test('retries come back after growing delays (jitter pinned to half of each ceiling)', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const h = await harness();
    const retry = { kind: 'retry', reason: 'ProviderCreateFailed', message: 'ServiceUnavailable' } as const;
    h.provider.scripted.push(retry, retry, retry);
    const p = h.kube.put('pods', newPod('cfg'));
    await settle('first try', () => h.provider.count('sync shop/cfg') === 1);
    // Ceilings 1, 2, 4 s, halved: 500, 1000, 2000 ms.
    for (const wait of [500, 1000, 2000]) {
      const before = h.provider.count('sync shop/cfg');
      await h.clock.advance(wait - 1);
      assert.equal(h.provider.count('sync shop/cfg'), before, `not retried before ${wait} ms`);
      await h.clock.advance(1);
      await settle(`retried after ${wait} ms`, () => h.provider.count('sync shop/cfg') > before);
    }
    await settle('created after the cause went', () => h.provider.instances.has(p.metadata!.uid!));
    await settle('the Warnings were aggregated into one Event', () =>
      h.events().some((e) => e.reason === 'ProviderCreateFailed' && e.count === 3),
    );
  });

  test('after a success the backoff starts from the beginning again', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const h = await harness();
    const retry = { kind: 'retry', reason: 'ProviderCreateFailed', message: 'ServiceUnavailable' } as const;
    h.provider.scripted.push(retry, retry, retry);
    const p = h.kube.put('pods', newPod('flaky'));
    for (const [i, wait] of [500, 1000, 2000].entries()) {
      await settle(`try ${i + 1}`, () => h.provider.count('sync shop/flaky') === i + 1);
      await turns();
      await h.clock.advance(wait);
    }
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    // A later failure of the same pod waits the base delay again, not the next step (4 s).
    h.provider.scripted.push(retry);
    h.provider.setPhase(p.metadata!.uid!, 'Running');
    await settle('failed once more', () => h.provider.scripted.length === 0);
    await turns();
    const before = h.provider.count('sync shop/flaky');
    await h.clock.advance(500);
    await settle('retried after the base delay', () => h.provider.count('sync shop/flaky') > before);
  });

  test('a provider that throws is retried with backoff, and its pod still converges', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const h = await harness();
    h.provider.failNext('syncPod', new Error('socket hang up'));
    h.provider.failNext('syncPod', new Error('socket hang up'));
    const p = h.kube.put('pods', newPod('thrown'));
    await settle('tried', () => h.provider.count('sync shop/thrown') === 1);
    await h.clock.advance(500);
    await settle('second try', () => h.provider.count('sync shop/thrown') === 2);
    await h.clock.advance(999);
    assert.equal(h.provider.count('sync shop/thrown'), 2, 'the second delay is longer than the first');
    await h.clock.advance(1);
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
  });

  test('a later answer waits exactly as told, quietly, without growing a backoff', async () => {
    const h = await harness();
    h.provider.scripted.push({ kind: 'later', afterMs: 4000 }, { kind: 'later', afterMs: 4000 });
    const p = h.kube.put('pods', newPod('quota'));
    await settle('first look', () => h.provider.count('sync shop/quota') === 1);
    await h.clock.advance(3999);
    assert.equal(h.provider.count('sync shop/quota'), 1);
    await h.clock.advance(1);
    await settle('second look at 4 s', () => h.provider.count('sync shop/quota') === 2);
    await h.clock.advance(4000);
    await settle('created at 8 s', () => h.provider.instances.has(p.metadata!.uid!));
    assert.equal(h.events().filter((e) => e.type === 'Warning').length, 0, 'no Warning for waiting on quota');
  });
});

describe('PodController: refusals', () => {
  test('a refused pod gets a Warning and a reason, and is not asked again until what was judged changes', async () => {
    const h = await harness();
    h.provider.scripted.push({
      kind: 'refused',
      reason: 'UnsupportedField',
      message: 'spec.hostNetwork: not on ECI',
    });
    h.kube.put('pods', newPod('host'));
    await settle('reason shown', () => podOf(h, 'host')?.status?.reason === 'UnsupportedField');
    await settle('Warning posted', () => reasons(h).includes('UnsupportedField'));
    const asked = h.provider.count('sync shop/host');
    // An update that changes nothing judged (a status write, a condition) does not ask again.
    const current = podOf(h, 'host')!;
    h.kube.put('pods', {
      ...current,
      status: { ...current.status, message: 'spec.hostNetwork: not on ECI (seen)' },
    });
    await turns(100);
    assert.equal(h.provider.count('sync shop/host'), asked, 'the refusal holds for the same spec');
    assert.equal(h.provider.instances.size, 0);
    // A new generation of the spec is judged afresh.
    h.kube.put('pods', { ...current, metadata: { ...current.metadata, generation: 2 } });
    await settle('asked again', () => h.provider.count('sync shop/host') > asked);
    await settle('created now', () => h.provider.instances.size === 1);
  });
});

describe('PodController: deletion', () => {
  test('graceful deletion deletes the instance first, then the pod object with grace 0 and its UID', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('web'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    // What the backend still ran at the moment the pod object was deleted: must be nothing.
    const runningAtDelete: number[] = [];
    const asked: unknown[] = [];
    const deletePod = h.kube.core.deleteNamespacedPod;
    h.kube.core.deleteNamespacedPod = (a) => {
      runningAtDelete.push(h.provider.instances.size);
      asked.push([a.gracePeriodSeconds, a.body?.preconditions?.uid]);
      return deletePod(a);
    };
    h.kube.delete('pods', 'shop/web');
    await settle('pod object gone', () => podOf(h, 'web') === undefined);
    assert.deepEqual(runningAtDelete, [0], 'the instance was gone before the pod object');
    assert.deepEqual(asked, [[0, p.metadata!.uid]], 'grace 0, guarded by the UID');
    assert.ok(h.provider.calls.includes('delete shop/web'));
    const gone = h.kube.calls.find((c) => c.startsWith('deleteNamespacedPod'));
    assert.equal(gone, 'deleteNamespacedPod shop/web');
    assert.equal(h.kube.count('deleteNamespacedPod'), 1);
  });

  test('the pod object stays while its instance cannot be deleted, and goes once it can', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const h = await harness();
    const p = h.kube.put('pods', newPod('stuck'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    h.provider.failNext('deletePod', new Error('ECI DeleteContainerGroup failed: ServiceUnavailable'));
    h.kube.delete('pods', 'shop/stuck');
    await settle('delete tried', () => h.provider.count('delete shop/stuck') === 1);
    await turns();
    assert.ok(podOf(h, 'stuck')?.metadata?.deletionTimestamp, 'the pod waits for its instance');
    assert.equal(h.kube.count('deleteNamespacedPod'), 0, 'no pod deletion while the instance may run on');
    await h.clock.advance(500);
    await settle('pod object gone after the retry', () => podOf(h, 'stuck') === undefined);
    assert.equal(h.provider.count('delete shop/stuck'), 2);
  });

  test('a pod removed from the API without grace has its instance deleted as stale', async () => {
    const h = await harness();
    const p = h.kube.put('pods', newPod('forced'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    await h.kube.core.deleteNamespacedPod({ name: 'forced', namespace: 'shop', gracePeriodSeconds: 0 });
    await settle('instance gone', () => h.provider.instances.size === 0);
    assert.ok(h.provider.calls.includes('stale shop/forced'));
  });

  test("a pod recreated under the same name never runs on its predecessor's instance", async () => {
    const h = await harness();
    const old = h.kube.put('pods', newPod('web'));
    await settle('created', () => h.provider.instances.has(old.metadata!.uid!));
    // Deleted and recreated while the watch could not tell (both changes seen as one MODIFIED).
    await h.kube.core.deleteNamespacedPod({ name: 'web', namespace: 'shop', gracePeriodSeconds: 0 });
    const fresh = h.kube.put('pods', newPod('web'));
    await settle('new instance', () => h.provider.instances.has(fresh.metadata!.uid!));
    assert.ok(!h.provider.instances.has(old.metadata!.uid!), 'the old instance was deleted');
    assert.equal(h.provider.instances.size, 1);
  });

  test('a status write for a pod replaced meanwhile is refused by its UID and not applied to the new pod', async () => {
    const h = await harness();
    const release = h.provider.hold('syncPod');
    const old = h.kube.put('pods', newPod('web'));
    await settle('sync in flight', () => h.provider.count('sync shop/web') === 1);
    // The pod is replaced while the provider answers for the old one.
    await h.kube.core.deleteNamespacedPod({ name: 'web', namespace: 'shop', gracePeriodSeconds: 0 });
    const fresh = h.kube.put('pods', newPod('web'));
    h.provider.scripted.push({ kind: 'status', status: { ...statusFor('Running'), message: 'old pod' } });
    release();
    await settle('new pod created', () => h.provider.instances.has(fresh.metadata!.uid!));
    assert.notEqual(podOf(h, 'web')?.status?.message, 'old pod');
    assert.notEqual(old.metadata?.uid, fresh.metadata?.uid);
  });
});

describe('PodController: start, adoption and orphans', () => {
  test('on start it adopts existing instances, collects orphans first, and creates only what is missing', async () => {
    const provider = new FakeProvider();
    const kept = newPod('kept', { uid: 'uid-kept' });
    const missing = newPod('missing', { uid: 'uid-missing' });
    provider.seed(kept, 'Running');
    provider.seed(newPod('gone', { uid: 'uid-gone' }), 'Running');
    const h = await harness({ seed: [kept, missing], provider });
    await settle('missing created', () => provider.instances.has('uid-missing'));
    await settle('kept reported Running', () => phaseOf(h, 'kept') === 'Running');
    assert.equal(provider.calls[0], 'start');
    assert.equal(provider.calls[1], 'orphans', 'orphans go before any pod is synced');
    assert.ok(!provider.instances.has('uid-gone'), 'the orphan was deleted');
    assert.ok(provider.instances.has('uid-kept'), 'the existing instance was adopted, not replaced');
    assert.ok(!provider.calls.includes('sync shop/kept +inputs'), 'no create for an adopted pod');
    assert.equal(h.resolved(), 1, 'inputs only for the missing pod');
  });

  test('a provider that fails to start is retried with backoff before anything is touched', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    const kube = new FakeKube();
    const clock = new FakeClock(START);
    const provider = new FakeProvider();
    provider.failNext('start');
    provider.failNext('start');
    kube.put('pods', newPod('web'));
    const ctl = new PodController({
      kube: kube.clients,
      provider,
      inputs: async () => INPUTS,
      nodeName: NODE,
      events: { post: () => undefined } as unknown as EventRecorder,
      clock,
      log,
    });
    const ac = new AbortController();
    const run = ctl.run(ac.signal);
    stops.push(async () => {
      ac.abort();
      await run;
    });
    await settle('first start', () => provider.count('start') === 1);
    await turns();
    assert.equal(ctl.synced, false);
    await clock.advance(500);
    await settle('second start', () => provider.count('start') === 2);
    await clock.advance(999);
    assert.equal(provider.count('start'), 2, 'the second delay is twice the first');
    await clock.advance(1);
    await settle('started', () => ctl.started);
    assert.deepEqual(provider.calls.slice(0, 4), ['start', 'start', 'start', 'orphans']);
  });

  test('a standby loads its caches but touches nothing until it leads', async () => {
    const provider = new FakeProvider();
    provider.seed(newPod('orphan', { uid: 'uid-orphan' }));
    let lead!: (s: AbortSignal) => void;
    const leading = new Promise<AbortSignal>((r) => (lead = r));
    const h = await harness({ seed: [newPod('web')], provider, leading });
    await settle('synced', () => h.ctl.synced);
    await turns(100);
    assert.deepEqual(provider.calls, ['start'], 'no sync, no orphan collection while standing by');
    assert.equal(h.ctl.podCount, 1, 'the pod cache is warm');
    const term = new AbortController();
    lead(term.signal);
    await settle('leads', () => h.ctl.started);
    await settle('acts', () => provider.instances.size === 1 && !provider.instances.has('uid-orphan'));
    term.abort();
  });

  test('with leadership lost no status is written, and the write is retried rather than dropped', async (t: TestContext) => {
    t.mock.method(Math, 'random', () => 0.5);
    let leads = true;
    const h = await harness({ over: { mayWrite: () => leads } });
    leads = false;
    const p = h.kube.put('pods', newPod('fenced'));
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    await turns();
    assert.equal(h.kube.count('patchNamespacedPodStatus'), 0, 'fenced: nothing written');
    leads = true;
    await h.clock.advance(500);
    await settle(
      'written once allowed',
      () => phaseOf(h, 'fenced') === 'Pending' && h.kube.count('patchNamespacedPodStatus') === 1,
    );
  });
});

describe('PodController: one key at a time', () => {
  test('changes to a pod in flight are coalesced into one more run after it, never a second at once', async () => {
    const h = await harness();
    const release = h.provider.hold('syncPod');
    const p = h.kube.put('pods', newPod('busy'));
    await settle('in flight', () => h.provider.count('sync shop/busy') === 1);
    for (let i = 0; i < 5; i++) {
      const cur = podOf(h, 'busy')!;
      h.kube.put('pods', { ...cur, metadata: { ...cur.metadata, labels: { i: String(i) } } });
    }
    await turns(100);
    assert.equal(h.provider.count('sync shop/busy'), 1, 'no second reconcile while one runs');
    release();
    await settle('created', () => h.provider.instances.has(p.metadata!.uid!));
    await turns(100);
    // The first run (needs-inputs, then create) and one coalesced rerun for the five changes, plus the
    // echo of the status write: far fewer than one run per change.
    const plain = h.provider.calls.filter((c) => c === 'sync shop/busy').length;
    assert.ok(plain <= 3, `${plain} reconciles for 5 changes in flight`);
  });

  test('other pods are not held up by one whose provider call hangs', async () => {
    const h = await harness();
    const slow = h.kube.put('pods', newPod('slow'));
    await settle('slow created', () => h.provider.instances.has(slow.metadata!.uid!));
    const release = h.provider.hold('deletePod');
    h.kube.delete('pods', 'shop/slow');
    await settle('slow delete in flight', () => h.provider.count('delete shop/slow') === 1);
    const fast = h.kube.put('pods', newPod('fast'));
    await settle('fast created meanwhile', () => h.provider.instances.has(fast.metadata!.uid!));
    assert.ok(podOf(h, 'slow'), 'the slow one is still being deleted');
    release();
    await settle('slow gone', () => podOf(h, 'slow') === undefined);
  });
});
