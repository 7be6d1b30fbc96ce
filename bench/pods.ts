// Pod startup benchmark: N pods bound to the virtual node → all Running, against the real control
// plane and the ECI emulator. Prints pods/s, startup latency (pod created → Running seen by watch),
// ECI calls and API-server writes per pod (from the controller's own counters), and the controller's
// peak RSS. Usage: npm run bench -- [--pods 1000] [--eci-quota-multiplier 1] [--keep-cluster]
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runningOverTimeSvg } from './svg-chart.ts';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { listAllPages } from '../src/kube/watch.ts';
import {
  createBoundPods,
  firstLabel,
  growth,
  pct,
  peakRss,
  say,
  scrapeController,
  startBenchStack,
  watchRunning,
} from './harness.ts';

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
async function main(): Promise<void> {
  const { kube, admin, controller, metricsPort, close } = await startBenchStack({
    cluster: 'bench',
    node: NODE,
    keepCluster: args['keep-cluster'],
    controllerArgs: ['--eci-quota-multiplier', String(args['eci-quota-multiplier'])],
  });
  try {
    await kube.core.createNamespace({ body: { metadata: { name: NS } } });
    const before = await scrapeController(metricsPort);

    const created = new Map<string, number>();
    const running = new Map<string, number>();
    let allRunning: () => void = () => undefined;
    const done = new Promise<void>((r) => (allRunning = r));
    const stopWatch = new AbortController();
    watchRunning(
      kube,
      NS,
      (name) => {
        running.set(name, performance.now());
        if (running.size === N) allRunning();
      },
      stopWatch.signal,
    );

    say(`creating ${N} pods bound to ${NODE}`);
    const t0 = performance.now();
    await createBoundPods(kube, {
      namespace: NS,
      node: NODE,
      count: N,
      inFlight: 32,
      onCreate: (name) => created.set(name, performance.now()),
    });
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
    let after = await scrapeController(metricsPort);
    for (let i = 0; i < 60; i++) {
      await delay(2000);
      const again = await scrapeController(metricsPort);
      const same = [...again].every(
        ([k, v]) => after.get(k) === v || k.includes('DescribeContainerGroupStatus'),
      );
      after = again;
      if (same) break;
    }
    const grown = growth(before, after);
    const delta = (name: string) => {
      const out: Record<string, number> = {};
      for (const [k, v] of grown) if (k.startsWith(`${name}{`)) out[firstLabel(k)] = v;
      return out;
    };
    const kubeReq = delta('eci_virtual_node_kube_requests_total');
    const eciCalls = delta('eci_virtual_node_eci_calls_total');
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

    // Beside the figures, the picture: pods Running over time.
    const chartDir = path.join(process.cwd(), 'bench-output');
    await mkdir(chartDir, { recursive: true });
    const chart = path.join(chartDir, `pods-running-${N}.svg`);
    await writeFile(
      chart,
      runningOverTimeSvg(
        [{ name: 'eci-virtual-node', runningAtS: [...running.values()].map((t) => (t - t0) / 1000) }],
        {
          title: `${N} pods: Running over time`,
        },
      ),
    );
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
    console.log(`chart                         ${chart}`);

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
    await close();
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
