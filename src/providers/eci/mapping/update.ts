import { UpdateContainerGroupRequest } from '@alicloud/eci20180808';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { shortHash } from './names.ts';
import { containerSize } from './resources.ts';
import type { ModelInit } from './types.ts';

/** What changed between two versions of a running pod, split by whether ECI can apply it in place. */
export interface PodUpdatePlan {
  readonly images: readonly { container: string; init: boolean; from: string | undefined; to: string }[];
  /** Changes Kubernetes allows in place that UpdateContainerGroup cannot express. */
  readonly unsupported: readonly { field: string; reason: string }[];
}

/** The group as the update needs it: its ID, region and (when known) current images. */
export interface UpdateTarget {
  readonly containerGroupId?: string;
  readonly regionId?: string;
  readonly containers?: readonly { name?: string; image?: string }[];
  readonly initContainers?: readonly { name?: string; image?: string }[];
}

function images(
  list: readonly { name?: string; image?: string }[] | undefined,
): Map<string, string | undefined> {
  return new Map((list ?? []).map((c) => [c.name ?? '', c.image]));
}

function sizeKey(c: V1Container): string {
  const s = containerSize(c);
  return `${s.cpu ?? ''}/${s.memory ?? ''}`;
}

/**
 * The in-place changes between `oldPod` and `newPod`. Kubernetes lets a running pod change container
 * and init-container images, activeDeadlineSeconds, tolerations and (with the resize subresource)
 * container resources. Images are compared with the group's current images when it reports them, so
 * an update ECI already applied is not sent again.
 */
export function diffPodUpdate(oldPod: V1Pod, newPod: V1Pod, group: UpdateTarget = {}): PodUpdatePlan {
  const imageChanges: { container: string; init: boolean; from: string | undefined; to: string }[] = [];
  const unsupported: { field: string; reason: string }[] = [];
  const scan = (init: boolean): void => {
    const oldList = (init ? oldPod.spec?.initContainers : oldPod.spec?.containers) ?? [];
    const newList = (init ? newPod.spec?.initContainers : newPod.spec?.containers) ?? [];
    const current = images(init ? group.initContainers : group.containers);
    const base = `spec.${init ? 'initContainers' : 'containers'}`;
    newList.forEach((c, i) => {
      const before = oldList.find((o) => o.name === c.name);
      const running = current.has(c.name) ? current.get(c.name) : before?.image;
      if (c.image && c.image !== running)
        imageChanges.push({ container: c.name, init, from: running, to: c.image });
      if (before && sizeKey(before) !== sizeKey(c)) {
        unsupported.push({
          field: `${base}[${i}].resources`,
          reason: 'resizing a running ECI instance is not mapped yet; recreate the pod to change its size',
        });
      }
    });
  };
  scan(false);
  scan(true);
  if (oldPod.spec?.activeDeadlineSeconds !== newPod.spec?.activeDeadlineSeconds) {
    unsupported.push({
      field: 'spec.activeDeadlineSeconds',
      reason:
        'UpdateContainerGroup has no ActiveDeadlineSeconds; the instance keeps the deadline it was created ' +
        'with, so the controller must enforce a shorter one itself',
    });
  }
  return { images: imageChanges, unsupported };
}

/**
 * The UpdateContainerGroup request for `newPod`'s in-place image changes, or null when there is
 * nothing ECI can apply (see `diffPodUpdate` for what it cannot).
 *
 * IncrementalUpdate changes only the fields sent. Every container is still listed, with its image,
 * so that even a list-replacing reading of the Container parameter cannot drop one. ClientToken is
 * the pod UID plus a hash of the target images: a retried update is idempotent, a newer one is not
 * mistaken for it (64-character limit respected).
 */
export function podUpdateToRequest(
  oldPod: V1Pod,
  newPod: V1Pod,
  group: UpdateTarget,
): UpdateContainerGroupRequest | null {
  if (!group.containerGroupId) return null;
  const plan = diffPodUpdate(oldPod, newPod, group);
  if (plan.images.length === 0) return null;
  const anyInit = plan.images.some((x) => x.init);
  const list = (cs: readonly V1Container[] | undefined) =>
    (cs ?? []).map((c) => ({ name: c.name, image: c.image }));
  const targets = plan.images.map((x) => `${x.init ? 'i' : 'c'}:${x.container}=${x.to}`).join(',');
  const init: ModelInit<UpdateContainerGroupRequest> = {
    containerGroupId: group.containerGroupId,
    ...(group.regionId ? { regionId: group.regionId } : {}),
    updateType: 'IncrementalUpdate',
    clientToken: `${newPod.metadata?.uid ?? group.containerGroupId}-${shortHash(targets)}`,
    container: list(newPod.spec?.containers),
    ...(anyInit ? { initContainer: list(newPod.spec?.initContainers) } : {}),
  };
  return new UpdateContainerGroupRequest(init);
}
