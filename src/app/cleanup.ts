import { AdmissionregistrationV1Api, AppsV1Api } from '@kubernetes/client-node';
import { isNotFound, mergePatch, type KubeClients } from '../kube/client.ts';
import { listAllPages } from '../kube/watch.ts';
import type { InstanceSweeper } from '../providers/provider.ts';
import { LEASE_NAMESPACE } from '../node/lease.ts';
import type { Clock } from '../util/clock.ts';
import { interrupted, pool, progress } from '../util/progress.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';

export interface CleanupResult {
  podsDeleted: number;
  groupsDeleted: number;
  nodeDeleted: boolean;
  /** Dry run: what would have been deleted. */
  dryRun: boolean;
}

export interface CleanupOptions {
  kube: KubeClients;
  /** The node's provider: it knows which instances are the node's. */
  instances: InstanceSweeper;
  nodeName: string;
  /** Proceed although the node's Lease is fresh (the controller may still run). */
  force: boolean;
  /** Print what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Scale this Deployment to zero and wait for its pods to go before anything else. */
  stopController?: { namespace: string; name: string };
  /** Delete this MutatingWebhookConfiguration first, so no new pod is routed to the node meanwhile. */
  webhookName?: string;
  /** Instance deletes in flight at once; the provider keeps them inside its quota. */
  concurrency?: number;
  /** Undefined: long enough for the fleet at the provider's delete quota; Infinity: no deadline. */
  timeoutMs?: number;
  clock: Clock;
  say: (line: string) => void;
  /** Aborting stops between deletes; what is left is picked up by the next run. */
  signal?: AbortSignal;
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

  let groupsDeleted: number;
  try {
    groupsDeleted = await o.instances.deleteAllInstances({
      dryRun: dry,
      concurrency: o.concurrency,
      timeoutMs: o.timeoutMs,
      say: o.say,
      signal: o.signal,
      clock: o.clock,
    });
  } catch (err) {
    if (o.signal?.aborted) interrupted(o, 'the instance deletes in flight finished');
    throw err;
  }

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
