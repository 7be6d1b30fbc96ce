// How each control-plane process is invoked and how its health is checked. Every listener is on
// 127.0.0.1 and every connection is TLS verified against the cluster CA.
import { join } from 'node:path';
import { renderKubeconfig } from './kubeconfig.ts';
import type { CertFiles, ClusterPki } from './pki.ts';
import type { ClusterPaths, ClusterPorts, ComponentName } from './state.ts';

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc';
export const NODE_MONITOR_PERIOD = '5s';

export interface ComponentContext {
  clusterName: string;
  paths: ClusterPaths;
  pki: ClusterPki;
  ports: ClusterPorts;
  nodeMonitorGracePeriod: string;
}

const LOOPBACK = '127.0.0.1';

export function apiserverUrl(ports: ClusterPorts): string {
  return `https://${LOOPBACK}:${ports.apiserver}`;
}

function etcdUrl(port: number): string {
  return `https://${LOOPBACK}:${port}`;
}

export function componentKubeconfigPath(paths: ClusterPaths, component: ComponentName): string {
  return join(paths.stateDir, `${component}.kubeconfig`);
}

/** The kubeconfig files to (re)write before a start: the admin one and one per client component. */
export function kubeconfigFiles(ctx: ComponentContext): { path: string; content: string }[] {
  const server = apiserverUrl(ctx.ports);
  const ca = ctx.pki.ca.cert;
  const entry = (path: string, name: string, creds: CertFiles) => ({
    path,
    content: renderKubeconfig({ name, server, caFile: ca, certFile: creds.cert, keyFile: creds.key }),
  });
  return [
    entry(ctx.paths.kubeconfig, `eci-vn-${ctx.clusterName}`, ctx.pki.certs.admin),
    entry(
      componentKubeconfigPath(ctx.paths, 'kube-controller-manager'),
      'kube-controller-manager',
      ctx.pki.certs['controller-manager'],
    ),
    entry(componentKubeconfigPath(ctx.paths, 'kube-scheduler'), 'kube-scheduler', ctx.pki.certs.scheduler),
    entry(
      componentKubeconfigPath(ctx.paths, 'metrics-server'),
      'metrics-server',
      ctx.pki.certs['metrics-server'],
    ),
  ];
}

/**
 * What kube-controller-manager and kube-scheduler share: one kubeconfig to reach the API server and to
 * delegate authentication and authorization, and an HTTPS health port on loopback.
 */
function clientAndServingArgs(
  kubeconfig: string,
  port: number,
  serving: { cert: string; key: string },
): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
  ];
}

export function componentArgs(component: ComponentName, ctx: ComponentContext): string[] {
  const { pki, ports, paths } = ctx;
  const { certs } = pki;
  switch (component) {
    case 'etcd': {
      const peer = etcdUrl(ports.etcdPeer);
      return [
        '--name=default',
        `--data-dir=${paths.etcdData}`,
        `--listen-client-urls=${etcdUrl(ports.etcdClient)}`,
        `--advertise-client-urls=${etcdUrl(ports.etcdClient)}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        `--cert-file=${certs['etcd-server'].cert}`,
        `--key-file=${certs['etcd-server'].key}`,
        `--trusted-ca-file=${pki.ca.cert}`,
        '--client-cert-auth=true',
        `--peer-cert-file=${certs['etcd-server'].cert}`,
        `--peer-key-file=${certs['etcd-server'].key}`,
        `--peer-trusted-ca-file=${pki.ca.cert}`,
        '--peer-client-cert-auth=true',
        // A throwaway local cluster: losing the last writes on a power cut is fine, slow disks are not.
        '--unsafe-no-fsync=true',
      ];
    }
    case 'kube-apiserver':
      return [
        `--etcd-servers=${etcdUrl(ports.etcdClient)}`,
        `--etcd-cafile=${pki.ca.cert}`,
        `--etcd-certfile=${certs['apiserver-etcd-client'].cert}`,
        `--etcd-keyfile=${certs['apiserver-etcd-client'].key}`,
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${ports.apiserver}`,
        `--tls-cert-file=${certs.apiserver.cert}`,
        `--tls-private-key-file=${certs.apiserver.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        '--authorization-mode=Node,RBAC',
        // As kubeadm and managed clusters run it: a node (and the controller acting as its node) may
        // write only its own Node, Lease and the pods bound to it.
        '--enable-admission-plugins=NodeRestriction',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.serviceAccount.publicKey}`,
        `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--allow-privileged=true',
        // The API server dials the virtual node's kubelet API (logs, exec) and verifies it with the CA.
        `--kubelet-client-certificate=${certs['apiserver-kubelet-client'].cert}`,
        `--kubelet-client-key=${certs['apiserver-kubelet-client'].key}`,
        `--kubelet-certificate-authority=${pki.ca.cert}`,
        // As production clusters commonly do: the node's IP first, a hostname only as a last resort.
        '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
        // The aggregation layer (metrics.k8s.io from metrics-server): the front proxy's CA and client
        // certificate, published in kube-system/extension-apiserver-authentication for extension servers.
        `--requestheader-client-ca-file=${pki.frontProxy.ca.cert}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${pki.frontProxy.client.cert}`,
        `--proxy-client-key-file=${pki.frontProxy.client.key}`,
      ];
    case 'kube-controller-manager': {
      return [
        ...clientAndServingArgs(
          componentKubeconfigPath(paths, component),
          ports.controllerManager,
          certs['controller-manager-serving'],
        ),
        `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
        `--root-ca-file=${pki.ca.cert}`,
        `--cluster-signing-cert-file=${pki.ca.cert}`,
        `--cluster-signing-key-file=${pki.ca.key}`,
        '--use-service-account-credentials=true',
        // At the default 20 QPS, creating each controller's ServiceAccount and token on a fresh cluster
        // delays the `default` ServiceAccount (what `up` waits for) by about 4 s; loopback needs no limit.
        '--kube-api-qps=200',
        '--kube-api-burst=400',
        '--leader-elect=false',
        `--cluster-name=${ctx.clusterName}`,
        `--node-monitor-period=${NODE_MONITOR_PERIOD}`,
        `--node-monitor-grace-period=${ctx.nodeMonitorGracePeriod}`,
      ];
    }
    case 'kube-scheduler': {
      return [
        ...clientAndServingArgs(
          componentKubeconfigPath(paths, component),
          ports.scheduler,
          certs['scheduler-serving'],
        ),
        '--leader-elect=false',
      ];
    }
    case 'metrics-server': {
      const kubeconfig = componentKubeconfigPath(paths, component);
      return [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        `--bind-address=${LOOPBACK}`,
        `--secure-port=${metricsServerPort(ports)}`,
        `--tls-cert-file=${certs['metrics-server-serving'].cert}`,
        `--tls-private-key-file=${certs['metrics-server-serving'].key}`,
        // Scrapes kubelets (the virtual node's kubelet API) where their Node says, verifying them
        // with the cluster CA that signs kubelet serving certificates.
        '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
        '--kubelet-use-node-status-port',
        `--kubelet-certificate-authority=${pki.ca.cert}`,
        '--metric-resolution=15s',
      ];
    }
  }
}

/** metrics-server's port; state files older than it have none until the next `up` picks one. */
export function metricsServerPort(ports: ClusterPorts): number {
  if (ports.metricsServer === undefined) throw new Error('no metrics-server port in the cluster state');
  return ports.metricsServer;
}

/** Where the component serves (the API for etcd and kube-apiserver, health for the others). */
export function componentEndpoint(component: ComponentName, ports: ClusterPorts): string {
  switch (component) {
    case 'etcd':
      return etcdUrl(ports.etcdClient);
    case 'kube-apiserver':
      return apiserverUrl(ports);
    case 'kube-controller-manager':
      return `https://${LOOPBACK}:${ports.controllerManager}`;
    case 'kube-scheduler':
      return `https://${LOOPBACK}:${ports.scheduler}`;
    case 'metrics-server':
      return `https://${LOOPBACK}:${ports.metricsServer ?? 0}`;
  }
}

const HEALTH_PATH: Record<ComponentName, string> = {
  etcd: '/health',
  'kube-apiserver': '/readyz',
  'kube-controller-manager': '/healthz',
  'kube-scheduler': '/healthz',
  // /readyz waits for a first scrape of every node, which may never come on a cluster without one.
  'metrics-server': '/livez',
};

export interface HealthCheck {
  url: string;
  /** The client certificate to present. */
  client: CertFiles;
}

export function healthCheck(component: ComponentName, pki: ClusterPki, ports: ClusterPorts): HealthCheck {
  return {
    url: componentEndpoint(component, ports) + HEALTH_PATH[component],
    // etcd trusts any certificate of the cluster CA; the admin one would do, but it is not etcd's user.
    client: component === 'etcd' ? pki.certs['apiserver-etcd-client'] : pki.certs.admin,
  };
}
