import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusDiff } from './status-diff.ts';

test('the watch echo of a written status is no change', () => {
  const written = {
    phase: 'Running',
    startTime: new Date('2026-11-26T03:00:00.123Z'),
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date('2026-11-26T03:00:01.900Z') }],
  };
  const echoed = {
    conditions: [{ status: 'True', lastTransitionTime: '2026-11-26T03:00:01Z', type: 'Ready' }],
    startTime: '2026-11-26T03:00:00Z',
    phase: 'Running',
    qosClass: 'BestEffort',
  };
  assert.equal(statusDiff(echoed as never, written), null);
});

test('only changed fields are returned', () => {
  const d = statusDiff({ phase: 'Pending', podIP: '10.0.0.1' }, { phase: 'Running', podIP: '10.0.0.1' });
  assert.deepEqual(d, { phase: 'Running' });
});

test('a first status is all change', () => {
  assert.deepEqual(statusDiff(undefined, { phase: 'Pending' }), { phase: 'Pending' });
});
