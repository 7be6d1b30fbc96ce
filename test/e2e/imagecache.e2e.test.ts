// ImageCache against the real control plane with the real kubectl: the CRD from deploy/, the
// controller as users run it, the ECI emulator as the cloud. Apply → Ready with an id and 100 %;
// pods that use the cache; a spec change; deletion; retention with the emulated clock moved forward;
// a second virtual node's controller in the same cluster that leaves ImageCaches to the Lease holder.
// On a control plane of this file's own: ImageCaches are cluster-wide, so no other test's controller
// may campaign for their Lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { CoreV1Event } from '@kubernetes/client-node';
import { clusterDown, clusterUp } from '../../dev/cluster/controlplane.ts';
import { testClusterName } from '../support/cluster-name.ts';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor } from '../support/kubectl.ts';
import { groupIdOf, waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';

const CLUSTER = { name: testClusterName('imagecache') };
const NODE = 'vk-e2e-imagecache';
const NODE_B = 'vk-e2e-imagecache-b';
const NS = 'e2e-imagecache';
const DAY = 86_400_000;
let kubeconfig = '';
let kubectl: (...args: string[]) => Promise<string>;
let json: <T>(...args: string[]) => Promise<T>;
const CRD = fileURLToPath(new URL('../../deploy/01-imagecache-crd.yaml', import.meta.url));
const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);
const placement = placementOn(NODE);

interface ImageCache {
  metadata: { name: string; finalizers?: string[] };
  status?: { phase?: string; progress?: string; imageCacheId?: string; events?: { reason?: string }[] };
}

const getIc = (name: string) => json<ImageCache>('get', 'imagecache', name);

/** `kubectl get ic <name>` as a user reads it: header and the row, by column. */
async function row(name: string): Promise<Record<string, string>> {
  const [header, line] = (await kubectl('get', 'ic', name)).trim().split('\n');
  const cols = header!.split(/\s+/);
  const vals = line!.split(/\s+/);
  return Object.fromEntries(cols.map((c, i) => [c, vals[i] ?? '']));
}

async function eventsOf(kind: string, name: string, namespace?: string): Promise<CoreV1Event[]> {
  const where = namespace ? ['-n', namespace] : ['-A'];
  return (
    await json<{ items: CoreV1Event[] }>(
      'get',
      'events',
      ...where,
      '--field-selector',
      `involvedObject.kind=${kind},involvedObject.name=${name}`,
    )
  ).items;
}

describe('ImageCache', { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let eciB: TestEmulator | undefined;
  let controllerB: ControllerProcess | undefined;
  const startController = (node: string, env: Record<string, string>) => {
    const c = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      node,
      '--node-ip',
      '127.0.0.1',
      // The kubelet API on any free loopback port: several controllers share this machine.
      '--kubelet-port',
      '0',
      '--kubelet-bind-address',
      '127.0.0.1',
    ]);
    c.start(env);
    return c;
  };
  const imageCacheLeaseHolder = async () =>
    (
      await kubectl(
        'get',
        'lease',
        '-n',
        'kube-system',
        'eci-virtual-node-imagecaches',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ).catch(() => '')
    ).trim();

  before(async () => {
    await clusterDown({ ...CLUSTER, purge: true });
    kubeconfig = (await clusterUp(CLUSTER)).kubeconfig;
    ({ kubectl, json } = kubectlFor(kubeconfig) as { kubectl: typeof kubectl; json: typeof json });
    await kubectl('apply', '-f', CRD);
    await kubectl(
      'wait',
      '--for=condition=Established',
      'crd/imagecaches.eci.alibabacloud.com',
      '--timeout=60s',
    );
    eci = await startTestEmulator();
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    controller = startController(NODE, eci.env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
    await waitFor('this node holds the ImageCache Lease', async () =>
      (await imageCacheLeaseHolder()).startsWith(`${NODE}-`),
    );
    // A second virtual node, on an ECI account (emulator) of its own, so what it builds is seen apart.
    eciB = await startTestEmulator();
    controllerB = startController(NODE_B, eciB.env);
    await waitFor('the second node Ready', async () =>
      (await kubectl('get', 'node', NODE_B, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await kubectl('delete', 'imagecaches', '--all', '--wait=true', '--timeout=60s').catch(() => undefined);
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 60_000,
    }).catch(() => undefined);
    await controller?.stop('SIGTERM');
    await controllerB?.stop('SIGTERM');
    await eci?.close();
    await eciB?.close();
    await clusterDown({ ...CLUSTER, purge: true });
  });

  test('kubectl apply → kubectl get ic shows it Ready with an id and 100 %; pods use it; deleting it deletes the cache', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'imc-e2e-pull', namespace: 'default' },
      type: 'kubernetes.io/dockerconfigjson',
      data: {
        '.dockerconfigjson': Buffer.from(
          JSON.stringify({ auths: { 'registry.example.com': { username: 'u', password: 'p' } } }),
        ).toString('base64'),
      },
    });
    await apply({
      apiVersion: 'eci.alibabacloud.com/v1',
      kind: 'ImageCache',
      metadata: { name: 'imagecache-sample', annotations: { 'k8s.aliyun.com/imc-enable-reuse': 'true' } },
      spec: {
        images: ['nginx:1.27', 'busybox:latest'],
        imagePullSecrets: ['default:imc-e2e-pull'],
        imageCacheSize: 25,
        retentionDays: 7,
      },
    });
    const ready = await waitFor(
      'kubectl get ic: Ready, 100%',
      async () => {
        const r = await row('imagecache-sample');
        return r.PHASE === 'Ready' && r;
      },
      { timeoutMs: 60_000 },
    );
    const header = (await kubectl('get', 'ic', 'imagecache-sample')).split('\n')[0]!.trim().split(/\s+/);
    assert.deepEqual(header, ['NAME', 'AGE', 'CACHEID', 'PHASE', 'PROGRESS']);
    assert.equal(ready.PROGRESS, '100%');
    assert.match(ready.CACHEID ?? '', /^imc-/);
    const id = ready.CACHEID!;
    assert.deepEqual((await getIc('imagecache-sample')).metadata.finalizers, [
      'eci.alibabacloud.com/image-cache',
    ]);
    // The cloud cache is what was asked for, and the short name imc works too.
    const cloud = (await eci.admin.listImageCaches()).find((c) => c.id === id)!;
    assert.deepEqual(cloud.images, ['nginx:1.27', 'busybox:latest']);
    assert.equal(cloud.size, 25);
    assert.equal(cloud.retentionDays, 7);
    assert.match(await kubectl('get', 'imc'), /imagecache-sample/);
    // The cloud's events reached the resource, as status and as Events.
    const st = (await getIc('imagecache-sample')).status!;
    assert.ok(st.events?.some((e) => e.reason === 'Created'));
    const icEvents = await eventsOf('ImageCache', 'imagecache-sample');
    assert.ok(icEvents.some((e) => e.reason === 'Creating' && e.message?.includes(id)));
    assert.ok(icEvents.some((e) => e.reason === 'Created'));
    assert.match(await kubectl('describe', 'ic', 'imagecache-sample'), /Created/);

    // A pod asking for automatic matching lands with that cache.
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'cached', namespace: NS, annotations: { 'k8s.aliyun.com/eci-image-cache': 'true' } },
      spec: {
        ...placement,
        containers: [{ name: 'web', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent' }],
      },
    });
    const pod = await waitRunning(json, NS, 'cached');
    const group = await eci.admin.getContainerGroup(groupIdOf(pod));
    assert.equal(group.imageCacheId, id);
    assert.ok(group.events.some((e) => e.reason === 'SuccessfulHitImageCache' && e.message.includes(id)));
    await waitFor('the hit as a pod Event', async () =>
      (await eventsOf('Pod', 'cached', NS)).some(
        (e) => e.reason === 'SuccessfulHitImageCache' && e.message?.includes(id),
      ),
    );
    assert.match(await kubectl('-n', NS, 'describe', 'pod', 'cached'), /already present on machine/);

    // A pod naming a cache that does not exist is told so.
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'missing',
        namespace: NS,
        annotations: { 'k8s.aliyun.com/eci-imc-id': 'imc-doesnotexist' },
      },
      spec: { ...placement, containers: [{ name: 'web', image: 'nginx:1.27' }] },
    });
    await waitFor('ImageCacheNotFound on the pod', async () =>
      (await eventsOf('Pod', 'missing', NS)).some(
        (e) =>
          e.reason === 'ImageCacheNotFound' &&
          e.type === 'Warning' &&
          e.message?.includes('imc-doesnotexist'),
      ),
    );

    // A spec change builds a new cache, then deletes the old one.
    await kubectl(
      'patch',
      'ic',
      'imagecache-sample',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { images: ['nginx:1.27', 'busybox:latest', 'debian:12'] } }),
    );
    const replaced = await waitFor(
      'a new cache Ready and the old one gone',
      async () => {
        const r = await row('imagecache-sample');
        const caches = await eci.admin.listImageCaches();
        return r.PHASE === 'Ready' && r.CACHEID !== id && caches.every((c) => c.id !== id) && r.CACHEID;
      },
      { timeoutMs: 60_000 },
    );
    assert.deepEqual((await eci.admin.listImageCaches()).find((c) => c.id === replaced)?.images, [
      'nginx:1.27',
      'busybox:latest',
      'debian:12',
    ]);
    assert.ok(
      (await eventsOf('ImageCache', 'imagecache-sample')).some(
        (e) => e.reason === 'Replaced' && e.message?.includes(id),
      ),
    );

    // Deleting the resource deletes the cache in the cloud, then the resource goes.
    await kubectl('delete', 'ic', 'imagecache-sample', '--wait=true', '--timeout=60s');
    assert.equal(
      (await eci.admin.listImageCaches()).some((c) => c.id === replaced),
      false,
    );
    assert.match(
      await kubectl('get', 'ic', '--no-headers').catch((e: Error) => e.message),
      /^$|No resources/,
    );
  });

  test('retentionDays: the cache expires when the emulated clock passes it, and is not built again', async () => {
    await apply({
      apiVersion: 'eci.alibabacloud.com/v1',
      kind: 'ImageCache',
      metadata: { name: 'short-lived' },
      spec: { images: ['busybox:1.36'], retentionDays: 1 },
    });
    const r = await waitFor('Ready', async () => {
      const x = await row('short-lived');
      return x.PHASE === 'Ready' && x;
    });
    assert.equal((await row('short-lived')).PROGRESS, '100%');
    await eci.admin.advanceClock(DAY + 60_000);
    await waitFor('kubectl get ic: Expired', async () => (await row('short-lived')).PHASE === 'Expired', {
      timeoutMs: 60_000,
    });
    assert.ok(
      (await eventsOf('ImageCache', 'short-lived')).some(
        (e) => e.reason === 'Expired' && e.type === 'Warning',
      ),
    );
    // The cloud forgets it an hour later; the resource keeps saying Expired and no cache is rebuilt.
    await eci.admin.advanceClock(2 * 3_600_000);
    await waitFor(
      'the cloud forgot it',
      async () => !(await eci.admin.listImageCaches()).some((c) => c.id === r.CACHEID),
    );
    await new Promise((res) => setTimeout(res, 12_000));
    assert.equal((await row('short-lived')).PHASE, 'Expired');
    assert.equal((await eci.admin.listImageCaches()).length, 0, 'no cache was built again');
    await kubectl('delete', 'ic', 'short-lived', '--wait=true', '--timeout=60s');
  });

  test('a spec the schema refuses is refused by the API server, naming the field', async () => {
    const out = await new Promise<string>((resolve) => {
      kubectlApply(kubeconfig, {
        apiVersion: 'eci.alibabacloud.com/v1',
        kind: 'ImageCache',
        metadata: { name: 'too-small' },
        spec: { images: ['nginx'], imageCacheSize: 10 },
      }).then(
        () => resolve('accepted'),
        (e: Error) => resolve(e.message),
      );
    });
    assert.match(out, /spec\.imageCacheSize/);
  });
  test('a second virtual node builds no cache while the first holds the Lease, and takes over when it dies', async () => {
    await apply({
      apiVersion: 'eci.alibabacloud.com/v1',
      kind: 'ImageCache',
      metadata: { name: 'one-builder' },
      spec: { images: ['busybox:1.36'] },
    });
    await waitFor('Ready', async () => (await row('one-builder')).PHASE === 'Ready').catch(
      async (err: Error) => {
        const status = await kubectl('get', 'ic', 'one-builder', '-o', 'yaml').catch(() => '');
        throw new Error(`${err.message}\n${status}\n${controller.output.slice(-3000)}`);
      },
    );
    assert.ok((await eci.admin.listImageCaches()).length >= 1, 'the Lease holder built it');
    assert.equal((await eciB!.admin.listImageCaches()).length, 0, 'the other node built nothing');
    assert.ok((await imageCacheLeaseHolder()).startsWith(`${NODE}-`));
    // The holder dies without giving the Lease back: the other node takes it and reconciles.
    await controller.stop('SIGKILL');
    await waitFor(
      'the second node holds the ImageCache Lease',
      async () => (await imageCacheLeaseHolder()).startsWith(`${NODE_B}-`),
      { timeoutMs: 30_000 },
    );
    await waitFor(
      'the second node keeps the resource Ready from its own account',
      async () =>
        (await eciB!.admin.listImageCaches()).length === 1 && (await row('one-builder')).PHASE === 'Ready',
      { timeoutMs: 60_000 },
    );
    await kubectl('delete', 'ic', 'one-builder', '--wait=true', '--timeout=60s');
  });
});
