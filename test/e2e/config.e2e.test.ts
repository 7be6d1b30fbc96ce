import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { groupIdOf, waitReason, waitRunning } from '../support/pods.ts';

const NODE = 'vk-e2e-config';
const NS = 'e2e-config';
// A profile of our own, so changing it cannot disturb the other e2e files running beside this one.
const PROFILE = 'eci-profile-e2e-config';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);
const run = promisify(execFile);

const pod = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, annotations },
  spec: { ...placementOn(NODE), containers: [{ name: 'c', image: 'nginx' }] },
});

const profile = (data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: PROFILE, namespace: 'kube-system' },
  data,
});

describe('configuration, zone failover and cleanup', { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  const args = [
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
    '--eci-profile',
    `kube-system/${PROFILE}`,
  ];

  const groupOf = async (name: string) => {
    return eci.admin.getContainerGroup(groupIdOf(await waitRunning(json, NS, name)));
  };

  before(async () => {
    eci = await startTestEmulator({ vSwitches: ['vsw-emulator-h', 'vsw-emulator-i'] });
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    await kubectl('-n', 'kube-system', 'delete', 'configmap', PROFILE, '--ignore-not-found');
    controller = new ControllerProcess(args);
    controller.start(eci.env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    await controller.stop('SIGKILL');
    await kubectl('-n', 'kube-system', 'delete', 'configmap', PROFILE, '--ignore-not-found');
    await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found');
    await kubectl('delete', 'node', NODE, '--ignore-not-found');
    await eci.close();
  });

  test('with zone h out of stock, a pod lands in zone i, with an Event saying so', async () => {
    await eci.admin.setZoneStock('cn-hangzhou-h', 0);
    await apply(pod('failover'));
    const group = await groupOf('failover');
    assert.equal(group.vSwitchId, 'vsw-emulator-i');
    assert.equal(group.zoneId, 'cn-hangzhou-i');
    const events = await json<{ items: CoreV1Event[] }>(
      '-n',
      NS,
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=failover',
    );
    assert.ok(
      events.items.some((e) => e.reason === 'ZoneFailover' && /vsw-emulator-h/.test(e.message ?? '')),
    );
  });

  test('with every zone out of stock the pod waits with a clear reason, and runs when stock returns', async () => {
    await eci.admin.setZoneStock('cn-hangzhou-i', 0);
    await apply(pod('nostock'));
    const p = await waitReason(json, NS, 'nostock', 'ZoneStockOut');
    assert.equal(p.status?.phase, 'Pending');
    assert.match(p.status?.message ?? '', /vsw-emulator-h, vsw-emulator-i/);
    await eci.admin.setZoneStock('cn-hangzhou-h', null);
    await eci.admin.setZoneStock('cn-hangzhou-i', null);
    const group = await groupOf('nostock');
    assert.equal(group.vSwitchId, 'vsw-emulator-h');
  });

  test('an eci-profile vSwitchIds change applies to the next pod without restart; running pods keep theirs', async () => {
    const before = await groupOf('nostock');
    await apply(profile({ vSwitchIds: 'vsw-emulator-j' }));
    await waitFor('profile applied', async () => controller.output.includes('eci-profile applied'), {
      timeoutMs: 30_000,
    });
    await apply(pod('after-profile'));
    const group = await groupOf('after-profile');
    assert.equal(group.vSwitchId, 'vsw-emulator-j');
    const still = await eci.admin.getContainerGroup(before.id);
    assert.equal(still.vSwitchId, before.vSwitchId, 'the running pod kept its vSwitch');
    assert.equal(still.status, 'Running');
  });

  test('a broken profile yields a Warning naming the key and changes nothing', async () => {
    await apply(profile({ vSwitchIds: 'vsw-emulator-j', securityGroupId: 'not-a-group' }));
    const warning = await waitFor(
      'InvalidProfile event',
      async () => {
        const ev = await json<{ items: CoreV1Event[] }>(
          '-n',
          'kube-system',
          'get',
          'events',
          '--field-selector',
          `involvedObject.name=${PROFILE}`,
        );
        return ev.items.find((e) => e.reason === 'InvalidProfile');
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? '', /securityGroupId/);
    await apply(pod('after-broken'));
    const group = await groupOf('after-broken');
    assert.equal(group.vSwitchId, 'vsw-emulator-j', 'the last good profile stays in force');
    assert.equal(group.securityGroupId, 'sg-emulator');
  });

  test('deleting the node while it owns groups brings it back with a Warning', async () => {
    const uid = (await json<{ metadata: { uid: string } }>('get', 'node', NODE)).metadata.uid;
    await kubectl('delete', 'node', NODE, '--wait=true');
    await waitFor('node back', async () => {
      const n = await json<{ metadata: { uid: string } }>('get', 'node', NODE).catch(() => undefined);
      return n !== undefined && n.metadata.uid !== uid;
    });
    const ev = await waitFor('NodeDeletedWithInstances', async () => {
      const e = await json<{ items: CoreV1Event[] }>(
        'get',
        'events',
        '--field-selector',
        `involvedObject.name=${NODE},reason=NodeDeletedWithInstances`,
      );
      return e.items[0];
    });
    assert.match(ev.message ?? '', /eci-virtual-node cleanup/);
  });

  test('cleanup refuses while the controller runs, then leaves zero groups and no node', async () => {
    assert.ok((await eci.admin.listContainerGroups()).total > 0);
    const cli = (...a: string[]) =>
      run(
        process.execPath,
        ['bin/eci-virtual-node.js', 'cleanup', '--kubeconfig', kubeconfig, '--node-name', NODE, ...a],
        {
          env: { ...process.env, ...eci.env },
        },
      );
    await assert.rejects(cli(), (err: { stderr?: string }) => /still running/.test(err.stderr ?? ''));
    await controller.stop('SIGTERM');
    const { stdout } = await cli('--force');
    assert.match(stdout, /cleanup done/);
    assert.equal((await eci.admin.listContainerGroups()).total, 0);
    assert.equal(await kubectl('get', 'node', NODE, '--ignore-not-found'), '');
    const left = await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods');
    assert.equal(left.items.length, 0);
  });
});
