// Leader election between two replicas of one virtual node's controller, as deploy/ runs them: real
// processes, the real control plane, one ECI emulator they share. One replica writes, the other keeps
// warm caches; killing the leader hands over within 15 s without a second container group for any
// pod; a leader frozen past its Lease writes nothing when it wakes, and exits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';

const NODE = 'vk-e2e-leader';
const NS = 'e2e-leader';
const LEASE = `eci-virtual-node-${NODE}`;
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);

/** Failover budget from the issue: the standby leads within 15 s of the leader's death. */
const FAILOVER_MS = 15_000;

interface Replica {
  name: string;
  proc: ControllerProcess;
}

function replica(name: string, eci: TestEmulator): Replica {
  const proc = new ControllerProcess([
    '--kubeconfig',
    kubeconfig,
    '--node-name',
    NODE,
    '--node-ip',
    '127.0.0.1',
    '--kubelet-port',
    '0',
    '--leader-elect',
    '--leader-elect-namespace',
    NS,
    '--log-level',
    'debug',
  ]);
  proc.start({ ...eci.env, POD_NAME: name });
  return { name, proc };
}

async function holder(): Promise<string | undefined> {
  const lease = await json<V1Lease>('-n', NS, 'get', 'lease', LEASE).catch(() => undefined);
  return lease?.spec?.holderIdentity ?? undefined;
}

/** The replica whose identity (`<POD_NAME>_<random>`) holds the Lease. */
async function leaderOf(replicas: Replica[]): Promise<Replica> {
  return waitFor('a leader', async () => {
    const h = await holder();
    return replicas.find((r) => h?.startsWith(`${r.name}_`));
  });
}

/** Times (epoch ms, from the log) at which a replica wrote a pod status. */
function statusWrites(r: Replica): number[] {
  return (
    r.proc.output
      .split('\n')
      .filter((l) => l.includes('"pod status patched"'))
      // The log's time is ISO-8601 (an epoch number in older logs): either way a Date reads it.
      .map((l) => new Date((JSON.parse(l) as { time: string | number }).time).getTime())
  );
}

async function createPods(prefix: string, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      kubectlApply(kubeconfig, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${prefix}-${i}`, namespace: NS, labels: { batch: prefix } },
        spec: { ...placementOn(NODE), containers: [{ name: 'c', image: 'nginx' }] },
      }),
    ),
  );
}

async function allRunning(n: number): Promise<V1Pod[]> {
  return waitFor(
    `${n} pods Running`,
    async () => {
      const items = (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods')).items;
      const running = items.filter((p) => p.status?.phase === 'Running');
      return items.length === n && running.length === n && items;
    },
    { timeoutMs: 180_000 },
  );
}

describe('leader election between two replicas', { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  const all: Replica[] = [];

  before(async () => {
    eci = await startTestEmulator();
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    all.push(replica('replica-a', eci), replica('replica-b', eci));
  });

  after(async () => {
    for (const r of all) r.proc.signal('SIGCONT');
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 60_000,
    }).catch(() => undefined);
    for (const r of all) await r.proc.stop('SIGKILL');
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    await eci.close();
  });

  test('one replica leads and writes; the other keeps warm caches and writes nothing', async () => {
    const leader = await leaderOf(all);
    const standby = all.find((r) => r !== leader)!;
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
    await createPods('first', 10);
    await allRunning(10);
    await waitFor('the standby has synced its caches', async () =>
      standby.proc.output.includes('pod controller caches synced; standing by'),
    );
    assert.ok(statusWrites(leader).length > 0, 'the leader wrote pod statuses');
    assert.deepEqual(statusWrites(standby), [], 'the standby wrote none');
  });

  test('kill -9 the leader mid-churn: the standby leads within 15 s, no pod gets a second group', async () => {
    const leader = await leaderOf(all);
    const standby = all.find((r) => r !== leader && r.proc.pid !== undefined)!;
    const churn = createPods('second', 20);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    leader.proc.signal('SIGKILL');
    await leader.proc.exited();
    const tookOver = await waitFor(
      'the standby to take the Lease',
      async () => ((await holder())?.startsWith(`${standby.name}_`) ? Date.now() : undefined),
      { timeoutMs: FAILOVER_MS + 10_000, intervalMs: 100 },
    );
    const failoverMs = tookOver - killedAt;
    console.log(`leader election: failover ${failoverMs} ms after kill -9`);
    assert.ok(failoverMs <= FAILOVER_MS, `failover took ${failoverMs} ms`);
    await churn;
    const pods = await allRunning(30);

    const groups = (await eci.admin.listContainerGroups({ limit: 1000 })).items;
    const perUid = new Map<string, number>();
    for (const g of groups) {
      const uid = g.tags.find((t) => t.key === 'eci-virtual-node/pod-uid')?.value;
      if (uid) perUid.set(uid, (perUid.get(uid) ?? 0) + 1);
    }
    for (const p of pods) assert.equal(perUid.get(p.metadata!.uid!), 1, `one group for ${p.metadata!.name}`);
    assert.equal(groups.length, 30, 'no extra group');
    const before = statusWrites(leader);
    const afterTakeover = statusWrites(standby);
    assert.ok(afterTakeover.length > 0, 'the new leader writes');
    assert.ok(Math.max(...before) < Math.min(...afterTakeover), 'no status written by both at once');
    // The killed replica comes back as a standby, as its Deployment would restart it.
    all.push(replica('replica-c', eci));
  });

  test('a leader frozen past its Lease writes nothing when it wakes, and exits to restart as a standby', async () => {
    const live = all.filter(
      (r) => r.proc.pid !== undefined && !r.proc.output.includes('EVN_LEADERSHIP_LOST'),
    );
    const leader = await leaderOf(live);
    const standby = live.find((r) => r !== leader && r.name === 'replica-c')!;
    await waitFor('the new standby has synced', async () =>
      standby.proc.output.includes('pod controller caches synced; standing by'),
    );
    const frozenAt = Date.now();
    leader.proc.signal('SIGSTOP');
    await waitFor(
      'the standby to take the Lease from the frozen leader',
      async () => (await holder())?.startsWith(`${standby.name}_`),
      { timeoutMs: FAILOVER_MS + 10_000, intervalMs: 100 },
    );
    // Work for the new leader, so the old one would have something to write when it wakes.
    await createPods('third', 5);
    const wokeAt = Date.now();
    leader.proc.signal('SIGCONT');
    const code = await leader.proc.exited();
    assert.equal(code, 1);
    assert.match(leader.proc.output, /EVN_LEADERSHIP_LOST/);
    const late = statusWrites(leader).filter((t) => t >= frozenAt);
    assert.deepEqual(late, [], `the old leader wrote after it was frozen (woke at ${wokeAt})`);
    await allRunning(35);
    assert.equal((await holder())?.startsWith(`${standby.name}_`), true);
  });

  test('a clean stop hands the Lease over at once', async () => {
    all.push(replica('replica-d', eci));
    const d = all.at(-1)!;
    await waitFor('replica-d synced', async () =>
      d.proc.output.includes('pod controller caches synced; standing by'),
    );
    const leader = await leaderOf(all.filter((r) => r !== d));
    const stoppedAt = Date.now();
    assert.equal(await leader.proc.stop('SIGTERM'), 0);
    const tookOver = await waitFor(
      'replica-d to lead',
      async () => ((await holder())?.startsWith('replica-d_') ? Date.now() : undefined),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.ok(tookOver - stoppedAt < 5_000, `handover took ${tookOver - stoppedAt} ms`);
  });
});
