// The status feed's change detection on a fake clock against an in-memory ECI: what it describes,
// what it skips, and when it looks again. (status-feed.test.ts covers it against the emulator.)
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { FakeEci } from '../../../test/support/fake-eci.ts';
import { settle, turns } from '../../../test/support/turns.ts';
import { GroupIndex } from './group-index.ts';
import { TAG_KEYS, type PodIdentity } from './mapping/index.ts';
import { StatusFeed } from './status-feed.ts';

const log = pino({ level: 'silent' });
const START = Date.parse('2026-01-01T00:00:00Z');
const scope = { clusterId: 'c1', nodeName: 'vk' };
const scopeTags = { [TAG_KEYS.CLUSTER_ID]: 'c1', [TAG_KEYS.NODE_NAME]: 'vk' };
const who = (podName: string, nodeName = 'vk'): PodIdentity => ({
  clusterId: 'c1',
  nodeName,
  namespace: 'shop',
  podName,
  podUid: `uid-${podName}`,
});

interface Harness {
  eci: FakeEci;
  clock: FakeClock;
  index: GroupIndex;
  feed: StatusFeed;
  /** onChange calls: `<pod> <status>` or `<pod> gone`. */
  changes: string[];
  /** DescribeContainerGroups calls by ID (the full list shows as `tags`). */
  describes: () => string[];
  run: () => void;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function harness(o: { intervalMs?: number; resyncMs?: number } = {}): Harness {
  const clock = new FakeClock(START);
  const eci = new FakeEci({ now: () => clock.now() });
  const index = new GroupIndex(scope);
  const changes: string[] = [];
  const feed = new StatusFeed({
    eci: eci.client,
    index,
    scopeTags,
    clock,
    log,
    intervalMs: o.intervalMs ?? 2000,
    resyncMs: o.resyncMs ?? 3_600_000,
    random: () => 0.5,
    onChange: (e, gone) => changes.push(`${e.identity.podName} ${gone ? 'gone' : e.group.status}`),
  });
  return {
    eci,
    clock,
    index,
    feed,
    changes,
    describes: () =>
      eci.log.filter((l) => l.startsWith('DescribeContainerGroups ')).map((l) => l.split(' ')[1]!),
    run: () => {
      const ac = new AbortController();
      const running = feed.run(ac.signal);
      stops.push(async () => {
        ac.abort();
        await running;
      });
    },
  };
}

/** One poll period: time moves on, and the poll it starts is let finish. */
async function poll(h: Harness, ms = 2000): Promise<void> {
  const polls = h.eci.calls.get('DescribeContainerGroupStatus') ?? 0;
  await h.clock.advance(ms);
  await settle('polled', () => (h.eci.calls.get('DescribeContainerGroupStatus') ?? 0) > polls);
  await turns();
}

describe('StatusFeed: full resync', () => {
  test("indexes this node's groups only and reports each new one once", async () => {
    const h = harness();
    const a = h.eci.seed(who('a'));
    h.eci.seed(who('b'), 'Pending');
    h.eci.seed(who('x', 'other-node'));
    await h.feed.resync();
    assert.equal(h.index.size, 2);
    assert.equal(h.index.get(a)?.identity.podUid, 'uid-a');
    assert.deepEqual(h.changes.sort(), ['a Running', 'b Pending']);
    await h.feed.resync();
    assert.equal(h.changes.length, 2, 'nothing changed, nothing reported');
    assert.equal(h.feed.lastSuccessAt, START);
  });

  test('reports a group that vanished as gone and drops it from the index', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'));
    await h.feed.resync();
    h.eci.vanish(a);
    await h.feed.resync();
    assert.deepEqual(h.changes, ['a Running', 'a gone']);
    assert.equal(h.index.get(a), undefined);
    assert.equal(h.index.forUid('uid-a').length, 0);
  });

  test('reports a status that changed between two resyncs, and only that one', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'), 'Pending');
    h.eci.seed(who('b'));
    await h.feed.resync();
    h.eci.setStatus(a, 'Running');
    h.changes.length = 0;
    await h.feed.resync();
    assert.deepEqual(h.changes, ['a Running']);
  });

  test('runs again every resyncMs while the change feed polls in between', async () => {
    const h = harness({ resyncMs: 10_000 });
    await h.feed.resync();
    h.run();
    for (let i = 0; i < 4; i++) await poll(h);
    assert.equal(h.describes().filter((d) => d === 'tags').length, 1, 'only the first full list so far');
    await h.clock.advance(2000);
    await settle('second full list at 10 s', () => h.describes().filter((d) => d === 'tags').length === 2);
  });
});

describe('StatusFeed: the change feed', () => {
  test('describes a changed group once: the same entry in the overlap of later polls costs nothing', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'), 'Pending');
    await h.feed.resync();
    h.run();
    h.eci.setStatus(a, 'Running');
    await poll(h);
    assert.deepEqual(h.describes(), ['tags', `ids=${a}`]);
    assert.equal(h.index.get(a)?.group.status, 'Running');
    assert.ok(h.changes.includes('a Running'));
    await poll(h);
    await poll(h);
    // The change is still inside the 7 s window of these polls, with the same signature.
    assert.deepEqual(h.describes(), ['tags', `ids=${a}`], 'no second describe for what was seen');
  });

  test('a new status of the same group is described again', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'), 'Pending');
    await h.feed.resync();
    h.run();
    h.eci.setStatus(a, 'Running');
    await poll(h);
    h.eci.setStatus(a, 'Succeeded');
    await poll(h);
    assert.deepEqual(h.describes(), ['tags', `ids=${a}`, `ids=${a}`]);
    assert.equal(h.index.get(a)?.group.status, 'Succeeded');
  });

  test('a change whose describe failed counts as unseen and is described at the next poll', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'), 'Pending');
    await h.feed.resync();
    h.run();
    h.eci.setStatus(a, 'Running');
    h.eci.failNext('DescribeContainerGroups', 'Throttling.User');
    await poll(h);
    assert.equal(h.index.get(a)?.group.status, 'Pending', 'the failed describe changed nothing');
    await poll(h);
    assert.equal(h.index.get(a)?.group.status, 'Running', 'picked up by the next poll, not the next resync');
    assert.deepEqual(h.describes(), ['tags', `ids=${a}`, `ids=${a}`]);
  });

  test('many changes are described 20 IDs per call, each ID once', async () => {
    const h = harness();
    const ids = Array.from({ length: 45 }, (_, i) => h.eci.seed(who(`p${i}`), 'Pending'));
    await h.feed.resync();
    h.run();
    for (const id of ids) h.eci.setStatus(id, 'Running');
    await poll(h);
    const batches = h
      .describes()
      .slice(1)
      .map((d) => d.slice('ids='.length).split(','));
    assert.deepEqual(
      batches.map((b) => b.length).sort((x, y) => x - y),
      [5, 20, 20],
    );
    assert.deepEqual(batches.flat().sort(), [...ids].sort());
    assert.ok([...h.index.all()].every((e) => e.group.status === 'Running'));
  });

  test('a failed poll widens the next window over the gap, so no change in it is missed', async () => {
    const h = harness();
    await h.feed.resync();
    h.run();
    await poll(h);
    h.eci.failNext('DescribeContainerGroupStatus');
    await poll(h);
    await poll(h);
    const windows = h.eci.log
      .filter((l) => l.startsWith('DescribeContainerGroupStatus'))
      .map((l) => l.split(' ')[1]);
    // 2 s since the last good poll plus 5 s of overlap; after the failure, 4 s plus 5.
    assert.deepEqual(windows, ['since=7', 'since=7', 'since=9']);
  });

  test('forget makes a group deleted by the provider count as unseen again', async () => {
    const h = harness();
    const a = h.eci.seed(who('a'), 'Pending');
    await h.feed.resync();
    h.run();
    h.eci.setStatus(a, 'Running');
    await poll(h);
    assert.equal(h.describes().length, 2);
    // The provider deleted the group (and dropped it from the index): an entry with the signature seen
    // before must not be skipped if the group is there after all.
    h.index.remove(a);
    h.feed.forget(a);
    await poll(h);
    assert.equal(h.describes().length, 3, 'described again after forget');
    assert.equal(h.index.get(a)?.group.status, 'Running');
  });

  test('lastSuccessAt follows the polls that worked, not the ones that failed', async () => {
    const h = harness();
    await h.feed.resync();
    h.run();
    await poll(h);
    assert.equal(h.feed.lastSuccessAt, START + 2000);
    h.eci.failNext('DescribeContainerGroupStatus');
    await poll(h);
    assert.equal(h.feed.lastSuccessAt, START + 2000, 'a failed poll is lag, not success');
  });
});
