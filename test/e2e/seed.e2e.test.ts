// The install guide's own commands, word for word, against a cluster of this file's own: routing by
// label sends pods to whichever node carries type=virtual-kubelet, so no other test's node may exist.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { clusterDown, clusterUp } from '../../dev/cluster/controlplane.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { groupIdOf, waitRunning } from '../support/pods.ts';
import { testClusterName } from '../support/cluster-name.ts';

const CLUSTER = { name: testClusterName('seed') };

describe("the install guide's commands work word for word", { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let kubectl: (...args: string[]) => Promise<string>;
  let json: <T>(...args: string[]) => Promise<T>;
  let kubeconfig: string;

  const running = (ns: string, name: string) => waitRunning(json, ns, name);
  const groupEnv = async (p: V1Pod) => {
    const g = await eci.admin.getContainerGroup(groupIdOf(p));
    const spec = g.spec as { containers: { env: { key: string; value?: string }[] }[] };
    return new Map(spec.containers[0]!.env.map((e) => [e.key, e.value]));
  };

  before(async () => {
    // A fresh cluster every run: the guide starts from an empty one.
    await clusterDown({ ...CLUSTER, purge: true });
    const info = await clusterUp(CLUSTER);
    kubeconfig = info.kubeconfig;
    ({ kubectl, json } = kubectlFor(kubeconfig) as { kubectl: typeof kubectl; json: typeof json });
    eci = await startTestEmulator({ vSwitches: ['vsw-emulator-h', 'vsw-emulator-i'] });
    // Step one of the guide: the AccessKey in the secret, not in the controller's environment.
    await kubectl(
      '-n',
      'kube-system',
      'create',
      'secret',
      'generic',
      'alibaba-addon-secret',
      `--from-literal=access-key-id=${eci.env.ECI_ACCESS_KEY}`,
      `--from-literal=access-key-secret=${eci.env.ECI_SECRET_KEY}`,
    );
    const env = { ...eci.env, ECI_ACCESS_KEY: '', ECI_SECRET_KEY: '' };
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-ip',
      '127.0.0.1',
      '--webhook-port',
      '0',
      '--webhook-endpoint',
      'local',
    ]);
    controller.start(env);
    await waitFor('virtual-kubelet Ready', async () =>
      (await kubectl('get', 'node', 'virtual-kubelet', '--no-headers').catch(() => '')).includes(' Ready'),
    );
    await waitFor('webhook registered', async () =>
      (
        await kubectl('get', 'mutatingwebhookconfiguration', 'eci-virtual-node', '--ignore-not-found')
      ).includes('eci-virtual-node'),
    );
  });

  after(async () => {
    await controller?.stop('SIGKILL');
    await eci?.close();
    await clusterDown({ ...CLUSTER, purge: true });
  });

  test('the controller took its AccessKey from kube-system/alibaba-addon-secret and never printed it', () => {
    assert.match(controller.output, /ECI credentials \(re\)loaded from the secret/);
    assert.ok(!controller.output.includes(eci.env.ECI_SECRET_KEY!), 'the secret is not in the logs');
  });

  test('kubectl run nginx --image nginx -l alibabacloud.com/eci=true runs on virtual-kubelet', async () => {
    await kubectl('run', 'nginx', '--image', 'nginx', '-l', 'alibabacloud.com/eci=true');
    await running('default', 'nginx');
    const wide = await kubectl('get', 'pod', '-o', 'wide');
    const line = wide.split('\n').find((l) => l.startsWith('nginx '));
    const ip = /\sRunning\s.*\s(\d+\.\d+\.\d+\.\d+)\s+virtual-kubelet\s/.exec(line ?? '')?.[1];
    assert.ok(ip, line);
    // An IP of the emulator's vSwitches (the process runtime gives each emulator a range of its own).
    const cidrs = eci.emu.config.region.vSwitches.map((v) => v.cidr);
    const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    assert.ok(
      cidrs.some((c) => {
        const [base, bits] = c.split('/');
        return (
          Math.floor(n(ip) / 2 ** (32 - Number(bits))) === Math.floor(n(base!) / 2 ** (32 - Number(bits)))
        );
      }),
      `${ip} in ${cidrs.join(', ')}`,
    );
  });

  test('a namespace labelled alibabacloud.com/eci=true sends its pods there; an unlabelled pod stays off it', async () => {
    await kubectl('create', 'ns', 'vk');
    await kubectl('label', 'namespace', 'vk', 'alibabacloud.com/eci=true');
    await kubectl('-n', 'vk', 'run', 'nginx', '--image', 'nginx');
    await running('vk', 'nginx');
    assert.match(await kubectl('-n', 'vk', 'get', 'pod', '-o', 'wide'), /nginx\s.*virtual-kubelet/);

    await kubectl('run', 'plain', '--image', 'nginx');
    await new Promise((r) => setTimeout(r, 5000));
    const plain = await json<V1Pod>('get', 'pod', 'plain');
    assert.equal(plain.spec?.nodeName, undefined, 'no other node exists, and the virtual node is not for it');
    assert.equal(plain.spec?.nodeSelector, undefined);
    await kubectl('delete', 'pod', 'plain', '--wait=false');
  });

  test('ClusterIP access is on by default (ECI_KUBE_PROXY) and eci-profile enableClusterIp=false turns it off for new pods', async () => {
    const before = await groupEnv(await running('vk', 'nginx'));
    assert.ok(before.get('KUBERNETES_SERVICE_HOST'), 'API server Service env injected');
    await kubectl(
      '-n',
      'kube-system',
      'create',
      'configmap',
      'eci-profile',
      '--from-literal=enableClusterIp=false',
    );
    await waitFor('profile applied', async () => controller.output.includes('"enableClusterIp":false'), {
      timeoutMs: 30_000,
    });
    await kubectl('-n', 'vk', 'run', 'batch', '--image', 'busybox', '--', 'sleep', '3600');
    const after = await groupEnv(await running('vk', 'batch'));
    assert.equal(after.get('KUBERNETES_SERVICE_HOST'), undefined);
  });

  test('uninstall: cleanup leaves no container group behind', async () => {
    await controller.stop('SIGTERM');
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['bin/eci-virtual-node.js', 'cleanup', '--kubeconfig', kubeconfig, '--force'],
        { env: { ...process.env, ...eci.env, ECI_ACCESS_KEY: '', ECI_SECRET_KEY: '' } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
      ),
    );
    assert.match(out, /cleanup done/);
    assert.equal((await eci.admin.listContainerGroups()).total, 0);
    assert.equal(await kubectl('get', 'node', 'virtual-kubelet', '--ignore-not-found'), '');
  });
});
