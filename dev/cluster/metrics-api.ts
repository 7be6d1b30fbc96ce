// Registers the local metrics-server with the API server's aggregation layer, so metrics.k8s.io
// (`kubectl top`, HPAs) is served by it. The objects are those of metrics-server's own release
// manifest, adapted to a process on loopback: its identity is the client certificate user
// system:metrics-server, and its Service is an ExternalName for localhost (the aggregator dials it
// there and verifies it as metrics-server.kube-system.svc).
import { request } from 'node:https';
import type { ProbeTls } from './probe.ts';

export const METRICS_APISERVICE = 'v1beta1.metrics.k8s.io';
const USER = { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:metrics-server' };

/** The objects to apply, in order. */
export function metricsApiObjects(
  port: number,
  caPem: string,
): { path: string; body: Record<string, unknown> }[] {
  const rbac = 'rbac.authorization.k8s.io/v1';
  return [
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:metrics-server',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: { name: 'system:metrics-server' },
        rules: [
          { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregated-metrics-reader',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: {
          name: 'system:aggregated-metrics-reader',
          labels: {
            'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
            'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
            'rbac.authorization.k8s.io/aggregate-to-view': 'true',
          },
        },
        rules: [
          { apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:metrics-server',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'system:metrics-server' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:metrics-server',
        },
        subjects: [USER],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/metrics-server:system:auth-delegator',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'metrics-server:system:auth-delegator' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:auth-delegator',
        },
        subjects: [USER],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/metrics-server-auth-reader',
      body: {
        apiVersion: rbac,
        kind: 'RoleBinding',
        metadata: { name: 'metrics-server-auth-reader', namespace: 'kube-system' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'extension-apiserver-authentication-reader',
        },
        subjects: [USER],
      },
    },
    {
      path: '/api/v1/namespaces/kube-system/services/metrics-server',
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: 'metrics-server',
          namespace: 'kube-system',
          labels: { 'k8s-app': 'metrics-server' },
        },
        spec: {
          type: 'ExternalName',
          externalName: 'localhost',
          ports: [{ name: 'https', port, protocol: 'TCP' }],
        },
      },
    },
    {
      path: `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_APISERVICE}`,
      body: {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: METRICS_APISERVICE, labels: { 'k8s-app': 'metrics-server' } },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          service: { name: 'metrics-server', namespace: 'kube-system', port },
          caBundle: Buffer.from(caPem).toString('base64'),
        },
      },
    },
  ];
}

/** Server-side apply of one object as the admin; rejects with the API server's answer. */
export function apply(base: string, tls: ProbeTls, path: string, body: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      `${base}${path}?fieldManager=eci-virtual-node-cluster&force=true`,
      {
        method: 'PATCH',
        agent: false,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: 10_000,
        headers: {
          'Content-Type': 'application/apply-patch+yaml',
          'Content-Length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          (res.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`applying ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`applying ${path}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** True once the aggregator reports the APIService Available (it reached metrics-server). */
export function apiServiceAvailable(body: string): boolean {
  try {
    const s = JSON.parse(body) as { status?: { conditions?: { type?: string; status?: string }[] } };
    return s.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true;
  } catch {
    return false;
  }
}
