import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, references } from './expand.ts';

test('$(VAR) expansion follows the kubelet', () => {
  const vars: Record<string, string> = { A: 'x', B: 'y' };
  const look = (n: string) => vars[n];
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['$(A)', 'x'],
    ['$(A)-$(B)', 'x-y'],
    ['$$(A)', '$(A)'],
    ['$(MISSING)', '$(MISSING)'],
    ['$(A', '$(A'],
    ['$A', '$A'],
    ['a$', 'a$'],
    ['$()', '$()'],
  ];
  for (const [input, want] of cases) assert.equal(expand(input, look), want, input);
  assert.deepEqual(references('$(A)/$$(B)/$(C)'), ['A', 'C']);
});
