import type { V1Pod } from '@kubernetes/client-node';
import { shortHash } from './names.ts';

/**
 * The tag keys that tie a container group to its pod. Together with ClientToken = pod UID they are
 * the group's identity: listing by cluster-id + node-name finds every group this node owns, and the
 * pod-uid tag finds one pod's group without listing (DescribeContainerGroupStatus tag filters).
 */
export const TAG_KEYS = {
  CLUSTER_ID: 'eci-virtual-node/cluster-id',
  NODE_NAME: 'eci-virtual-node/node-name',
  NAMESPACE: 'eci-virtual-node/namespace',
  POD_NAME: 'eci-virtual-node/pod-name',
  POD_UID: 'eci-virtual-node/pod-uid',
} as const;

/** Alibaba Cloud tag values: at most 128 characters, not starting with `aliyun` or `acs:`, no URLs. */
export const TAG_VALUE_MAX = 128;

/**
 * A value as it is stored in a tag. Values the tag service would reject are rewritten the same way
 * every time, so a filter built with this function matches what create wrote:
 * - a reserved prefix (`aliyun`, `acs:`) gets a leading `_`, which no Kubernetes name can start with;
 * - over 128 characters: cut, plus `-<8 hex>` of the whole value (so two long names stay distinct);
 * - `http://`/`https://` cannot occur in namespace, pod, node or UID values.
 */
export function tagValue(v: string): string {
  let out = /^(aliyun|acs:)/i.test(v) ? `_${v}` : v;
  if (out.length > TAG_VALUE_MAX) out = `${out.slice(0, TAG_VALUE_MAX - 9)}-${shortHash(v)}`;
  return out;
}

export interface PodIdentity {
  clusterId: string;
  nodeName: string;
  namespace: string;
  podName: string;
  podUid: string;
}

export function podIdentity(pod: V1Pod, clusterId: string, nodeName: string): PodIdentity {
  return {
    clusterId,
    nodeName,
    namespace: pod.metadata?.namespace ?? 'default',
    podName: pod.metadata?.name ?? '',
    podUid: pod.metadata?.uid ?? '',
  };
}

/** The identity tags for a create request, in a fixed order. */
export function identityTags(id: PodIdentity): { key: string; value: string }[] {
  return [
    { key: TAG_KEYS.CLUSTER_ID, value: tagValue(id.clusterId) },
    { key: TAG_KEYS.NODE_NAME, value: tagValue(id.nodeName) },
    { key: TAG_KEYS.NAMESPACE, value: tagValue(id.namespace) },
    { key: TAG_KEYS.POD_NAME, value: tagValue(id.podName) },
    { key: TAG_KEYS.POD_UID, value: tagValue(id.podUid) },
  ];
}

/**
 * Reads the identity back from a group's tags. Returns null when a key is missing — a group without
 * the full set was not created by this product and must not be touched. Values are as stored (see
 * `tagValue`); compare them with `tagValue(x)`, not with `x`.
 */
export function identityFromTags(
  tags: readonly { key?: string; value?: string }[] | undefined,
): PodIdentity | null {
  const get = (k: string): string | undefined => tags?.find((t) => t.key === k)?.value;
  const clusterId = get(TAG_KEYS.CLUSTER_ID);
  const nodeName = get(TAG_KEYS.NODE_NAME);
  const namespace = get(TAG_KEYS.NAMESPACE);
  const podName = get(TAG_KEYS.POD_NAME);
  const podUid = get(TAG_KEYS.POD_UID);
  if (clusterId === undefined || nodeName === undefined || namespace === undefined) return null;
  if (podName === undefined || podUid === undefined) return null;
  return { clusterId, nodeName, namespace, podName, podUid };
}
