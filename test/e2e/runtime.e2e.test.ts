import * as $Eci from '@alicloud/eci20180808';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { sdkClient, type EciClient } from '../support/emulator-sdk.ts';
import { leftovers, processRuntimeSkip } from '../support/process-runtime.ts';
import { processSupport } from '../../src/emulator/engine/runtime/select.ts';
import { kubectlApply, placementOn } from '../support/apply.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor, testKubeconfig } from '../support/kubectl.ts';
import { groupIdOf, waitPod, waitRunning } from '../support/pods.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Pods on the virtual node run for real on the emulator's process runtime: what no simulation could
 * show, driven with the real kubectl against the real control plane, and the ECI side read through
 * the official SDK. Skipped (saying why) where the process runtime cannot run.
 */

const NODE = 'vk-e2e-runtime';
const NS = 'e2e-runtime';
const kubeconfig = testKubeconfig();
const { kubectl, json } = kubectlFor(kubeconfig);
const placement = { ...placementOn(NODE), terminationGracePeriodSeconds: 1 };
const apply = (obj: unknown) => kubectlApply(kubeconfig, obj);

const pod = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: { ...placement, ...spec },
});

const status = (p: V1Pod) => p.status?.containerStatuses?.[0];

describe('pods run for real on the emulator process runtime', { timeout: 900_000 }, () => {
  let eci: TestEmulator;
  let sdk: EciClient;
  let controller: ControllerProcess;
  let skipReason: string | false = false;

  before(async () => {
    skipReason = processRuntimeSkip(await processSupport());
    eci = await startTestEmulator();
    if (skipReason) return;
    assert.equal(eci.emu.core.runtime.kind, 'process', 'the test emulator runs containers for real');
    sdk = sdkClient(eci.emu);
    await kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', NS);
    controller = new ControllerProcess([
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
    ]);
    controller.start(eci.env);
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
  });

  after(async () => {
    if (!skipReason) {
      await kubectl('delete', 'namespace', NS, '--wait=false', '--ignore-not-found').catch(() => undefined);
      await waitFor('groups cleaned up', async () => (await eci.admin.listContainerGroups()).total === 0, {
        timeoutMs: 90_000,
      }).catch(() => undefined);
      await controller.stop('SIGTERM');
      await kubectl('delete', 'node', NODE, '--ignore-not-found');
    }
    await eci.close();
  });

  test('a Job runs a script no simulation could fake; DescribeContainerLog returns exactly its lines', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const script = 'for i in 1 2 3; do echo line-$i; done; uname -n; cat /etc/os-release | head -1';
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'lines', namespace: NS },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { job: 'lines' } },
          spec: {
            ...placement,
            restartPolicy: 'Never',
            containers: [{ name: 'main', image: 'debian:bookworm', command: ['sh', '-c', script] }],
          },
        },
      },
    });
    await kubectl('-n', NS, 'wait', '--for=condition=complete', 'job/lines', '--timeout=240s');
    const [p] = (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods', '-l', 'job=lines')).items;
    assert.ok(p);
    const id = groupIdOf(p);
    const log = await sdk.describeContainerLog(
      new $Eci.DescribeContainerLogRequest({
        regionId: eci.emu.regionId,
        containerGroupId: id,
        containerName: 'main',
      }),
    );
    assert.equal(
      log.body.content,
      `line-1\nline-2\nline-3\n${p.metadata!.name}\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n`,
    );
  });

  test("sh -c 'exit 3' shows exit code 3; a crashing container restarts with a rising count", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await apply(
      pod('exit3', {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }],
      }),
    );
    await apply(
      pod('crash', {
        containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo crashing; exit 1'] }],
      }),
    );
    const failed = await waitPod(json, NS, 'exit3', 'Failed', (x) => x.status?.phase === 'Failed');
    assert.equal(status(failed)?.state?.terminated?.exitCode, 3);
    const crash = await waitPod(
      json,
      NS,
      'crash',
      'restarted twice',
      (x) => (status(x)?.restartCount ?? 0) >= 2,
    );
    assert.equal(status(crash)?.lastState?.terminated?.exitCode, 1);
  });

  test('a failing liveness probe restarts the container', async (t) => {
    if (skipReason) return t.skip(skipReason);
    await apply(
      pod('liveness', {
        containers: [
          {
            name: 'c',
            image: 'busybox',
            command: ['sh', '-c', 'touch /tmp/healthy; sleep 3; rm /tmp/healthy; exec sleep 3600'],
            livenessProbe: {
              exec: { command: ['cat', '/tmp/healthy'] },
              periodSeconds: 1,
              failureThreshold: 1,
            },
          },
        ],
      }),
    );
    await waitPod(
      json,
      NS,
      'liveness',
      'restarted by its liveness probe',
      (x) => (status(x)?.restartCount ?? 0) >= 1,
    );
  });

  test('a memory hog is OOMKilled (where cgroups are writable)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const rt = eci.emu.core.runtime.describe() as { cgroups: string; cgroupsMissing?: string };
    if (rt.cgroups === 'none') return t.skip(`no writable cgroup on this machine: ${rt.cgroupsMissing}`);
    await apply(
      pod('hog', {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'c',
            image: 'busybox',
            command: ['tail', '/dev/zero'],
            resources: { limits: { memory: '64Mi' } },
          },
        ],
      }),
    );
    const p = await waitPod(json, NS, 'hog', 'Failed', (x) => x.status?.phase === 'Failed');
    assert.equal(status(p)?.state?.terminated?.reason, 'OOMKilled');
    assert.equal(status(p)?.state?.terminated?.exitCode, 137);
  });

  test('an nginx Deployment answers curl http://<podIP>/ from this machine', async (t) => {
    if (skipReason) return t.skip(skipReason);
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 2,
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
    const pods = await waitFor(
      '2 Running pods with IPs',
      async () => {
        const p = (await json<{ items: V1Pod[] }>('-n', NS, 'get', 'pods', '-l', 'app=web')).items;
        return p.length === 2 && p.every((x) => x.status?.phase === 'Running' && x.status.podIP) && p;
      },
      { timeoutMs: 240_000 },
    );
    for (const p of pods) {
      const page = await waitFor(`http://${p.status!.podIP}/`, async () => {
        const res = await fetch(`http://${p.status!.podIP}/`, { signal: AbortSignal.timeout(3000) });
        return res.ok && res.text();
      });
      assert.match(page, /<title>Welcome to nginx!<\/title>/);
    }
  });

  test("a configMap file and a downward-API env var read back through ExecContainerCommand's WebSocket", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await kubectl('-n', NS, 'create', 'configmap', 'settings', '--from-literal=app.conf=color=blue');
    await apply(
      pod('reader', {
        containers: [
          {
            name: 'c',
            image: 'busybox',
            command: ['sleep', '3600'],
            env: [
              { name: 'MY_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'settings' } }],
      }),
    );
    const p = await waitRunning(json, NS, 'reader', 120_000);
    const r = await sdk.execContainerCommand(
      new $Eci.ExecContainerCommandRequest({
        regionId: eci.emu.regionId,
        containerGroupId: groupIdOf(p),
        containerName: 'c',
        command: JSON.stringify(['sh', '-c', 'cat /etc/app/app.conf; echo; echo "$MY_POD_NAME $MY_POD_IP"']),
      }),
    );
    const output = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(r.body.webSocketUri!, ['v4.channel.k8s.io']);
      ws.binaryType = 'arraybuffer';
      let out = '';
      ws.onmessage = (m) => {
        const b = Buffer.from(m.data as ArrayBuffer);
        if (b[0] === 1) out += b.subarray(1).toString();
      };
      ws.onclose = () => resolve(out);
      ws.onerror = () => reject(new Error('exec websocket error'));
    });
    assert.equal(output, `color=blue\nreader ${p.status!.podIP}\n`);
  });

  test('deleted pods leave no process, link, mount or namespace of theirs behind', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const rt = eci.emu.core.runtime.describe() as { instance: string; runtimeDir: string; bridge: string };
    const before = await leftovers(rt.instance, rt.runtimeDir);
    assert.ok(before.processes.length > 0 && before.links.length > 1, 'the pods run');
    await kubectl('-n', NS, 'delete', 'pods,deployments,jobs', '--all', '--wait=true', '--timeout=120s');
    await waitFor('every group deleted', async () => (await eci.admin.listContainerGroups()).total === 0, {
      timeoutMs: 120_000,
    });
    const after = await waitFor('nothing of the groups left', async () => {
      const l = await leftovers(rt.instance, rt.runtimeDir);
      return l.processes.length === 0 && l.links.length === 1 && l;
    });
    assert.deepEqual(after.links, [rt.bridge], 'only the emulator bridge stays while the emulator runs');
    assert.deepEqual([after.processes, after.mounts, after.namespaces], [[], [], []]);
  });
});
