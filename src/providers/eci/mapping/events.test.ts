import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_MESSAGE_MAX, eventsSince, groupEventsToK8sEvents, lastWarning } from './events.ts';

const T0 = '2025-01-01T00:00:00Z';
const T1 = '2025-01-01T00:01:00Z';
const T2 = '2025-01-01T00:02:00Z';

test('ECI events become pod events, oldest first', () => {
  const out = groupEventsToK8sEvents([
    {
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      count: 3,
      firstTimestamp: T0,
      lastTimestamp: T2,
      name: 'app',
    },
    {
      type: 'Normal',
      reason: 'Pulled',
      message: 'Successfully pulled image',
      count: 1,
      firstTimestamp: T1,
      lastTimestamp: T1,
      name: 'app',
    },
  ]);
  assert.deepEqual(out, [
    {
      type: 'Normal',
      reason: 'Pulled',
      message: 'Successfully pulled image',
      count: 1,
      firstTimestamp: new Date(T1),
      lastTimestamp: new Date(T1),
      source: 'app',
      key: `Pulled|app|${T1}|Successfully pulled image`,
    },
    {
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      count: 3,
      firstTimestamp: new Date(T0),
      lastTimestamp: new Date(T2),
      source: 'app',
      key: `BackOff|app|${T0}|Back-off restarting failed container`,
    },
  ]);
});

test('odd events are normalised: unknown type, no reason, no count, long message, bad time', () => {
  const [e] = groupEventsToK8sEvents([
    { type: 'Info', message: 'x'.repeat(5000), firstTimestamp: 'not a time' },
  ]);
  assert.equal(e?.type, 'Normal');
  assert.equal(e?.reason, 'EciEvent');
  assert.equal(e?.count, 1);
  assert.equal(e?.message.length, EVENT_MESSAGE_MAX);
  assert.equal(e?.firstTimestamp, undefined);
  assert.deepEqual(groupEventsToK8sEvents(undefined), []);
});

test('the key survives re-aggregation; eventsSince finds what is new', () => {
  const before = groupEventsToK8sEvents([
    { type: 'Warning', reason: 'BackOff', message: 'm', count: 1, firstTimestamp: T0, lastTimestamp: T0 },
  ]);
  const after = groupEventsToK8sEvents([
    { type: 'Warning', reason: 'BackOff', message: 'm', count: 4, firstTimestamp: T0, lastTimestamp: T2 },
  ]);
  assert.equal(before[0]?.key, after[0]?.key);
  assert.equal(eventsSince(after, new Date(T1)).length, 1);
  assert.equal(eventsSince(before, new Date(T1)).length, 0);
  assert.equal(eventsSince(before, undefined).length, 1);
});

test('lastWarning picks the most recent warning', () => {
  const w = lastWarning([
    { type: 'Warning', reason: 'A', message: 'old', lastTimestamp: T0 },
    { type: 'Normal', reason: 'B', message: 'normal', lastTimestamp: T2 },
    { type: 'Warning', reason: 'C', message: 'new', lastTimestamp: T1 },
  ]);
  assert.equal(w?.message, 'new');
  assert.equal(lastWarning([]), undefined);
});
