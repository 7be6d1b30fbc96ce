import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceilTo, parseQuantity } from './quantity.ts';

test('quantities parse to base units', () => {
  const cases: [string | number | undefined, number | undefined][] = [
    ['250m', 0.25],
    ['1', 1],
    ['1.5', 1.5],
    ['2Gi', 2 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1G', 1e9],
    ['1e3', 1000],
    ['100k', 1e5],
    ['.5', 0.5],
    [3, 3],
    [undefined, undefined],
    ['abc', undefined],
    ['1Xi', undefined],
  ];
  for (const [q, want] of cases) assert.equal(parseQuantity(q), want, String(q));
});

test('ceilTo rounds up without float noise', () => {
  assert.equal(ceilTo(0.1 + 0.2, 1), 0.3);
  assert.equal(ceilTo(0.0976562, 3), 0.098);
  assert.equal(ceilTo(2, 3), 2);
});
