import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, normalizeStamp, parseStampedLines, START_CURSOR } from './log-cursor.ts';

const T1 = '2025-01-01T00:00:01.000000000Z';
const T2 = '2025-01-01T00:00:02.000000000Z';
const T3 = '2025-01-01T00:00:03.000000000Z';
const l = (time: string, text: string) => ({ time, text });

test('each poll delivers only what is new, even when the answer overlaps the last one', () => {
  const first = advance(START_CURSOR, [l(T1, 'a'), l(T2, 'b')]);
  assert.deepEqual(
    first.fresh.map((x) => x.text),
    ['a', 'b'],
  );
  // The next answer starts at T2 again (inclusive, coarse "since").
  const second = advance(first.cursor, [l(T2, 'b'), l(T3, 'c')]);
  assert.deepEqual(
    second.fresh.map((x) => x.text),
    ['c'],
  );
  const third = advance(second.cursor, [l(T3, 'c')]);
  assert.deepEqual(third.fresh, []);
  assert.deepEqual(third.cursor, second.cursor);
});

test('lines sharing one timestamp are neither lost nor repeated', () => {
  const first = advance(START_CURSOR, [l(T1, 'x'), l(T1, 'x')]);
  assert.deepEqual(first.cursor, { time: T1, atTime: 2 });
  // A third identical line written in the same instant shows up in the next answer.
  const second = advance(first.cursor, [l(T1, 'x'), l(T1, 'x'), l(T1, 'x'), l(T2, 'y')]);
  assert.deepEqual(
    second.fresh.map((x) => x.text),
    ['x', 'y'],
  );
  assert.deepEqual(second.cursor, { time: T2, atTime: 1 });
});

test('older lines in an answer are skipped', () => {
  const r = advance({ time: T2, atTime: 1 }, [l(T1, 'old'), l(T2, 'seen'), l(T3, 'new')]);
  assert.deepEqual(
    r.fresh.map((x) => x.text),
    ['new'],
  );
});

const stamps: [string, string | undefined][] = [
  ['2025-03-04T05:06:07Z', '2025-03-04T05:06:07.000000000Z'],
  ['2025-03-04T05:06:07.5Z', '2025-03-04T05:06:07.500000000Z'],
  ['2025-03-04T05:06:07.123456789Z', '2025-03-04T05:06:07.123456789Z'],
  ['2025-03-04T05:06:07.123000000Z', '2025-03-04T05:06:07.123000000Z'],
  ['2025-03-04T13:06:07.25+08:00', '2025-03-04T05:06:07.250000000Z'],
  ['yesterday', undefined],
  ['2025-03-04 05:06:07Z', undefined],
];
for (const [input, want] of stamps) {
  test(`normalizeStamp(${input})`, () => assert.equal(normalizeStamp(input), want));
}

test('stamped lines split into time and text; text keeps its own spaces; unstamped lines stay whole', () => {
  assert.deepEqual(parseStampedLines('2025-03-04T05:06:07.1Z hello  world\nno stamp here\n'), [
    { time: '2025-03-04T05:06:07.100000000Z', text: 'hello  world' },
    { time: '', text: 'no stamp here' },
  ]);
  assert.deepEqual(parseStampedLines(''), []);
});
