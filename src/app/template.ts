import { stringify as toYaml } from 'yaml';
import { isNotFound, type KubeClients } from '../kube/client.ts';
import type { EciClient } from '../providers/eci/eci-client.ts';
import { TAG_KEYS, tagValue } from '../providers/eci/mapping/index.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';

/**
 * `eci-virtual-node template export`: the container group a pod runs in, as ECI's own template
 * document (ExportContainerGroupTemplate) — what CreateContainerGroupFromTemplate takes back, e.g. to
 * run the same instance outside Kubernetes or to keep a record of what a pod was created as.
 */

/** The group of pod `namespace/name`: found by the pod's UID tag (and the cluster's, when known). */
export async function groupOfPod(o: {
  kube: Pick<KubeClients, 'core'>;
  eci: Pick<EciClient, 'describeContainerGroups'>;
  namespace: string;
  name: string;
  clusterId?: string;
  signal?: AbortSignal;
}): Promise<string> {
  let uid: string | undefined;
  try {
    uid = (await o.kube.core.readNamespacedPod({ namespace: o.namespace, name: o.name })).metadata?.uid;
  } catch (err) {
    if (isNotFound(err))
      throw new ProductError(ErrorCodes.INVALID_INPUT, `pod ${o.namespace}/${o.name} not found`, {
        cause: err,
      });
    throw err;
  }
  const tags: Record<string, string> = { [TAG_KEYS.POD_UID]: tagValue(uid ?? '') };
  if (o.clusterId) tags[TAG_KEYS.CLUSTER_ID] = tagValue(o.clusterId);
  const groups = await o.eci.describeContainerGroups({ tags }, o.signal);
  const live = groups.filter((g) => g.status !== 'Terminating');
  const g = (live.length > 0 ? live : groups)[0];
  if (!g?.containerGroupId)
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `pod ${o.namespace}/${o.name} has no ECI container group (is it bound to a virtual node, and created?)`,
    );
  return g.containerGroupId;
}

/** The template as text: JSON (default, what the *FromTemplate actions take) or YAML. */
export function renderTemplate(template: Record<string, unknown>, format: 'json' | 'yaml'): string {
  return format === 'yaml' ? toYaml(template) : `${JSON.stringify(template, null, 2)}\n`;
}
