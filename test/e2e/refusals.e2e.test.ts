// Pods the controller must refuse rather than retry or run, end to end: the controller as users run
// it, the real control plane, the ECI emulator. Each refusal is a Pending pod whose status reason and
// Warning Event name what is wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { groupIdOf, waitReason, waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';

const NODE = 'vk-e2e-refusals';
const NS = 'e2e-refusals';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);

/** `kubectl create -f -` (not apply: its last-applied annotation would double a large pod). */
function create(obj: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = execFile(
      process.env.KUBECTL ?? 'kubectl',
      ['--kubeconfig', kubeconfig, 'create', '-f', '-'],
      { maxBuffer: 1 << 24 },
      (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()),
    );
    p.stdin?.end(JSON.stringify(obj));
  });
}

const pod = (name: string, spec: Record<string, unknown> = {}, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, annotations },
  spec: { ...placementOn(NODE), containers: [{ name: 'c', image: 'nginx' }], ...spec },
});

async function warning(name: string, reason: string): Promise<CoreV1Event> {
  return waitFor(`Warning Event ${reason} for ${name}`, async () => {
    const ev = await json<{ items: CoreV1Event[] }>(
      '-n',
      NS,
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${name}`,
    );
    return ev.items.find((e) => e.type === 'Warning' && e.reason === reason);
  });
}

describe('pods refused with a reason and an Event', { timeout: 600_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;

  before(async () => {
    eci = await startTestEmulator();
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    // A profile of this file's own, so the allow-list below touches no other test.
    await kubectl('-n', NS, 'create', 'configmap', 'eci-profile');
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--eci-profile',
      `${NS}/eci-profile`,
    ]);
    controller.start(eci.env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 60_000,
    }).catch(() => undefined);
    await controller.stop('SIGTERM');
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    await eci.close();
  });

  test('a RAM role off the namespace allow-list is refused; once listed, a new pod gets it', async () => {
    const role = { 'k8s.aliyun.com/eci-ram-role-name': 'oss-admin' };
    await create(pod('ram', {}, role));
    const refused = await waitReason(json, NS, 'ram', 'CloudPrivilegeNotAllowed');
    assert.equal(refused.status?.phase, 'Pending');
    const ev = await warning('ram', 'CloudPrivilegeNotAllowed');
    assert.match(
      ev.message ?? '',
      /metadata\.annotations\['k8s\.aliyun\.com\/eci-ram-role-name'\].*oss-admin/,
    );
    assert.equal((await eci.admin.listContainerGroups()).total, 0, 'no container group was made');

    await kubectl(
      '-n',
      NS,
      'patch',
      'configmap',
      'eci-profile',
      '--type=merge',
      '-p',
      JSON.stringify({ data: { cloudPrivileges: JSON.stringify({ [NS]: { ramRoles: ['oss-admin'] } }) } }),
    );
    // The profile applies to pods created after the change.
    await waitFor(
      'the listed role to be accepted',
      async () => {
        const name = `ram-${Date.now()}`;
        await create(pod(name, {}, role));
        const p = await waitFor(`${name} decided`, async () => {
          const x = await json<V1Pod>('-n', NS, 'get', 'pod', name);
          return (x.status?.phase === 'Running' || x.status?.reason === 'CloudPrivilegeNotAllowed') && x;
        });
        return p.status?.phase === 'Running' && p;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).then(async (p) => {
      const g = await eci.admin.getContainerGroup(groupIdOf(p));
      assert.equal((g.spec as { ramRoleName?: string }).ramRoleName, 'oss-admin');
    });
  });

  test('a pod ECI rejects as a request (1.2 MiB of env in the URL) is refused, not retried forever', async () => {
    const env = Array.from({ length: 1200 }, (_, i) => ({ name: `K${i}`, value: 'v'.repeat(1000) }));
    await create(pod('huge', { containers: [{ name: 'c', image: 'nginx', env }] }));
    const refused = await waitReason(json, NS, 'huge', 'ContainerGroupRejected');
    assert.match(refused.status?.message ?? '', /RequestHeaderFieldsTooLarge/);
    await warning('huge', 'ContainerGroupRejected');
    // Time for retries, had there been any: the emulator counts requests it refused unread.
    await new Promise((r) => setTimeout(r, 5000));
    const unread = (await eci.admin.stats()).actions['(unparsed)']?.byCode ?? {};
    assert.equal(unread.RequestHeaderFieldsTooLarge, 1, 'asked once, not retried');
    // A valid pod of 200 KiB of env in its URL runs.
    const fine = Array.from({ length: 200 }, (_, i) => ({ name: `K${i}`, value: 'v'.repeat(1000) }));
    await create(pod('big', { containers: [{ name: 'c', image: 'nginx', env: fine }] }));
    await waitRunning(json, NS, 'big');
  });
});
