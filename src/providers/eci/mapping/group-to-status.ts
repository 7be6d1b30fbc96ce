import type {
  DescribeContainerGroupsResponseBodyContainerGroups,
  DescribeContainerGroupStatusResponseBodyData,
} from '@alicloud/eci20180808';
import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';
import { lastWarning } from './events.ts';
import { containerIdFor } from './names.ts';
import { parseQuantity } from './quantity.ts';
import {
  toDate,
  toSnapshot,
  type ContainerSnapshot,
  type ContainerStateSnapshot,
  type GroupSnapshot,
} from './snapshot.ts';

export type GroupInput =
  | DescribeContainerGroupsResponseBodyContainerGroups
  | DescribeContainerGroupStatusResponseBodyData
  | GroupSnapshot;

export interface StatusOptions {
  /** The virtual node's InternalIP, reported as hostIP; without it the pod's own IP stands in. */
  readonly hostIP?: string;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

const TERMINAL: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);

/** Pod-level reasons this mapping sets, for callers and tests to match on. */
export const POD_REASONS = {
  SCHEDULE_FAILED: 'ScheduleFailed',
  EXPIRED: 'Expired',
  DEADLINE_EXCEEDED: 'DeadlineExceeded',
} as const;

/**
 * ECI group status → pod phase:
 * Pending, Scheduling → Pending; Running → Running; Succeeded → Succeeded; Failed → Failed;
 * ScheduleFailed → Failed (ECI will not retry; the pod's owner can create a replacement);
 * Expired → Failed; Restarting, Updating → stay Running (Pending if never started);
 * Terminating and unknown statuses → keep the previous phase.
 * A pod that reached Succeeded or Failed never leaves it: Kubernetes phases are terminal.
 */
export function phaseFor(status: string, previous: string | undefined): PodPhase {
  if (previous === 'Succeeded' || previous === 'Failed') return previous;
  switch (status) {
    case 'Pending':
    case 'Scheduling':
      return 'Pending';
    case 'Running':
      return 'Running';
    case 'Succeeded':
      return 'Succeeded';
    case 'Failed':
    case 'ScheduleFailed':
    case 'Expired':
      return 'Failed';
    case 'Restarting':
    case 'Updating':
      return previous === 'Pending' || previous === undefined ? 'Pending' : 'Running';
    default:
      return previous === 'Running' ? 'Running' : 'Pending';
  }
}

function podReason(
  pod: V1Pod,
  g: GroupSnapshot,
  startTime: Date,
  now: Date,
): { reason?: string; message?: string } {
  const warning = lastWarning(g.events)?.message;
  switch (g.status) {
    case 'ScheduleFailed':
      return {
        reason: POD_REASONS.SCHEDULE_FAILED,
        message:
          warning ||
          'ECI could not create the instance (no stock in the chosen zones, or invalid parameters)',
      };
    case 'Expired':
      return {
        reason: POD_REASONS.EXPIRED,
        message:
          warning || `The ECI instance expired${g.expiredTime ? ` at ${g.expiredTime.toISOString()}` : ''}`,
      };
    case 'Failed': {
      const deadline = pod.spec?.activeDeadlineSeconds;
      const end = g.failedTime ?? now;
      if (deadline !== undefined && end.getTime() - startTime.getTime() >= deadline * 1000) {
        return {
          reason: POD_REASONS.DEADLINE_EXCEEDED,
          message: 'Pod was active on the node longer than the specified deadline',
        };
      }
      return warning ? { message: warning } : {};
    }
    default:
      return {};
  }
}

function k8sState(s: ContainerStateSnapshot, containerID: string): V1ContainerState {
  switch (s.kind) {
    case 'waiting':
      return {
        waiting: { reason: s.reason ?? 'ContainerCreating', ...(s.message ? { message: s.message } : {}) },
      };
    case 'running':
      return { running: s.startedAt ? { startedAt: s.startedAt } : {} };
    case 'terminated':
      return {
        terminated: {
          exitCode: s.exitCode,
          reason: s.reason ?? (s.exitCode === 0 ? 'Completed' : 'Error'),
          containerID,
          ...(s.signal ? { signal: s.signal } : {}),
          ...(s.message ? { message: s.message } : {}),
          ...(s.startedAt ? { startedAt: s.startedAt } : {}),
          ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
        },
      };
  }
}

const UNKNOWN_ON_TERMINATION: ContainerStateSnapshot = {
  kind: 'terminated',
  exitCode: 137,
  reason: 'ContainerStatusUnknown',
  message: 'The container could not be located when the pod was terminated',
};

/**
 * One container's status. `fallback` is the state to report when ECI says nothing about the container.
 * Raw watch objects carry dates as strings; previous statuses are read through toDate for that reason.
 */
function containerStatus(
  c: V1Container,
  snap: ContainerSnapshot | undefined,
  prev: V1ContainerStatus | undefined,
  fallback: ContainerStateSnapshot,
  groupId: string,
  phase: PodPhase,
  isInit: boolean,
): V1ContainerStatus {
  const state = snap?.state ?? fallback;
  const id = containerIdFor(groupId, c.name);
  const running = state.kind === 'running';
  const ready = isInit
    ? state.kind === 'terminated' && state.exitCode === 0
    : phase === 'Running' && running && (snap?.ready ?? !c.readinessProbe);
  const lastState: V1ContainerState | undefined = snap?.lastState
    ? k8sState(snap.lastState, id)
    : prev?.lastState && Object.keys(prev.lastState).length > 0
      ? normalizeState(prev.lastState)
      : undefined;
  const hasRun = state.kind !== 'waiting' || lastState !== undefined;
  const image = snap?.image || c.image || '';
  const imageID = snap?.imageID ?? (prev?.image === image ? prev?.imageID : undefined) ?? '';
  return {
    name: c.name,
    state: k8sState(state, id),
    lastState: lastState ?? {},
    ready,
    started: isInit ? false : running && (snap?.started ?? true),
    restartCount: snap?.restartCount ?? prev?.restartCount ?? 0,
    image,
    imageID,
    ...(hasRun ? { containerID: id } : {}),
  };
}

/** Previous status read back from a raw watch object: its timestamps may be strings. */
function normalizeState(s: V1ContainerState): V1ContainerState {
  if (s.terminated) {
    const t = s.terminated;
    return {
      terminated: {
        ...t,
        ...(t.startedAt ? { startedAt: toDate(t.startedAt) } : {}),
        ...(t.finishedAt ? { finishedAt: toDate(t.finishedAt) } : {}),
      },
    };
  }
  if (s.running) return { running: s.running.startedAt ? { startedAt: toDate(s.running.startedAt) } : {} };
  return s;
}

function condition(
  type: string,
  ok: boolean,
  prev: readonly V1PodCondition[],
  now: Date,
  reason?: string,
  message?: string,
): V1PodCondition {
  const status = ok ? 'True' : 'False';
  const before = prev.find((c) => c.type === type);
  const kept = before?.status === status ? toDate(before.lastTransitionTime) : undefined;
  return {
    type,
    status,
    lastTransitionTime: kept ?? now,
    ...(ok || !reason ? {} : { reason }),
    ...(ok || !message ? {} : { message }),
  };
}

/** Kubernetes QoS class from the spec, for pods whose status does not carry one yet. */
export function qosClass(pod: V1Pod): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let any = false;
  let guaranteed = all.length > 0;
  for (const c of all) {
    const l = c.resources?.limits ?? {};
    const r = c.resources?.requests ?? {};
    for (const res of ['cpu', 'memory']) {
      const lim = parseQuantity(l[res]);
      const req = parseQuantity(r[res]) ?? lim;
      if (lim !== undefined || req !== undefined) any = true;
      if (lim === undefined || req === undefined || lim !== req) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/**
 * The pod status a container group implies. Pure: it reads the pod (spec and previous status) and the
 * group, and `now` only stamps conditions that change. Conditions whose status holds keep their
 * lastTransitionTime; conditions this mapping does not own (readiness gates, DisruptionTarget, ...)
 * are carried over untouched.
 */
export function groupToPodStatus(
  pod: V1Pod,
  group: GroupInput,
  now: Date,
  opts: StatusOptions = {},
): V1PodStatus {
  const g = toSnapshot(group);
  const prev = pod.status ?? {};
  const prevConditions = prev.conditions ?? [];
  const phase = phaseFor(g.status, prev.phase);
  const terminal = TERMINAL.has(phase);
  const startTime = toDate(prev.startTime) ?? g.startTime ?? g.creationTime ?? now;

  const initSpecs = pod.spec?.initContainers ?? [];
  const appSpecs = pod.spec?.containers ?? [];
  const byName = (list: readonly ContainerSnapshot[], name: string) => list.find((x) => x.name === name);
  const prevInit = (name: string) => prev.initContainerStatuses?.find((x) => x.name === name);
  const prevApp = (name: string) => prev.containerStatuses?.find((x) => x.name === name);

  // The status shape reports no init containers: once an app container has started (or the group
  // has finished) they must have completed.
  const appStarted = g.containers.some((c) => c.state && c.state.kind !== 'waiting');
  const initsInferredDone = appStarted || g.status === 'Running' || g.status === 'Succeeded';
  const initStatuses = initSpecs.map((c) => {
    const snap = byName(g.initContainers, c.name);
    const p = prevInit(c.name);
    let fallback: ContainerStateSnapshot;
    if (initsInferredDone) fallback = { kind: 'terminated', exitCode: 0, reason: 'Completed' };
    else if (terminal) fallback = p?.state?.terminated ? prevTerminated(p) : UNKNOWN_ON_TERMINATION;
    else fallback = { kind: 'waiting', reason: 'PodInitializing' };
    return containerStatus(c, snap, p, fallback, g.containerGroupId, phase, true);
  });
  const initDone = initStatuses.every((s) => s.state?.terminated?.exitCode === 0);

  const appStatuses = appSpecs.map((c) => {
    const p = prevApp(c.name);
    let fallback: ContainerStateSnapshot;
    if (terminal) fallback = p?.state?.terminated ? prevTerminated(p) : UNKNOWN_ON_TERMINATION;
    else fallback = { kind: 'waiting', reason: initDone ? 'ContainerCreating' : 'PodInitializing' };
    return containerStatus(c, byName(g.containers, c.name), p, fallback, g.containerGroupId, phase, false);
  });

  const notInit = initStatuses.filter((s) => s.state?.terminated?.exitCode !== 0).map((s) => s.name);
  const unready = appStatuses.filter((s) => !s.ready).map((s) => s.name);
  const containersReady = !terminal && unready.length === 0 && appStatuses.length > 0;
  const gates = (pod.spec?.readinessGates ?? []).map((r) => r.conditionType);
  const unmetGates = gates.filter((t) => prevConditions.find((c) => c.type === t)?.status !== 'True');
  const readyReason =
    phase === 'Succeeded'
      ? 'PodCompleted'
      : unready.length > 0 || terminal
        ? 'ContainersNotReady'
        : 'ReadinessGatesNotReady';
  const readyMessage =
    readyReason === 'ReadinessGatesNotReady'
      ? `the status of pod readiness gate ${unmetGates.map((t) => `"${t}"`).join(', ')} is not "True"`
      : `containers with unready status: [${unready.join(' ')}]`;
  const podIP = g.podIP ?? prev.podIP;
  const sandboxUp = Boolean(g.podIP) || appStarted;

  const owned = new Set([
    'PodReadyToStartContainers',
    'Initialized',
    'Ready',
    'ContainersReady',
    'PodScheduled',
  ]);
  const conditions: V1PodCondition[] = [
    condition('PodReadyToStartContainers', sandboxUp && !(terminal && !g.podIP), prevConditions, now),
    condition(
      'Initialized',
      initDone,
      prevConditions,
      now,
      'ContainersNotInitialized',
      `containers with incomplete status: [${notInit.join(' ')}]`,
    ),
    condition(
      'Ready',
      containersReady && unmetGates.length === 0,
      prevConditions,
      now,
      readyReason,
      readyMessage,
    ),
    condition(
      'ContainersReady',
      containersReady,
      prevConditions,
      now,
      phase === 'Succeeded' ? 'PodCompleted' : 'ContainersNotReady',
      `containers with unready status: [${unready.join(' ')}]`,
    ),
    condition(
      'PodScheduled',
      g.status !== 'ScheduleFailed',
      prevConditions,
      now,
      'ScheduleFailed',
      'ECI could not place the instance',
    ),
    ...prevConditions.filter((c) => !owned.has(c.type)),
  ];

  const hostIP = opts.hostIP ?? g.hostIP ?? podIP;
  const { reason, message } = TERMINAL.has(prev.phase ?? '')
    ? { reason: prev.reason, message: prev.message }
    : podReason(pod, g, startTime, now);
  const podIPs = g.podIPs.length > 0 ? g.podIPs.map((ip) => ({ ip })) : prev.podIPs;
  const status: V1PodStatus = {
    phase,
    conditions,
    startTime,
    qosClass: prev.qosClass ?? qosClass(pod),
    ...(podIP ? { podIP } : {}),
    ...(podIPs && podIPs.length > 0 ? { podIPs } : {}),
    ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }] } : {}),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: appStatuses,
    ...(pod.metadata?.generation !== undefined ? { observedGeneration: pod.metadata.generation } : {}),
  };
  return status;
}

function prevTerminated(p: V1ContainerStatus): ContainerStateSnapshot {
  const t = p.state?.terminated;
  return {
    kind: 'terminated',
    exitCode: t?.exitCode ?? 137,
    ...(t?.signal ? { signal: t.signal } : {}),
    ...(t?.reason ? { reason: t.reason } : {}),
    ...(t?.message ? { message: t.message } : {}),
    ...(t?.startedAt ? { startedAt: toDate(t.startedAt) } : {}),
    ...(t?.finishedAt ? { finishedAt: toDate(t.finishedAt) } : {}),
  };
}
