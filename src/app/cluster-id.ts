import type { KubeClients } from '../kube/client.ts';

/** The kube-system namespace's UID: stable for the cluster's life, different in every cluster. */
export async function defaultClusterId(kube: KubeClients): Promise<string> {
  const ns = await kube.core.readNamespace({ name: 'kube-system' });
  return ns.metadata?.uid ?? 'unknown-cluster';
}
