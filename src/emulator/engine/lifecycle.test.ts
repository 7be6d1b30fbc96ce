import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupStatus } from '../config.ts';
import { advance, driveExit, driveReady, enterStatus, type LifecycleSettings } from './lifecycle.ts';
import type { GroupRecord, GroupSpec } from './model.ts';
import { container, emulatorGroup } from '../../../test/support/emulator-records.ts';

const settings: LifecycleSettings = {
  stages: [
    {
      from: 'Scheduling',
      to: 'Pending',
      delayMs: 100,
      events: [{ type: 'Normal', reason: 'Scheduled', message: 'to {zone}' }],
    },
    { from: 'Pending', to: 'Running', delayMs: 200, events: [] },
    { from: 'Restarting', to: 'Pending', delayMs: 100, events: [] },
    { from: 'Updating', to: 'Pending', delayMs: 100, events: [] },
    { from: 'Terminating', to: 'Deleted', delayMs: 50, events: [] },
  ],
  restartBackoffMs: { initial: 1000, max: 4000 },
  minRunMs: 200,
  defaultRunSeconds: 1,
  maxEventsPerGroup: 50,
  imagePullMs: 0,
};

interface Expect {
  status: GroupStatus | 'Deleted';
  reason?: string;
  containers?: {
    state: string;
    exitCode?: number;
    restartCount?: number;
    ready?: boolean;
    reason?: string;
  }[];
  nextAt?: number | null;
}

interface Case {
  name: string;
  spec?: Partial<GroupSpec>;
  /** Things done to the record at a time, before advancing to it. */
  act?: Record<number, (g: GroupRecord, at: number) => void>;
  steps: [number, Expect][];
}

const cases: Case[] = [
  {
    name: 'a long-running container: Scheduling → Pending → Running, ready',
    steps: [
      [50, { status: 'Scheduling', nextAt: 100 }],
      [
        100,
        { status: 'Pending', containers: [{ state: 'Waiting', reason: 'ContainerCreating' }], nextAt: 300 },
      ],
      [
        300,
        { status: 'Running', containers: [{ state: 'Running', ready: true, restartCount: 0 }], nextAt: null },
      ],
      [99_999, { status: 'Running', nextAt: null }],
    ],
  },
  {
    name: 'sh -c "exit 3" with Never fails the group after the minimum run',
    spec: { restartPolicy: 'Never', containers: [container({ command: ['sh', '-c', 'exit 3'] })] },
    steps: [
      [300, { status: 'Running', containers: [{ state: 'Running' }], nextAt: 500 }],
      [
        500,
        {
          status: 'Failed',
          containers: [{ state: 'Terminated', exitCode: 3, reason: 'Error', ready: false }],
          nextAt: null,
        },
      ],
    ],
  },
  {
    name: '["true"] with OnFailure succeeds',
    spec: { restartPolicy: 'OnFailure', containers: [container({ command: ['true'] })] },
    steps: [
      [500, { status: 'Succeeded', containers: [{ state: 'Terminated', exitCode: 0, reason: 'Completed' }] }],
    ],
  },
  {
    name: 'Always restarts a finished container with doubling back-off',
    spec: { containers: [container({ command: ['true'] })] },
    steps: [
      [
        500,
        {
          status: 'Running',
          containers: [{ state: 'Terminated', exitCode: 0, restartCount: 0 }],
          nextAt: 1500,
        },
      ],
      [1500, { status: 'Running', containers: [{ state: 'Running', restartCount: 1 }], nextAt: 1700 }],
      [1700, { status: 'Running', containers: [{ state: 'Terminated', restartCount: 1 }], nextAt: 3700 }],
      [3700, { status: 'Running', containers: [{ state: 'Running', restartCount: 2 }] }],
    ],
  },
  {
    name: 'OnFailure restarts a failing container (env convention)',
    spec: {
      restartPolicy: 'OnFailure',
      containers: [
        container({
          env: [
            { key: 'ECI_EMULATOR_EXIT_CODE', value: '2' },
            { key: 'ECI_EMULATOR_RUN_SECONDS', value: '1' },
          ],
        }),
      ],
    },
    steps: [
      [1300, { status: 'Running', containers: [{ state: 'Terminated', exitCode: 2 }], nextAt: 2300 }],
      [2300, { status: 'Running', containers: [{ state: 'Running', restartCount: 1 }] }],
    ],
  },
  {
    name: 'a group with two containers succeeds only when both have exited 0',
    spec: {
      restartPolicy: 'Never',
      containers: [
        container({ name: 'a', command: ['true'] }),
        container({ name: 'b', command: ['sleep', '2'] }),
      ],
    },
    steps: [
      [500, { status: 'Running', containers: [{ state: 'Terminated' }, { state: 'Running' }] }],
      [2300, { status: 'Succeeded', containers: [{ state: 'Terminated' }, { state: 'Terminated' }] }],
    ],
  },
  {
    name: 'readiness waits for the probe initial delay',
    spec: { containers: [container({ readinessProbe: { initialDelaySeconds: 2 } })] },
    steps: [
      [300, { status: 'Running', containers: [{ state: 'Running', ready: false }], nextAt: 2300 }],
      [2300, { status: 'Running', containers: [{ state: 'Running', ready: true }], nextAt: null }],
    ],
  },
  {
    name: 'ActiveDeadlineSeconds fails a running group',
    spec: { activeDeadlineSeconds: 1 },
    steps: [
      [
        1300,
        {
          status: 'Failed',
          reason: 'DeadlineExceeded',
          containers: [{ state: 'Terminated', reason: 'DeadlineExceeded' }],
        },
      ],
    ],
  },
  {
    name: 'a failing init container fails the group',
    spec: { initContainers: [container({ name: 'init', command: ['false'] })] },
    steps: [
      [100, { status: 'Pending', containers: [{ state: 'Waiting', reason: 'PodInitializing' }] }],
      [300, { status: 'Failed', reason: 'InitContainerFailed', containers: [{ state: 'Waiting' }] }],
    ],
  },
  {
    name: 'restart: Restarting → Pending → Running, restart count up',
    act: { 1000: (g, at) => enterStatus(g, 'Restarting', at, settings) },
    steps: [
      [1000, { status: 'Restarting', containers: [{ state: 'Terminated', ready: false }], nextAt: 1100 }],
      [1100, { status: 'Pending' }],
      [1300, { status: 'Running', containers: [{ state: 'Running', restartCount: 1, ready: true }] }],
    ],
  },
  {
    name: 'delete: Terminating → Deleted',
    act: { 1000: (g, at) => enterStatus(g, 'Terminating', at, settings) },
    steps: [
      [1000, { status: 'Terminating', nextAt: 1050 }],
      [1050, { status: 'Deleted' }],
    ],
  },
  {
    name: 'an exit driven on demand follows the restart policy',
    spec: { restartPolicy: 'Never' },
    act: { 1000: (g, at) => assert.equal(driveExit(g, 'c', 137, at, { reason: 'OOMKilled' }), 'ok') },
    steps: [
      [999, { status: 'Running' }],
      [1000, { status: 'Failed', containers: [{ state: 'Terminated', exitCode: 137, reason: 'OOMKilled' }] }],
    ],
  },
  {
    name: 'readiness forced on demand',
    act: { 1000: (g, at) => assert.equal(driveReady(g, 'c', false, at), 'ok') },
    steps: [
      [500, { status: 'Running', containers: [{ state: 'Running', ready: true }] }],
      [1000, { status: 'Running', containers: [{ state: 'Running', ready: false }] }],
    ],
  },
  {
    name: 'catching up after downtime applies each step at the time it fell due',
    spec: { restartPolicy: 'Never', containers: [container({ command: ['sleep', '1'] })] },
    steps: [[60_000, { status: 'Succeeded', containers: [{ state: 'Terminated', exitCode: 0 }] }]],
  },
];

describe('lifecycle table', () => {
  for (const c of cases) {
    it(c.name, () => {
      const g = emulatorGroup(c.spec);
      let deleted = false;
      const pending = Object.entries(c.act ?? {})
        .map(([t, fn]) => ({ t: Number(t), fn }))
        .sort((a, b) => a.t - b.t);
      for (const [at, want] of c.steps) {
        while (pending[0] !== undefined && pending[0].t <= at) {
          const { t, fn } = pending.shift()!;
          advance(g, t, settings);
          fn(g, t);
        }
        const r = advance(g, at, settings);
        deleted ||= r.deleted;
        const status: string = deleted ? 'Deleted' : g.status;
        assert.equal(status, want.status, `status at ${at}`);
        if (want.reason !== undefined) assert.equal(g.statusReason, want.reason, `reason at ${at}`);
        if (want.nextAt !== undefined) assert.equal(r.nextAt ?? null, want.nextAt, `nextAt at ${at}`);
        for (const [i, wc] of (want.containers ?? []).entries()) {
          const got = g.containers[i]!;
          for (const [k, v] of Object.entries(wc)) {
            assert.equal(got[k as keyof typeof got], v, `container ${i} ${k} at ${at}`);
          }
        }
      }
    });
  }

  it('records Kubernetes-style events, folding repeats', () => {
    const g = emulatorGroup({ containers: [container({ command: ['true'] })] });
    advance(g, 10_000, settings);
    const reasons = g.events.map((e) => e.reason);
    for (const r of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started'])
      assert.ok(reasons.includes(r), r);
    const started = g.events.find((e) => e.reason === 'Started')!;
    assert.ok(started.count > 1, 'restarts fold into one Started event with a count');
    assert.equal(g.events.find((e) => e.reason === 'Scheduled')!.message, 'to z');
  });
});
