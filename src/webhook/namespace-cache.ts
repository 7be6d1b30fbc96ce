import {
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1Namespace,
} from '@kubernetes/client-node';
import { listAllPages, runWatchLoop } from '../kube/watch.ts';
import { isNotFound, type KubeClients } from '../kube/client.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { ErrorCodes, ProductError, describeError } from '../util/errors.ts';

export interface NamespaceLabelCacheOptions {
  kube: Pick<KubeClients, 'core' | 'openWatch' | 'watchStats'>;
  clock: Clock;
  log: Logger;
  pageSize?: number;
}

/**
 * Labels of every namespace, kept by list+watch, for the admission path (an AdmissionReview carries
 * the pod, not its namespace's labels). A namespace the cache has not seen yet — created a moment
 * ago, or before the first list finished — is read from the API server instead, the way the API
 * server's own NamespaceLifecycle admission does, so `kubectl create ns x && kubectl -n x run ...`
 * is routed correctly.
 */
export class NamespaceLabelCache {
  readonly #labels = new Map<string, Record<string, string>>();
  readonly #o: NamespaceLabelCacheOptions;
  #markSynced: () => void = () => undefined;
  /** Resolves after the first full list has been applied. */
  readonly synced: Promise<void> = new Promise((r) => (this.#markSynced = r));

  constructor(o: NamespaceLabelCacheOptions) {
    this.#o = o;
  }

  /** Keeps the cache current until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await runWatchLoop<V1Namespace>(
      {
        kube: this.#o.kube,
        path: '/api/v1/namespaces',
        clock: this.#o.clock,
        log: this.#o.log,
        list: () => listAllPages((page) => this.#o.kube.core.listNamespace(page), this.#o.pageSize),
        onSync: (items) => {
          const listed = new Set(items.map((n) => n.metadata?.name));
          for (const name of this.#labels.keys()) if (!listed.has(name)) this.#labels.delete(name);
        },
        onEvent: (type, ns) => {
          const name = ns.metadata?.name;
          if (!name) return;
          if (type === 'DELETED') this.#labels.delete(name);
          else this.#labels.set(name, { ...ns.metadata?.labels });
        },
        onListed: () => this.#markSynced(),
      },
      signal,
    );
  }

  /**
   * The namespace's labels; undefined when it does not exist. Reads through to the API server on a
   * cache miss; throws a ProductError (EVN_KUBE_API) when that read fails or `signal` aborts it.
   */
  async get(name: string, signal?: AbortSignal): Promise<Record<string, string> | undefined> {
    const cached = this.#labels.get(name);
    if (cached) return cached;
    try {
      const ns = await this.#o.kube.core.readNamespace({ name }, signal ? withSignal(signal) : undefined);
      return { ...ns.metadata?.labels };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new ProductError(ErrorCodes.KUBE_API, `cannot read namespace ${name}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
}

/** Per-call options that make the request abort with `signal` (the library's middleware shape). */
function withSignal(signal: AbortSignal) {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}
