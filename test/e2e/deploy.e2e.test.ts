// The install manifests in deploy/ against the real control plane: they pass server-side validation,
// the Deployment sets only settings the controller reads, and the RBAC grants exactly what the
// controller calls — checked with `kubectl auth can-i` and by running the controller as that identity.
//
// Other e2e files share the cluster, so the RBAC is applied under names of its own (same rules), in
// namespaces and on a node name no other test uses, and removed afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type tls from 'node:tls';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreV1Event, V1Container, V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { issueServingCert } from '../../dev/cluster/controlplane.ts';
import { parseAllDocuments } from 'yaml';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deployDir = path.join(root, 'deploy');
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

const NAME = 'ack-virtual-node-controller';
const NS = 'e2e-deploy';
const NS_RESTRICTED = 'e2e-deploy-restricted';
const NODE = 'vk-e2e-deploy';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Runs kubectl with `input` on stdin; rejects with kubectl's stderr. */
function kubectlIn(input: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(KUBECTL, ['--kubeconfig', kubeconfig, ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim()}`)) : resolve(stdout),
    );
    p.stdin?.end(input);
  });
}

/**
 * The manifests `kubectl apply -f deploy/` reads: .yaml, .yml and .json files of the directory itself.
 * Subdirectories (deploy/optional/) are applied only on purpose, by name.
 */
async function manifestFiles(): Promise<string[]> {
  const entries = await readdir(deployDir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

async function loadObjects(file: string): Promise<K8sObject[]> {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) assert.deepEqual(d.errors, [], `${file} is valid YAML`);
  return list.map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
}

async function allObjects(): Promise<K8sObject[]> {
  return (await Promise.all((await manifestFiles()).map(loadObjects))).flat();
}

async function controllerDeployment(): Promise<V1Deployment> {
  const d = (await allObjects()).find((o) => o.kind === 'Deployment' && o.metadata.name === NAME);
  assert.ok(d, `deploy/ has Deployment ${NAME}`);
  return d as unknown as V1Deployment;
}

function controllerContainer(d: V1Deployment): V1Container {
  const c = d.spec?.template.spec?.containers[0];
  assert.ok(c, 'the Deployment has a container');
  return c;
}

async function portFree(port: number): Promise<boolean> {
  const srv = net.createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** A GET over TLS; resolves with the status and the server's certificate, rejects on any failure. */
function httpsGet(
  port: number,
  pathname: string,
  files: { ca?: string; cert?: string; key?: string },
): Promise<{ status: number; peer: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        agent: false,
        ...(files.ca ? { ca: readFileSync(files.ca) } : { rejectUnauthorized: false }),
        ...(files.cert ? { cert: readFileSync(files.cert), key: readFileSync(files.key!) } : {}),
      },
      (res) => {
        const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, peer }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('deploy/ manifests', () => {
  test('kubectl apply --dry-run=server -f deploy/ accepts every object and applies no secret', async () => {
    const out = await kubectl('apply', '--dry-run=server', '-f', deployDir, '-o', 'name');
    const applied = out.trim().split('\n').sort();
    const expected = (await allObjects())
      .map((o) => {
        const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
        return `${o.kind.toLowerCase()}${group}/${o.metadata.name}`;
      })
      .sort();
    assert.deepEqual(applied, expected);
    for (const must of [
      `serviceaccount/${NAME}`,
      `clusterrole.rbac.authorization.k8s.io/${NAME}`,
      `deployment.apps/${NAME}`,
      `service/${NAME}`,
      'configmap/eci-profile',
    ]) {
      assert.ok(applied.includes(must), `applies ${must}`);
    }
    assert.ok(!applied.some((n) => n.startsWith('secret/')), 'no Secret is applied from deploy/');
    assert.ok(
      !applied.some((n) => n.startsWith('mutatingwebhookconfiguration')),
      'the webhook configuration is the controller’s to create',
    );
    const namespaced = (await allObjects()).filter((o) => o.metadata.namespace !== undefined);
    for (const o of namespaced) {
      assert.ok(
        ['kube-system', 'kube-node-lease'].includes(o.metadata.namespace!),
        `${o.kind}/${o.metadata.name} in ${o.metadata.namespace}`,
      );
    }
  });

  test('the alibaba-addon-secret template is valid, documented, and kept out of kubectl apply -f deploy/', async () => {
    const file = path.join(deployDir, 'templates', 'alibaba-addon-secret.yaml.example');
    assert.ok(!(await manifestFiles()).includes(file), 'not a file kubectl reads from the directory');
    const text = await readFile(file, 'utf8');
    assert.match(
      text,
      /kubectl -n kube-system create secret generic alibaba-addon-secret \\\n#\s+--from-literal='access-key-id=<your access key id>' \\\n#\s+--from-literal='access-key-secret=<your access key secret>'/,
      'carries the documented create command',
    );
    const [secret] = await loadObjects(file);
    assert.equal(secret?.kind, 'Secret');
    assert.deepEqual(secret?.metadata, { name: 'alibaba-addon-secret', namespace: 'kube-system' });
    assert.deepEqual(Object.keys(secret?.stringData as object).sort(), [
      'access-key-id',
      'access-key-secret',
    ]);
    // Named explicitly, kubectl reads it whatever the extension: the server accepts it.
    assert.equal(
      (await kubectl('apply', '--dry-run=server', '-f', file, '-o', 'name')).trim(),
      'secret/alibaba-addon-secret',
    );
  });

  test('the Deployment is the one ack-virtual-node users edit, hardened', async () => {
    const d = await controllerDeployment();
    assert.equal(d.metadata?.namespace, 'kube-system');
    assert.equal(d.metadata?.labels?.app, NAME);
    // Two replicas with one writer; leader election makes a rolling update safe.
    assert.equal(d.spec?.replicas, 2);
    assert.equal(d.spec?.strategy?.type, 'RollingUpdate');
    const pod = d.spec!.template.spec!;
    assert.equal(d.spec?.template.metadata?.labels?.app, NAME);
    assert.equal(pod.serviceAccountName, NAME);
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.ok((pod.terminationGracePeriodSeconds ?? 0) > 0);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const terms =
      pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    assert.ok(terms?.length, 'required node affinity');
    for (const t of terms) {
      assert.ok(
        t.matchExpressions?.some(
          (e) => e.key === 'type' && e.operator === 'NotIn' && e.values?.includes('virtual-kubelet'),
        ),
        'every term keeps it off virtual nodes',
      );
    }
    for (const t of pod.tolerations ?? []) {
      assert.ok(
        t.key,
        `no toleration of every taint (it would tolerate the virtual node's): ${JSON.stringify(t)}`,
      );
      assert.notEqual(t.key, 'virtual-kubelet.io/provider');
    }

    const c = controllerContainer(d);
    assert.match(c.image ?? '', /(^|\/)eci-virtual-node:0\.1\.0$/);
    const command = c.command ?? [];
    assert.deepEqual(command.slice(0, 2), ['eci-virtual-node', 'run']);
    // Every declared port is served: metrics, the kubelet API and the routing webhook.
    for (const flag of ['--metrics-port=10255', '--kubelet-port=10250', '--webhook-port=9443']) {
      assert.ok(command.includes(flag), `the command passes ${flag}`);
    }
    assert.ok(command.includes('--leader-elect'), 'one writer among the replicas');
    assert.ok(command.includes('--impersonate-node'), 'pods and the Node handled as the node itself');
    // The kubelet API's certificate: a mounted Secret when there is one, else a CSR kept in --cert-dir.
    const tlsVolume = pod.volumes?.find((v) => v.name === 'kubelet-tls');
    assert.deepEqual(tlsVolume?.secret, { secretName: 'ack-virtual-node-kubelet-tls', optional: true });
    const mount = c.volumeMounts?.find((m) => m.name === 'kubelet-tls');
    assert.ok(command.includes(`--tls-cert-file=${mount?.mountPath}/tls.crt`));
    assert.ok(command.includes(`--tls-private-key-file=${mount?.mountPath}/tls.key`));
    const state = c.volumeMounts?.find((m) => m.name === 'state')?.mountPath;
    assert.ok(
      command.some((a) => a.startsWith(`--cert-dir=${state}/`)),
      '--cert-dir is on the writable state volume',
    );
    assert.deepEqual(Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort])), {
      kubelet: 10250,
      metrics: 10255,
      webhook: 9443,
    });
    assert.equal(c.livenessProbe?.httpGet?.path, '/livez');
    assert.equal(c.livenessProbe?.httpGet?.port, 'metrics');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.readinessProbe?.httpGet?.port, 'metrics');
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, 'requests');
    assert.ok(c.resources?.limits?.memory, 'a memory limit');
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(c.securityContext?.seccompProfile?.type, 'RuntimeDefault');

    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    assert.deepEqual(
      [...env.keys()].sort(),
      [
        'ECI_ACCESS_KEY',
        'ECI_KUBE_PROXY',
        'ECI_REGION',
        'ECI_SECRET_KEY',
        'ECI_SECURITY_GROUP',
        'ECI_VSWITCH',
        'POD_NAME',
        'VKUBELET_NODE_NAME',
        'VKUBELET_POD_IP',
      ],
      'exactly the names users already type, and the replica name for leader election',
    );
    assert.equal(env.get('ECI_KUBE_PROXY')?.value, 'true');
    assert.equal(env.get('VKUBELET_NODE_NAME')?.value, 'virtual-kubelet');
    assert.deepEqual(env.get('VKUBELET_POD_IP')?.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.deepEqual(env.get('ECI_ACCESS_KEY')?.valueFrom, {
      secretKeyRef: { name: 'alibaba-addon-secret', key: 'access-key-id', optional: true },
    });
    assert.deepEqual(env.get('ECI_SECRET_KEY')?.valueFrom, {
      secretKeyRef: { name: 'alibaba-addon-secret', key: 'access-key-secret', optional: true },
    });

    const svc = (await allObjects()).find((o) => o.kind === 'Service' && o.metadata.name === NAME);
    const ports = (svc?.spec as { ports: { port: number; targetPort: string }[] }).ports;
    assert.deepEqual(
      ports.filter((p) => p.port === 443 || p.port === 10250).map((p) => [p.port, p.targetPort]),
      [
        [443, 'webhook'],
        [10250, 'kubelet'],
      ],
    );
  });

  test('every flag in the Deployment’s command is one `eci-virtual-node run` accepts', async () => {
    const help = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [path.join(root, 'bin', 'eci-virtual-node.js'), 'run', '--help'],
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    );
    const flags = controllerContainer(await controllerDeployment())
      .command!.slice(2)
      .filter((a) => a.startsWith('--'))
      .map((a) => a.split('=')[0]!);
    assert.ok(flags.length > 0);
    for (const f of flags) assert.match(help, new RegExp(`\\s${f}[ ,]`), `run accepts ${f}`);
  });

  describe('every env var the Deployment sets is one the controller reads', async () => {
    const sources: { file: string; text: string }[] = [];
    for (const e of await readdir(path.join(root, 'src'), { recursive: true, withFileTypes: true })) {
      const file = path.join(e.parentPath, e.name);
      const rel = path.relative(root, file);
      // The controller: not its tests, not the emulator or the local control plane it can start.
      if (!e.isFile() || !rel.endsWith('.ts') || rel.endsWith('.test.ts')) continue;
      if (/^src[/\\](emulator|cluster)[/\\]/.test(rel)) continue;
      sources.push({ file: rel, text: await readFile(file, 'utf8') });
    }
    const names = (controllerContainer(await controllerDeployment()).env ?? []).map((e) => e.name);
    for (const name of names) {
      test(name, () => {
        const read = sources.filter(
          ({ file, text }) =>
            new RegExp(`\\bprocess\\.env(\\.${name}\\b|\\[['"]${name}['"]\\])`).test(text) ||
            // src/config validates the environment by schema key (`ECI_REGION: z.string()...`), and
            // src/app/run-config.ts names the variable behind each flag (`nodeName: 'VKUBELET_NODE_NAME'`).
            (/^src[/\\](config|app)[/\\]/.test(file) &&
              new RegExp(`\\b${name}\\s*:|env\\.${name}\\b|['"]${name}['"]`).test(text)),
        );
        assert.ok(read.length > 0, `${name} is read somewhere under src/ (process.env or src/config)`);
      });
    }
  });
});

// No Docker engine runs where the tests do, so the image is checked by what it is made of.
describe('the image (Dockerfile)', () => {
  test('is node:24-slim with production dependencies only, non-root, running bin/eci-virtual-node.js', async () => {
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const f of froms) assert.equal(f, 'node:24-slim');
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "\/app\/bin\/eci-virtual-node\.js"\]$/m);
    const user = /^USER\s+(\d+)(?::(\d+))?$/m.exec(dockerfile);
    assert.ok(user, 'a numeric USER, so runAsNonRoot can be verified');
    assert.notEqual(user[1], '0');
    const pod = (await controllerDeployment()).spec!.template.spec!;
    assert.equal(pod.securityContext?.runAsUser, Number(user[1]), 'the Deployment runs as the image user');
    // The Deployment's command is on the image's PATH.
    assert.match(dockerfile, /ln -s \/app\/bin\/eci-virtual-node\.js \/usr\/local\/bin\/eci-virtual-node/);
    assert.equal(controllerContainer(await controllerDeployment()).command?.[0], 'eci-virtual-node');
    const ignore = (await readFile(path.join(root, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim());
    for (const line of ['*', '!package.json', '!package-lock.json', '!bin', '!src', '**/*.test.ts']) {
      assert.ok(ignore.includes(line), `.dockerignore: ${line}`);
    }
  });

  test('every package the controller imports is a production dependency (npm ci --omit=dev keeps it)', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const missing = new Set<string>();
    for (const dir of ['src', 'bin']) {
      for (const e of await readdir(path.join(root, dir), { recursive: true, withFileTypes: true })) {
        if (!e.isFile() || !/\.(ts|js)$/.test(e.name) || e.name.endsWith('.test.ts')) continue;
        const text = await readFile(path.join(e.parentPath, e.name), 'utf8');
        for (const m of text.matchAll(
          /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/g,
        )) {
          const spec = (m[1] ?? m[2])!;
          if (spec.startsWith('node:')) continue;
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!(name in pkg.dependencies))
            missing.add(
              `${name} (${path.join(dir, path.relative(path.join(root, dir), path.join(e.parentPath, e.name)))})`,
            );
        }
      }
    }
    assert.deepEqual([...missing], [], 'imported by the controller but not in "dependencies"');
  });
});

describe('the controller’s ServiceAccount, RBAC applied for real', { timeout: 600_000 }, () => {
  // The same rules under names of this run's own, so parallel runs and other tests never collide.
  const id = randomBytes(3).toString('hex');
  const rename = (n: string) => (n.startsWith(NAME) ? n.replace(NAME, `${NAME}-e2e-${id}`) : n);
  const sa = rename(NAME);
  const as = `system:serviceaccount:kube-system:${sa}`;
  let rbac: K8sObject[] = [];
  let tmp = '';

  before(async () => {
    const objects = await loadObjects(path.join(deployDir, '00-rbac.yaml'));
    const kinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    for (const o of objects) assert.ok(kinds.has(o.kind), `00-rbac.yaml holds only RBAC (${o.kind})`);
    const policy = await loadObjects(path.join(deployDir, '01-admission-policy.yaml'));
    for (const o of policy) {
      assert.ok(o.kind.startsWith('ValidatingAdmissionPolicy'), `01-admission-policy.yaml: ${o.kind}`);
    }
    rbac = [...objects, ...policy].map((o) => {
      // The node name deploy/ pins (virtual-kubelet) becomes this run's, as the comments there say.
      const c = JSON.parse(
        JSON.stringify(o)
          .replaceAll('system:node:virtual-kubelet', `system:node:${NODE}`)
          .replaceAll('eci-virtual-node-virtual-kubelet', `eci-virtual-node-${NODE}`)
          .replaceAll(`system:serviceaccount:kube-system:${NAME}`, as),
      ) as K8sObject;
      c.metadata.name = rename(c.metadata.name);
      c.metadata.labels = { ...(c.metadata.labels as object), 'e2e-run': id };
      const roleRef = c.roleRef as { name: string } | undefined;
      if (roleRef) roleRef.name = rename(roleRef.name);
      for (const s of (c.subjects as { name: string }[] | undefined) ?? []) s.name = rename(s.name);
      const spec = c.spec as { policyName?: string } | undefined;
      if (spec?.policyName) spec.policyName = rename(spec.policyName);
      return c;
    });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'evn-deploy-'));
    for (const ns of [NS, NS_RESTRICTED]) {
      await kubectl('delete', 'namespace', ns, '--ignore-not-found', '--wait=true');
      await kubectl('create', 'namespace', ns);
    }
    await kubectl('label', 'namespace', NS_RESTRICTED, 'pod-security.kubernetes.io/enforce=restricted');
    await kubectlIn(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }), 'apply', '-f', '-');
    // The ImageCache resource the RBAC grants must exist for `kubectl auth can-i` to name it.
    await kubectl('apply', '-f', path.join(deployDir, '01-imagecache-crd.yaml'));
    await kubectl('wait', '--for=condition=Established', 'crd/imagecaches.eci.alibabacloud.com');
  });

  after(async () => {
    await kubectlIn(
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
      'delete',
      '--ignore-not-found',
      '-f',
      '-',
    ).catch((err: unknown) => console.error(err));
    for (const ns of [NS, NS_RESTRICTED]) {
      await kubectl('delete', 'namespace', ns, '--ignore-not-found', '--wait=false').catch(() => undefined);
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** A kubeconfig holding only the ServiceAccount's token: what the in-cluster controller has. */
  async function serviceAccountKubeconfig(): Promise<string> {
    const token = (await kubectl('-n', 'kube-system', 'create', 'token', sa, '--duration=1h')).trim();
    const admin = await json<{ clusters: { cluster: Record<string, string> }[] }>(
      'config',
      'view',
      '--raw',
      '--minify',
      '--flatten',
    );
    const file = path.join(tmp, 'sa.kubeconfig');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: admin.clusters[0]!.cluster }],
        users: [{ name: sa, user: { token } }],
        contexts: [{ name: sa, context: { cluster: 'test', user: sa } }],
        'current-context': sa,
      }),
      { mode: 0o600 },
    );
    return file;
  }

  /** `kubectl auth can-i` as the controller: true for "yes", false for "no", throws on anything else. */
  const canI = (args: string[]) =>
    new Promise<boolean>((resolve, reject) =>
      execFile(
        KUBECTL,
        ['--kubeconfig', kubeconfig, 'auth', 'can-i', ...args, `--as=${as}`],
        (err, stdout, stderr) => {
          const answer = stdout.trim();
          if (answer === 'yes' || answer === 'no') resolve(answer === 'yes');
          else reject(new Error(`kubectl auth can-i ${args.join(' ')}: ${stderr.trim() || err?.message}`));
        },
      ),
    );

  // What the ServiceAccount itself calls, by the code that calls it. Pods, the Node, its Lease, Events
  // and what pods refer to go through the node identity (below), not through these grants.
  const granted: string[][] = [
    // act as its own node (src/app/controller.ts, --impersonate-node)
    ['impersonate', `users/system:node:${NODE}`],
    ['impersonate', 'groups/system:nodes'],
    // namespace labels for the webhook; kube-system UID as cluster id (src/app/controller.ts)
    ['get', 'namespaces'],
    ['list', 'namespaces'],
    ['watch', 'namespaces'],
    // its own MutatingWebhookConfiguration and serving secret
    ['create', 'mutatingwebhookconfigurations'],
    ['get', 'mutatingwebhookconfigurations/eci-virtual-node'],
    ['update', 'mutatingwebhookconfigurations/eci-virtual-node'],
    ['patch', 'mutatingwebhookconfigurations/eci-virtual-node'],
    ['create', 'secrets', '-n', 'kube-system'],
    ['get', 'secrets/eci-virtual-node-webhook-tls', '-n', 'kube-system'],
    ['update', 'secrets/eci-virtual-node-webhook-tls', '-n', 'kube-system'],
    ['patch', 'secrets/eci-virtual-node-webhook-tls', '-n', 'kube-system'],
    // eci-profile and alibaba-addon-secret, watched by name
    ['get', 'configmaps/eci-profile', '-n', 'kube-system'],
    ['list', 'configmaps/eci-profile', '-n', 'kube-system'],
    ['watch', 'configmaps/eci-profile', '-n', 'kube-system'],
    ['get', 'secrets/alibaba-addon-secret', '-n', 'kube-system'],
    ['list', 'secrets/alibaba-addon-secret', '-n', 'kube-system'],
    ['watch', 'secrets/alibaba-addon-secret', '-n', 'kube-system'],
    // leader election (src/kube/leader-election.ts)
    ['create', 'leases', '-n', 'kube-system'],
    ['get', `leases/eci-virtual-node-${NODE}`, '-n', 'kube-system'],
    ['update', `leases/eci-virtual-node-${NODE}`, '-n', 'kube-system'],
    // the cluster's ImageCache Lease (src/app/controller.ts)
    ['get', 'leases/eci-virtual-node-imagecaches', '-n', 'kube-system'],
    ['update', 'leases/eci-virtual-node-imagecaches', '-n', 'kube-system'],
    // ImageCache resources, by the leader (src/imagecaches/): watch, finalizer and status patches
    ['get', 'imagecaches.eci.alibabacloud.com'],
    ['list', 'imagecaches.eci.alibabacloud.com'],
    ['watch', 'imagecaches.eci.alibabacloud.com'],
    ['patch', 'imagecaches.eci.alibabacloud.com'],
    ['patch', 'imagecaches.eci.alibabacloud.com', '--subresource=status'],
    // kubelet API authn/authz delegation
    ['create', 'tokenreviews'],
    ['create', 'subjectaccessreviews'],
    // the kubelet API's client CA (src/kubelet/client-ca.ts)
    ['get', 'configmaps/extension-apiserver-authentication', '-n', 'kube-system'],
    ['list', 'configmaps/extension-apiserver-authentication', '-n', 'kube-system'],
    ['watch', 'configmaps/extension-apiserver-authentication', '-n', 'kube-system'],
    // the kubelet API's serving certificate, requested from the cluster (src/kubelet/serving-cert.ts)
    ['create', 'certificatesigningrequests'],
    ['get', 'certificatesigningrequests'],
    ['list', 'certificatesigningrequests'],
    ['watch', 'certificatesigningrequests'],
  ];

  // Least privilege: what the ServiceAccount must not have, not even for its own node (that is the
  // node identity's, confined by the API server), and close neighbours of its grants.
  const denied: string[][] = [
    // ImageCaches are the user's: the controller neither makes nor removes them.
    ['create', 'imagecaches.eci.alibabacloud.com'],
    ['delete', 'imagecaches.eci.alibabacloud.com'],
    ['update', 'imagecaches.eci.alibabacloud.com'],
    ['get', 'nodes'],
    ['patch', 'nodes'],
    ['patch', `nodes/${NODE}`],
    ['delete', 'nodes'],
    ['update', 'nodes', '--subresource=status'],
    ['list', 'pods', '-A'],
    ['get', 'pods', '-n', NS],
    ['delete', 'pods', '-n', NS],
    ['patch', 'pods', '--subresource=status', '-n', NS],
    ['create', 'pods', '-n', NS],
    ['create', 'pods', '--subresource=exec', '-n', NS],
    ['get', 'secrets', '-n', NS],
    ['get', 'configmaps', '-n', NS],
    ['create', 'serviceaccounts', '--subresource=token', '-n', NS],
    ['create', 'serviceaccounts', '--subresource=token', '-n', 'kube-system'],
    ['create', 'events', '-n', NS],
    ['list', 'secrets', '-A'],
    ['list', 'secrets', '-n', 'kube-system'],
    ['watch', 'secrets', '-n', 'kube-system'],
    ['list', 'configmaps', '-n', 'kube-system'],
    ['create', 'secrets', '-n', NS],
    ['update', 'secrets/alibaba-addon-secret', '-n', 'kube-system'],
    ['delete', 'secrets/eci-virtual-node-webhook-tls', '-n', 'kube-system'],
    ['update', 'configmaps/eci-profile', '-n', 'kube-system'],
    ['create', 'configmaps', '-n', 'kube-system'],
    ['create', 'serviceaccounts', '-n', NS],
    ['list', 'mutatingwebhookconfigurations'],
    ['patch', 'mutatingwebhookconfigurations/someone-elses-webhook'],
    ['delete', 'mutatingwebhookconfigurations/eci-virtual-node'],
    ['create', 'validatingwebhookconfigurations'],
    ['update', 'leases/kube-controller-manager', '-n', 'kube-system'],
    ['delete', `leases/eci-virtual-node-${NODE}`, '-n', 'kube-system'],
    ['get', 'leases', '-n', 'kube-node-lease'],
    ['update', 'namespaces'],
    ['delete', 'namespaces'],
    ['create', 'clusterrolebindings'],
    ['escalate', 'clusterroles'],
    ['impersonate', 'users'],
    ['impersonate', 'users/system:node:some-other-node'],
    ['impersonate', 'users/system:admin'],
    ['impersonate', 'groups/system:masters'],
    ['impersonate', 'serviceaccounts'],
    ['impersonate', 'userextras/scopes'],
    ['*', '*'],
    // approving its own serving CSR is opt-in (deploy/optional/approve-own-serving-csr.yaml)
    ['update', 'certificatesigningrequests', '--subresource=approval'],
    ['delete', 'certificatesigningrequests'],
  ];

  test('kubectl auth can-i: yes to every API the controller calls', async () => {
    const answers = await Promise.all(granted.map(canI));
    assert.deepEqual(
      granted.filter((_, i) => !answers[i]).map((a) => a.join(' ')),
      [],
      'calls the controller would be refused',
    );
  });

  /**
   * Whether the controller may approve CSRs for `signer`. Signers are not a discoverable resource, so
   * `kubectl auth can-i` cannot name them: a SubjectAccessReview asks the authorizer directly.
   */
  async function mayApprove(signer: string): Promise<boolean> {
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: as,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
        resourceAttributes: {
          group: 'certificates.k8s.io',
          resource: 'signers',
          name: signer,
          verb: 'approve',
        },
      },
    };
    const out = await kubectlIn(JSON.stringify(review), 'create', '-f', '-', '-o', 'json');
    return (JSON.parse(out) as { status?: { allowed?: boolean } }).status?.allowed === true;
  }

  test('kubectl auth can-i: no to what it does not need', async () => {
    const answers = await Promise.all(denied.map(canI));
    assert.deepEqual(
      denied.filter((_, i) => answers[i]).map((a) => a.join(' ')),
      [],
      'grants beyond least privilege',
    );
    assert.equal(await mayApprove('kubernetes.io/kubelet-serving'), false, 'approving its own CSR is opt-in');
  });

  test('the controller pod passes Pod Security "restricted"', async () => {
    const d = await controllerDeployment();
    const pod = (name: string, spec: unknown) =>
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS_RESTRICTED }, spec });
    await waitFor('default ServiceAccount', () =>
      json('-n', NS_RESTRICTED, 'get', 'serviceaccount', 'default'),
    );
    const spec = { ...d.spec!.template.spec!, serviceAccountName: 'default' };
    const out = await kubectlIn(pod('controller', spec), 'apply', '--dry-run=server', '-f', '-');
    assert.match(out, /pod\/controller created \(server dry run\)/);
    // The namespace does enforce: the same pod without its security context is refused.
    const bare = {
      ...spec,
      securityContext: undefined,
      containers: spec.containers.map((c) => ({ ...c, securityContext: undefined })),
    };
    await assert.rejects(
      kubectlIn(pod('bare', bare), 'apply', '--dry-run=server', '-f', '-'),
      /violates PodSecurity "restricted/,
    );
  });

  test('the controller, as this ServiceAccount, runs a pod end to end with no request refused', async () => {
    let eci: TestEmulator | undefined;
    let controller: ControllerProcess | undefined;
    try {
      const saKubeconfig = await serviceAccountKubeconfig();
      await kubectl('delete', 'node', NODE, '--ignore-not-found', '--wait=true');
      const emu = await startTestEmulator();
      eci = emu;
      const metricsPort = await freePort();
      controller = new ControllerProcess([
        '--kubeconfig',
        saKubeconfig,
        '--impersonate-node',
        '--leader-elect',
        '--leader-elect-namespace',
        'kube-system',
        '--node-name',
        NODE,
        '--node-ip',
        '127.0.0.1',
        '--kubelet-port',
        String(await freePort()),
        '--metrics-port',
        String(metricsPort),
        '--metrics-bind-address',
        '127.0.0.1',
      ]);
      controller.start(emu.env);
      const c = controller;
      // /readyz: the Node is registered Ready and the pod informer has synced, all as the ServiceAccount.
      await waitFor(
        'controller /readyz',
        async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200,
        { timeoutMs: 90_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\ncontroller output:\n${c.output}`);
      });
      const lease = await json<{ spec?: { holderIdentity?: string } }>(
        '-n',
        'kube-node-lease',
        'get',
        'lease',
        NODE,
      );
      assert.equal(lease.spec?.holderIdentity, NODE);

      await kubectl('-n', NS, 'create', 'configmap', 'cfg', '--from-literal=mode=blue');
      await kubectl('-n', NS, 'create', 'secret', 'generic', 'sec', '--from-literal=password=s3cr3t');
      await waitFor('default ServiceAccount', () => json('-n', NS, 'get', 'serviceaccount', 'default'));
      const placement = {
        nodeName: NODE,
        tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
      };
      const pod = (name: string, extra: Record<string, unknown> = {}) =>
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: NS },
          spec: {
            ...placement,
            containers: [
              {
                name: 'app',
                image: 'busybox',
                command: ['sleep', '3600'],
                env: [
                  { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } },
                  { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
                ],
                volumeMounts: [{ name: 'tok', mountPath: '/var/run/tok' }],
              },
            ],
            volumes: [
              {
                name: 'tok',
                projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
              },
            ],
            ...extra,
          },
        });
      // ConfigMap + Secret get, TokenRequest, pods/status patch.
      await kubectlIn(pod('app'), 'apply', '-f', '-');
      const running = await waitFor(
        'pod Running',
        async () => {
          const p = await json<V1Pod>('-n', NS, 'get', 'pod', 'app');
          return p.status?.phase === 'Running' && p;
        },
        { timeoutMs: 120_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\ncontroller output:\n${c.output}`);
      });
      const groupId = /^eci:\/\/([^/]+)\//.exec(
        running.status?.containerStatuses?.[0]?.containerID ?? '',
      )?.[1];
      assert.ok(groupId, 'containerID names the container group');
      const group = (await emu.admin.getContainerGroup(groupId)).spec as {
        containers: { env: { key: string; value?: string }[] }[];
        volumes: { name: string; configFiles?: { path?: string; content?: string }[] }[];
      };
      const env = Object.fromEntries(group.containers[0]!.env.map((e) => [e.key, e.value]));
      assert.equal(env.MODE, 'blue', 'ConfigMap read');
      assert.equal(env.PASSWORD, 's3cr3t', 'Secret read');
      const token64 = group.volumes.find((v) => v.name === 'tok')?.configFiles?.[0]?.content ?? '';
      assert.match(Buffer.from(token64, 'base64').toString(), /^eyJ/, 'TokenRequest made');

      // Events: a pod ECI cannot run gets a Warning Event.
      await kubectlIn(pod('hostnet', { hostNetwork: true }), 'apply', '-f', '-');
      await waitFor('Warning Event for hostnet', async () => {
        const ev = await json<{ items: CoreV1Event[] }>(
          '-n',
          NS,
          'get',
          'events',
          '--field-selector',
          'involvedObject.name=hostnet',
        );
        return ev.items.some((e) => e.type === 'Warning');
      });

      // pods delete: the controller finishes the graceful deletion once the group is gone.
      await kubectl('-n', NS, 'delete', 'pod', 'app', 'hostnet', '--wait=false');
      await waitFor(
        'pods deleted',
        async () => (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods')).items.length === 0,
        { timeoutMs: 120_000 },
      );
      await waitFor('groups deleted', async () => (await emu.admin.listContainerGroups()).total === 0);

      assert.doesNotMatch(c.output, /forbidden|\b403\b/i, 'no API request was refused');
    } finally {
      // On failure pods may still be bound to the node: remove them so the namespace can go.
      await kubectl('-n', NS, 'delete', 'pods', '--all', '--force', '--grace-period=0').catch(
        () => undefined,
      );
      await controller?.stop('SIGTERM');
      await kubectl('delete', 'node', NODE, '--ignore-not-found').catch(() => undefined);
      await kubectl('-n', 'kube-node-lease', 'delete', 'lease', NODE, '--ignore-not-found').catch(
        () => undefined,
      );
      await kubectl(
        '-n',
        'kube-system',
        'delete',
        'lease',
        `eci-virtual-node-${NODE}`,
        '--ignore-not-found',
      ).catch(() => undefined);
      await eci?.close();
    }
  });

  test('probe matrix: real requests as the ServiceAccount and as the node it acts as', async () => {
    const OTHER = `${NODE}-other`;
    const saKubeconfig = await serviceAccountKubeconfig();
    const node = ['--as', `system:node:${NODE}`, '--as-group', 'system:nodes'];
    /** One request with the controller's own credentials; 'allowed' or 'forbidden' (anything else throws). */
    const probe = (args: string[], input?: string) =>
      new Promise<'allowed' | 'forbidden'>((resolve, reject) => {
        const p = execFile(KUBECTL, ['--kubeconfig', saKubeconfig, ...args], (err, _out, stderr) => {
          if (!err || /NotFound|not found/.test(stderr)) resolve('allowed');
          else if (/forbidden|denied request|is not allowed/i.test(stderr)) resolve('forbidden');
          else reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim()}`));
        });
        p.stdin?.end(input ?? '');
      });
    try {
      // A second node and one pod on each, with a ServiceAccount and a Secret of its own.
      for (const n of [NODE, OTHER]) {
        await kubectlIn(
          JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } }),
          'apply',
          '-f',
          '-',
        );
      }
      for (const [who, on] of [
        ['mine', NODE],
        ['theirs', OTHER],
      ] as const) {
        await kubectl('-n', NS, 'create', 'serviceaccount', `sa-${who}`);
        await kubectl('-n', NS, 'create', 'secret', 'generic', `${who}-secret`, '--from-literal=k=v');
        await kubectlIn(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: who, namespace: NS },
            spec: {
              nodeName: on,
              serviceAccountName: `sa-${who}`,
              containers: [
                {
                  name: 'c',
                  image: 'busybox',
                  env: [{ name: 'S', valueFrom: { secretKeyRef: { name: `${who}-secret`, key: 'k' } } }],
                },
              ],
            },
          }),
          'apply',
          '-f',
          '-',
        );
      }
      const uid = async (pod: string) => (await json<V1Pod>('-n', NS, 'get', 'pod', pod)).metadata!.uid!;
      const [mineUid, theirsUid] = [await uid('mine'), await uid('theirs')];
      // The Node authorizer learns pod-to-node edges from a watch: wait until it knows ours.
      await waitFor(
        'the Node authorizer knows the pod',
        async () => (await probe([...node, '-n', NS, 'get', 'secret', 'mine-secret'])) === 'allowed',
      );
      const lease = (name: string) =>
        JSON.stringify({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: 'kube-system' },
        });
      const matrix: [string, string[], 'allowed' | 'forbidden', string?][] = [
        // As the ServiceAccount: nothing of any node or pod, and creates held to its own objects.
        [
          'SA mints a token for another ServiceAccount',
          ['-n', NS, 'create', 'token', 'default'],
          'forbidden',
        ],
        [
          'SA mints a token for its own pod’s ServiceAccount',
          ['-n', NS, 'create', 'token', 'sa-mine'],
          'forbidden',
        ],
        ['SA reads a Secret of a pod', ['-n', NS, 'get', 'secret', 'mine-secret'], 'forbidden'],
        ['SA labels another Node', ['label', 'node', OTHER, 'probe=1', '--overwrite'], 'forbidden'],
        ['SA labels its own Node', ['label', 'node', NODE, 'probe=1', '--overwrite'], 'forbidden'],
        [
          'SA deletes a pod on another node',
          ['-n', NS, 'delete', 'pod', 'theirs', '--wait=false'],
          'forbidden',
        ],
        [
          'SA acts as another node',
          ['--as', `system:node:${OTHER}`, '--as-group', 'system:nodes', 'get', 'node', OTHER],
          'forbidden',
        ],
        [
          'SA acts as a cluster admin',
          ['--as', 'system:admin', '--as-group', 'system:masters', 'get', 'secrets', '-A'],
          'forbidden',
        ],
        [
          'SA creates another Secret in kube-system',
          ['-n', 'kube-system', 'create', 'secret', 'generic', `probe-${id}`, '--from-literal=a=b'],
          'forbidden',
        ],
        [
          'SA creates a token Secret under its webhook Secret’s name',
          [
            '-n',
            'kube-system',
            'create',
            'secret',
            'generic',
            'eci-virtual-node-webhook-tls',
            '--from-literal=a=b',
            '--dry-run=server',
          ],
          'forbidden',
        ],
        ['SA creates another Lease in kube-system', ['create', '-f', '-'], 'forbidden', lease(`probe-${id}`)],
        [
          'SA creates its leader Lease',
          ['create', '--dry-run=server', '-f', '-'],
          'allowed',
          lease(`eci-virtual-node-${NODE}`),
        ],
        [
          'SA reads its AccessKey Secret',
          ['-n', 'kube-system', 'get', 'secret', 'alibaba-addon-secret'],
          'allowed',
        ],
        // As its node: its own pods, their Secrets and tokens, its own Node — and nothing else.
        [
          'node mints a token for a ServiceAccount none of its pods uses',
          [...node, '-n', NS, 'create', 'token', 'default'],
          'forbidden',
        ],
        [
          'node mints a token for another node’s pod',
          [
            ...node,
            '-n',
            NS,
            'create',
            'token',
            'sa-theirs',
            '--bound-object-kind=Pod',
            '--bound-object-name=theirs',
            `--bound-object-uid=${theirsUid}`,
          ],
          'forbidden',
        ],
        [
          'node mints a token for its own pod',
          [
            ...node,
            '-n',
            NS,
            'create',
            'token',
            'sa-mine',
            '--bound-object-kind=Pod',
            '--bound-object-name=mine',
            `--bound-object-uid=${mineUid}`,
          ],
          'allowed',
        ],
        [
          'node reads another node’s pod Secret',
          [...node, '-n', NS, 'get', 'secret', 'theirs-secret'],
          'forbidden',
        ],
        ['node reads its own pod’s Secret', [...node, '-n', NS, 'get', 'secret', 'mine-secret'], 'allowed'],
        [
          'node reads the AccessKey Secret',
          [...node, '-n', 'kube-system', 'get', 'secret', 'alibaba-addon-secret'],
          'forbidden',
        ],
        [
          'node labels another Node',
          [...node, 'label', 'node', OTHER, 'probe=1', '--overwrite'],
          'forbidden',
        ],
        [
          'node labels its own Node',
          [...node, 'label', 'node', NODE, 'eci-virtual-node.e2e/probe=1', '--overwrite'],
          'allowed',
        ],
        [
          'node deletes a pod on another node',
          [...node, '-n', NS, 'delete', 'pod', 'theirs', '--wait=false'],
          'forbidden',
        ],
        [
          'node deletes its own pod',
          [...node, '-n', NS, 'delete', 'pod', 'mine', '--wait=false', '--grace-period=0', '--force'],
          'allowed',
        ],
      ];
      const wrong: string[] = [];
      const counts = { allowed: 0, forbidden: 0 };
      for (const [what, args, want, input] of matrix) {
        const got = await probe(args, input);
        counts[got]++;
        if (got !== want) wrong.push(`${what}: ${got}, expected ${want}`);
      }
      console.log(
        `RBAC probe matrix: ${granted.length + denied.length} kubectl auth can-i checks and ${matrix.length} real requests ` +
          `(${counts.forbidden} refused, ${counts.allowed} allowed), ${wrong.length} unexpected`,
      );
      assert.deepEqual(wrong, []);
    } finally {
      await kubectl(
        '-n',
        NS,
        'delete',
        'pods',
        'mine',
        'theirs',
        '--force',
        '--grace-period=0',
        '--ignore-not-found',
      ).catch(() => undefined);
      await kubectl('delete', 'node', OTHER, NODE, '--ignore-not-found').catch(() => undefined);
      await kubectl('-n', 'kube-system', 'delete', 'secret', `probe-${id}`, '--ignore-not-found').catch(
        () => undefined,
      );
      await kubectl('-n', 'kube-system', 'delete', 'lease', `probe-${id}`, '--ignore-not-found').catch(
        () => undefined,
      );
    }
  });
  test('deploy/optional/approve-own-serving-csr.yaml grants approving kubelet-serving CSRs, and nothing more', async () => {
    const file = path.join(deployDir, 'optional', 'approve-own-serving-csr.yaml');
    assert.ok(!(await manifestFiles()).includes(file), 'not applied by kubectl apply -f deploy/');
    const objects = (await loadObjects(file)).map((o) => {
      const c = structuredClone(o);
      c.metadata.name = rename(c.metadata.name);
      const roleRef = c.roleRef as { name: string } | undefined;
      if (roleRef) roleRef.name = rename(roleRef.name);
      for (const sub of (c.subjects as { name: string }[] | undefined) ?? []) sub.name = rename(sub.name);
      return c;
    });
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    await kubectlIn(list, 'apply', '-f', '-');
    try {
      assert.equal(await canI(['update', 'certificatesigningrequests', '--subresource=approval']), true);
      assert.equal(await mayApprove('kubernetes.io/kubelet-serving'), true);
      assert.equal(await mayApprove('kubernetes.io/kube-apiserver-client'), false);
      assert.equal(await canI(['delete', 'certificatesigningrequests']), false);
    } finally {
      await kubectlIn(list, 'delete', '--ignore-not-found', '-f', '-');
    }
  });

  test('started with exactly the Deployment’s command, the controller answers on every port it declares', async () => {
    const d = await controllerDeployment();
    const c = controllerContainer(d);
    const args = c.command!.slice(2);
    const ports: Record<string, number> = Object.fromEntries(
      (c.ports ?? []).map((p) => [p.name ?? '', p.containerPort]),
    );
    for (const [name, port] of Object.entries(ports)) {
      assert.ok(await portFree(port), `port ${port} (${name}) is free on this machine for the test`);
    }
    // The node the renamed RBAC lets this ServiceAccount act as (--impersonate-node) and elect for.
    const node = NODE;
    let eci: TestEmulator | undefined;
    let child: ChildProcess | undefined;
    let log = '';
    // The pod's volumes, at the paths the manifest mounts them, in a mount namespace of the
    // controller's own: an empty state directory, and the Secret holding a serving certificate the
    // cluster CA signed for the pod IP (what an operator would put in ack-virtual-node-kubelet-tls).
    const mountOf = (volume: string) => c.volumeMounts!.find((m) => m.name === volume)!.mountPath;
    const tlsDir = mountOf('kubelet-tls');
    const stateDir = mountOf('state');
    // Mount points made on this machine for the test, removed afterwards (the topmost one each).
    const created: string[] = [];
    try {
      for (const dir of [tlsDir, stateDir]) {
        let top = dir;
        while (!existsSync(path.dirname(top))) top = path.dirname(top);
        if (!existsSync(dir)) {
          await mkdir(dir, { recursive: true });
          created.push(top);
        }
      }
      const secret = path.join(tmp, 'kubelet-tls');
      await mkdir(secret, { recursive: true });
      const clusterState = path.dirname(path.dirname(process.env.ECI_VN_TEST_CA!));
      const serving = await issueServingCert(clusterState, node, ['127.0.0.1']);
      await copyFile(serving.cert, path.join(secret, 'tls.crt'));
      await copyFile(serving.key, path.join(secret, 'tls.key'));
      eci = await startTestEmulator({ runtime: 'simulated' });
      // What the pod's environment holds (the ECI settings point at the emulator as if it were the
      // cloud), its ServiceAccount's credentials, and its IP (the downward API's status.podIP).
      const env = {
        ...process.env,
        ...eci.env,
        KUBECONFIG: await serviceAccountKubeconfig(),
        VKUBELET_POD_IP: '127.0.0.1',
        VKUBELET_NODE_NAME: node,
      };
      const script =
        `mount -t tmpfs -o size=256m tmpfs "$1" && mount --bind "$2" "$3" && shift 3 && ` +
        `exec "${process.execPath}" "${path.join(root, 'bin', 'eci-virtual-node.js')}" run "$@"`;
      child = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          script,
          'sh',
          stateDir,
          secret,
          tlsDir,
          ...args,
        ],
        { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.on('data', (b: Buffer) => (log += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
      const fail = (err: Error) => {
        throw new Error(`${err.message}\ncontroller output:\n${log}`);
      };
      await waitFor(
        'metrics /healthz',
        async () => (await fetch(`http://127.0.0.1:${ports.metrics}/healthz`)).ok,
        {
          timeoutMs: 90_000,
        },
      ).catch(fail);
      // The kubelet API: the Secret's certificate, and the API server's client certificate admitted.
      const pki = path.dirname(process.env.ECI_VN_TEST_CA!);
      const kubeletAnswer = await waitFor(
        'kubelet API /healthz',
        () =>
          httpsGet(ports.kubelet!, '/healthz', {
            ca: process.env.ECI_VN_TEST_CA!,
            cert: path.join(pki, 'apiserver-kubelet-client.crt'),
            key: path.join(pki, 'apiserver-kubelet-client.key'),
          }),
        { timeoutMs: 60_000 },
      ).catch(fail);
      assert.equal(kubeletAnswer.status, 200);
      assert.equal(
        kubeletAnswer.peer.fingerprint256,
        new X509Certificate(await readFile(serving.cert)).fingerprint256,
      );
      assert.match(log, /kubelet API serving certificate from --tls-cert-file/);
      // The webhook, on its HTTPS port.
      const webhook = await waitFor('webhook /healthz', () => httpsGet(ports.webhook!, '/healthz', {}), {
        timeoutMs: 60_000,
      }).catch(fail);
      assert.equal(webhook.status, 200);
      const n = await json<V1Node>('get', 'node', node);
      assert.equal(n.status?.daemonEndpoints?.kubeletEndpoint?.Port, ports.kubelet);
      assert.deepEqual(n.status?.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }]);
    } finally {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await eci?.close();
      await kubectl('delete', 'node', node, '--ignore-not-found').catch(() => undefined);
      await kubectl('-n', 'kube-node-lease', 'delete', 'lease', node, '--ignore-not-found').catch(
        () => undefined,
      );
      await kubectl(
        '-n',
        'kube-system',
        'delete',
        'lease',
        `eci-virtual-node-${node}`,
        '--ignore-not-found',
      ).catch(() => undefined);
      // What the controller registers for the in-cluster webhook: removed, so no other test's pods meet it.
      await kubectl('delete', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found').catch(
        () => undefined,
      );
      await kubectl(
        '-n',
        'kube-system',
        'delete',
        'secret',
        'eci-virtual-node-webhook-tls',
        '--ignore-not-found',
      ).catch(() => undefined);
      // Only empty mount points were made here; removing them must not reach into anything else.
      for (const dir of created.reverse()) {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
});
