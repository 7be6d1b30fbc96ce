import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../util/clock.ts';
import { hasCode, ErrorCodes } from '../../util/errors.ts';
import { autoDeadlineMs, sweepGroups, type SweepEci } from './sweep.ts';

/** ECI with `n` groups; a delete takes `ms` and the group is gone afterwards. Counts deletes in flight. */
function fleet(n: number, ms = 5) {
  const groups = new Set(Array.from({ length: n }, (_, i) => `eci-${i}`));
  const stats = { inFlight: 0, maxInFlight: 0, deletes: 0 };
  const eci: SweepEci = {
    describeContainerGroups: async () => [...groups].map((containerGroupId) => ({ containerGroupId })),
    deleteContainerGroup: async (id) => {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, ms));
      groups.delete(id);
      stats.deletes++;
      stats.inFlight--;
    },
  };
  return { eci, groups, stats };
}

test('deletes in parallel up to the concurrency, reports progress with an ETA, and waits for none left', async () => {
  const f = fleet(100);
  const said: string[] = [];
  const deleted: string[] = [];
  const n = await sweepGroups({
    eci: f.eci,
    tags: {},
    dryRun: false,
    clock: systemClock,
    say: (l) => said.push(l),
    concurrency: 8,
    onDeleted: (id) => deleted.push(id),
  });
  assert.equal(n, 100);
  assert.equal(f.groups.size, 0);
  assert.equal(f.stats.maxInFlight, 8, 'eight deletes in flight at once');
  assert.equal(deleted.length, 100);
  assert.match(said[0]!, /^ECI container groups: deleting 100 \(about 6s at 1000 deletes\/min\)$/);
  assert.match(said.at(-1)!, /^groups deleted: 100\/100 \(100%\), [\d.]+\/s, took \d+s$/);
});

test('--dry-run lists what would go and deletes nothing', async () => {
  const f = fleet(25);
  const said: string[] = [];
  assert.equal(
    await sweepGroups({ eci: f.eci, tags: {}, dryRun: true, clock: systemClock, say: (l) => said.push(l) }),
    25,
  );
  assert.equal(f.stats.deletes, 0);
  assert.match(said[0]!, /would delete 25/);
  assert.equal(said.at(-1), '  ... and 5 more');
});

test('interrupted: stops taking new deletes, says how far it got and that a rerun resumes', async () => {
  const f = fleet(50, 20);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(
    sweepGroups({
      eci: f.eci,
      tags: {},
      dryRun: false,
      clock: systemClock,
      say: () => undefined,
      concurrency: 2,
      signal: ac.signal,
    }),
    (err: unknown) =>
      /interrupted: \d+ of 50 ECI container groups deleted.*run cleanup again/.test(String(err)),
  );
  assert.ok(f.groups.size > 0 && f.groups.size < 50, `${f.groups.size} left for the next run`);
});

test('the deadline scales with the fleet: 5,000 groups at 1,000 deletes/min get more than 10 minutes', () => {
  assert.equal(autoDeadlineMs(10, 1000), 300_000);
  assert.equal(autoDeadlineMs(5000, 1000), 5 * 60_000 * 2 + 180_000);
});

test('a group that does not go within the deadline keeps the node, with a timeout error', async () => {
  const eci: SweepEci = {
    describeContainerGroups: async () => [{ containerGroupId: 'eci-stuck' }],
    deleteContainerGroup: async () => undefined,
  };
  await assert.rejects(
    sweepGroups({ eci, tags: {}, dryRun: false, clock: systemClock, say: () => undefined, timeoutMs: 10 }),
    (err: unknown) =>
      hasCode(err, ErrorCodes.TIMEOUT) && /still there after 0s; the node was kept/.test(String(err)),
  );
});
