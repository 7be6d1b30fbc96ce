import { hash } from 'node:crypto';

/**
 * ECI's rules for ContainerGroupName (CreateContainerGroup reference): 2 to 128 characters, lowercase
 * letters, digits and hyphens, not starting or ending with a hyphen.
 */
export const CONTAINER_GROUP_NAME_MAX = 128;

const SUFFIX_LEN = 8;

/**
 * The deterministic container-group name for a pod: `<namespace>-<name>`, lowercased, with every
 * character ECI does not accept turned into `-` and runs of `-` squeezed.
 *
 * When that rewrite changed anything, or the result is longer than 128, the name is cut to leave room
 * and `-<8 hex of sha256("<namespace>/<name>")>` is appended. The hash keeps two pods whose names
 * differ only in rewritten characters (`a.b` vs `a-b`) or past the cut from sharing a name. Names are
 * for humans reading the ECI console; identity is the pod-UID tag and ClientToken, so a residual
 * collision (`a-b`/`c` vs `a`/`b-c`) misleads a reader but never the controller.
 */
export function containerGroupName(namespace: string, name: string): string {
  const raw = `${namespace}-${name}`;
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  if (cleaned === raw && cleaned.length >= 2 && cleaned.length <= CONTAINER_GROUP_NAME_MAX) return cleaned;
  const suffix = shortHash(`${namespace}/${name}`);
  const head = cleaned.slice(0, CONTAINER_GROUP_NAME_MAX - SUFFIX_LEN - 1).replace(/-+$/, '');
  return head.length > 0 ? `${head}-${suffix}` : suffix;
}

/** 8 hex digits of sha256. One-shot hashing of a few hundred bytes costs microseconds. */
export function shortHash(s: string): string {
  return hash('sha256', s, 'hex').slice(0, SUFFIX_LEN);
}

/**
 * The containerID we report in pod status. ECI exposes no runtime container ID, so this is a stable
 * locator: the group and the container name are exactly what DescribeContainerLog and
 * ExecContainerCommand need, so the kubelet API can route by parsing it back.
 */
export function containerIdFor(containerGroupId: string, containerName: string): string {
  return `eci://${containerGroupId}/${containerName}`;
}

export function parseContainerId(id: string): { containerGroupId: string; containerName: string } | null {
  const m = /^eci:\/\/([^/]+)\/(.+)$/.exec(id);
  return m && m[1] && m[2] ? { containerGroupId: m[1], containerName: m[2] } : null;
}
