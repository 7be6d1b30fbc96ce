import { readFile } from 'node:fs/promises';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { isNotFound, type KubeClients } from '../kube/client.ts';
import { runWatchLoop } from '../kube/watch.ts';
import type { Clock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

export const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' };
const KEY = 'client-ca-file';

/**
 * The CA bundle client certificates are verified against: the API server's own client CA, which it
 * publishes in kube-system/extension-apiserver-authentication (key `client-ca-file`) for exactly this
 * (the built-in Role extension-apiserver-authentication-reader lets us read it). Watched, so a
 * rotated CA applies without a restart. `--client-ca-file` replaces it with a file read once.
 */
export class ClientCA {
  readonly #o: { kube: KubeClients; clock: Clock; log: Logger; file?: string };
  #pem: string | undefined;
  readonly #listeners: ((pem: string) => void)[] = [];

  constructor(o: { kube: KubeClients; clock: Clock; log: Logger; file?: string }) {
    this.#o = o;
  }

  get pem(): string | undefined {
    return this.#pem;
  }

  onChange(cb: (pem: string) => void): void {
    this.#listeners.push(cb);
  }

  /** Reads the bundle once; the server cannot verify any client certificate before this. */
  async load(): Promise<void> {
    if (this.#o.file) {
      const text = await readFile(this.#o.file, 'utf8').catch((err: Error) => {
        throw new ProductError(
          ErrorCodes.CONFIG_INVALID,
          `--client-ca-file: cannot read ${this.#o.file}: ${err.message}`,
        );
      });
      if (!text.includes('-----BEGIN CERTIFICATE-----')) {
        throw new ProductError(
          ErrorCodes.CONFIG_INVALID,
          `--client-ca-file: ${this.#o.file} holds no PEM certificate`,
        );
      }
      this.#apply(text);
      return;
    }
    const cm = await this.#o.kube.core.readNamespacedConfigMap(AUTH_CONFIGMAP).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    this.#applyConfigMap(cm);
  }

  /** Keeps the bundle current until `signal` aborts (nothing to watch with --client-ca-file). */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#o.file) return;
    const { namespace, name } = AUTH_CONFIGMAP;
    await runWatchLoop<V1ConfigMap>(
      {
        kube: this.#o.kube,
        path: `/api/v1/namespaces/${namespace}/configmaps`,
        fieldSelector: `metadata.name=${name}`,
        clock: this.#o.clock,
        log: this.#o.log,
        list: async () => {
          const l = await this.#o.kube.core.listNamespacedConfigMap({
            namespace,
            fieldSelector: `metadata.name=${name}`,
          });
          return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
        },
        onEvent: (type, cm) => {
          if (type !== 'DELETED') this.#applyConfigMap(cm);
        },
      },
      signal,
    );
  }

  #applyConfigMap(cm: V1ConfigMap | undefined): void {
    const pem = cm?.data?.[KEY];
    if (!pem) {
      this.#o.log.warn(
        { configMap: `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}` },
        'the API server publishes no client CA (client-ca-file): client certificates cannot be verified, only tokens',
      );
      return;
    }
    this.#apply(pem);
  }

  #apply(pem: string): void {
    if (pem === this.#pem) return;
    const first = this.#pem === undefined;
    this.#pem = pem;
    this.#o.log.info(
      { certificates: (pem.match(/BEGIN CERTIFICATE/g) ?? []).length },
      first ? 'client CA loaded' : 'client CA changed',
    );
    for (const cb of this.#listeners) cb(pem);
  }
}
