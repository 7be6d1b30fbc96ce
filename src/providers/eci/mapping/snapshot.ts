import {
  DescribeContainerGroupStatusResponseBodyData,
  type DescribeContainerGroupsResponseBodyContainerGroups,
} from '@alicloud/eci20180808';

/**
 * Any status outside ECI_GROUP_STATUSES is carried as is and treated as unknown, so a status ECI adds
 * later degrades instead of crashing.
 */
export { ECI_GROUP_STATUSES, type EciGroupStatus } from '../../../eci-api/statuses.ts';

export type ContainerStateSnapshot =
  | { readonly kind: 'waiting'; readonly reason?: string; readonly message?: string }
  | { readonly kind: 'running'; readonly startedAt?: Date }
  | {
      readonly kind: 'terminated';
      readonly exitCode: number;
      readonly signal?: number;
      readonly reason?: string;
      readonly message?: string;
      readonly startedAt?: Date;
      readonly finishedAt?: Date;
    };

export interface ContainerSnapshot {
  readonly name: string;
  readonly image?: string;
  readonly imageID?: string;
  /** ECI's readiness verdict; undefined when the source shape has none. */
  readonly ready?: boolean;
  readonly started?: boolean;
  readonly restartCount: number;
  readonly state?: ContainerStateSnapshot;
  readonly lastState?: ContainerStateSnapshot;
}

export interface GroupEvent {
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly count?: number;
  readonly firstTimestamp?: string;
  readonly lastTimestamp?: string;
  readonly name?: string;
}

/**
 * The one shape the status mapping reads, produced from either ECI answer: the full
 * DescribeContainerGroups group or the lighter DescribeContainerGroupStatus item (which already speaks
 * Kubernetes' vocabulary). Fields a source lacks are undefined, never guessed.
 */
export interface GroupSnapshot {
  readonly containerGroupId: string;
  readonly status: string;
  readonly podIP?: string;
  readonly podIPs: readonly string[];
  readonly hostIP?: string;
  readonly creationTime?: Date;
  readonly startTime?: Date;
  readonly succeededTime?: Date;
  readonly failedTime?: Date;
  readonly expiredTime?: Date;
  readonly containers: readonly ContainerSnapshot[];
  readonly initContainers: readonly ContainerSnapshot[];
  readonly events: readonly GroupEvent[];
}

/** RFC 3339 text (or a Date) as a Date; undefined for anything unparseable or empty. */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v !== 'string' || v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

interface EciContainerState {
  state?: string;
  detailStatus?: string;
  reason?: string;
  message?: string;
  exitCode?: number;
  signal?: number;
  startTime?: string;
  finishTime?: string;
}

/** DescribeContainerGroups' CurrentState/PreviousState (State: Waiting | Running | Terminated). */
function fromEciState(s: EciContainerState | undefined): ContainerStateSnapshot | undefined {
  if (!s?.state) return undefined;
  switch (s.state) {
    case 'Running':
      return { kind: 'running', startedAt: toDate(s.startTime) };
    case 'Terminated':
      return {
        kind: 'terminated',
        exitCode: s.exitCode ?? 0,
        signal: s.signal || undefined,
        reason: s.reason || undefined,
        message: s.message || s.detailStatus || undefined,
        startedAt: toDate(s.startTime),
        finishedAt: toDate(s.finishTime),
      };
    default:
      return {
        kind: 'waiting',
        reason: s.reason || s.detailStatus || undefined,
        message: s.message || undefined,
      };
  }
}

interface K8sLikeState {
  running?: { startedAtstartedAt?: string; startedAt?: string };
  terminated?: {
    exitCode?: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
  };
  waiting?: { reason?: string; message?: string };
}

/**
 * DescribeContainerGroupStatus' Kubernetes-style state. The SDK names the running start time
 * `startedAtstartedAt` (a generator slip for `StartedAt`); both spellings are read, so the fix
 * upstream or a raw response still works.
 */
function fromK8sLikeState(s: K8sLikeState | undefined): ContainerStateSnapshot | undefined {
  if (!s) return undefined;
  if (s.terminated) {
    const t = s.terminated;
    return {
      kind: 'terminated',
      exitCode: t.exitCode ?? 0,
      signal: t.signal || undefined,
      reason: t.reason || undefined,
      message: t.message || undefined,
      startedAt: toDate(t.startedAt),
      finishedAt: toDate(t.finishedAt),
    };
  }
  if (s.running)
    return { kind: 'running', startedAt: toDate(s.running.startedAtstartedAt ?? s.running.startedAt) };
  if (s.waiting)
    return {
      kind: 'waiting',
      reason: s.waiting.reason || undefined,
      message: s.waiting.message || undefined,
    };
  return undefined;
}

export function snapshotFromDescribe(g: DescribeContainerGroupsResponseBodyContainerGroups): GroupSnapshot {
  const container = (c: {
    name?: string;
    image?: string;
    ready?: boolean;
    restartCount?: number;
    currentState?: EciContainerState;
    previousState?: EciContainerState;
  }): ContainerSnapshot => {
    const state = fromEciState(c.currentState);
    return {
      name: c.name ?? '',
      image: c.image,
      ready: c.ready,
      started: state ? state.kind === 'running' : undefined,
      restartCount: c.restartCount ?? 0,
      state,
      lastState: fromEciState(c.previousState),
    };
  };
  const ips = [g.intranetIp, g.ipv6Address].filter((x): x is string => Boolean(x));
  return {
    containerGroupId: g.containerGroupId ?? '',
    status: g.status ?? '',
    podIP: g.intranetIp || undefined,
    podIPs: ips,
    creationTime: toDate(g.creationTime),
    succeededTime: toDate(g.succeededTime),
    failedTime: toDate(g.failedTime),
    expiredTime: toDate(g.expiredTime),
    containers: (g.containers ?? []).map(container),
    initContainers: (g.initContainers ?? []).map(container),
    events: (g.events ?? []).map((e) => ({ ...e })),
  };
}

export function snapshotFromStatus(d: DescribeContainerGroupStatusResponseBodyData): GroupSnapshot {
  const ps = d.podStatus;
  const containers = (ps?.containerStatuses ?? []).map((c): ContainerSnapshot => ({
    name: c.name ?? '',
    image: c.image,
    imageID: c.imageID || undefined,
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount ?? 0,
    state: fromK8sLikeState(c.state as K8sLikeState | undefined),
    lastState: fromK8sLikeState(c.lastState as K8sLikeState | undefined),
  }));
  const ips = (ps?.podIps ?? []).map((p) => p.ip).filter((x): x is string => Boolean(x));
  return {
    containerGroupId: d.containerGroupId ?? '',
    status: d.status ?? '',
    podIP: ps?.podIp || ips[0],
    podIPs: ips.length > 0 ? ips : ps?.podIp ? [ps.podIp] : [],
    hostIP: ps?.hostIp || undefined,
    startTime: toDate(ps?.startTime),
    containers,
    // The status shape reports no init containers; their state is implied by the group's.
    initContainers: [],
    events: [],
  };
}

/** Either ECI answer as a GroupSnapshot; a snapshot passes through. */
export function toSnapshot(
  g:
    | DescribeContainerGroupsResponseBodyContainerGroups
    | DescribeContainerGroupStatusResponseBodyData
    | GroupSnapshot,
): GroupSnapshot {
  if ('podIPs' in g && Array.isArray(g.podIPs)) return g as GroupSnapshot;
  // Plain objects (a test, a cache) carry no class; the status shape is the one with podStatus/uuid.
  if (g instanceof DescribeContainerGroupStatusResponseBodyData || 'podStatus' in g || 'uuid' in g) {
    return snapshotFromStatus(g as DescribeContainerGroupStatusResponseBodyData);
  }
  return snapshotFromDescribe(g as DescribeContainerGroupsResponseBodyContainerGroups);
}
