import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { ControllerProcess } from '../support/controller.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';

const NODE = 'vk-e2e-node';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
// The node's registration and heartbeat are under test, not containers: the embedded emulator gets a
// state directory of its own and simulates, so a controller killed with -9 leaves no container behind.
const emulatorStateDir = mkdtempSync(path.join(os.tmpdir(), 'evn-node-emu-'));
const controllerArgs = [
  '--emulator-state-dir',
  emulatorStateDir,
  '--emulator-runtime',
  'simulated',
  '--kubeconfig',
  kubeconfig,
  '--node-name',
  NODE,
  '--node-ip',
  '127.0.0.1',
  // The kubelet API on any free loopback port: several controllers share this machine.
  '--kubelet-port',
  '0',
  '--kubelet-bind-address',
  '127.0.0.1',
  '--cpu',
  '123',
  '--memory',
  '456Gi',
  '--pods',
  '789',
];

const readyStatus = (n: V1Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const getNode = () => json<V1Node>('get', 'node', NODE);
const getLease = () => json<V1Lease>('-n', 'kube-node-lease', 'get', 'lease', NODE);
const renewTime = (l: V1Lease) => Date.parse(String(l.spec?.renewTime));

describe('virtual node registration and heartbeat', { timeout: 600_000 }, () => {
  let controller = new ControllerProcess(controllerArgs);

  before(async () => {
    await kubectl('delete', 'node', NODE, '--ignore-not-found', '--wait=true');
    controller.start();
  });

  after(async () => {
    await controller.stop('SIGKILL');
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    rmSync(emulatorStateDir, { recursive: true, force: true });
  });

  test('the node registers Ready with the labels, taint and capacity users expect', async () => {
    const node = await waitFor('node Ready', async () => {
      const n = await getNode();
      return readyStatus(n) === 'True' && n;
    });
    const labels = node.metadata?.labels ?? {};
    assert.equal(labels.type, 'virtual-kubelet');
    assert.equal(labels['kubernetes.io/role'], 'agent');
    assert.equal(labels['kubernetes.io/hostname'], NODE);
    assert.equal(labels['kubernetes.io/os'], 'linux');
    assert.deepEqual(
      node.spec?.taints?.filter((t) => t.key === 'virtual-kubelet.io/provider'),
      [{ key: 'virtual-kubelet.io/provider', value: 'alibabacloud', effect: 'NoSchedule' }],
    );
    assert.equal(node.status?.capacity?.cpu, '123');
    assert.equal(node.status?.capacity?.memory, '456Gi');
    assert.equal(node.status?.allocatable?.pods, '789');
    // --kubelet-port 0: the Node advertises the port the kubelet API really bound, and it answers there.
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
    assert.ok(port > 0, `advertised kubelet port ${port}`);
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
    // Only the InternalIP: a Hostname address of a name nothing resolves sent API servers astray.
    assert.deepEqual(node.status?.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }]);
    assert.match(node.status?.nodeInfo?.kubeletVersion ?? '', /^v1\.34\./);
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      assert.equal(node.status?.conditions?.find((c) => c.type === t)?.status, 'False', t);
    }
    // `kubectl get node` shows it Ready, as a user would check.
    assert.match(
      await kubectl('get', 'node', NODE, '--no-headers'),
      new RegExp(`^${NODE}\\s+Ready\\s+agent`),
    );
  });

  test('the Lease in kube-node-lease is renewed every 10 s with a 40 s duration', async () => {
    const first = await waitFor('lease', getLease);
    assert.equal(first.spec?.leaseDurationSeconds, 40);
    assert.equal(first.spec?.holderIdentity, NODE);
    const t0 = renewTime(first);
    const next = await waitFor(
      'renewTime to advance',
      async () => {
        const l = await getLease();
        return renewTime(l) > t0 && l;
      },
      { timeoutMs: 30_000 },
    );
    const step = renewTime(next) - t0;
    assert.ok(step >= 5_000 && step <= 20_000, `renew step ${step} ms is about 10 s`);
  });

  test('a deleted node comes back while the controller runs', async () => {
    const before = await getNode();
    await kubectl('delete', 'node', NODE, '--wait=true');
    const back = await waitFor('node re-registered', async () => {
      const n = await getNode().catch(() => undefined);
      return n && n.metadata?.uid !== before.metadata?.uid && readyStatus(n) === 'True' && n;
    });
    assert.equal(back.metadata?.labels?.type, 'virtual-kubelet');
    // The Lease follows the new Node: owned by it, and renewed.
    await waitFor(
      'lease owned by the new node',
      async () => {
        const l = await getLease().catch(() => undefined);
        return l?.metadata?.ownerReferences?.[0]?.uid === back.metadata?.uid;
      },
      { timeoutMs: 40_000 },
    );
  });

  test('SIGTERM stops cleanly and leaves the node; a restart keeps the same node', async () => {
    const before = await getNode();
    assert.equal(await controller.stop('SIGTERM'), 0);
    assert.equal((await getNode()).metadata?.uid, before.metadata?.uid, 'node left in place on stop');
    controller = new ControllerProcess(controllerArgs);
    controller.start();
    const lease0 = renewTime(await getLease());
    await waitFor(
      'lease renewed by the restarted controller',
      async () => renewTime(await getLease()) > lease0,
      {
        timeoutMs: 30_000,
      },
    );
    const after = await getNode();
    assert.equal(after.metadata?.uid, before.metadata?.uid, 'same Node object after restart');
    assert.equal(readyStatus(after), 'True');
  });

  test('Ready goes Unknown when the controller is killed, and True again when it returns', async () => {
    await controller.stop('SIGKILL');
    // The node lifecycle controller marks it after the node-monitor grace period of the test cluster.
    const gone = await waitFor(
      'Ready to leave True',
      async () => {
        const n = await getNode();
        return readyStatus(n) !== 'True' && n;
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    assert.ok(['False', 'Unknown'].includes(readyStatus(gone) ?? ''), `Ready is ${readyStatus(gone)}`);
    controller = new ControllerProcess(controllerArgs);
    controller.start();
    await waitFor('Ready True again', async () => readyStatus(await getNode()) === 'True', {
      timeoutMs: 60_000,
    });
  });
});
