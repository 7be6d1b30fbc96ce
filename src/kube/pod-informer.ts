import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from './client.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { listAllPages, runWatchLoop, type WatchEventType } from './watch.ts';

export const podKey = (pod: V1Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export interface PodInformerOptions {
  kube: Pick<KubeClients, 'core' | 'openWatch' | 'watchStats'>;
  nodeName: string;
  clock: Clock;
  log: Logger;
  /**
   * Called for every change, after the cache holds it, with the object it replaced (if any); must not
   * block.
   */
  onChange: (key: string, type: WatchEventType, pod: V1Pod, old: V1Pod | undefined) => void;
  pageSize?: number;
}

/**
 * The pods bound to one node, kept current by list+watch with a field selector, so the API server
 * sends only our pods. Each change is handed to `onChange` with the pod's key; readers take the
 * latest object from `get`. `synced` resolves after the first full list has been applied.
 */
export class PodInformer {
  readonly #pods = new Map<string, V1Pod>();
  readonly #o: PodInformerOptions;
  #markSynced: () => void = () => undefined;
  readonly synced: Promise<void> = new Promise((r) => (this.#markSynced = r));

  constructor(o: PodInformerOptions) {
    this.#o = o;
  }

  get(key: string): V1Pod | undefined {
    return this.#pods.get(key);
  }

  keys(): IterableIterator<string> {
    return this.#pods.keys();
  }

  values(): IterableIterator<V1Pod> {
    return this.#pods.values();
  }

  get size(): number {
    return this.#pods.size;
  }

  /** When the pod watch last showed it is alive (ms epoch; 0 before the first list). */
  lastActivityAt = 0;

  async run(signal: AbortSignal): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.#o.nodeName}`;
    await runWatchLoop<V1Pod>(
      {
        kube: this.#o.kube,
        path: '/api/v1/pods',
        fieldSelector,
        clock: this.#o.clock,
        log: this.#o.log,
        list: () =>
          listAllPages(
            (page) => this.#o.kube.core.listPodForAllNamespaces({ fieldSelector, ...page }),
            this.#o.pageSize,
          ),
        onSync: (items) => {
          const listed = new Set(items.map(podKey));
          for (const [key, pod] of this.#pods) {
            if (!listed.has(key)) {
              this.#pods.delete(key);
              this.#o.onChange(key, 'DELETED', pod, pod);
            }
          }
        },
        onListed: () => this.#markSynced(),
        onActivity: () => (this.lastActivityAt = this.#o.clock.now()),
        onEvent: (type, pod) => {
          const key = podKey(pod);
          const old = this.#pods.get(key);
          slim(pod);
          if (type === 'DELETED') this.#pods.delete(key);
          else this.#pods.set(key, pod);
          this.#o.onChange(key, type, pod, old);
        },
      },
      signal,
    );
  }
}

/**
 * Drops what nothing here reads before a pod is cached: managedFields is about half of a pod's JSON
 * and would be held for every pod of the node (as client-go informers drop it with a transform).
 */
function slim(pod: V1Pod): void {
  if (pod.metadata?.managedFields) delete pod.metadata.managedFields;
}
