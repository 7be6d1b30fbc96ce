import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeContainerGroupsResponseBodyContainerGroups as Group } from '@alicloud/eci20180808';
import { RESTART_PENDING_TAG, restartDecision, type RestartInput } from './restarts.ts';

function group(status: string, waiting?: string, tags: { key: string; value: string }[] = []): Group {
  return new Group({
    containerGroupId: 'eci-1',
    status,
    tags,
    containers: [
      { name: 'app', currentState: waiting ? { state: 'Waiting', reason: waiting } : { state: 'Running' } },
    ],
  });
}

const base = (g: Group, over: Partial<RestartInput> = {}): RestartInput => ({
  group: g,
  restartPolicy: 'Always',
  now: 100_000,
  graceMs: 30_000,
  minIntervalMs: 300_000,
  ...over,
});

test('a pending restart tag restarts a Running or Pending group, adopted or not', () => {
  const tag = [{ key: RESTART_PENDING_TAG, value: 'abc' }];
  assert.equal(restartDecision(base(group('Running', undefined, tag))).kind, 'restart');
  assert.equal(restartDecision(base(group('Pending', undefined, tag))).kind, 'restart');
  assert.equal(restartDecision(base(group('Updating', undefined, tag))).kind, 'none', 'not restartable now');
  assert.equal(restartDecision(base(group('Running'))).kind, 'none');
});

test('a stuck container waits out its grace period, then restarts, at most once per interval', () => {
  const g = group('Running', 'RunContainerError');
  assert.deepEqual(restartDecision(base(g)), { kind: 'wait', at: 130_000 }, 'first seen now');
  assert.deepEqual(restartDecision(base(g, { stuckSince: 80_000 })), { kind: 'wait', at: 110_000 });
  const d = restartDecision(base(g, { stuckSince: 60_000 }));
  assert.equal(d.kind, 'restart');
  if (d.kind === 'restart') assert.match(d.why, /container app .* RunContainerError for 40 s/);
  assert.deepEqual(restartDecision(base(g, { stuckSince: 0, lastRestartAt: 0 })), {
    kind: 'wait',
    at: 300_000,
  });
});

test('no restart for Never, for waits ECI retries itself, or for groups not running', () => {
  assert.equal(
    restartDecision(base(group('Running', 'RunContainerError'), { restartPolicy: 'Never' })).kind,
    'none',
  );
  assert.equal(restartDecision(base(group('Running', 'ImagePullBackOff'), { stuckSince: 0 })).kind, 'none');
  assert.equal(
    restartDecision(base(group('Succeeded', 'RunContainerError'), { stuckSince: 0 })).kind,
    'none',
  );
});
