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
    // --include-crds: the ImageCache CRD is in the chart's crds/, which Helm installs but never
    // upgrades or deletes (an uninstall must not take users' ImageCaches with it).
    const rendered = objects(
      await helm(['template', 'eci-virtual-node', CHART, '--namespace', 'kube-system', '--include-crds']),
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

  test('values: ServiceMonitor, RRSA, leader election, node name and identity, kubelet TLS render; bad values fail naming the value', async () => {
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
    const render = async (...set: string[]) =>
      objects(await helm(['template', 'x', CHART, '-n', 'kube-system', ...set.flatMap((v) => ['--set', v])]));
    /** The release's own object of that kind (not the uninstall hook's). */
    const find = <T>(objs: K8sObject[], kind: string, namespace?: string) =>
      objs.find(
        (o) =>
          o.kind === kind && o.metadata.namespace === namespace && !o.metadata.annotations?.['helm.sh/hook'],
      ) as unknown as T;
    type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
    type Deploy = {
      spec: {
        replicas: number;
        strategy: { type: string };
        template: {
          spec: {
            affinity: Record<string, unknown>;
            containers: { command: string[]; env: { name: string }[] }[];
            volumes: { name: string }[];
          };
        };
      };
    };
    type Policy = { spec: { validations: { expression: string }[] } };

    // One replica without leader election: recreated (never two writers), and nothing of the election.
    const single = await render('replicas=1', 'leaderElection.enabled=false');
    const singleDeploy = find<Deploy>(single, 'Deployment', 'kube-system');
    assert.equal(singleDeploy.spec.replicas, 1);
    assert.equal(singleDeploy.spec.strategy.type, 'Recreate');
    assert.ok(!singleDeploy.spec.template.spec.containers[0]!.command.includes('--leader-elect'));
    assert.ok(!singleDeploy.spec.template.spec.containers[0]!.env.some((e) => e.name === 'POD_NAME'));
    assert.ok(!('podAntiAffinity' in singleDeploy.spec.template.spec.affinity));
    const singleRole = find<{ rules: Rule[] }>(single, 'Role', 'kube-system');
    // Without an election only the cluster's ImageCache Lease is left to write.
    assert.deepEqual(
      singleRole.rules.filter((r) => r.resources.includes('leases')).flatMap((r) => r.resourceNames ?? []),
      ['eci-virtual-node-imagecaches'],
      'no Lease rights beyond the ImageCache Lease',
    );

    // node.name: every name deploy/ derives from virtual-kubelet follows it (the node label value
    // `type: virtual-kubelet` the controller keeps off is not a node name).
    const renamed = await render('node.name=vk-x');
    const text = JSON.stringify(renamed).replaceAll('"values":["virtual-kubelet"]', '');
    assert.ok(!text.includes('virtual-kubelet'), 'no trace of the default node name');
    const renamedRules = find<{ rules: Rule[] }>(renamed, 'ClusterRole').rules;
    assert.deepEqual(renamedRules.find((r) => r.resources.includes('users'))?.resourceNames, [
      'system:node:vk-x',
    ]);
    assert.ok(
      find<{ rules: Rule[] }>(renamed, 'Role', 'kube-system').rules.some((r) =>
        r.resourceNames?.includes('eci-virtual-node-vk-x'),
      ),
    );
    assert.ok(
      find<Policy>(renamed, 'ValidatingAdmissionPolicy').spec.validations.some((v) =>
        v.expression.includes("'eci-virtual-node-vk-x'"),
      ),
    );

    // node.impersonate=false: the ServiceAccount does the node's work itself, and its own Lease in
    // kube-node-lease is the one more object the admission policy lets it write.
    const broad = await render('node.impersonate=false');
    const broadRules = find<{ rules: Rule[] }>(broad, 'ClusterRole').rules;
    assert.ok(!broadRules.some((r) => r.verbs.includes('impersonate')));
    assert.ok(broadRules.some((r) => r.resources.includes('pods') && r.verbs.includes('watch')));
    assert.ok(broadRules.some((r) => r.resources.includes('nodes') && r.verbs.includes('create')));
    assert.ok(
      !find<Deploy>(broad, 'Deployment', 'kube-system').spec.template.spec.containers[0]!.command.includes(
        '--impersonate-node',
      ),
    );
    assert.deepEqual(
      find<{ rules: Rule[] }>(broad, 'Role', 'kube-node-lease').rules.find((r) => r.resourceNames)
        ?.resourceNames,
      ['virtual-kubelet'],
    );
    assert.ok(
      find<Policy>(broad, 'ValidatingAdmissionPolicy').spec.validations.some((v) =>
        v.expression.includes("request.namespace == 'kube-node-lease'"),
      ),
    );
    assert.equal(find(await render(), 'Role', 'kube-node-lease'), undefined, 'impersonating: no such Role');

    // kubeletTLS.secretName empty: no Secret mounted, the certificate always comes from a CSR.
    const csrOnly = find<Deploy>(await render('kubeletTLS.secretName='), 'Deployment', 'kube-system');
    assert.ok(!csrOnly.spec.template.spec.volumes.some((v) => v.name === 'kubelet-tls'));
    assert.ok(!csrOnly.spec.template.spec.containers[0]!.command.some((a) => a.startsWith('--tls-')));

    // webhook.endpoint: the controller's flag, and the one address the admission policy accepts.
    const local = await render('webhook.endpoint=local', 'webhook.port=9999');
    assert.ok(
      find<Deploy>(local, 'Deployment', 'kube-system').spec.template.spec.containers[0]!.command.includes(
        '--webhook-endpoint=local',
      ),
    );
    assert.ok(
      find<Policy>(local, 'ValidatingAdmissionPolicy').spec.validations.some((v) =>
        v.expression.includes("w.clientConfig.url == 'https://127.0.0.1:9999/mutate'"),
      ),
    );
    await assert.rejects(
      helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'webhook.endpoint=http://hook']),
      /webhook.endpoint: must be service, local or an https:\/\/ URL/,
    );
    await assert.rejects(helm(['template', 'x', CHART, '-n', 'default']), /install into kube-system/);
    await assert.rejects(
      helm(['template', 'x', CHART, '-n', 'kube-system', '--set', 'leaderElection.enabled=false']),
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

    /** `kubectl auth can-i` as the controller's ServiceAccount: it answers "no" with exit status 1. */
    const canI = (...args: string[]) =>
      kubectl('auth', 'can-i', ...args, '--as', SA).then(
        (out) => out.trim(),
        (err: Error) => String((err.cause as { stdout?: string } | undefined)?.stdout ?? err.message).trim(),
      );
    const SA = 'system:serviceaccount:kube-system:ack-virtual-node-controller';

    // The default (as deploy/: the controller acts as its node), then the path for clusters without
    // the Node authorizer, each installed and uninstalled in turn.
    for (const impersonate of [true, false]) {
      const how = impersonate ? 'as its node' : 'with node.impersonate=false';

      test(`installs ${how}: the controller runs from the image, leads, its node goes Ready, and the label flow works`, async () => {
        const values = {
          image: { repository: 'registry.example.com/eci-virtual-node' },
          // One replica, still with leader election (the default): the stand-in kubelet runs pods as
          // processes on the host's network, where a second replica would find the kubelet, metrics
          // and webhook ports taken. Failover between replicas is leader.e2e.test.ts's.
          replicas: 1,
          node: { impersonate },
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
          // No kube-proxy here: the API server reaches the webhook on loopback, the one address the
          // admission policy then lets the controller register.
          webhook: { port: await freePort(), endpoint: 'local' },
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
        // Its heartbeat: the node's Lease in kube-node-lease, renewed as the node (impersonating) or by
        // the ServiceAccount, which the admission policy then lets write that Lease too.
        await waitFor(
          'the node Lease renewed',
          async () =>
            (await kubectl(
              '-n',
              'kube-node-lease',
              'get',
              'lease',
              NODE,
              '--ignore-not-found',
              '-o',
              'jsonpath={.spec.holderIdentity}',
            )) === NODE,
          { timeoutMs: 30_000 },
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${logs()}`);
        });
        // It leads: the Lease its Role and the admission policy allow, held by this pod (POD_NAME).
        const pod = (
          await kubectl(
            '-n',
            'kube-system',
            'get',
            'pod',
            '-l',
            'app=ack-virtual-node-controller',
            '-o',
            'name',
          )
        )
          .trim()
          .replace(/^pod\//, '');
        await waitFor('the controller holds its leader Lease', async () =>
          (
            await kubectl(
              '-n',
              'kube-system',
              'get',
              'lease',
              `eci-virtual-node-${NODE}`,
              '--ignore-not-found',
              '-o',
              'jsonpath={.spec.holderIdentity}',
            )
          ).startsWith(`${pod}_`),
        );
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
        assert.equal(await canI('watch', 'imagecaches.eci.alibabacloud.com'), 'yes');
        // Which identity did the node's work: impersonating, the ServiceAccount itself may not read
        // pods cluster-wide (the Node authorizer grants its node's pods to system:node:<name>).
        assert.equal(await canI('list', 'pods', '--all-namespaces'), impersonate ? 'no' : 'yes');
        assert.equal(
          await canI('impersonate', 'users/system:node:virtual-kubelet'),
          impersonate ? 'yes' : 'no',
        );
      });

      test(`helm uninstall (${how}) runs the cleanup hook: no container group, no node, no pod left; the CRD stays`, async () => {
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
        // Helm never deletes what crds/ installed: users' ImageCaches survive an uninstall.
        assert.match(
          await kubectl('get', 'crd', 'imagecaches.eci.alibabacloud.com', '-o', 'name'),
          /imagecaches\.eci\.alibabacloud\.com/,
        );
        const hookLog = [...kubelet!.logs]
          .filter(([k]) => k.startsWith('kube-system/ack-virtual-node-controller-cleanup'))
          .at(-1);
        assert.ok(hookLog, 'the cleanup Job ran');
        assert.match(hookLog[1](), /cleanup done: 1 pod\(s\), 1 group\(s\) deleted/);
      });
    }
  });
});
