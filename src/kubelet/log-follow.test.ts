import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { START_CURSOR, stampMillis } from '../providers/log-cursor.ts';
import type { LogLine } from '../providers/provider.ts';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { LogFollowHub, type FollowSource } from './log-follow.ts';

const log = pino({ level: 'silent' });

/** A container whose log grows as the test writes; reads answer "since" at millisecond grain. */
class FakeLog implements FollowSource {
  readonly lines: LogLine[] = [];
  reads = 0;
  running = true;
  readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  write(text: string): void {
    const t = new Date(this.clock.now()).toISOString().replace('Z', '000000Z');
    this.lines.push({ time: t, text });
  }
  async read(since: number): Promise<LogLine[]> {
    this.reads++;
    return this.lines.filter((l) => stampMillis(l.time) >= since);
  }
  live(): boolean {
    return this.running;
  }
}

function collector() {
  const got: string[] = [];
  let ended: string | undefined;
  return {
    got,
    get ended() {
      return ended;
    },
    sink: {
      lines: (ls: readonly LogLine[]) => got.push(...ls.map((l) => l.text)),
      end: (r: string) => (ended = r),
    },
  };
}

test('followers of one container share one poller and see every new line once, in order', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const hub = new LogFollowHub({ clock, log, callsPerMinute: 300 });
  const src = new FakeLog(clock);
  const a = collector();
  const b = collector();
  hub.follow('g/c/0', src, START_CURSOR, a.sink);
  hub.follow('g/c/0', src, START_CURSOR, b.sink);
  assert.equal(hub.pollers, 1);
  for (let i = 0; i < 20; i++) {
    // Several lines in the same millisecond, as a busy process writes them.
    src.write(`line ${i}a`);
    src.write(`line ${i}b`);
    await clock.advance(300);
  }
  await clock.advance(1000);
  const want = Array.from({ length: 20 }, (_, i) => [`line ${i}a`, `line ${i}b`]).flat();
  assert.deepEqual(a.got, want);
  assert.deepEqual(b.got, want);
});

test('a follower that joins late gets what it has not seen, from the poller’s memory', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const hub = new LogFollowHub({ clock, log, callsPerMinute: 300 });
  const src = new FakeLog(clock);
  const early = collector();
  hub.follow('k', src, START_CURSOR, early.sink);
  src.write('one');
  await clock.advance(600);
  src.write('two');
  await clock.advance(600);
  // The late follower read the log itself up to "one" (its first, one-shot answer).
  const late = collector();
  hub.follow('k', src, { time: src.lines[0]!.time, atTime: 1 }, late.sink);
  src.write('three');
  await clock.advance(600);
  assert.deepEqual(early.got, ['one', 'two', 'three']);
  assert.deepEqual(late.got, ['two', 'three']);
});

test('100 followers of 10 containers make 10 pollers, and the calls stay inside the budget', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const hub = new LogFollowHub({ clock, log, callsPerMinute: 300 });
  const sources = Array.from({ length: 10 }, () => new FakeLog(clock));
  for (let f = 0; f < 100; f++) hub.follow(`c${f % 10}`, sources[f % 10]!, START_CURSOR, collector().sink);
  assert.equal(hub.pollers, 10);
  assert.equal(hub.intervalMs(), 2000, '10 pollers share 300 calls a minute');
  await clock.advance(60_000);
  const calls = sources.reduce((a, s) => a + s.reads, 0);
  assert.ok(calls <= 300, `${calls} calls in a minute`);
  assert.ok(calls >= 290, `${calls} calls in a minute: the budget is used, not wasted`);
});

test('when the container stops, the last lines are delivered and then every follower ends', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const hub = new LogFollowHub({ clock, log, callsPerMinute: 300 });
  const src = new FakeLog(clock);
  const c = collector();
  hub.follow('k', src, START_CURSOR, c.sink);
  src.write('last words');
  src.running = false;
  await clock.advance(600);
  assert.deepEqual(c.got, ['last words']);
  assert.equal(c.ended, 'the container is not running');
  assert.equal(hub.pollers, 0);
});

test('the poller stops when its last follower leaves', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const hub = new LogFollowHub({ clock, log, callsPerMinute: 300 });
  const src = new FakeLog(clock);
  const stop = hub.follow('k', src, START_CURSOR, collector().sink);
  await clock.advance(600);
  stop();
  assert.equal(hub.pollers, 0);
  const reads = src.reads;
  await clock.advance(5000);
  assert.equal(src.reads, reads);
});
