import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';

export interface ProviderEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What the pod controller should do after a provider looked at a pod. */
export type SyncOutcome =
  /** Write this status; look again after `requeueAfterMs` if set (e.g. an activeDeadlineSeconds). */
  | { kind: 'status'; status: V1PodStatus; requeueAfterMs?: number; events?: ProviderEvent[] }
  /** The spec cannot run here; retrying the same spec gives the same answer. */
  | { kind: 'refused'; reason: string; message: string; events?: ProviderEvent[] }
  /** Not possible yet (missing ConfigMap, cloud error); retry with backoff. */
  | { kind: 'retry'; reason: string; message: string; status?: V1PodStatus; events?: ProviderEvent[] }
  /** Nothing can be done before `afterMs` (e.g. the cloud's rate quota); look again then, quietly. */
  | { kind: 'later'; afterMs: number; events?: ProviderEvent[] }
  /** The pod is finished and has no instance: nothing to do. */
  | { kind: 'terminal'; events?: ProviderEvent[] };

/**
 * A backend that runs pods (ECI here). The pod controller owns the Kubernetes side; the provider owns
 * its instances and the index of them. Every method may be called again for the same pod at any time
 * (after a crash, a retry, a duplicate event) and must converge, never duplicate.
 */
export interface PodProvider {
  /**
   * Loads every instance this node owns (adopting those from earlier runs), then keeps watching them
   * in the background until `signal` aborts, calling `notify(podKey)` when a pod's instance changed.
   * Resolves after the initial load; rejects if it failed (the caller retries). `notify` must not block.
   */
  start(notify: (podKey: string) => void, signal: AbortSignal): Promise<void>;
  /** Makes the pod's instance exist (at most one per pod UID) and says what status to write. */
  syncPod(pod: V1Pod, signal: AbortSignal): Promise<SyncOutcome>;
  /** Deletes the pod's instances; an instance already gone counts as deleted. */
  deletePod(pod: V1Pod, signal: AbortSignal): Promise<void>;
  /** Deletes instances recorded for pod key `namespace/name` whose pod UID is not `liveUid`. */
  deleteStale(podKey: string, liveUid: string | undefined, signal: AbortSignal): Promise<void>;
  /** Deletes every instance whose pod UID is not in `liveUids` (pods deleted while we were down). */
  collectOrphans(liveUids: ReadonlySet<string>, signal: AbortSignal): Promise<void>;
}
