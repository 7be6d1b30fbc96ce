// ECI pod annotations and restarts against the real control plane with the real kubectl: a spot pod,
// a pod with an EIP, a pod with a named instance type, each seen in its container group; an
// unsupported annotation refused with an Event; a container stuck in a state only a restart clears.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import * as $Eci from '@alicloud/eci20180808';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { groupIdOf, waitPod, waitReason, waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';
import { sdkClient } from '../support/emulator-sdk.ts';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));

const NODE = 'vk-e2e-annotations';
const NS = 'e2e-annotations';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);
const placement = placementOn(NODE);

function podWith(
  name: string,
  annotations: Record<string, string>,
  spec: Partial<NonNullable<V1Pod['spec']>> = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, annotations },
    spec: { ...placement, containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec },
  };
}

const eventsOf = async (name: string) =>
  (
    await json<{ items: CoreV1Event[] }>(
      '-n',
      NS,
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${name}`,
    )
  ).items;

describe('ECI annotations and restarts', { timeout: 600_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;

  before(async () => {
    eci = await startTestEmulator();
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    // EIPs are cloud privileges: this namespace's profile gives them (a profile of its own, so no
    // other test's controller sees it).
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'eci-profile', namespace: NS },
      data: {
        cloudPrivileges: JSON.stringify({ [NS]: { eips: ['eip-bp1q5n8cq4p7f6dzu'], createEip: true } }),
      },
    });
    controller = new ControllerProcess([
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

  /** The pod's group as DescribeContainerGroups shows it (the official SDK against the emulator). */
  async function describeGroup(pod: V1Pod) {
    const r = await sdkClient(eci.emu).describeContainerGroups(
      new $Eci.DescribeContainerGroupsRequest({
        regionId: eci.emu.regionId,
        containerGroupIds: JSON.stringify([groupIdOf(pod)]),
      }),
    );
    return r.body.containerGroups![0]!;
  }

  test('a spot pod, a pod with an EIP and a pod with a named instance type: each visible in its group', async () => {
    await apply(
      podWith('spot', {
        'k8s.aliyun.com/eci-spot-strategy': 'SpotWithPriceLimit',
        'k8s.aliyun.com/eci-spot-price-limit': '0.25',
        'k8s.aliyun.com/eci-spot-duration': '0',
      }),
    );
    await apply(
      podWith('eip', {
        'k8s.aliyun.com/eci-with-eip': 'true',
        'k8s.aliyun.com/eip-bandwidth': '10',
        'k8s.aliyun.com/eip-isp': 'BGP',
      }),
    );
    await apply(podWith('existing-eip', { 'k8s.aliyun.com/eci-eip-instanceid': 'eip-bp1q5n8cq4p7f6dzu' }));
    await apply(podWith('typed', { 'k8s.aliyun.com/eci-use-specs': 'ecs.c6.large' }));

    const spot = await describeGroup(await waitRunning(json, NS, 'spot'));
    assert.deepEqual([spot.spotStrategy, spot.spotPriceLimit], ['SpotWithPriceLimit', 0.25]);
    assert.ok((spot.discount ?? 10) < 10, 'a spot instance is discounted');

    const eip = await describeGroup(await waitRunning(json, NS, 'eip'));
    assert.match(eip.internetIp ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    const eipRecord = await eci.admin.getContainerGroup(eip.containerGroupId!);
    assert.deepEqual(
      [eipRecord.spec.autoCreateEip, eipRecord.spec.eipBandwidth, eipRecord.spec.eipISP],
      [true, 10, 'BGP'],
    );
    const existing = await describeGroup(await waitRunning(json, NS, 'existing-eip'));
    assert.match(existing.internetIp ?? '', /^47\./);

    const typed = await describeGroup(await waitRunning(json, NS, 'typed'));
    assert.equal(typed.instanceType, 'ecs.c6.large');
  });

  test('an unsupported annotation is refused with an Event naming it, and no group is made', async () => {
    await apply(podWith('fallback', { 'k8s.aliyun.com/eci-spot-fallback': 'true' }));
    const p = await waitReason(json, NS, 'fallback', 'UnsupportedEciAnnotation');
    assert.match(p.status?.message ?? '', /k8s\.aliyun\.com\/eci-spot-fallback/);
    await waitFor('the Warning Event', async () =>
      (await eventsOf('fallback')).some(
        (e) =>
          e.type === 'Warning' &&
          e.reason === 'UnsupportedEciAnnotation' &&
          e.message?.includes('k8s.aliyun.com/eci-spot-fallback'),
      ),
    );
    const groups = await eci.admin.listContainerGroups();
    assert.ok(!groups.items.some((g) => g.name.includes('fallback')), 'no container group for it');

    await apply(podWith('typo', { 'k8s.aliyun.com/eci-use-spec': '2-4Gi' }));
    await waitReason(json, NS, 'typo', 'UnsupportedEciAnnotation');

    // An EIP the namespace's cloudPrivileges do not list is held back, naming the annotation.
    await apply(podWith('other-eip', { 'k8s.aliyun.com/eci-eip-instanceid': 'eip-notgiven1' }));
    const held = await waitReason(json, NS, 'other-eip', 'CloudPrivilegeNotAllowed');
    assert.match(held.status?.message ?? '', /k8s\.aliyun\.com\/eci-eip-instanceid/);
  });

  test('a container stuck in a state ECI does not retry is restarted: restart count and an Event', async () => {
    await apply(podWith('stuck', {}));
    const p = await waitRunning(json, NS, 'stuck');
    await eci.admin.stickContainer(groupIdOf(p), 'app', {
      reason: 'RunContainerError',
      message: 'mount failed',
    });
    const restarted = await waitPod(
      json,
      NS,
      'stuck',
      'restarted once and running',
      (x) =>
        x.status?.containerStatuses?.[0]?.restartCount === 1 &&
        x.status.containerStatuses[0].state?.running !== undefined,
      120_000,
    );
    assert.equal(restarted.status?.phase, 'Running');
    const e = (await eventsOf('stuck')).find((x) => x.reason === 'ContainerGroupRestarted');
    assert.ok(e, 'a ContainerGroupRestarted Event');
    assert.match(e.message ?? '', /RunContainerError/);
  });

  test('eci-virtual-node template export prints the group a pod runs in as an ECI template', async () => {
    await apply(podWith('templated', { 'k8s.aliyun.com/eci-spot-strategy': 'SpotAsPriceGo' }));
    const p = await waitRunning(json, NS, 'templated');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BIN, 'template', 'export', `${NS}/templated`, '--kubeconfig', kubeconfig],
      { env: { ...process.env, ...eci.env } },
    );
    const t = JSON.parse(stdout) as {
      ContainerGroupId: string;
      SpotStrategy: string;
      Spec: { Containers: { Image: string }[] };
      Tags: { Key: string; Value: string }[];
    };
    assert.equal(t.ContainerGroupId, groupIdOf(p));
    assert.equal(t.Spec.Containers[0]!.Image, 'nginx:1.27');
    assert.equal(t.SpotStrategy, 'SpotAsPriceGo');
    assert.ok(t.Tags.some((x) => x.Key === 'eci-virtual-node/pod-name' && x.Value === 'templated'));
    const missing = await promisify(execFile)(
      process.execPath,
      [BIN, 'template', 'export', `${NS}/nope`, '--kubeconfig', kubeconfig],
      { env: { ...process.env, ...eci.env } },
    ).catch((e: { stderr: string }) => e);
    assert.match((missing as { stderr: string }).stderr, /pod e2e-annotations\/nope not found/);
  });
});
