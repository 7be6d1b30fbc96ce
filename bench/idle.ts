// What the controller costs at rest: N pods Running on the virtual node, then M minutes with nothing
// changing. Prints, for that quiet window, the API server's own count of LIST and WATCH requests by
// resource (`apiserver_request_total`), the controller's requests by method, its watch restarts and
// relists (since it started, so the initial list of each informer shows), its ECI calls per minute and
// its CPU share. Usage: node bench/idle.ts [--pods 1000] [--minutes 10] [--keep-cluster]
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import {
  apiserverMetrics,
  cpuSeconds,
  createBoundPods,
  firstLabel,
  growth,
  label,
  peakRss,
  say,
  scrapeController,
  startBenchStack,
  watchRunning,
} from './harness.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const N = Number(args.pods);
const MINUTES = Number(args.minutes);
const NODE = 'vk-idle';
const NS = 'bench-idle';
async function main(): Promise<void> {
  const stack = await startBenchStack({
    cluster: 'bench-idle',
    node: NODE,
    keepCluster: args['keep-cluster'],
  });
  const { kube, controller, metricsPort, cluster } = stack;
  const apiserverRequests = () => apiserverMetrics(cluster.kubeconfig);
  try {
    await kube.core.createNamespace({ body: { metadata: { name: NS } } });
    say(`creating ${N} pods and waiting until all are Running`);
    let running = 0;
    let allRunning: () => void = () => undefined;
    const done = new Promise<void>((r) => (allRunning = r));
    const stopWatch = new AbortController();
    watchRunning(kube, NS, () => ++running === N && allRunning(), stopWatch.signal);
    await createBoundPods(kube, { namespace: NS, node: NODE, count: N, inFlight: 32 });
    const progress = setInterval(() => say(`${running}/${N} Running`), 5000);
    await done;
    clearInterval(progress);
    stopWatch.abort();
    // Let the last status writes and Events drain before the quiet window starts.
    await delay(30_000);

    const apiBefore = await apiserverRequests();
    const ctlBefore = await scrapeController(metricsPort);
    const cpuBefore = await cpuSeconds(controller.pid!);
    const t0 = performance.now();
    for (let m = 1; m <= MINUTES; m++) {
      await delay(60_000);
      say(`at rest ${m}/${MINUTES} min`);
    }
    const minutes = (performance.now() - t0) / 60_000;
    const cpu = (await cpuSeconds(controller.pid!)) - cpuBefore;
    const api = growth(apiBefore, await apiserverRequests());
    const ctlAfter = await scrapeController(metricsPort);
    const ctl = growth(ctlBefore, ctlAfter);

    const byVerb = (verb: string) => {
      const out: Record<string, number> = {};
      for (const [k, v] of api) {
        if (!k.startsWith('apiserver_request_total{') || label(k, 'verb') !== verb || v === 0) continue;
        const r = label(k, 'resource') + (label(k, 'subresource') ? `/${label(k, 'subresource')}` : '');
        out[r] = (out[r] ?? 0) + v;
      }
      return out;
    };
    const of = (m: Map<string, number>, name: string, per = 1) => {
      const out: Record<string, number> = {};
      for (const [k, v] of m)
        if (k.startsWith(`${name}{`) && v !== 0) out[k.slice(name.length)] = +(v / per).toFixed(1);
      return out;
    };
    const eciPerMin = of(ctl, 'eci_virtual_node_eci_calls_total', minutes);
    const eciTotal = Object.values(eciPerMin).reduce((a, b) => a + b, 0);
    const kubePerMin: Record<string, number> = {};
    for (const [k, v] of ctl)
      if (k.startsWith('eci_virtual_node_kube_requests_total{') && v !== 0)
        kubePerMin[firstLabel(k)] = +(v / minutes).toFixed(1);

    console.log(`pods at rest                          ${N}`);
    console.log(`quiet window                          ${minutes.toFixed(1)} min`);
    console.log(`API server LISTs in the window         ${JSON.stringify(byVerb('LIST'))} (all clients)`);
    console.log(`API server WATCHes opened              ${JSON.stringify(byVerb('WATCH'))} (all clients)`);
    console.log(
      `controller relists since start        ${JSON.stringify(of(ctlAfter, 'eci_virtual_node_watch_relists_total'))}`,
    );
    console.log(
      `controller watch restarts (window)     ${JSON.stringify(of(ctl, 'eci_virtual_node_watch_restarts_total'))}`,
    );
    console.log(`controller API requests per minute     ${JSON.stringify(kubePerMin)}`);
    console.log(`ECI calls per minute                   ${eciTotal.toFixed(1)} ${JSON.stringify(eciPerMin)}`);
    console.log(
      `controller CPU                         ${((cpu / (minutes * 60)) * 100).toFixed(2)} % of one core`,
    );
    console.log(`controller peak RSS                    ${(await peakRss(controller.pid!)).toFixed(0)} MiB`);
  } catch (err) {
    say(
      `failed: ${err instanceof Error ? err.message : String(err)}; controller output tail:\n${controller.output.slice(-2000)}`,
    );
    throw err;
  } finally {
    await kube.core.deleteNamespace({ name: NS }).catch(() => undefined);
    await stack.close();
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
