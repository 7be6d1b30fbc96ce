import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';

test('a full bucket serves its burst at once, then one token per 1/rate seconds', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ rate: 10, burst: 3, clock });
  for (let i = 0; i < 3; i++) await bucket.take();
  const done: number[] = [];
  const waits = [bucket.take().then(() => done.push(1)), bucket.take().then(() => done.push(2))];
  // Let the first waiter reach its sleep before time moves.
  await new Promise((r) => setImmediate(r));
  await clock.advance(50);
  assert.deepEqual(done, []);
  await clock.advance(50);
  assert.deepEqual(done, [1]);
  await clock.advance(100);
  await Promise.all(waits);
  assert.deepEqual(done, [1, 2]);
  assert.deepEqual(clock.sleeps, [100, 100]);
});

test('tryTake never waits and refills with time', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ rate: 1, burst: 1, clock });
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.tryTake(), false);
  await clock.advance(1000);
  assert.equal(bucket.tryTake(), true);
});

test('an aborted waiter rejects and does not hold up the next one', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ rate: 1, burst: 1, clock });
  await bucket.take();
  const ac = new AbortController();
  const first = bucket.take(ac.signal);
  ac.abort(new Error('gave up'));
  await assert.rejects(first, /gave up/);
  const second = bucket.take();
  await clock.advance(1000);
  await second;
});

test('rejects a bucket that could never serve', () => {
  assert.throws(() => new TokenBucket({ rate: 0, burst: 1 }), RangeError);
});

test('msUntilAvailable says how long a caller would wait, without taking', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ rate: 2, burst: 1, clock });
  assert.equal(bucket.msUntilAvailable(), 0);
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.msUntilAvailable(), 500);
  await clock.advance(200);
  assert.equal(bucket.msUntilAvailable(), 300);
  await clock.advance(300);
  assert.equal(bucket.msUntilAvailable(), 0);
  assert.equal(bucket.tryTake(), true);
});
