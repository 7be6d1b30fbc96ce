// Pod startup benchmark: N pods bound to the virtual node → all Running, against the real control
// plane and the ECI emulator. Prints pods/s, startup latency (pod created → Running seen by watch),
// ECI calls and API-server writes per pod (from the controller's own counters), and the controller's
// peak RSS. Usage: npm run bench -- [--pods 1000] [--eci-quota-multiplier 1] [--keep-cluster]
import { parseArgs } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { clusterDown, clusterUp } from '../src/cluster/controlplane.ts';
import { startEmulator } from '../src/emulator/server.ts';
import { EmulatorAdminClient } from '../src/emulator/admin-client.ts';
import { createKubeClients } from '../src/kube/client.ts';
import { listAllPages, runWatchLoop } from '../src/kube/watch.ts';
import { systemClock } from '../src/util/clock.ts';
import { createLogger } from '../src/util/log.ts';
import { ControllerProcess } from '../test/support/controller.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    'eci-quota-multiplier': { type: 'string', default: '1' },
    'keep-cluster': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '1800' },
  },
});
const N = Number(args.pods);
const NODE = 'vk-bench';
const NS = 'bench';
const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(eci_virtual_node_(?:kube_requests|eci_calls)_total)\{\w+="([^"]+)"\} (\d+(?:\.\d+)?)/.exec(
      line,
    );
    if (m) out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

async function main(): Promise<void> {
  say(`bringing up a fresh control plane`);
  // A fresh cluster every run: figures must not depend on what an earlier (perhaps aborted) run left.
  await clusterDown({ name: 'bench', purge: true });
  const cluster = await clusterUp({ name: 'bench' });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'evn-bench-emu-'));
  const emu = await startEmulator({
    port: 0,
    stateDir,
    config: { quotas: { enabled: false } },
    logger: createLogger({ level: 'warn', name: 'bench-emulator' }),
  });
  const admin = new EmulatorAdminClient(emu.url);
  const kube = await createKubeClients({ kubeconfig: cluster.kubeconfig, qps: 1000, burst: 1000 });
  const metricsPort = 20000 + Math.floor(Math.random() * 20000);
  const controller = new ControllerProcess([
    '--kubeconfig',
    cluster.kubeconfig,
    '--node-name',
    NODE,
    '--node-ip',
    '127.0.0.1',
    '--metrics-port',
    String(metricsPort),
    '--metrics-bind-address',
    '127.0.0.1',
    '--eci-quota-multiplier',
    String(args['eci-quota-multiplier']),
    '--log-level',
    'warn',
  ]);
  try {
    await kube.core.createNamespace({ body: { metadata: { name: NS } } });
    controller.start({
      ECI_REGION: emu.regionId,
      ECI_ACCESS_KEY: emu.accessKeyId,
      ECI_SECRET_KEY: emu.accessKeySecret,
      ECI_ENDPOINT: emu.endpoint,
      ECI_PROTOCOL: emu.protocol,
      ECI_VSWITCH: emu.config.region.vSwitches
        .filter((v) => v.vpcId === 'vpc-emulator')
        .map((v) => v.id)
        .join(','),
      ECI_SECURITY_GROUP: 'sg-emulator',
    });
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await delay(200);
    }
    const before = await scrape(metricsPort);

    const created = new Map<string, number>();
    const running = new Map<string, number>();
    let allRunning: () => void = () => undefined;
    const done = new Promise<void>((r) => (allRunning = r));
    // The product's own watch loop: it resumes or relists when the API server drops a watch under load.
    const stopWatch = new AbortController();
    void runWatchLoop<V1Pod>(
      {
        kc: kube.kc,
        path: `/api/v1/namespaces/${NS}/pods`,
        clock: systemClock,
        log: createLogger({ level: 'error', name: 'bench-watch' }),
        list: () => listAllPages((page) => kube.core.listNamespacedPod({ namespace: NS, ...page })),
        onEvent: (_type, pod) => {
          const name = pod.metadata?.name ?? '';
          if (pod.status?.phase === 'Running' && !running.has(name)) {
            running.set(name, performance.now());
            if (running.size === N) allRunning();
          }
        },
      },
      stopWatch.signal,
    );

    say(`creating ${N} pods bound to ${NODE}`);
    const t0 = performance.now();
    let next = 0;
    const creators = Array.from({ length: 32 }, async () => {
      while (next < N) {
        const name = `p-${next++}`;
        created.set(name, performance.now());
        await kube.core.createNamespacedPod({
          namespace: NS,
          body: {
            metadata: { name, labels: { app: 'bench' } },
            spec: {
              nodeName: NODE,
              tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
              containers: [
                { name: 'c', image: 'nginx', resources: { requests: { cpu: '250m', memory: '512Mi' } } },
              ],
            },
          },
        });
      }
    });
    await Promise.all(creators);
    const tCreated = performance.now();
    const progress = setInterval(() => say(`${running.size}/${N} Running`), 5000);
    const giveUp = new AbortController();
    const timeout = delay(Number(args['timeout-s']) * 1000, undefined, { signal: giveUp.signal }).then(() => {
      throw new Error(`only ${running.size}/${N} pods Running after ${args['timeout-s']} s`);
    });
    await Promise.race([done, timeout]);
    // The timer must not keep the process alive once every pod is Running.
    giveUp.abort();
    timeout.catch(() => undefined);
    clearInterval(progress);
    const tRunning = performance.now();
    stopWatch.abort();

    // Events are posted behind their own rate limit and may still be queued: count them all.
    let after = await scrape(metricsPort);
    for (let i = 0; i < 60; i++) {
      await delay(2000);
      const again = await scrape(metricsPort);
      const same = [...again].every(
        ([k, v]) => after.get(k) === v || k.includes('DescribeContainerGroupStatus'),
      );
      after = again;
      if (same) break;
    }
    const delta = (prefix: string) => {
      const out: Record<string, number> = {};
      for (const [k, v] of after)
        if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v - (before.get(k) ?? 0);
      return out;
    };
    const kubeReq = delta('eci_virtual_node_kube_requests_total/');
    const eciCalls = delta('eci_virtual_node_eci_calls_total/');
    const writes = (kubeReq.POST ?? 0) + (kubeReq.PATCH ?? 0) + (kubeReq.PUT ?? 0) + (kubeReq.DELETE ?? 0);
    const latencies = [...running].map(([name, t]) => t - created.get(name)!).sort((a, b) => a - b);
    // The same from the API server's own record (second precision): created → Ready, as the controller
    // stamped the Ready condition. Independent of how promptly this process's watch was served.
    const { items: final } = await listAllPages((page) =>
      kube.core.listNamespacedPod({ namespace: NS, ...page }),
    );
    const serverLatencies = final
      .map((p) => {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
        return ready?.lastTransitionTime && p.metadata?.creationTimestamp
          ? new Date(ready.lastTransitionTime).getTime() - new Date(p.metadata.creationTimestamp).getTime()
          : NaN;
      })
      .filter((x) => !Number.isNaN(x))
      .sort((a, b) => a - b);
    const eciTotal = Object.values(eciCalls).reduce((a, b) => a + b, 0);
    const rss = await peakRss(controller.pid!);

    console.log(`pods                          ${N}`);
    console.log(`eci quota multiplier          ${args['eci-quota-multiplier']}`);
    console.log(`create phase (API)            ${((tCreated - t0) / 1000).toFixed(1)} s`);
    console.log(`all Running after             ${((tRunning - t0) / 1000).toFixed(1)} s`);
    console.log(`throughput                    ${(N / ((tRunning - t0) / 1000)).toFixed(1)} pods/s`);
    console.log(
      `startup latency p50 / p99     ${(pct(latencies, 50) / 1000).toFixed(2)} s / ${(pct(latencies, 99) / 1000).toFixed(2)} s (created → Running seen by watch)`,
    );
    console.log(
      `                              ${(pct(serverLatencies, 50) / 1000).toFixed(0)} s / ${(pct(serverLatencies, 99) / 1000).toFixed(0)} s (creationTimestamp → Ready transition, ±1 s)`,
    );
    console.log(`ECI calls per pod             ${(eciTotal / N).toFixed(2)}  ${JSON.stringify(eciCalls)}`);
    console.log(`API-server writes per pod     ${(writes / N).toFixed(2)}  ${JSON.stringify(kubeReq)}`);
    console.log(`controller peak RSS           ${rss.toFixed(0)} MiB`);

    say('deleting the namespace: measuring how fast the groups go');
    const tDelete = performance.now();
    await kube.core.deleteNamespace({ name: NS });
    const deadline = Date.now() + 300_000;
    let left = N;
    while ((left = (await admin.listContainerGroups({ limit: 1 })).total) > 0 && Date.now() < deadline)
      await delay(1000);
    console.log(
      left === 0
        ? `all groups deleted after       ${((performance.now() - tDelete) / 1000).toFixed(1)} s`
        : `groups left after 300 s       ${left}`,
    );
  } catch (err) {
    say(
      `failed: ${err instanceof Error ? err.message : String(err)}; controller output tail:\n${controller.output.slice(-2000)}`,
    );
    throw err;
  } finally {
    await controller.stop('SIGTERM');
    await kube.core.deleteNode({ name: NODE }).catch(() => undefined);
    await kube.close();
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
    if (!args['keep-cluster']) await clusterDown({ name: 'bench', purge: true });
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(
    `[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}
