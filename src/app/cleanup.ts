import { AdmissionregistrationV1Api, AppsV1Api } from '@kubernetes/client-node';
import { isNotFound, mergePatch, type KubeClients } from '../kube/client.ts';
import { listAllPages } from '../kube/watch.ts';
import { TAG_KEYS, tagValue } from '../providers/eci/mapping/index.ts';
import { LEASE_NAMESPACE } from '../node/lease.ts';
import type { Clock } from '../util/clock.ts';
import { describeError, ErrorCodes, ProductError } from '../util/errors.ts';

export interface CleanupResult {
  podsDeleted: number;
  groupsDeleted: number;
  nodeDeleted: boolean;
  /** Dry run: what would have been deleted. */
  dryRun: boolean;
}

/** The two ECI calls cleanup makes; the ECI client, or a fake in tests. */
export interface CleanupEci {
  describeContainerGroups(
    filter: { tags?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<{ containerGroupId?: string; status?: string }[]>;
  /** Deleting a group that is already gone succeeds. */
  deleteContainerGroup(id: string, signal?: AbortSignal): Promise<void>;
}

export interface CleanupOptions {
  kube: KubeClients;
  eci: CleanupEci;
  clusterId: string;
  nodeName: string;
  /** Proceed although the node's Lease is fresh (the controller may still run). */
  force: boolean;
  /** Print what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Scale this Deployment to zero and wait for its pods to go before anything else. */
  stopController?: { namespace: string; name: string };
  /** Delete this MutatingWebhookConfiguration first, so no new pod is routed to the node meanwhile. */
  webhookName?: string;
  /** Group deletes in flight at once; the ECI client's token bucket keeps them inside the quota. */
  concurrency?: number;
  /** DeleteContainerGroup calls per minute the account allows (sizes the deadline and the ETA). */
  deletesPerMinute?: number;
  /** `auto`: long enough for the fleet at the delete quota; a number of ms; or `none`. */
  deadline?: 'auto' | 'none' | number;
  clock: Clock;
  say: (line: string) => void;
  /** Aborting stops between deletes; what is left is picked up by the next run. */
  signal?: AbortSignal;
}

/** How long deleting `groups` may take: twice their time at the quota, plus time for the last to go. */
export function autoDeadlineMs(groups: number, deletesPerMinute: number): number {
  return Math.max(300_000, Math.ceil((groups / deletesPerMinute) * 60_000 * 2) + 180_000);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress line at most every `everyMs`, and always for the last item. */
function progress(o: {
  what: string;
  total: number;
  clock: Clock;
  say: (l: string) => void;
  everyMs: number;
}) {
  const started = o.clock.now();
  let last = -Infinity;
  return (done: number) => {
    const now = o.clock.now();
    if (done < o.total && now - last < o.everyMs) return;
    last = now;
    const elapsed = Math.max(1, now - started);
    const rate = (done / elapsed) * 1000;
    const eta = rate > 0 ? ((o.total - done) / rate) * 1000 : NaN;
    o.say(
      `${o.what}: ${done}/${o.total} (${Math.round((done / Math.max(1, o.total)) * 100)}%), ` +
        `${rate.toFixed(1)}/s, ${done >= o.total ? `took ${formatDuration(elapsed)}` : `ETA ${Number.isFinite(eta) ? formatDuration(eta) : '?'}`}`,
    );
  };
}

/** Runs `work` over `items` with at most `n` in flight; stops taking new items once `signal` aborts. */
async function pool<T>(
  items: T[],
  n: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/**
 * Uninstalls a virtual node without leaving paid instances behind: deletes every pod bound to it,
 * every ECI container group tagged with its cluster and node, then the Node and its Lease. Refuses
 * while the node's controller is still heartbeating (it would put the node back), unless forced or
 * asked to stop it. Safe to interrupt and run again: each run starts from what is left.
 */
export async function cleanupNode(o: CleanupOptions): Promise<CleanupResult> {
  const { core, coordination } = o.kube;
  const dry = o.dryRun === true;
  const act = dry ? 'would delete' : 'deleting';
  let stopped = false;
  if (o.stopController) stopped = await stopController(o, o.stopController);
  if (o.webhookName) {
    o.say(
      `${dry ? 'would delete' : 'deleting'} MutatingWebhookConfiguration ${o.webhookName} (no new pod is routed to the node)`,
    );
    if (!dry) {
      await o.kube.kc
        .makeApiClient(AdmissionregistrationV1Api)
        .deleteMutatingWebhookConfiguration({ name: o.webhookName })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
  }

  const lease = await coordination
    .readNamespacedLease({ name: o.nodeName, namespace: LEASE_NAMESPACE })
    .catch(() => undefined);
  const renewed = lease?.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
  const age = (o.clock.now() - renewed) / 1000;
  if (!o.force && !stopped && !dry && age < (lease?.spec?.leaseDurationSeconds ?? 40)) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `the controller of node ${o.nodeName} is still running (Lease renewed ${Math.round(age)} s ago); stop it first ` +
        '(kubectl -n kube-system scale deployment ack-virtual-node-controller --replicas=0, or ' +
        '--stop-controller kube-system/ack-virtual-node-controller), or pass --force',
    );
  }

  const { items: pods } = await listAllPages((page) =>
    core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${o.nodeName}`, ...page }),
  );
  o.say(`pods: ${act} ${pods.length} bound to ${o.nodeName}`);
  if (!dry && pods.length > 0) {
    let done = 0;
    const report = progress({
      what: 'pods deleted',
      total: pods.length,
      clock: o.clock,
      say: o.say,
      everyMs: 5000,
    });
    await pool(pods, 20, o.signal, async (p) => {
      await core
        .deleteNamespacedPod({
          name: p.metadata!.name!,
          namespace: p.metadata!.namespace!,
          gracePeriodSeconds: 0,
        })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      report(++done);
    });
    interrupted(o, `${done} of ${pods.length} pods deleted`);
  }

  const tags = { [TAG_KEYS.CLUSTER_ID]: tagValue(o.clusterId), [TAG_KEYS.NODE_NAME]: tagValue(o.nodeName) };
  const groupsDeleted = await deleteGroups({ ...o, tags, dryRun: dry });

  if (dry) {
    o.say(`would delete node ${o.nodeName} and its Lease`);
    return { podsDeleted: pods.length, groupsDeleted, nodeDeleted: false, dryRun: true };
  }
  let nodeDeleted = false;
  try {
    await core.deleteNode({ name: o.nodeName });
    nodeDeleted = true;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await coordination
    .deleteNamespacedLease({ name: o.nodeName, namespace: LEASE_NAMESPACE })
    .catch(() => undefined);
  o.say(
    `node ${o.nodeName} ${nodeDeleted ? 'deleted' : 'was already gone'}; no ECI container group of it is left`,
  );
  return { podsDeleted: pods.length, groupsDeleted, nodeDeleted, dryRun: false };
}

function interrupted(o: Pick<CleanupOptions, 'signal'>, what: string): void {
  if (o.signal?.aborted) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `interrupted: ${what}. Nothing is half done: run cleanup again to delete what is left (the node is kept until then)`,
    );
  }
}

/**
 * Deletes every group carrying `tags`, `concurrency` at a time (the client's token bucket paces them
 * inside the DeleteContainerGroup quota), then waits until ECI lists none. Returns how many it asked
 * to delete.
 */
export async function deleteGroups(
  o: Pick<
    CleanupOptions,
    'eci' | 'clock' | 'say' | 'signal' | 'concurrency' | 'deletesPerMinute' | 'deadline'
  > & {
    tags: Record<string, string>;
    dryRun: boolean;
  },
): Promise<number> {
  const perMinute = o.deletesPerMinute ?? 1000;
  const first = await o.eci.describeContainerGroups({ tags: o.tags }, o.signal);
  const ids = first.map((g) => g.containerGroupId).filter((id): id is string => Boolean(id));
  const atQuota = formatDuration((ids.length / perMinute) * 60_000);
  o.say(
    `ECI container groups: ${o.dryRun ? 'would delete' : 'deleting'} ${ids.length}` +
      (ids.length ? ` (about ${atQuota} at ${perMinute} deletes/min)` : ''),
  );
  if (o.dryRun) {
    for (const id of ids.slice(0, 20)) o.say(`  ${id}`);
    if (ids.length > 20) o.say(`  ... and ${ids.length - 20} more`);
    return ids.length;
  }
  const deadlineMs =
    o.deadline === 'none'
      ? Infinity
      : typeof o.deadline === 'number'
        ? o.deadline
        : autoDeadlineMs(ids.length, perMinute);
  const started = o.clock.now();
  const asked = new Set<string>();
  const report = progress({
    what: 'groups deleted',
    total: ids.length,
    clock: o.clock,
    say: o.say,
    everyMs: 5000,
  });
  const failures: string[] = [];
  await pool(ids, o.concurrency ?? 32, o.signal, async (id) => {
    try {
      await o.eci.deleteContainerGroup(id, o.signal);
      asked.add(id);
      report(asked.size);
    } catch (err) {
      if (o.signal?.aborted) return;
      failures.push(`${id}: ${describeError(err)}`);
    }
  });
  interrupted(o, `${asked.size} of ${ids.length} ECI container groups deleted`);
  if (failures.length) {
    throw new ProductError(
      ErrorCodes.ECI_API,
      `${failures.length} ECI container group(s) could not be deleted (the node was kept; run cleanup again):\n  ${failures.slice(0, 10).join('\n  ')}`,
    );
  }
  // A deleted group may show as Terminating for a while; new ones (a create that was in flight) are
  // deleted too.
  for (;;) {
    const left = await o.eci.describeContainerGroups({ tags: o.tags }, o.signal);
    if (left.length === 0) break;
    for (const g of left) {
      if (g.containerGroupId && !asked.has(g.containerGroupId)) {
        await o.eci.deleteContainerGroup(g.containerGroupId, o.signal);
        asked.add(g.containerGroupId);
      }
    }
    if (o.clock.now() - started > deadlineMs) {
      throw new ProductError(
        ErrorCodes.TIMEOUT,
        `${left.length} ECI container group(s) are still there after ${formatDuration(deadlineMs)}; the node was kept. ` +
          'Run cleanup again (or with --timeout 0 to wait without a deadline)',
      );
    }
    o.say(`waiting for ${left.length} ECI container group(s) to go`);
    try {
      await o.clock.sleep(2000, o.signal);
    } catch {
      interrupted(o, `all ${asked.size} deletes sent, ${left.length} group(s) still going`);
    }
  }
  return asked.size;
}

/** Scales the controller's Deployment to zero and waits until none of its pods is left. */
async function stopController(o: CleanupOptions, ref: { namespace: string; name: string }): Promise<boolean> {
  const apps = o.kube.kc.makeApiClient(AppsV1Api);
  let d;
  try {
    d = await apps.readNamespacedDeployment(ref);
  } catch (err) {
    if (isNotFound(err)) {
      o.say(`controller Deployment ${ref.namespace}/${ref.name} not found: nothing to stop`);
      return false;
    }
    throw err;
  }
  const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (o.dryRun) {
    o.say(`would scale ${ref.namespace}/${ref.name} to 0 replicas and wait for its pods to go`);
    return false;
  }
  o.say(`stopping the controller: scaling ${ref.namespace}/${ref.name} to 0 replicas`);
  await apps.patchNamespacedDeploymentScale({ ...ref, body: { spec: { replicas: 0 } } }, mergePatch);
  const until = o.clock.now() + 120_000;
  for (;;) {
    const left = (await o.kube.core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selector }))
      .items;
    if (left.length === 0) return true;
    if (o.clock.now() > until) {
      throw new ProductError(
        ErrorCodes.TIMEOUT,
        `the controller's pods (${left.map((p) => p.metadata?.name).join(', ')}) are still there 2 minutes after scaling ${ref.namespace}/${ref.name} to 0`,
      );
    }
    await o.clock.sleep(1000, o.signal);
  }
}
