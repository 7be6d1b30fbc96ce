import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './work-queue.ts';
import { FakeClock } from '../util/fake-clock.ts';
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
  const q = new WorkQueue({ clock, concurrency: 1, retryBaseMs: 1000, retryMaxMs: 5000 });
  assert.deepEqual([q.retry('x'), q.retry('x'), q.retry('x'), q.retry('x')], [1000, 2000, 4000, 5000]);
  q.forget('x');
  assert.equal(q.retry('x'), 1000);
  assert.equal(q.length, 0);
  await clock.advance(1000);
  assert.equal(q.length, 1);
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
