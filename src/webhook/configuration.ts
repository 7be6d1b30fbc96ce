// The MutatingWebhookConfiguration that makes the API server call us, kept in step with our CA.
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1LabelSelectorRequirement,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { isConflict, isNotFound } from '../kube/client.ts';
import { ErrorCodes, ProductError, describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { EXCLUDED_NAMESPACES, OWN_POD_LABEL } from './decide.ts';

export const DEFAULT_CONFIGURATION_NAME = 'eci-virtual-node';
export const WEBHOOK_NAME = 'pods.eci-virtual-node.alibabacloud.com';
export const MUTATE_PATH = '/mutate';
/** The Service in front of the controller Deployment, as ack-virtual-node names it. */
export const DEFAULT_SERVICE = {
  namespace: 'kube-system',
  name: 'ack-virtual-node-controller',
  port: 443,
} as const;

export type WebhookClientConfig =
  { service: { namespace: string; name: string; port?: number; path?: string } } | { url: string };

export interface WebhookConfigurationOptions {
  /** Name of the MutatingWebhookConfiguration; default `eci-virtual-node`. */
  name?: string;
  /** How the API server reaches us: in-cluster a Service, for a local control plane a URL. */
  clientConfig: WebhookClientConfig;
  /** Further namespace requirements, ANDed with the kube-system exclusion (tests narrow the scope). */
  extraNamespaceSelector?: V1LabelSelectorRequirement[];
  /** Further pod label requirements, ANDed with the exclusion of the controller's own pods. */
  extraObjectSelector?: V1LabelSelectorRequirement[];
}

/** The DNS names the API server uses for a Service reference: what the certificate must cover. */
export function serviceDnsNames(service: { namespace: string; name: string }): string[] {
  const base = `${service.name}.${service.namespace}.svc`;
  return [base, `${base}.cluster.local`];
}

/**
 * The desired configuration. Pure, so its policy is tested without a cluster.
 *
 * failurePolicy Ignore + timeoutSeconds 5: the webhook sits in the path of every pod creation in the
 * cluster (Deployments, Jobs, DaemonSets, system add-ons). With `Fail`, a crashed, slow or
 * unreachable controller would stop all pod creation cluster-wide — including the pods that would
 * repair it. With `Ignore`, an outage only means new pods are not routed to ECI (they schedule as if
 * the add-on were absent), and 5 s (not the 10 s default) caps how long a pod create can stall on us.
 */
export function buildWebhookConfiguration(
  opts: WebhookConfigurationOptions,
  caBundlePem: string,
): V1MutatingWebhookConfiguration {
  const clientConfig =
    'url' in opts.clientConfig
      ? { url: opts.clientConfig.url }
      : {
          service: {
            namespace: opts.clientConfig.service.namespace,
            name: opts.clientConfig.service.name,
            port: opts.clientConfig.service.port ?? DEFAULT_SERVICE.port,
            path: opts.clientConfig.service.path ?? MUTATE_PATH,
          },
        };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: opts.name ?? DEFAULT_CONFIGURATION_NAME,
      labels: { 'app.kubernetes.io/managed-by': 'eci-virtual-node' },
    },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        timeoutSeconds: 5,
        matchPolicy: 'Equivalent',
        // We only add fields no other webhook is expected to depend on; being called again after
        // later mutations would only cost latency.
        reinvocationPolicy: 'Never',
        clientConfig: { ...clientConfig, caBundle: Buffer.from(caBundlePem, 'utf8').toString('base64') },
        rules: [
          {
            operations: ['CREATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        // Also enforced by the decision itself (defence in depth): kube-system and our own pods.
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...EXCLUDED_NAMESPACES] },
            ...(opts.extraNamespaceSelector ?? []),
          ],
        },
        objectSelector: {
          matchExpressions: [
            { key: OWN_POD_LABEL.key, operator: 'NotIn', values: [OWN_POD_LABEL.value] },
            ...(opts.extraObjectSelector ?? []),
          ],
        },
      },
    ],
  };
}

export type EnsureOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Creates the configuration, or updates it when what we set differs (fields the API server defaults
 * are left alone). Retries a few times when another replica writes it at the same moment.
 */
export async function ensureWebhookConfiguration(
  api: AdmissionregistrationV1Api,
  opts: WebhookConfigurationOptions,
  caBundlePem: string,
  log?: Logger,
): Promise<EnsureOutcome> {
  const desired = buildWebhookConfiguration(opts, caBundlePem);
  const name = desired.metadata!.name!;
  for (let attempt = 0; ; attempt++) {
    try {
      let current: V1MutatingWebhookConfiguration | undefined;
      try {
        current = await api.readMutatingWebhookConfiguration({ name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!current) {
        await api.createMutatingWebhookConfiguration({ body: desired });
        log?.info({ configuration: name }, 'created MutatingWebhookConfiguration');
        return 'created';
      }
      if (
        isSubset(desired.webhooks, current.webhooks) &&
        isSubset(desired.metadata?.labels, current.metadata?.labels)
      ) {
        return 'unchanged';
      }
      await api.replaceMutatingWebhookConfiguration({
        name,
        body: {
          ...desired,
          metadata: {
            ...current.metadata,
            labels: { ...current.metadata?.labels, ...desired.metadata?.labels },
          },
        },
      });
      log?.info({ configuration: name }, 'updated MutatingWebhookConfiguration');
      return 'updated';
    } catch (err) {
      // 409 is both "changed since read" and "created meanwhile": read again either way.
      if (isConflict(err) && attempt < 4) continue;
      throw new ProductError(
        ErrorCodes.KUBE_API,
        `cannot create or update MutatingWebhookConfiguration ${name}: ${describeError(err)}`,
        { cause: err },
      );
    }
  }
}

/** Removes the configuration; absent is success. */
export async function deleteWebhookConfiguration(
  api: AdmissionregistrationV1Api,
  name: string = DEFAULT_CONFIGURATION_NAME,
): Promise<void> {
  try {
    await api.deleteMutatingWebhookConfiguration({ name });
  } catch (err) {
    if (isNotFound(err)) return;
    throw new ProductError(
      ErrorCodes.KUBE_API,
      `cannot delete MutatingWebhookConfiguration ${name}: ${describeError(err)}`,
      { cause: err },
    );
  }
}

/**
 * The admissionregistration client. Built by the library's own factory, not the shared pool of
 * createKubeClients: it is called at start and once a day, where a connection per call costs nothing.
 */
export function admissionApi(kc: KubeConfig): AdmissionregistrationV1Api {
  return kc.makeApiClient(AdmissionregistrationV1Api);
}

/** True when every field set in `want` has the same value in `have` (arrays: same length, in order). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === undefined) return true;
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  }
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => isSubset(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

/**
 * The `register` hook of startWebhook: keeps the configuration's caBundle (and client config) right
 * at start and after every certificate change. `clientConfig` may depend on the port actually bound
 * (`--webhook-port 0`, tests), e.g. `(port) => ({ url: \`https://127.0.0.1:${port}/mutate\` })`.
 */
export function webhookRegistrar(
  api: AdmissionregistrationV1Api,
  opts: Omit<WebhookConfigurationOptions, 'clientConfig'> & {
    clientConfig: WebhookClientConfig | ((port: number) => WebhookClientConfig);
  },
  log?: Logger,
): (caBundlePem: string, port: number) => Promise<void> {
  return async (caBundlePem, port) => {
    const clientConfig =
      typeof opts.clientConfig === 'function' ? opts.clientConfig(port) : opts.clientConfig;
    await ensureWebhookConfiguration(api, { ...opts, clientConfig }, caBundlePem, log);
  };
}
