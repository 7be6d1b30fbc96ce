import type { KubeClients } from '../kube/client.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { SecretCertStore } from '../webhook/certs.ts';
import {
  admissionApi,
  DEFAULT_SERVICE,
  serviceDnsNames,
  webhookRegistrar,
} from '../webhook/configuration.ts';
import type { RoutingProfile } from '../webhook/decide.ts';
import { NamespaceLabelCache } from '../webhook/namespace-cache.ts';
import { startWebhook } from '../webhook/server.ts';
import { traceRoutingDecision } from '../tracing/webhook-trace.ts';

export interface RoutingWebhookOptions {
  kube: KubeClients;
  port: number;
  /**
   * How the API server reaches the webhook: `service` (in a cluster: kube-system/ack-virtual-node-controller,
   * certificate kept in a Secret so restarts and replicas share it), `local` (a control plane on this
   * machine: https://127.0.0.1:<port>/mutate), or a literal https URL.
   */
  endpoint: 'service' | 'local' | string;
  /** Name of the MutatingWebhookConfiguration. */
  name: string;
  getProfile: () => RoutingProfile;
  /** Record a span of each routing decision and hand its trace to the controller (an annotation). */
  tracing?: boolean;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
}

/** The admission webhook that routes labelled pods to the virtual node, started and registered. */
export async function startRoutingWebhook(
  o: RoutingWebhookOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const namespaces = new NamespaceLabelCache({
    kube: o.kube,
    clock: o.clock,
    log: o.log,
  });
  void namespaces.run(o.signal);
  const inCluster = o.endpoint === 'service';
  const local = o.endpoint === 'local';
  const url = !inCluster && !local ? new URL(o.endpoint) : undefined;
  const webhook = await startWebhook({
    port: o.port,
    host: local ? '127.0.0.1' : undefined,
    dnsNames: inCluster
      ? serviceDnsNames(DEFAULT_SERVICE)
      : url && !/^[\d.]+$/.test(url.hostname)
        ? [url.hostname]
        : [],
    ips: local ? ['127.0.0.1'] : url && /^[\d.]+$/.test(url.hostname) ? [url.hostname] : [],
    getNamespaceLabels: (name, s) => namespaces.get(name, s),
    getProfile: o.getProfile,
    traceRouted: o.tracing ? traceRoutingDecision : undefined,
    certStore: inCluster
      ? new SecretCertStore(o.kube.core, 'kube-system', 'eci-virtual-node-webhook-tls')
      : undefined,
    register: webhookRegistrar(
      admissionApi(o.kube.kc),
      {
        name: o.name,
        clientConfig: inCluster
          ? { service: DEFAULT_SERVICE }
          : (port: number) => ({ url: local ? `https://127.0.0.1:${port}/mutate` : o.endpoint }),
      },
      o.log,
    ),
    clock: o.clock,
    log: o.log,
  });
  return webhook;
}
