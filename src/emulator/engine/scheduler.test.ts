import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.ts';

test('after the clock jumps forward, a key scheduled behind an armed far-off entry still comes due', async () => {
  let offset = 0;
  const now = () => Date.now() + offset;
  const due: string[] = [];
  const s = new Scheduler(now, (key) => due.push(key));
  // Armed for an hour from now; then cancelled (its heap entry stays, as in the emulator).
  s.schedule('far', now() + 3_600_000);
  s.cancel('far');
  // The emulated clock moves two hours: the armed due time is past, but its timer counts real time.
  offset += 7_200_000;
  s.clockMoved();
  s.schedule('soon', now() + 20);
  await new Promise((r) => setTimeout(r, 200));
  s.stop();
  assert.deepEqual(due, ['soon']);
});
