import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advance,
  enterStatus,
  type LifecycleSettings,
  observeExited,
  observeLost,
  observeReady,
  observeStarted,
  observeWaiting,
} from './lifecycle.ts';
import type { GroupRecord, GroupSpec } from './model.ts';
import { container, emulatorGroup } from '../../../test/support/emulator-records.ts';

/** The lifecycle when a runtime observes runs instead of planning them (the process runtime). */

const settings: LifecycleSettings = {
  stages: [
    { from: 'Scheduling', to: 'Pending', delayMs: 20, events: [] },
    { from: 'Pending', to: 'Running', delayMs: 200, events: [] },
    { from: 'Terminating', to: 'Deleted', delayMs: 50, events: [] },
  ],
  restartBackoffMs: { initial: 1000, max: 4000 },
  minRunMs: 200,
  defaultRunSeconds: 1,
  maxEventsPerGroup: 50,
  imagePullMs: 0,
  observed: true,
};

/** A group the runtime has brought up at `at`. */
function running(spec: Partial<GroupSpec> = {}, at = 100): GroupRecord {
  const g = emulatorGroup(spec);
  advance(g, 20, settings);
  enterStatus(g, 'Running', at, settings);
  for (const c of g.spec.containers) observeStarted(g, c.name, at, settings);
  return g;
}

describe('observed lifecycle', () => {
  it('times Scheduling only: Pending waits for the runtime, whatever the stage table says', () => {
    const g = emulatorGroup();
    const r = advance(g, 10_000, settings);
    assert.equal(g.status, 'Pending');
    assert.equal(r.nextAt, undefined, 'nothing timed after Pending');
    assert.ok(!g.events.some((e) => e.reason === 'Pulled'), 'no image is pulled on paper');
  });

  it('a started container is Running, and ready unless a readiness probe says otherwise', () => {
    const g = running({
      containers: [container(), container({ name: 'probed', readinessProbe: { exec: ['true'] } })],
    });
    assert.equal(g.status, 'Running');
    assert.deepEqual(
      g.containers.map((c) => [c.state, c.ready, c.startTime]),
      [
        ['Running', true, 100],
        ['Running', false, 100],
      ],
    );
    observeReady(g, 'probed', true, 150);
    assert.equal(g.containers[1]?.ready, true);
    assert.equal(g.changedAt, 150);
  });

  it('an exit applies the restart policy with back-off; the restart waits for the runtime', () => {
    const g = running();
    observeExited(g, 'c', { exitCode: 3, at: 500 }, settings);
    const c = g.containers[0]!;
    assert.deepEqual([c.state, c.exitCode, c.reason, c.restartAt], ['Terminated', 3, 'Error', 1500]);
    assert.ok(g.events.some((e) => e.reason === 'BackOff'));
    advance(g, 1500, settings);
    assert.deepEqual(
      [c.state, c.reason, c.restartCount, c.previous?.exitCode],
      ['Waiting', 'ContainerCreating', 1, 3],
    );
    observeStarted(g, 'c', 1600, settings);
    assert.deepEqual([c.state, c.startTime, c.restartCount], ['Running', 1600, 1]);
  });

  it('OOMKilled is reported with an event; Never settles the group Failed', () => {
    const g = running({ restartPolicy: 'Never' });
    observeExited(g, 'c', { exitCode: 137, reason: 'OOMKilled', signal: 9, at: 300 }, settings);
    assert.equal(g.status, 'Failed');
    assert.deepEqual([g.containers[0]?.reason, g.containers[0]?.exitCode], ['OOMKilled', 137]);
    assert.ok(g.events.some((e) => e.reason === 'OOMKilled' && e.message === 'Out of memory'));
  });

  it('a failed init container fails the group under Never, and waits for a retry otherwise', () => {
    for (const [policy, status] of [
      ['Never', 'Failed'],
      ['OnFailure', 'Pending'],
    ] as const) {
      const g = emulatorGroup({ restartPolicy: policy, initContainers: [container({ name: 'init' })] });
      advance(g, 20, settings);
      observeStarted(g, 'init', 30, settings);
      observeExited(g, 'init', { exitCode: 1, at: 40 }, settings);
      assert.equal(g.status, status, policy);
      if (policy === 'OnFailure') {
        observeStarted(g, 'init', 2000, settings);
        assert.equal(g.initContainers[0]?.restartCount, 1, 'a rerun init container counts a restart');
      } else {
        assert.equal(g.statusReason, 'InitContainerFailed');
      }
    }
  });

  it('a container whose process is lost (the emulator restarted) starts again, one restart more, with an event', () => {
    const g = running();
    observeLost(g, 'c', 900, settings);
    const c = g.containers[0]!;
    assert.deepEqual(
      [c.state, c.restartCount, c.previous?.reason, c.previous?.finishTime],
      ['Waiting', 1, 'Unknown', 900],
    );
    assert.ok(g.events.some((e) => e.reason === 'EmulatorRestarted' && e.message.includes('c')));
  });

  it('a container that cannot start says why, once per change', () => {
    const g = emulatorGroup();
    advance(g, 20, settings);
    observeWaiting(g, 'c', 'ErrImagePull', 'no such image', 50);
    observeWaiting(g, 'c', 'ErrImagePull', 'no such image', 60);
    assert.deepEqual(
      [g.containers[0]?.reason, g.containers[0]?.message, g.changedAt],
      ['ErrImagePull', 'no such image', 50],
    );
  });

  it('an exit of a run the record no longer has is ignored', () => {
    const g = running();
    enterStatus(g, 'Terminating', 300, settings);
    const before = JSON.stringify(g);
    observeExited(g, 'c', { exitCode: 0, at: 310 }, settings);
    assert.equal(JSON.stringify(g), before);
  });
});
