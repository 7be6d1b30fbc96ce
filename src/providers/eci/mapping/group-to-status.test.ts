import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeContainerGroupsResponseBodyContainerGroups,
  DescribeContainerGroupStatusResponseBodyData,
} from '@alicloud/eci20180808';
import type { V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import { container, pod } from '../../../../test/support/eci-mapping-fixtures.ts';
import { groupToPodStatus, phaseFor, POD_REASONS, qosClass } from './group-to-status.ts';
import { ECI_GROUP_STATUSES } from './snapshot.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- ECI groups are built from plain data */

const NOW = new Date('2025-01-01T00:10:00Z');
const T0 = '2025-01-01T00:00:00Z';
const T1 = '2025-01-01T00:01:00Z';
const T2 = '2025-01-01T00:05:00Z';

function group(over: Record<string, any> = {}): DescribeContainerGroupsResponseBodyContainerGroups {
  return new DescribeContainerGroupsResponseBodyContainerGroups({
    containerGroupId: 'eci-1',
    status: 'Running',
    intranetIp: '172.16.0.8',
    creationTime: T0,
    containers: [
      {
        name: 'app',
        image: 'nginx:1.27',
        ready: true,
        restartCount: 0,
        currentState: { state: 'Running', startTime: T1 },
      },
    ],
    ...over,
  });
}

const cond = (s: V1PodStatus, type: string): V1PodCondition | undefined =>
  s.conditions?.find((c) => c.type === type);

const basePod = pod({ containers: [container()] });

test('every ECI group status maps to a pod phase', () => {
  const want: Record<string, string> = {
    Pending: 'Pending',
    Scheduling: 'Pending',
    Running: 'Running',
    Succeeded: 'Succeeded',
    Failed: 'Failed',
    Restarting: 'Running',
    Updating: 'Running',
    Terminating: 'Running',
    Expired: 'Failed',
    ScheduleFailed: 'Failed',
  };
  assert.deepEqual(Object.keys(want).sort(), [...ECI_GROUP_STATUSES].sort());
  for (const s of ECI_GROUP_STATUSES) assert.equal(phaseFor(s, 'Running'), want[s], s);
  assert.equal(phaseFor('Restarting', undefined), 'Pending', 'never started: still pending');
  assert.equal(phaseFor('Terminating', 'Pending'), 'Pending');
  assert.equal(phaseFor('SomethingNew', 'Running'), 'Running', 'unknown status keeps the phase');
  assert.equal(phaseFor('Running', 'Succeeded'), 'Succeeded', 'terminal phases never change');
  assert.equal(phaseFor('Pending', 'Failed'), 'Failed');
});

test('a running group: IPs, start time, container state, conditions', () => {
  const s = groupToPodStatus(basePod, group(), NOW, { hostIP: '10.0.0.5' });
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '172.16.0.8');
  assert.deepEqual(s.podIPs, [{ ip: '172.16.0.8' }]);
  assert.equal(s.hostIP, '10.0.0.5');
  assert.deepEqual(s.hostIPs, [{ ip: '10.0.0.5' }]);
  assert.deepEqual(s.startTime, new Date(T0));
  assert.equal(s.qosClass, 'BestEffort');
  const cs = s.containerStatuses?.[0];
  assert.deepEqual(cs, {
    name: 'app',
    state: { running: { startedAt: new Date(T1) } },
    lastState: {},
    ready: true,
    started: true,
    restartCount: 0,
    image: 'nginx:1.27',
    imageID: '',
    containerID: 'eci://eci-1/app',
  });
  for (const t of ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) {
    assert.equal(cond(s, t)?.status, 'True', t);
    assert.deepEqual(cond(s, t)?.lastTransitionTime, NOW, t);
  }
  assert.equal(
    groupToPodStatus(basePod, group(), NOW).hostIP,
    '172.16.0.8',
    'no node IP: the pod IP stands in',
  );
});

test('pending and scheduling groups: waiting containers, not ready', () => {
  for (const status of ['Pending', 'Scheduling']) {
    const s = groupToPodStatus(basePod, group({ status, intranetIp: undefined, containers: [] }), NOW);
    assert.equal(s.phase, 'Pending', status);
    assert.deepEqual(s.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(s.containerStatuses?.[0]?.ready, false);
    assert.equal(s.containerStatuses?.[0]?.containerID, undefined, 'no container yet, no ID');
    assert.equal(cond(s, 'Ready')?.status, 'False');
    assert.equal(cond(s, 'Ready')?.reason, 'ContainersNotReady');
    assert.equal(cond(s, 'PodReadyToStartContainers')?.status, 'False');
    assert.equal(s.podIP, undefined);
  }
  const pulling = groupToPodStatus(
    basePod,
    group({
      status: 'Pending',
      containers: [
        {
          name: 'app',
          currentState: { state: 'Waiting', reason: 'ErrImagePull', message: 'pull access denied' },
        },
      ],
    }),
    NOW,
  );
  assert.deepEqual(pulling.containerStatuses?.[0]?.state, {
    waiting: { reason: 'ErrImagePull', message: 'pull access denied' },
  });
});

test('succeeded and failed groups: terminated containers and reasons', () => {
  const done = groupToPodStatus(
    basePod,
    group({
      status: 'Succeeded',
      succeededTime: T2,
      containers: [
        {
          name: 'app',
          currentState: {
            state: 'Terminated',
            exitCode: 0,
            reason: 'Completed',
            startTime: T1,
            finishTime: T2,
          },
        },
      ],
    }),
    NOW,
  );
  assert.equal(done.phase, 'Succeeded');
  assert.deepEqual(done.containerStatuses?.[0]?.state, {
    terminated: {
      exitCode: 0,
      reason: 'Completed',
      containerID: 'eci://eci-1/app',
      startedAt: new Date(T1),
      finishedAt: new Date(T2),
    },
  });
  assert.equal(cond(done, 'Ready')?.reason, 'PodCompleted');
  assert.equal(cond(done, 'ContainersReady')?.reason, 'PodCompleted');

  const failed = groupToPodStatus(
    basePod,
    group({
      status: 'Failed',
      failedTime: T2,
      containers: [
        {
          name: 'app',
          currentState: {
            state: 'Terminated',
            exitCode: 137,
            signal: 9,
            reason: 'OOMKilled',
            startTime: T1,
            finishTime: T2,
          },
        },
      ],
      events: [
        { type: 'Warning', reason: 'OOM', message: 'container app was OOM killed', lastTimestamp: T2 },
      ],
    }),
    NOW,
  );
  assert.equal(failed.phase, 'Failed');
  assert.equal(failed.message, 'container app was OOM killed');
  assert.equal(failed.reason, undefined);
  assert.equal(failed.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled');
  assert.equal(failed.containerStatuses?.[0]?.state?.terminated?.signal, 9);
  const noReason = groupToPodStatus(
    basePod,
    group({
      status: 'Failed',
      containers: [{ name: 'app', currentState: { state: 'Terminated', exitCode: 2 } }],
    }),
    NOW,
  );
  assert.equal(noReason.containerStatuses?.[0]?.state?.terminated?.reason, 'Error');
});

test('ScheduleFailed, Expired and deadline failures carry a pod reason and message', () => {
  const sf = groupToPodStatus(
    basePod,
    group({
      status: 'ScheduleFailed',
      intranetIp: undefined,
      containers: [],
      events: [
        {
          type: 'Warning',
          reason: 'ScheduleFailed',
          message: 'NoStock: zone cn-hangzhou-h sold out',
          lastTimestamp: T1,
        },
      ],
    }),
    NOW,
  );
  assert.equal(sf.phase, 'Failed');
  assert.equal(sf.reason, POD_REASONS.SCHEDULE_FAILED);
  assert.equal(sf.message, 'NoStock: zone cn-hangzhou-h sold out');
  assert.equal(cond(sf, 'PodScheduled')?.status, 'False');
  assert.equal(sf.containerStatuses?.[0]?.state?.terminated?.reason, 'ContainerStatusUnknown');

  const ex = groupToPodStatus(basePod, group({ status: 'Expired', expiredTime: T2 }), NOW);
  assert.equal(ex.phase, 'Failed');
  assert.equal(ex.reason, POD_REASONS.EXPIRED);
  assert.match(ex.message ?? '', /expired at 2025-01-01T00:05:00.000Z/);

  const deadlined = groupToPodStatus(
    pod({ activeDeadlineSeconds: 60, containers: [container()] }),
    group({ status: 'Failed', failedTime: T2 }),
    NOW,
  );
  assert.equal(deadlined.reason, POD_REASONS.DEADLINE_EXCEEDED);
});

test('restarting, updating and terminating keep the pod running but not ready', () => {
  const prev: V1Pod = { ...basePod, status: { phase: 'Running' } };
  for (const status of ['Restarting', 'Updating', 'Terminating']) {
    const s = groupToPodStatus(
      prev,
      group({
        status,
        containers: [
          {
            name: 'app',
            ready: false,
            restartCount: 2,
            currentState: { state: 'Waiting', reason: 'CrashLoopBackOff' },
            previousState: {
              state: 'Terminated',
              exitCode: 1,
              reason: 'Error',
              startTime: T0,
              finishTime: T1,
            },
          },
        ],
      }),
      NOW,
    );
    assert.equal(s.phase, 'Running', status);
    const c = s.containerStatuses?.[0];
    assert.equal(c?.ready, false);
    assert.equal(c?.restartCount, 2);
    assert.deepEqual(c?.state, { waiting: { reason: 'CrashLoopBackOff' } });
    assert.equal(c?.lastState?.terminated?.exitCode, 1);
    assert.equal(c?.containerID, 'eci://eci-1/app', 'a restarted container keeps its ID');
  }
});

test('readiness: probe verdict from ECI, readiness gates, and transitions keep their time', () => {
  const probed = pod({ containers: [container({ readinessProbe: { tcpSocket: { port: 80 } } })] });
  const notReady = groupToPodStatus(
    probed,
    group({ containers: [{ name: 'app', ready: false, currentState: { state: 'Running', startTime: T1 } }] }),
    NOW,
  );
  assert.equal(cond(notReady, 'Ready')?.status, 'False');
  assert.equal(cond(notReady, 'Ready')?.message, 'containers with unready status: [app]');
  assert.equal(cond(notReady, 'Initialized')?.status, 'True');

  const earlier = new Date('2025-01-01T00:02:00Z');
  const prevPod: V1Pod = {
    ...basePod,
    spec: { ...basePod.spec!, readinessGates: [{ conditionType: 'example.com/lb' }] },
    status: {
      phase: 'Running',
      startTime: new Date(T0),
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: earlier },
        { type: 'ContainersReady', status: 'False', lastTransitionTime: earlier },
        { type: 'example.com/lb', status: 'False', lastTransitionTime: earlier },
        // A raw watch object carries its time as a string.
        {
          type: 'PodScheduled',
          status: 'True',
          lastTransitionTime: '2024-12-31T23:59:00Z' as unknown as Date,
        },
      ],
    },
  };
  const s = groupToPodStatus(prevPod, group(), NOW);
  assert.deepEqual(cond(s, 'Initialized')?.lastTransitionTime, earlier, 'unchanged: time kept');
  assert.deepEqual(cond(s, 'ContainersReady')?.lastTransitionTime, NOW, 'flipped: now');
  assert.deepEqual(cond(s, 'PodScheduled')?.lastTransitionTime, new Date('2024-12-31T23:59:00Z'));
  assert.equal(cond(s, 'Ready')?.status, 'False', 'gate not met');
  assert.equal(cond(s, 'Ready')?.reason, 'ReadinessGatesNotReady');
  assert.deepEqual(
    cond(s, 'example.com/lb'),
    { type: 'example.com/lb', status: 'False', lastTransitionTime: earlier },
    'foreign conditions kept',
  );
  assert.deepEqual(s.startTime, new Date(T0));
});

test('init containers: reported, inferred, and holding the app back', () => {
  const withInit = pod({ initContainers: [container({ name: 'init' })], containers: [container()] });
  const running = groupToPodStatus(
    withInit,
    group({
      status: 'Pending',
      initContainers: [{ name: 'init', currentState: { state: 'Running', startTime: T1 } }],
      containers: [{ name: 'app', currentState: { state: 'Waiting' } }],
    }),
    NOW,
  );
  assert.equal(cond(running, 'Initialized')?.status, 'False');
  assert.equal(cond(running, 'Initialized')?.message, 'containers with incomplete status: [init]');
  assert.deepEqual(running.initContainerStatuses?.[0]?.state, { running: { startedAt: new Date(T1) } });
  assert.equal(running.initContainerStatuses?.[0]?.started, false);
  assert.deepEqual(running.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });

  const unreported = groupToPodStatus(
    withInit,
    group({ status: 'Pending', intranetIp: undefined, containers: [] }),
    NOW,
  );
  assert.deepEqual(unreported.initContainerStatuses?.[0]?.state, { waiting: { reason: 'PodInitializing' } });
  assert.deepEqual(unreported.containerStatuses?.[0]?.state, { waiting: { reason: 'PodInitializing' } });

  const inferred = groupToPodStatus(withInit, group(), NOW);
  assert.equal(
    inferred.initContainerStatuses?.[0]?.state?.terminated?.exitCode,
    0,
    'app running: init completed',
  );
  assert.equal(inferred.initContainerStatuses?.[0]?.ready, true);
  assert.equal(cond(inferred, 'Initialized')?.status, 'True');
});

test('the DescribeContainerGroupStatus shape maps the same way', () => {
  const data = new DescribeContainerGroupStatusResponseBodyData({
    containerGroupId: 'eci-2',
    status: 'Running',
    podStatus: {
      phase: 'Running',
      podIp: '172.16.0.9',
      podIps: [{ ip: '172.16.0.9' }],
      hostIp: '192.168.1.1',
      startTime: T0,
      containerStatuses: [
        {
          name: 'app',
          image: 'nginx:1.27',
          imageID: 'sha256:abc',
          ready: true,
          started: true,
          restartCount: 1,
          state: { running: { startedAtstartedAt: T1 } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: T1 } },
        },
      ],
    },
  });
  const s = groupToPodStatus(basePod, data, NOW);
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '172.16.0.9');
  assert.equal(s.hostIP, '192.168.1.1', 'without a node IP, ECI host IP');
  assert.deepEqual(s.startTime, new Date(T0));
  const c = s.containerStatuses?.[0];
  assert.deepEqual(c?.state, { running: { startedAt: new Date(T1) } });
  assert.equal(c?.imageID, 'sha256:abc');
  assert.equal(c?.restartCount, 1);
  assert.equal(c?.lastState?.terminated?.reason, 'Error');
  assert.equal(cond(s, 'Ready')?.status, 'True');
  // A raw (not SDK-cast) response spells it StartedAt.
  const raw = {
    containerGroupId: 'eci-3',
    status: 'Running',
    podStatus: {
      podIp: '1.2.3.4',
      containerStatuses: [{ name: 'app', ready: true, state: { running: { startedAt: T1 } } }],
    },
  };
  assert.deepEqual(groupToPodStatus(basePod, raw as any, NOW).containerStatuses?.[0]?.state, {
    running: { startedAt: new Date(T1) },
  });
});

test('a container ECI does not report on a finished pod is unknown, unless it had terminated before', () => {
  const two = pod({ containers: [container(), container({ name: 'gone' })] });
  const prev: V1Pod = {
    ...two,
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'gone',
          ready: false,
          restartCount: 0,
          image: 'x',
          imageID: '',
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
        },
      ],
    },
  };
  const s = groupToPodStatus(
    prev,
    group({
      status: 'Succeeded',
      containers: [{ name: 'app', currentState: { state: 'Terminated', exitCode: 0 } }],
    }),
    NOW,
  );
  assert.equal(s.containerStatuses?.[1]?.state?.terminated?.reason, 'Completed');
  const s2 = groupToPodStatus(two, group({ status: 'Failed', containers: [] }), NOW);
  assert.equal(s2.containerStatuses?.[1]?.state?.terminated?.reason, 'ContainerStatusUnknown');
  assert.equal(s2.containerStatuses?.[1]?.state?.terminated?.exitCode, 137);
});

test('a terminal pod keeps its phase, reason and message whatever ECI says next', () => {
  const prev: V1Pod = {
    ...basePod,
    status: { phase: 'Failed', reason: 'ScheduleFailed', message: 'NoStock' },
  };
  const s = groupToPodStatus(prev, group({ status: 'Running' }), NOW);
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, 'ScheduleFailed');
  assert.equal(s.message, 'NoStock');
});

test('qosClass from the spec', () => {
  assert.equal(qosClass(pod()), 'BestEffort');
  assert.equal(
    qosClass(pod({ containers: [container({ resources: { limits: { cpu: '1', memory: '1Gi' } } })] })),
    'Guaranteed',
  );
  assert.equal(
    qosClass(pod({ containers: [container({ resources: { requests: { cpu: '1' } } })] })),
    'Burstable',
  );
  const kept = groupToPodStatus({ ...basePod, status: { qosClass: 'Guaranteed' } }, group(), NOW);
  assert.equal(kept.qosClass, 'Guaranteed', 'the API server set it; keep it');
});

test('the image ECI runs is reported, so an in-place update shows when it lands', () => {
  const updated = pod({ containers: [container({ image: 'nginx:1.28' })] });
  const s = groupToPodStatus(updated, group(), NOW);
  assert.equal(s.containerStatuses?.[0]?.image, 'nginx:1.27');
});
