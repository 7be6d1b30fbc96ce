import type { CoreV1Api, V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import { isNotFound } from '../kube/client.ts';
import { requiredRefs, type ResolvedRefs } from '../providers/eci/mapping/index.ts';

/**
 * Fetches what a pod refers to (ConfigMaps, Secrets, bound service-account tokens) so the pure
 * mapping can inline it into the create request. A missing object is left out: the mapping then
 * reports exactly which one, and the pod waits as kubelet's CreateContainerConfigError does.
 */
export async function resolveRefs(core: CoreV1Api, pod: V1Pod): Promise<ResolvedRefs> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const configMaps = new Map<string, V1ConfigMap>();
  const secrets = new Map<string, V1Secret>();
  const serviceAccountTokens = new Map<string, string>();
  const absent = <T>(p: Promise<T>): Promise<T | undefined> =>
    p.catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  await Promise.all(
    requiredRefs(pod).map(async (need) => {
      if (need.kind !== 'ServiceAccountToken') {
        if (need.kind === 'ConfigMap') {
          const cm = await absent(core.readNamespacedConfigMap({ name: need.name, namespace }));
          if (cm) configMaps.set(need.name, cm);
        } else {
          const s = await absent(core.readNamespacedSecret({ name: need.name, namespace }));
          if (s) secrets.set(need.name, s);
        }
      } else {
        // A token bound to this pod, as kubelet mounts it: it dies with the pod.
        const tr = await absent(
          core.createNamespacedServiceAccountToken({
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
      }
    }),
  );
  return { configMaps, secrets, serviceAccountTokens };
}
