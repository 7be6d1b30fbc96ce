import type { CoreV1Api, V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import { isNotFound } from '../kube/client.ts';
import { requiredRefs, type ResolvedRefs } from '../providers/eci/mapping/index.ts';

/**
 * Fetches what pods refer to (ConfigMaps, Secrets, bound service-account tokens) so the pure
 * mapping can inline it into the create request. A missing object is left out: the mapping then
 * reports exactly which one, and the pod waits as kubelet's CreateContainerConfigError does.
 *
 * ConfigMaps and Secrets are kept for `ttlMs`: a burst of pods in one namespace all mount the same
 * kube-root-ca.crt, and reading it once per pod would double the API cost of a create. A change
 * reaches new pods within the TTL (kubelet's own ConfigMap cache is TTL-based too). Tokens are
 * never shared: each is bound to its pod.
 */
export class RefResolver {
  readonly #core: CoreV1Api;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; value: Promise<V1ConfigMap | V1Secret | undefined> }>();

  constructor(core: CoreV1Api, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.#core = core;
    this.#ttlMs = opts.ttlMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  async resolve(pod: V1Pod): Promise<ResolvedRefs> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const configMaps = new Map<string, V1ConfigMap>();
    const secrets = new Map<string, V1Secret>();
    const serviceAccountTokens = new Map<string, string>();
    await Promise.all(
      requiredRefs(pod).map(async (need) => {
        if (need.kind === 'ServiceAccountToken') {
          // A token bound to this pod, as kubelet mounts it: it dies with the pod.
          const tr = await absent(
            this.#core.createNamespacedServiceAccountToken({
              name: need.serviceAccountName,
              namespace,
              body: {
                spec: {
                  audiences: need.audience ? [need.audience] : [],
                  expirationSeconds: need.expirationSeconds,
                  boundObjectRef: {
                    apiVersion: 'v1',
                    kind: 'Pod',
                    name: pod.metadata?.name,
                    uid: pod.metadata?.uid,
                  },
                },
              },
            }),
          );
          if (tr?.status?.token) serviceAccountTokens.set(need.key, tr.status.token);
        } else if (need.kind === 'ConfigMap') {
          const cm = await this.#cached(`cm/${namespace}/${need.name}`, () =>
            this.#core.readNamespacedConfigMap({ name: need.name, namespace }),
          );
          if (cm) configMaps.set(need.name, cm as V1ConfigMap);
        } else if (need.kind === 'Secret') {
          const s = await this.#cached(`secret/${namespace}/${need.name}`, () =>
            this.#core.readNamespacedSecret({ name: need.name, namespace }),
          );
          if (s) secrets.set(need.name, s as V1Secret);
        }
      }),
    );
    return { configMaps, secrets, serviceAccountTokens };
  }

  #cached(
    key: string,
    read: () => Promise<V1ConfigMap | V1Secret>,
  ): Promise<V1ConfigMap | V1Secret | undefined> {
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && now - hit.at < this.#ttlMs) return hit.value;
    const value = absent(read());
    // A failed read is not remembered: the next pod asks again.
    value.catch(() => this.#cache.delete(key));
    this.#cache.set(key, { at: now, value });
    if (this.#cache.size > 10_000) {
      for (const [k, v] of this.#cache) if (now - v.at >= this.#ttlMs) this.#cache.delete(k);
    }
    return value;
  }
}

function absent<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
}
