import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../util/log.ts';
import { describeError } from '../util/errors.ts';

export interface ClusterAccess {
  /** kubelet's clusterDNS: the kube-dns Service ClusterIP, when the cluster has one. */
  clusterDNS?: { nameservers: string[]; clusterDomain: string };
  /** The env kubelet injects for the API server's Service (KUBERNETES_SERVICE_HOST, ...). */
  serviceEnv?: Record<string, string>;
}

/**
 * What ECI pods need to reach ClusterIP Services — the cluster DNS and the API server's Service env —
 * read from the cluster and refreshed at most once a minute, so creates do not pay for it. With
 * ClusterIP access turned off (ECI_KUBE_PROXY=false / eci-profile enableClusterIp=false) new pods get
 * neither: they resolve through VPC DNS and open no connections to the API server.
 */
export class ClusterServices {
  readonly #core: CoreV1Api;
  readonly #log: Logger;
  readonly #clusterDomain: string;
  #cached: ClusterAccess = {};
  #at = -Infinity;

  constructor(core: CoreV1Api, log: Logger, clusterDomain = 'cluster.local') {
    this.#core = core;
    this.#log = log;
    this.#clusterDomain = clusterDomain;
  }

  async get(enabled: boolean, now: number): Promise<ClusterAccess> {
    if (!enabled) return {};
    if (now - this.#at < 60_000) return this.#cached;
    this.#at = now;
    const next: ClusterAccess = {};
    try {
      const dns = await this.#core
        .readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' })
        .catch(() => undefined);
      const ip = dns?.spec?.clusterIP;
      if (ip && ip !== 'None') next.clusterDNS = { nameservers: [ip], clusterDomain: this.#clusterDomain };
      const api = await this.#core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
      const host = api.spec?.clusterIP;
      const port = api.spec?.ports?.find((p) => p.name === 'https')?.port ?? api.spec?.ports?.[0]?.port;
      if (host && port) {
        next.serviceEnv = {
          KUBERNETES_SERVICE_HOST: host,
          KUBERNETES_SERVICE_PORT: String(port),
          KUBERNETES_SERVICE_PORT_HTTPS: String(port),
          KUBERNETES_PORT: `tcp://${host}:${port}`,
          [`KUBERNETES_PORT_${port}_TCP`]: `tcp://${host}:${port}`,
          [`KUBERNETES_PORT_${port}_TCP_PROTO`]: 'tcp',
          [`KUBERNETES_PORT_${port}_TCP_PORT`]: String(port),
          [`KUBERNETES_PORT_${port}_TCP_ADDR`]: host,
        };
      }
      this.#cached = next;
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'cannot read cluster Services; keeping what was known');
    }
    return this.#cached;
  }
}
