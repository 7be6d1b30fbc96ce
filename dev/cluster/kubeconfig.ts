import { stringify } from 'yaml';

export interface KubeconfigSpec {
  /** Names the cluster, user and context entries. */
  name: string;
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A kubeconfig that references the certificate files by path rather than embedding them, so that
 * printing it (`cluster kubeconfig --print`) never prints a private key.
 */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: spec.name, cluster: { server: spec.server, 'certificate-authority': spec.caFile } }],
    users: [{ name: spec.name, user: { 'client-certificate': spec.certFile, 'client-key': spec.keyFile } }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name } }],
    'current-context': spec.name,
    preferences: {},
  });
}
