import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { groupIdOf, waitReason, waitRunning } from '../support/pods.ts';

const NODE = 'vk-e2e-pods';
const NS = 'e2e-pods';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);

/** What sends a pod to this node without the webhook. */
const placement = placementOn(NODE);

const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);

const pods = async (selector: string) =>
  (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods', '-l', selector)).items;

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = (s: string) => s.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = bits === '0' ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) >>> 0 === (n(base!) & mask) >>> 0;
}

describe('pods on the virtual node run as ECI container groups', { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  const controllerArgs = () => [
    '--kubeconfig',
    kubeconfig,
    '--node-name',
    NODE,
    '--node-ip',
    '127.0.0.1',
    '--kubelet-port',
    '0',
    '--kubelet-bind-address',
    '127.0.0.1',
  ];

  before(async () => {
    eci = await startTestEmulator();
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    controller = new ControllerProcess(controllerArgs());
    controller.start(eci.env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    // Let the controller delete the groups of the namespace's pods before it stops.
    await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 60_000,
    }).catch(() => undefined);
    await controller.stop('SIGTERM');
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    await eci.close();
  });

  test('a Deployment of 3 runs on the virtual node with vSwitch IPs; scaling to 0 deletes every group', async () => {
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            ...placement,
            containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }],
          },
        },
      },
    });
    await waitFor(
      '3 Running pods',
      async () => {
        const p = await pods('app=web');
        return p.length === 3 && p.every((x) => x.status?.phase === 'Running' && x.status.podIP) && p;
      },
      { timeoutMs: 120_000 },
    );
    const wide = await kubectl('-n', NS, 'get', 'pod', '-l', 'app=web', '-o', 'wide', '--no-headers');
    const rows = wide.trim().split('\n');
    assert.equal(rows.length, 3);
    const cidr = eci.emu.config.region.vSwitches.find((v) => v.id === 'vsw-emulator-h')!.cidr;
    for (const row of rows) {
      const cols = row.split(/\s+/);
      assert.equal(cols[2], 'Running', row);
      assert.ok(inCidr(cols[5]!, cidr), `IP ${cols[5]} in ${cidr}`);
      assert.equal(cols[6], NODE, row);
    }
    const groups = await eci.admin.listContainerGroups();
    assert.equal(groups.total, 3);
    assert.equal(new Set(groups.items.map((g) => g.ip)).size, 3, 'distinct IPs');

    await kubectl('-n', NS, 'scale', 'deployment/web', '--replicas=0');
    await waitFor('pods gone', async () => (await pods('app=web')).length === 0, { timeoutMs: 120_000 });
    await waitFor('groups deleted in ECI', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 60_000,
    });
  });

  test('a Job completes, and a failing one shows its exit code in kubectl describe', async () => {
    const job = (name: string, script: string) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: NS },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { job: name } },
          spec: {
            ...placement,
            restartPolicy: 'Never',
            containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', script] }],
          },
        },
      },
    });
    await apply(job('ok', 'echo working; sleep 1; exit 0'));
    await apply(job('bad', 'echo failing; exit 3'));
    await kubectl('-n', NS, 'wait', '--for=condition=complete', 'job/ok', '--timeout=120s');
    const [okPod] = await pods('job=ok');
    assert.equal(okPod?.status?.phase, 'Succeeded');
    const badPod = await waitFor(
      'failing pod Failed',
      async () => {
        const [p] = await pods('job=bad');
        return p?.status?.phase === 'Failed' && p;
      },
      { timeoutMs: 120_000 },
    );
    const described = await kubectl('-n', NS, 'describe', 'pod', badPod.metadata!.name!);
    assert.match(described, /Exit Code:\s+3/);
    assert.match(described, /Status:\s+Failed/);
  });

  test('env from a ConfigMap and a Secret and config volumes reach the container group', async () => {
    await kubectl(
      '-n',
      NS,
      'create',
      'configmap',
      'app-config',
      '--from-literal=mode=blue',
      '--from-literal=app.conf=listen 8080',
    );
    await kubectl('-n', NS, 'create', 'secret', 'generic', 'app-secret', '--from-literal=password=s3cr3t');
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'configured', namespace: NS, labels: { tier: 'backend' } },
      spec: {
        ...placement,
        containers: [
          {
            name: 'app',
            image: 'busybox',
            command: ['sleep', '3600'],
            env: [
              { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'mode' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'app-config' } }],
            volumeMounts: [
              { name: 'cfg', mountPath: '/etc/app' },
              { name: 'sec', mountPath: '/etc/secret' },
              { name: 'proj', mountPath: '/var/run/proj' },
              { name: 'meta', mountPath: '/etc/podinfo' },
            ],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: { name: 'app-config', items: [{ key: 'app.conf', path: 'app.conf' }] } },
          { name: 'sec', secret: { secretName: 'app-secret', defaultMode: 0o400 } },
          {
            name: 'proj',
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
                { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
              ],
            },
          },
          {
            name: 'meta',
            downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] },
          },
        ],
      },
    });
    const group = await eci.admin.getContainerGroup(groupIdOf(await waitRunning(json, NS, 'configured')));
    const spec = group.spec as {
      containers: { env: { key: string; value?: string }[] }[];
      volumes: {
        name: string;
        type?: string;
        configDefaultMode?: number;
        configFiles?: { path?: string; content?: string; mode?: number }[];
      }[];
    };
    const env = Object.fromEntries(spec.containers[0]!.env.map((e) => [e.key, e.value]));
    assert.equal(env.MODE, 'blue');
    assert.equal(env.PASSWORD, 's3cr3t');
    assert.equal(env.POD_NAME, 'configured');
    assert.equal(env.CFG_mode, 'blue');
    const files = (name: string) => spec.volumes.find((v) => v.name === name)?.configFiles ?? [];
    const decoded = (name: string, p: string) => {
      const f = files(name).find((x) => x.path === p);
      return f?.content === undefined ? undefined : Buffer.from(f.content, 'base64').toString();
    };
    assert.equal(decoded('cfg', 'app.conf'), 'listen 8080');
    assert.deepEqual(
      files('cfg').map((f) => f.path),
      ['app.conf'],
      'only the listed item',
    );
    assert.equal(decoded('sec', 'password'), 's3cr3t');
    const secVolume = spec.volumes.find((v) => v.name === 'sec');
    assert.equal(
      files('sec').find((f) => f.path === 'password')?.mode ?? secVolume?.configDefaultMode,
      0o400,
    );
    assert.match(decoded('proj', 'token') ?? '', /^eyJ/, 'a service-account JWT');
    assert.equal(decoded('proj', 'labels'), 'tier="backend"');
    assert.equal(decoded('meta', 'name'), 'configured');
  });

  test('an image changed in place reaches the group through UpdateContainerGroup', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'updatable', namespace: NS },
      spec: { ...placement, containers: [{ name: 'web', image: 'nginx:1.26' }] },
    });
    const id = groupIdOf(await waitRunning(json, NS, 'updatable'));
    await kubectl('-n', NS, 'set', 'image', 'pod/updatable', 'web=nginx:1.27');
    await waitFor('image updated in ECI', async () => {
      const g = await eci.admin.getContainerGroup(id);
      return (g.spec as { containers: { image: string }[] }).containers[0]?.image === 'nginx:1.27';
    });
    const running = await waitFor('pod Running with the new image', async () => {
      const p = await json<V1Pod>('-n', NS, 'get', 'pod', 'updatable');
      return p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.image === 'nginx:1.27' && p;
    });
    assert.equal(groupIdOf(running), id, 'updated in place, not recreated');
  });

  test('activeDeadlineSeconds fails the pod with DeadlineExceeded and deletes its group', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'deadline', namespace: NS },
      spec: {
        ...placement,
        activeDeadlineSeconds: 5,
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'nginx' }],
      },
    });
    const id = groupIdOf(await waitRunning(json, NS, 'deadline'));
    const failed = await waitReason(json, NS, 'deadline', 'DeadlineExceeded');
    assert.equal(failed.status?.phase, 'Failed');
    await waitFor(
      'group deleted',
      async () => !(await eci.admin.listContainerGroups()).items.some((g) => g.id === id),
    );
  });

  const refused: [string, Record<string, unknown>, string, RegExp][] = [
    ['hostnet', { hostNetwork: true }, 'HostNetworkUnsupported', /spec\.hostNetwork/],
    ['hostpid', { hostPID: true }, 'HostPIDUnsupported', /spec\.hostPID/],
    [
      'hostpath',
      { volumes: [{ name: 'h', hostPath: { path: '/var/log' } }] },
      'HostPathVolumeUnsupported',
      /hostPath/,
    ],
  ];
  for (const [name, extra, reason, field] of refused) {
    test(`a pod ECI cannot run (${reason}) gets a Warning Event and a status naming the field`, async () => {
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `refused-${name}`, namespace: NS },
        spec: { ...placement, ...extra, containers: [{ name: 'c', image: 'nginx' }] },
      });
      const pod = await waitReason(json, NS, `refused-${name}`, reason);
      assert.equal(pod.status?.phase, 'Pending');
      assert.match(pod.status?.message ?? '', field);
      const events = await json<{ items: CoreV1Event[] }>(
        '-n',
        NS,
        'get',
        'events',
        '--field-selector',
        `involvedObject.name=refused-${name}`,
      );
      const warning = events.items.find((e) => e.reason === reason);
      assert.equal(warning?.type, 'Warning');
      assert.match(warning?.message ?? '', field);
      assert.match(
        await kubectl('-n', NS, 'get', 'pod', `refused-${name}`, '--no-headers'),
        new RegExp(reason),
      );
    });
  }
  test('no group was created for any refused pod', async () => {
    const groups = await eci.admin.listContainerGroups();
    assert.ok(groups.items.every((g) => !g.tags.some((t) => t.value.startsWith('refused-'))));
  });

  test('kill -9 of the controller while 100 pods are created: no duplicate, no orphan, all Running', async () => {
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'burst', namespace: NS },
      spec: {
        replicas: 100,
        selector: { matchLabels: { app: 'burst' } },
        template: {
          metadata: { labels: { app: 'burst' } },
          spec: { ...placement, containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
    // Kill it mid-way: some groups exist, most pods are not Running yet.
    await waitFor('creation under way', async () => (await eci.admin.listContainerGroups()).total >= 10, {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    await controller.stop('SIGKILL');
    controller = new ControllerProcess(controllerArgs());
    controller.start(eci.env);
    const running = await waitFor(
      '100 Running',
      async () => {
        const p = await pods('app=burst');
        return p.length === 100 && p.every((x) => x.status?.phase === 'Running') && p;
      },
      { timeoutMs: 300_000, intervalMs: 2000 },
    );
    const groups = (await eci.admin.listContainerGroups({ limit: 1000 })).items.filter((g) =>
      g.tags.some((t) => t.key === 'eci-virtual-node/pod-name' && t.value.startsWith('burst-')),
    );
    const uidOf = (g: (typeof groups)[number]) =>
      g.tags.find((t) => t.key === 'eci-virtual-node/pod-uid')?.value;
    const byUid = new Map<string, number>();
    for (const g of groups) byUid.set(uidOf(g) ?? '', (byUid.get(uidOf(g) ?? '') ?? 0) + 1);
    const live = new Set(running.map((p) => p.metadata!.uid!));
    const duplicates = [...byUid].filter(([, n]) => n > 1);
    const orphans = [...byUid.keys()].filter((uid) => !live.has(uid));
    assert.deepEqual(duplicates, [], 'no pod has two groups');
    assert.deepEqual(orphans, [], 'no group without a pod');
    assert.equal(groups.length, 100);
  });
});
