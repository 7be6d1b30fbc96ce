import { microTime } from '../kube/micro-time.ts';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound } from '../kube/client.ts';

export const LEASE_NAMESPACE = 'kube-node-lease';

/**
 * The node's heartbeat: a Lease in `kube-node-lease` renewed on a short period, as kubelet does, so
 * liveness costs one small write instead of a node status write. The Lease is owned by the Node, so
 * deleting the Node takes the Lease with it; the next renew then recreates it for the new Node.
 */
export class NodeLease {
  readonly #api: CoordinationV1Api;
  readonly #nodeName: string;
  readonly #durationSeconds: number;
  #cached: V1Lease | undefined;

  constructor(api: CoordinationV1Api, nodeName: string, durationSeconds: number) {
    this.#api = api;
    this.#nodeName = nodeName;
    this.#durationSeconds = durationSeconds;
  }

  /** Renews (or creates) the Lease with `now` as renewTime. `nodeUid` makes the Node its owner. */
  async renew(now: Date, nodeUid: string | undefined): Promise<V1Lease> {
    const desired = (base: V1Lease | undefined): V1Lease => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        resourceVersion: base?.metadata?.resourceVersion,
        name: this.#nodeName,
        namespace: LEASE_NAMESPACE,
        ownerReferences: nodeUid
          ? [{ apiVersion: 'v1', kind: 'Node', name: this.#nodeName, uid: nodeUid }]
          : base?.metadata?.ownerReferences,
      },
      // Only the fields we own: the library turns every time it read back into millisecond precision,
      // which the API server refuses for MicroTime fields (acquireTime, renewTime).
      spec: {
        holderIdentity: this.#nodeName,
        leaseDurationSeconds: this.#durationSeconds,
        renewTime: microTime(now),
      },
    });
    if (this.#cached) {
      try {
        this.#cached = await this.#api.replaceNamespacedLease({
          name: this.#nodeName,
          namespace: LEASE_NAMESPACE,
          body: desired(this.#cached),
        });
        return this.#cached;
      } catch (err) {
        // Someone else wrote it, or it went with a deleted Node: start again from what is there.
        if (!isConflict(err) && !isNotFound(err)) throw err;
        this.#cached = undefined;
      }
    }
    let current: V1Lease | undefined;
    try {
      current = await this.#api.readNamespacedLease({ name: this.#nodeName, namespace: LEASE_NAMESPACE });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.#cached = current
      ? await this.#api.replaceNamespacedLease({
          name: this.#nodeName,
          namespace: LEASE_NAMESPACE,
          body: desired(current),
        })
      : await this.#api.createNamespacedLease({ namespace: LEASE_NAMESPACE, body: desired(undefined) });
    return this.#cached;
  }

  /** Forgets the cached Lease, e.g. when the Node was recreated and the owner must change. */
  reset(): void {
    this.#cached = undefined;
  }
}
