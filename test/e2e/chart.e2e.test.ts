// The Helm chart (charts/eci-virtual-node): lint, the same objects as deploy/ (so the plain-YAML
// install and the chart never drift), clear errors for bad values, and a real install into a control
// plane of this file's own: the controller runs from the image built by tools/build-image.sh (on a
// stand-in kubelet, the control plane having no nodes), its node goes Ready, the install guide's
// label sends a pod to it, and `helm uninstall` leaves no container group.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { clusterDown, clusterUp } from '../../dev/cluster/controlplane.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { CHART, helm } from '../support/helm.ts';
import { buildImage, unpackImage } from '../support/image.ts';
import { kubectlFor } from '../support/kubectl.ts';
import { MiniKubelet } from '../support/mini-kubelet.ts';
import { waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';
import { testClusterName } from '../support/cluster-name.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [k: string]: unknown;
}

function objects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** What the chart adds for Helm's own bookkeeping, which deploy/ does not carry. */
function normalise(o: K8sObject): K8sObject {
  const c = structuredClone(o);
  const labels = Object.fromEntries(
    Object.entries(c.metadata.labels ?? {}).filter(
      ([k]) => !k.startsWith('app.kubernetes.io/') && !k.startsWith('helm.sh/'),
    ),
  );
  c.metadata.labels = labels;
  return c;
}

const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('the Helm chart', { timeout: 900_000 }, () => {
  test('helm lint passes (strict)', async () => {
    const out = await helm(['lint', '--strict', CHART, '--namespace', 'kube-system']);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('with its default values it renders exactly the objects of deploy/, plus the uninstall hook', async () => {
    const rendered = objects(
      await helm(['template', 'eci-virtual-node', CHART, '--namespace', 'kube-system']),
    );
    const deployDir = path.join(root, 'deploy');
    const plain: K8sObject[] = [];
    for (const f of (await readdir(deployDir)).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      plain.push(...objects(await readFile(path.join(deployDir, f), 'utf8')));
    }
    const hooks = rendered.filter((o) => o.metadata.annotations?.['helm.sh/hook']);
    const main = new Map(rendered.filter((o) => !hooks.includes(o)).map((o) => [key(o), normalise(o)]));
    assert.deepEqual([...main.keys()].sort(), plain.map(key).sort(), 'the same objects');
    for (const o of plain)
      assert.deepEqual(main.get(key(o)), o, `${key(o)} is the same in the chart and deploy/`);
    assert.deepEqual(hooks.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'Job',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'ServiceAccount',
    ]);
    const job = hooks.find((o) => o.kind === 'Job') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { template: { spec: { containers: { command: string[] }[] } } };
    };
    assert.equal(job.metadata.annotations['helm.sh/hook'], 'pre-delete');
    assert.deepEqual(job.spec.template.spec.containers[0]!.command.slice(0, 3), [
      'eci-virtual-node',
      'cleanup',
      '--stop-controller=kube-system/ack-virtual-node-controller',
    ]);
  });

  test('values: ServiceMonitor, RRSA and RAM-role modes render; bad values fail naming the value', async () => {
    const sm = objects(
      await helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'serviceMonitor.enabled=true']),
    ).find((o) => o.kind === 'ServiceMonitor');
    assert.ok(sm, 'a ServiceMonitor');
    const rrsa = objects(
      await helm([
        'template',
        'x',
        CHART,
        '-n',
        'kube-system',
        '--set',
        'credentials.mode=rrsa',
        '--set',
        'credentials.rrsa.roleArn=acs:ram::1:role/eci',
        '--set',
        'credentials.rrsa.oidcProviderArn=acs:ram::1:oidc-provider/ack',
      ]),
    ).find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: { spec: { containers: { env: { name: string }[] }[]; volumes: { name: string }[] } };
      };
    };
    const names = rrsa.spec.template.spec.containers[0]!.env.map((e) => e.name);
    assert.ok(names.includes('ALIBABA_CLOUD_ROLE_ARN') && names.includes('ALIBABA_CLOUD_OIDC_TOKEN_FILE'));
    assert.ok(!names.includes('ECI_ACCESS_KEY'), 'no AccessKey in RRSA mode');
    assert.ok(rrsa.spec.template.spec.volumes.some((v) => v.name === 'rrsa-oidc-token'));
    const ha = objects(
      await helm([
        'template',
        'x',
        CHART,
        '-n',
        'kube-system',
        '--set',
        'replicas=2',
        '--set',
        'leaderElection.enabled=true',
      ]),
    );
    const haDeploy = ha.find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        strategy: { type: string };
        template: { spec: { containers: { command: string[] }[] } };
      };
    };
    assert.equal(haDeploy.spec.replicas, 2);
    assert.equal(
      haDeploy.spec.strategy.type,
      'RollingUpdate',
      'standbys keep serving while one replica rolls',
    );
    assert.ok(haDeploy.spec.template.spec.containers[0]!.command.includes('--leader-elect'));
    assert.ok(ha.some((o) => o.kind === 'Role' && o.metadata.name.endsWith('-leader-election')));
    await assert.rejects(helm(['template', 'x', CHART, '-n', 'default']), /install into kube-system/);
    await assert.rejects(
      helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'replicas=2']),
      /replicas > 1 needs leaderElection.enabled/,
    );
    await assert.rejects(
      helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'credentials.mode=rrsa']),
      /credentials.mode=rrsa needs credentials.rrsa.roleArn/,
    );
    await assert.rejects(
      helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'credentials.mode=magic']),
      /credentials.mode: must be secret, ramRole or rrsa/,
    );
  });

  describe('helm install into a control plane, then helm uninstall', () => {
    const CLUSTER = { name: testClusterName('helm') };
    const NODE = 'virtual-kubelet';
    let kubeconfig = '';
    let eci: TestEmulator;
    let kubelet: MiniKubelet | undefined;
    let unpacked: Awaited<ReturnType<typeof unpackImage>> | undefined;
    let work = '';
    let kubectl: (...args: string[]) => Promise<string>;
    let json: <T>(...args: string[]) => Promise<T>;
    const freePort = async () => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const p = (s.address() as net.AddressInfo).port;
      await new Promise((r) => s.close(r));
      return p;
    };
    const logs = () =>
      [...(kubelet?.logs ?? new Map<string, () => string>())].map(([k, v]) => `--- ${k}\n${v()}`).join('\n');

    before(async () => {
      const image = await buildImage();
      unpacked = await unpackImage(image);
      await clusterDown({ ...CLUSTER, purge: true });
      const info = await clusterUp(CLUSTER);
      kubeconfig = info.kubeconfig;
      ({ kubectl, json } = kubectlFor(kubeconfig) as { kubectl: typeof kubectl; json: typeof json });
      eci = await startTestEmulator();
      work = await mkdtemp(path.join(os.tmpdir(), 'evn-helm-'));
      const imageEnv = Object.fromEntries(
        (image.config.config.Env ?? []).map((kv) => [
          kv.slice(0, kv.indexOf('=')),
          kv.slice(kv.indexOf('=') + 1),
        ]),
      );
      kubelet = new MiniKubelet({
        kubeconfig,
        nodeName: 'e2e-helm-host',
        rootfs: unpacked.rootfs,
        workDir: path.join(work, 'pods'),
        imageEnv,
      });
      await kubelet.start();
    });

    after(async () => {
      await kubelet?.stop();
      await eci?.close();
      await unpacked?.remove();
      if (work) await rm(work, { recursive: true, force: true });
      await clusterDown({ ...CLUSTER, purge: true });
    });

    test('installs: the controller runs from the image, its node goes Ready, and the label flow works', async () => {
      const values = {
        image: { repository: 'registry.example.com/eci-virtual-node' },
        eci: {
          region: eci.env.ECI_REGION,
          endpoint: eci.env.ECI_ENDPOINT,
          protocol: eci.env.ECI_PROTOCOL,
          vSwitch: eci.env.ECI_VSWITCH,
          securityGroup: eci.env.ECI_SECURITY_GROUP,
        },
        credentials: {
          mode: 'secret',
          secret: {
            create: true,
            accessKeyId: eci.env.ECI_ACCESS_KEY,
            accessKeySecret: eci.env.ECI_SECRET_KEY,
          },
        },
        // Host network on the stand-in kubelet: ports of this run's own.
        ports: { kubelet: await freePort(), metrics: await freePort() },
        webhook: { port: await freePort() },
        // No kube-proxy here: the API server reaches the webhook on loopback.
        extraArgs: ['--webhook-endpoint=local'],
      };
      const valuesFile = path.join(work, 'values.json');
      await writeFile(valuesFile, JSON.stringify(values));
      await helm(
        [
          'install',
          'eci-virtual-node',
          CHART,
          '-n',
          'kube-system',
          '-f',
          valuesFile,
          '--wait',
          '--timeout',
          '5m',
        ],
        { KUBECONFIG: kubeconfig },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      });
      const node = await waitFor(
        `node ${NODE} Ready`,
        async () => {
          const n = await json<{ status: { conditions: { type: string; status: string }[] } }>(
            'get',
            'node',
            NODE,
          );
          return n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') && n;
        },
        { timeoutMs: 120_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      });
      assert.ok(node);
      await waitFor('the webhook registered', async () =>
        (
          await kubectl('get', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found')
        ).includes('eci-virtual-node'),
      );
      // The install guide, word for word.
      await kubectl('run', 'nginx', '--image', 'nginx', '-l', 'alibabacloud.com/eci=true');
      await waitRunning(json, 'default', 'nginx').catch((err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      });
      assert.match(await kubectl('get', 'pod', 'nginx', '-o', 'wide'), /\sRunning\s.*\svirtual-kubelet\s/);
      assert.equal((await eci.admin.listContainerGroups()).total, 1, 'one ECI container group');
      // The ImageCache CRD comes with the chart, and the controller may reconcile ImageCaches.
      assert.match(
        await kubectl('get', 'crd', 'imagecaches.eci.alibabacloud.com', '-o', 'name'),
        /imagecaches\.eci\.alibabacloud\.com/,
      );
      const sa = 'system:serviceaccount:kube-system:ack-virtual-node-controller';
      assert.equal(
        (await kubectl('auth', 'can-i', 'watch', 'imagecaches.eci.alibabacloud.com', '--as', sa)).trim(),
        'yes',
      );
    });

    test('helm uninstall runs the cleanup hook: no container group, no node, no pod left', async () => {
      await helm(['uninstall', 'eci-virtual-node', '-n', 'kube-system', '--wait', '--timeout', '5m'], {
        KUBECONFIG: kubeconfig,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      });
      assert.equal((await eci.admin.listContainerGroups()).total, 0, 'no paid instance left');
      assert.equal(await kubectl('get', 'node', NODE, '--ignore-not-found'), '');
      assert.equal(await kubectl('get', 'pod', 'nginx', '--ignore-not-found'), '');
      assert.equal(
        await kubectl('get', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found'),
        '',
      );
      assert.equal(
        await kubectl('-n', 'kube-system', 'get', 'deployment', '--ignore-not-found', '-o', 'name'),
        '',
      );
      const hookLog = [...kubelet!.logs].find(([k]) =>
        k.startsWith('kube-system/ack-virtual-node-controller-cleanup'),
      );
      assert.ok(hookLog, 'the cleanup Job ran');
      assert.match(hookLog[1](), /cleanup done: 1 pod\(s\), 1 group\(s\) deleted/);
    });
  });
});
