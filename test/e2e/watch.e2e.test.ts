// Watches that never go blind: after minutes of quiet the controller still sees a profile change or
// a rotated AccessKey at once, and it rides out a kube-apiserver outage without missing a pod. A
// control plane of this file's own, because it kills an API server and rotates the cluster-wide
// credentials secret, which would disturb the other files' controllers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterDown, clusterUp, type ClusterInfo } from '../../dev/cluster/controlplane.ts';
import { pickFreePorts } from '../../dev/cluster/ports.ts';
import { startDetached } from '../../dev/cluster/processes.ts';
import { createKubeClients, type KubeClients } from '../../src/kube/client.ts';
import { ControllerProcess } from '../support/controller.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { kubectlFor } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { waitRunning } from '../support/pods.ts';
import { testClusterName } from '../support/cluster-name.ts';

const CLUSTER = { name: testClusterName('watch') };
const NODE = 'virtual-kubelet';
/** How long the controller sits idle first: long past the 30 s after which quiet watches used to die. */
const IDLE_MS = 180_000;
const TRIES = 20;
const KEYS = [
  { id: 'LTAI-watch-a', secret: 'watch-secret-a' },
  { id: 'LTAI-watch-b', secret: 'watch-secret-b' },
];
const RELOADED = 'ECI credentials (re)loaded from the secret';

const PROFILE = { name: 'eci-profile', namespace: 'kube-system' };
const SECRET = { name: 'alibaba-addon-secret', namespace: 'kube-system' };
const profile = (selectors: unknown[]) => ({
  metadata: PROFILE,
  data: { selectors: JSON.stringify(selectors) },
});
const secret = (key: { id: string; secret: string }) => ({
  metadata: SECRET,
  stringData: { 'access-key-id': key.id, 'access-key-secret': key.secret },
});

/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)]!;

/** Counter values from a Prometheus text scrape, by their label sets. */
function counters(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('watches that never go blind', { timeout: 900_000 }, () => {
  let info: ClusterInfo;
  let eci: TestEmulator;
  let controller: ControllerProcess;
  let kube: KubeClients;
  let metricsPort: number;
  let kubectl: (...args: string[]) => Promise<string>;
  let json: <T>(...args: string[]) => Promise<T>;
  /** The test's own files (a second kubeconfig, a pod manifest): never in the cluster's state dir. */
  let scratch: string;
  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  before(async () => {
    await clusterDown({ ...CLUSTER, purge: true });
    info = await clusterUp(CLUSTER);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'evn-watch-e2e-'));
    ({ kubectl, json } = kubectlFor(info.kubeconfig) as { kubectl: typeof kubectl; json: typeof json });
    kube = await createKubeClients({ kubeconfig: info.kubeconfig });
    eci = await startTestEmulator({ accessKeys: KEYS });
    await kube.core.createNamespacedSecret({ namespace: SECRET.namespace, body: secret(KEYS[0]!) });
    await kube.core.createNamespacedConfigMap({ namespace: PROFILE.namespace, body: profile([]) });
    [metricsPort] = (await pickFreePorts(1)) as [number];
    controller = new ControllerProcess([
      '--kubeconfig',
      info.kubeconfig,
      '--node-ip',
      '127.0.0.1',
      // The kubelet API on any free loopback port: several controllers share this machine.
      '--kubelet-port',
      '0',
      '--kubelet-bind-address',
      '127.0.0.1',
      '--webhook-port',
      '0',
      '--webhook-endpoint',
      'local',
      '--metrics-port',
      String(metricsPort),
      '--metrics-bind-address',
      '127.0.0.1',
    ]);
    controller.start({ ...eci.env, ECI_ACCESS_KEY: '', ECI_SECRET_KEY: '' });
    await waitFor('node Ready', async () =>
      (await kubectl('get', 'node', NODE, '--no-headers').catch(() => '')).includes(' Ready'),
    );
    await waitFor('webhook registered', async () =>
      (await kubectl('get', 'mutatingwebhookconfiguration', '--no-headers')).includes('eci-virtual-node'),
    );
  });

  after(async () => {
    await controller?.stop('SIGKILL');
    await kube?.close();
    await eci?.close();
    await clusterDown({ ...CLUSTER, purge: true });
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test(`after ${IDLE_MS / 60_000} minutes idle, a profile change and a rotated AccessKey apply within 2 s (p99 of ${TRIES})`, async () => {
    await sleep(IDLE_MS);
    const quiet = await scrape();

    // The profile: a selector for a label only this try's pod carries. Applied = the API server's
    // dry-run of such a pod comes back routed to the virtual node by our webhook.
    const profileMs: number[] = [];
    for (let i = 0; i < TRIES; i++) {
      const label = `try-${i}`;
      const t0 = performance.now();
      await kube.core.replaceNamespacedConfigMap({
        ...PROFILE,
        body: profile([{ name: label, objectSelector: { matchLabels: { 'watch-e2e': label } } }]),
      });
      await waitFor(
        `selector ${label} applied`,
        async () => {
          const pod = await kube.core.createNamespacedPod({
            namespace: 'default',
            dryRun: 'All',
            body: {
              metadata: { name: `probe-${i}`, labels: { 'watch-e2e': label } },
              spec: { containers: [{ name: 'c', image: 'nginx' }] },
            },
          });
          return pod.spec?.nodeSelector?.type === 'virtual-kubelet';
        },
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      profileMs.push(performance.now() - t0);
    }

    // The secret: each rotation is one more reload the controller reports (its ECI client is rebuilt
    // with the new key right after that line).
    const secretMs: number[] = [];
    const reloads = () => controller.output.split(RELOADED).length - 1;
    for (let i = 0; i < TRIES; i++) {
      const before = reloads();
      const t0 = performance.now();
      await kube.core.replaceNamespacedSecret({ ...SECRET, body: secret(KEYS[(i + 1) % 2]!) });
      await waitFor('credentials reloaded', async () => reloads() > before, {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      secretMs.push(performance.now() - t0);
    }
    const fmt = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms`;
    process.stderr.write(`[watch e2e] eci-profile applied: ${fmt(profileMs)}; secret: ${fmt(secretMs)}\n`);
    assert.ok(percentile(profileMs, 99) <= 2_000, `eci-profile: ${profileMs.map(Math.round).join(', ')} ms`);
    assert.ok(percentile(secretMs, 99) <= 2_000, `secret: ${secretMs.map(Math.round).join(', ')} ms`);

    // Quiet watches ended normally and were resumed; none of them relisted while idle.
    const relists = counters(quiet, 'eci_virtual_node_watch_relists_total');
    // Two ConfigMaps are watched: eci-profile, and the API server's client CA for the kubelet API.
    const watches = { pods: 1, nodes: 1, namespaces: 1, configmaps: 2, secrets: 1 };
    for (const [resource, lists] of Object.entries(watches)) {
      assert.equal(
        relists.get(`resource="${resource}",reason="initial"`),
        lists,
        `${resource}: listed once per watch\n${quiet}`,
      );
    }
    assert.deepEqual(
      [...relists.keys()].filter((k) => !k.endsWith('reason="initial"')),
      [],
      'no relist while idle',
    );
    const restarts = counters(quiet, 'eci_virtual_node_watch_restarts_total');
    assert.deepEqual(
      [...restarts.keys()].filter((k) => !k.endsWith('reason="closed"')),
      [],
      'no quiet watch failed; only the server ended any',
    );
  });

  test('kube-apiserver killed for 20 s: every watch resumes and a pod created meanwhile runs within 10 s of its return', async () => {
    // A second API server on the same etcd, as in an HA control plane, stays up to take the pod
    // created while the controller's API server is down.
    const apiserverPid = info.pids['kube-apiserver'];
    const argv = (await readFile(`/proc/${apiserverPid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const [binary, ...args] = argv as [string, ...string[]];
    const [otherPort] = (await pickFreePorts(1)) as [number];
    const other = await startDetached({
      name: 'kube-apiserver-2',
      binary,
      args: args.map((a) => (a.startsWith('--secure-port=') ? `--secure-port=${otherPort}` : a)),
      cwd: info.stateDir,
      logFile: `${scratch}/kube-apiserver-2.log`,
      pidFile: `${scratch}/kube-apiserver-2.pid`,
    });
    try {
      const otherConfig = `${scratch}/kubeconfig-2`;
      await writeFile(
        otherConfig,
        (await readFile(info.kubeconfig, 'utf8')).replace(
          `127.0.0.1:${info.ports.apiserver}`,
          `127.0.0.1:${otherPort}`,
        ),
      );
      const second = kubectlFor(otherConfig);
      await waitFor(
        'second API server ready',
        async () => (await second.kubectl('get', '--raw', '/readyz')) === 'ok',
      );
      const restartsBefore = counters(await scrape(), 'eci_virtual_node_watch_restarts_total');

      process.kill(apiserverPid, 'SIGKILL');
      await sleep(1_000);
      const file = `${scratch}/outage-pod.json`;
      await writeFile(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'during-outage', namespace: 'default' },
          spec: {
            nodeName: NODE,
            tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
            containers: [{ name: 'c', image: 'nginx' }],
          },
        }),
      );
      await second.kubectl('create', '-f', file);
      await sleep(19_000);

      // Back with exactly the arguments it had.
      const restarted = await startDetached({
        name: 'kube-apiserver',
        binary,
        args,
        cwd: info.stateDir,
        logFile: `${info.logsDir}/kube-apiserver.log`,
        pidFile: `${info.stateDir}/run/kube-apiserver.pid`,
      });
      info.pids['kube-apiserver'] = restarted.pid;
      await waitFor('kube-apiserver back', async () => (await kubectl('get', '--raw', '/readyz')) === 'ok', {
        intervalMs: 100,
      });
      const back = performance.now();
      await waitRunning(json, 'default', 'during-outage');
      const tookMs = performance.now() - back;
      process.stderr.write(
        `[watch e2e] pod created during the outage Running ${tookMs.toFixed(0)} ms after the API server's return\n`,
      );
      assert.ok(tookMs <= 10_000, `Running ${tookMs.toFixed(0)} ms after the API server came back`);

      // Every informer resumed: its watch was restarted, and it listed at most once more (on 410).
      const after = await scrape();
      const restarts = counters(after, 'eci_virtual_node_watch_restarts_total');
      const relists = counters(after, 'eci_virtual_node_watch_relists_total');
      // Watches per resource: two ConfigMaps (eci-profile, the kubelet API's client CA).
      const watches = { pods: 1, nodes: 1, namespaces: 1, configmaps: 2, secrets: 1 };
      for (const [resource, count] of Object.entries(watches)) {
        const sum = (m: Map<string, number>) =>
          [...m].filter(([k]) => k.startsWith(`resource="${resource}"`)).reduce((a, [, v]) => a + v, 0);
        assert.ok(
          sum(restarts) > sum(restartsBefore),
          `${resource} watch restarted after the outage\n${after}`,
        );
        assert.ok(
          sum(relists) <= 2 * count,
          `${resource}: at most one relist per watch besides the initial one\n${after}`,
        );
      }
    } finally {
      process.kill(other.pid, 'SIGTERM');
      await waitFor('second API server stopped', async () => {
        const stat = await readFile(`/proc/${other.pid}/stat`, 'utf8').catch(() => '');
        return stat === '' || stat.includes(') Z ');
      });
    }
  });
});
