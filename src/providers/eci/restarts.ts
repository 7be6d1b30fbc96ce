import type { DescribeContainerGroupsResponseBodyContainerGroups as Group } from '@alicloud/eci20180808';

/**
 * When RestartContainerGroup is the remedy, decided from what a group reports (pure, clock passed in):
 *
 * - An in-place update ECI applies only at the next start. Kubernetes treats a changed init container
 *   image as a pod restart; ECI takes the new init containers into the group's spec without running
 *   them. The controller tags the group `restart-pending` in the same UpdateContainerGroup call, then
 *   restarts it and drops the tag: a controller that stops in between finds the tag on the group it
 *   adopts and finishes the job.
 * - A container stuck in a state ECI does not retry (RunContainerError, CreateContainerError, ...)
 *   while the pod's restart policy says it should run: after a grace period (ECI may still recover
 *   it), the group is restarted, at most once per `minIntervalMs`.
 */

export const RESTART_PENDING_TAG = 'eci-virtual-node/restart-pending';

/** Waiting reasons ECI leaves as they are: only a restart of the group clears them. */
export const STUCK_REASONS: ReadonlySet<string> = new Set([
  'RunContainerError',
  'CreateContainerError',
  'CreateContainerConfigError',
  'ContainerCannotRun',
  'StartError',
]);

/** Statuses RestartContainerGroup accepts. */
const RESTARTABLE = new Set(['Running', 'Pending']);

export type RestartDecision =
  | { kind: 'restart'; why: string }
  /** Look again at `at` (a stuck container's grace period ends then). */
  | { kind: 'wait'; at: number }
  | { kind: 'none' };

export interface RestartInput {
  group: Group;
  /** The pod's restartPolicy (Kubernetes default Always). */
  restartPolicy: string;
  now: number;
  /** When the controller first saw the group's stuck container; undefined = not seen before. */
  stuckSince?: number;
  /** When the controller last restarted the group. */
  lastRestartAt?: number;
  graceMs: number;
  minIntervalMs: number;
}

/** The first container of the group waiting in a reason ECI does not retry, if any. */
export function stuckContainer(group: Group): { name: string; reason: string } | undefined {
  for (const c of group.containers ?? []) {
    const s = c.currentState;
    const reason = s?.reason || s?.detailStatus || '';
    if (s?.state === 'Waiting' && STUCK_REASONS.has(reason)) return { name: c.name ?? '', reason };
  }
  return undefined;
}

export function hasRestartPending(group: Group): boolean {
  return (group.tags ?? []).some((t) => t.key === RESTART_PENDING_TAG);
}

export function restartDecision(i: RestartInput): RestartDecision {
  const g = i.group;
  if (!RESTARTABLE.has(g.status ?? '')) return { kind: 'none' };
  if (hasRestartPending(g))
    return {
      kind: 'restart',
      why: 'its init container images changed, and ECI runs new init containers only when the group starts',
    };
  if (g.status !== 'Running' || i.restartPolicy === 'Never') return { kind: 'none' };
  const stuck = stuckContainer(g);
  if (!stuck) return { kind: 'none' };
  const since = i.stuckSince ?? i.now;
  const due = Math.max(since + i.graceMs, (i.lastRestartAt ?? -Infinity) + i.minIntervalMs);
  if (i.now < due) return { kind: 'wait', at: due };
  return {
    kind: 'restart',
    why: `container ${stuck.name} has been waiting in ${stuck.reason} for ${Math.round((i.now - since) / 1000)} s, which ECI does not retry`,
  };
}
