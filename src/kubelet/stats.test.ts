import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import type { PodUsage } from '../providers/provider.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { NodeCpuCounter, UsageReader } from './stats.ts';

const usage = (uid: string, cpuNs: number, startTime = 1): PodUsage => ({
  uid,
  time: 0,
  cpu: { usageCoreNanoSeconds: cpuNs },
  memory: { workingSetBytes: 1 },
  containers: [
    { name: 'c', time: 0, startTime, cpu: { usageCoreNanoSeconds: cpuNs }, memory: { workingSetBytes: 1 } },
  ],
});

test('the node CPU counter only grows: a pod that goes away or restarts never takes from it', () => {
  const n = new NodeCpuCounter();
  assert.equal(n.observe([usage('a', 100), usage('b', 1000)]), 0, 'first samples only set where pods start');
  assert.equal(n.observe([usage('a', 150), usage('b', 1100)]), 150);
  // b is gone: the sum of pods would drop by 1100; the node's counter keeps what it had.
  assert.equal(n.observe([usage('a', 170)]), 170);
  // a restarted (a new start time, its counter from 0): no negative step, the new run counts from its first sample.
  assert.equal(n.observe([usage('a', 5, 2)]), 170);
  assert.equal(n.observe([usage('a', 25, 2)]), 190);
});

test('one backend read serves every request within the cache time, and concurrent ones share it', async () => {
  const clock = new FakeClock(0);
  let reads = 0;
  const pod: V1Pod = { metadata: { uid: 'a' }, status: { phase: 'Running' } };
  const r = new UsageReader({
    pods: () => [pod, { metadata: { uid: 'x' }, status: { phase: 'Pending' } }],
    read: async (pods) => {
      reads++;
      assert.deepEqual(
        pods.map((p) => p.metadata?.uid),
        ['a'],
        'only running pods are asked about',
      );
      return new Map([['a', usage('a', 10)]]);
    },
    clock,
    ttlMs: 10_000,
  });
  await Promise.all([r.snapshot(), r.snapshot(), r.snapshot()]);
  assert.equal(reads, 1);
  await clock.advance(9_000);
  await r.snapshot();
  assert.equal(reads, 1);
  await clock.advance(2_000);
  const s = await r.snapshot();
  assert.equal(reads, 2);
  assert.equal(s.pods.length, 1);
});

test('a failed read keeps the last pods and says so (resource_scrape_error)', async () => {
  const clock = new FakeClock(0);
  let fail = false;
  const r = new UsageReader({
    pods: () => [{ metadata: { uid: 'a' }, status: { phase: 'Running' } }],
    read: async () => {
      if (fail) throw new Error('throttled');
      return new Map([['a', usage('a', 10)]]);
    },
    clock,
    ttlMs: 1000,
  });
  await r.snapshot();
  fail = true;
  await clock.advance(2000);
  const s = await r.snapshot();
  assert.equal(s.error, 'throttled');
  assert.equal(s.pods.length, 1);
});
