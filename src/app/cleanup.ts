import { isNotFound, type KubeClients } from '../kube/client.ts';
import { listAllPages } from '../kube/watch.ts';
import { LEASE_NAMESPACE } from '../node/lease.ts';
import type { InstanceSweeper } from '../providers/provider.ts';
import { ErrorCodes, hasCode, ProductError } from '../util/errors.ts';

export interface CleanupResult {
  podsDeleted: number;
  groupsDeleted: number;
  nodeDeleted: boolean;
}

/**
 * Uninstalls a virtual node without leaving paid instances behind: deletes every pod bound to it,
 * every ECI container group tagged with its cluster and node, then the Node and its Lease. Refuses
 * while the node's controller is still heartbeating (it would put the node back), unless forced.
 */
export async function cleanupNode(o: {
  kube: KubeClients;
  /** The node's provider: it knows which instances are the node's. */
  instances: InstanceSweeper;
  nodeName: string;
  force: boolean;
  now: () => number;
  say: (line: string) => void;
  timeoutMs?: number;
}): Promise<CleanupResult> {
  const { core, coordination } = o.kube;
  const lease = await coordination
    .readNamespacedLease({ name: o.nodeName, namespace: LEASE_NAMESPACE })
    .catch(() => undefined);
  const renewed = lease?.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
  const age = (o.now() - renewed) / 1000;
  if (!o.force && age < (lease?.spec?.leaseDurationSeconds ?? 40)) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `the controller of node ${o.nodeName} is still running (Lease renewed ${Math.round(age)} s ago); stop it first ` +
        '(kubectl -n kube-system delete deployment ack-virtual-node-controller), or pass --force',
    );
  }

  const { items: pods } = await listAllPages((page) =>
    core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${o.nodeName}`, ...page }),
  );
  o.say(`deleting ${pods.length} pod(s) bound to ${o.nodeName}`);
  for (const p of pods) {
    await core
      .deleteNamespacedPod({
        name: p.metadata!.name!,
        namespace: p.metadata!.namespace!,
        gracePeriodSeconds: 0,
      })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }

  let groupsDeleted: number;
  try {
    groupsDeleted = await o.instances.deleteAllInstances({ timeoutMs: o.timeoutMs, say: o.say });
  } catch (err) {
    if (!hasCode(err, ErrorCodes.TIMEOUT)) throw err;
    throw new ProductError(
      ErrorCodes.TIMEOUT,
      `${(err as Error).message}; the node was kept. Run cleanup again`,
      {
        cause: err,
      },
    );
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
  return { podsDeleted: pods.length, groupsDeleted, nodeDeleted };
}
