import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { componentArgs, healthCheck, kubeconfigFiles, type ComponentContext } from './components.ts';
import { clusterPkiFiles } from './pki.ts';
import { clusterPaths, COMPONENTS } from './state.ts';

const paths = clusterPaths('/state/c1');
const ctx: ComponentContext = {
  clusterName: 'c1',
  paths,
  pki: clusterPkiFiles(paths.pki),
  ports: {
    etcdClient: 2001,
    etcdPeer: 2002,
    apiserver: 2003,
    controllerManager: 2004,
    scheduler: 2005,
    metricsServer: 2006,
  },
  nodeMonitorGracePeriod: '20s',
};

describe('control-plane component flags', () => {
  const required: Record<string, string[]> = {
    etcd: [
      '--unsafe-no-fsync=true',
      '--listen-client-urls=https://127.0.0.1:2001',
      '--client-cert-auth=true',
    ],
    'kube-apiserver': [
      '--authorization-mode=Node,RBAC',
      '--bind-address=127.0.0.1',
      '--secure-port=2003',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--service-account-issuer=https://kubernetes.default.svc',
      '--kubelet-client-certificate=/state/c1/pki/apiserver-kubelet-client.crt',
      '--kubelet-client-key=/state/c1/pki/apiserver-kubelet-client.key',
      '--kubelet-certificate-authority=/state/c1/pki/ca.crt',
      '--etcd-servers=https://127.0.0.1:2001',
      '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
      '--requestheader-client-ca-file=/state/c1/pki/front-proxy-ca.crt',
      '--proxy-client-cert-file=/state/c1/pki/front-proxy-client.crt',
      '--requestheader-allowed-names=front-proxy-client',
    ],
    'kube-controller-manager': [
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      '--node-monitor-grace-period=20s',
      '--node-monitor-period=5s',
      '--root-ca-file=/state/c1/pki/ca.crt',
      '--cluster-signing-cert-file=/state/c1/pki/ca.crt',
      '--cluster-signing-key-file=/state/c1/pki/ca.key',
      '--bind-address=127.0.0.1',
    ],
    'kube-scheduler': ['--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=2005'],
    'metrics-server': [
      '--bind-address=127.0.0.1',
      '--secure-port=2006',
      '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
      '--kubelet-use-node-status-port',
      '--kubelet-certificate-authority=/state/c1/pki/ca.crt',
      '--tls-cert-file=/state/c1/pki/metrics-server-serving.crt',
    ],
  };
  for (const component of COMPONENTS) {
    it(`${component} gets its required flags`, () => {
      const args = componentArgs(component, ctx);
      for (const flag of required[component] ?? [])
        assert.ok(args.includes(flag), `${component} lacks ${flag}`);
    });
  }

  it('listens and probes on loopback only', () => {
    for (const component of COMPONENTS) {
      for (const arg of componentArgs(component, ctx)) {
        if (/^--[\w-]*(url|address)s?=/.test(arg) && !arg.startsWith('--initial-cluster')) {
          assert.match(arg, /=(https:\/\/)?127\.0\.0\.1(:\d+)?$/, arg);
        }
      }
      assert.match(healthCheck(component, ctx.pki, ctx.ports).url, /^https:\/\/127\.0\.0\.1:\d+\//);
    }
  });

  it('writes kubeconfigs that point at the API server and the credential files, without key data', () => {
    const [admin, ...others] = kubeconfigFiles(ctx);
    assert.equal(admin?.path, '/state/c1/kubeconfig');
    assert.equal(others.length, 3);
    const doc = parse(admin?.content ?? '') as {
      clusters: { cluster: { server: string; 'certificate-authority': string } }[];
      users: { user: Record<string, string> }[];
    };
    assert.equal(doc.clusters[0]?.cluster.server, 'https://127.0.0.1:2003');
    assert.deepEqual(doc.users[0]?.user, {
      'client-certificate': '/state/c1/pki/admin.crt',
      'client-key': '/state/c1/pki/admin.key',
    });
  });
});
