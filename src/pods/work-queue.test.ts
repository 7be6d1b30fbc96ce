import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './work-queue.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { systemClock } from '../util/clock.ts';

const tick = () => new Promise((r) => setImmediate(r));

test('a key added many times is handled once', async () => {
  const q = new WorkQueue({ clock: systemClock, concurrency: 2 });
  const seen: string[] = [];
  const ac = new AbortController();
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('a');
  const running = q.run(async (k) => {
    seen.push(k);
  }, ac.signal);
  await tick();
  await tick();
  ac.abort();
  await running;
  assert.deepEqual(seen.sort(), ['a', 'b']);
});

test('a key re-added while in progress runs again afterwards, never concurrently', async () => {
  const q = new WorkQueue({ clock: systemClock, concurrency: 4 });
  const ac = new AbortController();
  let inFlight = 0;
  let maxInFlight = 0;
  let runs = 0;
  let release: () => void = () => undefined;
  const running = q.run(async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
    inFlight--;
  }, ac.signal);
  q.add('k');
  await tick();
  q.add('k');
  q.add('k');
  await tick();
  release();
  for (let i = 0; i < 5; i++) await tick();
  ac.abort();
  await running;
  assert.equal(runs, 2);
  assert.equal(maxInFlight, 1);
});

test('retries back off exponentially per key and forget resets it', async () => {
  const clock = new FakeClock();
  // The jitter draw pinned just below 1: each delay is its ceiling.
  const q = new WorkQueue({
    clock,
    concurrency: 1,
    retryBaseMs: 1000,
    retryMaxMs: 5000,
    random: () => 0.9999,
  });
  assert.deepEqual([q.retry('x'), q.retry('x'), q.retry('x'), q.retry('x')], [999, 1999, 3999, 4999]);
  q.forget('x');
  assert.equal(q.retry('x'), 999);
  assert.equal(q.length, 0);
  await clock.advance(999);
  assert.equal(q.length, 1);
});

test('retry delays are drawn over the whole window (full jitter), so keys that failed together spread', () => {
  const draws = [0, 0.5, 0.25];
  const q = new WorkQueue({
    clock: new FakeClock(),
    concurrency: 1,
    retryBaseMs: 1000,
    retryMaxMs: 60_000,
    random: () => draws.shift() ?? 0,
  });
  assert.deepEqual([q.retry('a'), q.retry('a'), q.retry('a')], [0, 1000, 1000]);
  const spread = new WorkQueue({ clock: new FakeClock(), concurrency: 1, retryBaseMs: 1000 });
  const delays = new Set(Array.from({ length: 50 }, (_, i) => spread.retry(`k${i}`)));
  assert.ok(delays.size > 10, `50 keys failing at once come back at ${delays.size} different times`);
});

test('idle workers do not pile up abort listeners on the run signal', async () => {
  const q = new WorkQueue({ clock: systemClock, concurrency: 2 });
  const ac = new AbortController();
  const running = q.run(async () => undefined, ac.signal);
  for (let i = 0; i < 2000; i++) {
    q.add(`k${i}`);
    await tick();
  }
  // Two idle workers wait, each with one listener; nothing else may hold on to the signal.
  assert.ok(
    getEventListeners(ac.signal, 'abort').length <= 2,
    `${getEventListeners(ac.signal, 'abort').length} listeners`,
  );
  ac.abort();
  await running;
});

test('an urgent key is handled before the ones waiting, even if it was already queued', async () => {
  const q = new WorkQueue({ clock: systemClock, concurrency: 1 });
  const seen: string[] = [];
  const ac = new AbortController();
  for (const k of ['a', 'b', 'c']) q.add(k);
  q.add('c', true);
  q.add('d', true);
  const running = q.run(async (k) => {
    seen.push(k);
  }, ac.signal);
  for (let i = 0; i < 6; i++) await tick();
  ac.abort();
  await running;
  assert.deepEqual(seen, ['d', 'c', 'a', 'b']);
});
