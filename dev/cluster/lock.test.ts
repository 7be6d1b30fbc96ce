import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLock } from './lock.ts';

describe('state-dir lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evn-lock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs holders one after the other', async () => {
    const lock = join(dir, 'lock');
    const events: string[] = [];
    const job = (id: string) =>
      withLock(lock, { timeoutMs: 5_000 }, async () => {
        events.push(`${id} in`);
        await sleep(50);
        events.push(`${id} out`);
      });
    await Promise.all([job('a'), job('b')]);
    // Either may win the race; what matters is that they never overlap.
    const first = events[0]?.split(' ')[0];
    const second = first === 'a' ? 'b' : 'a';
    assert.deepEqual(events, [`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
  });

  it('takes over a lock whose holder is gone', async () => {
    const lock = join(dir, 'stale');
    await writeFile(lock, '999999999\n');
    assert.equal(await withLock(lock, { timeoutMs: 1_000 }, async () => 'got it'), 'got it');
  });

  it('gives up after the timeout while a live process holds it', async () => {
    const lock = join(dir, 'held');
    await writeFile(lock, `${process.pid}\n`);
    await assert.rejects(
      withLock(lock, { timeoutMs: 300 }, async () => 'never'),
      (e: Error) => (e as { code?: string }).code === 'EVN_TIMEOUT',
    );
  });
});
