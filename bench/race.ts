// The pod-startup race: KWOK, virtual-kubelet's mock provider (stock and tuned) and our controller with
// its embedded ECI emulator, each on a fresh local control plane, driven by one neutral harness: N pods
// bound to the peer's node by `spec.nodeName`, 50 creates in flight, a watch timing each pod from its
// create until it is seen Running with Ready=True; then every pod deleted and timed until none is left.
// Prints one table (pods/s, startup p50/p99, delete time, peak RSS, CPU seconds of the peer and of the
// API server, API server requests per pod; each with its ratio to KWOK and to VK) and the API server's
// requests per pod by verb and resource, and writes an SVG chart of pods Ready over time.
//
//   npm run race -- [--pods 1000,5000,10000] [--peers kwok,vk,vk-tuned,ours,ours-default] [--profile]
//
// See bench/README.md.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { clusterDown } from '../dev/cluster/controlplane.ts';
import { createKubeClients } from '../src/kube/client.ts';
import {
  apiserverMetrics,
  cpuSeconds,
  createBoundPods,
  freshCluster,
  growth,
  peakRss,
  podCount,
  requestsByVerbAndResource,
  say,
  watchRunning,
} from './harness.ts';
import {
  formatCpu,
  formatHeap,
  readCpuProfile,
  readHeapSnapshot,
  summarizeHeap,
  topSelfTime,
} from './profile-summary.ts';
import {
  ensurePeerBinaries,
  PEER_LABELS,
  PEERS,
  QUOTA_MULTIPLIER,
  startPeer,
  type PeerId,
} from './race-peers.ts';
import { raceChartSvg, raceTable, requestsTable, type RaceRun } from './race-report.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000,5000,10000' },
    peers: { type: 'string' },
    'in-flight': { type: 'string', default: '50' },
    'timeout-s': { type: 'string', default: '900' },
    'delete-timeout-s': { type: 'string', default: '300' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    cluster: { type: 'string', default: 'bench-race' },
    help: { type: 'boolean', default: false },
  },
});

const USAGE = `usage: npm run race -- [options]
  --pods <n,...>          pod counts to race at (default 1000,5000,10000)
  --peers <id,...>        of ${PEERS.join(', ')} (default: all; stock vk only at <= 1,000 pods)
  --in-flight <n>         creates in flight (default 50)
  --timeout-s <s>         give up on a run after this long without all pods Ready (default 900)
  --delete-timeout-s <s>  give up waiting for the pods to go (default 300)
  --profile               our controller: CPU profile (--cpu-prof) and a heap snapshot with all pods Ready
  --out <dir>             where the table, chart, logs and profiles go (default: a new dir under ${os.tmpdir()})
  --cluster <name>        name of the local control plane the race brings up per run (default bench-race)`;

/** Stock virtual-kubelet manages ~5 pods/s: above this many pods it runs only when named in --peers. */
const STOCK_VK_MAX_DEFAULT = 1000;
const NODE = 'race-node';
const NS = 'race';

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${flag}: must be a whole number >= 1 (got ${JSON.stringify(value)})`);
  return n;
}

function parsePeers(value: string | undefined): { peers: PeerId[]; named: boolean } {
  if (value === undefined) return { peers: [...PEERS], named: false };
  const peers = value.split(',').map((p) => p.trim());
  const bad = peers.find((p) => !(PEERS as readonly string[]).includes(p));
  if (bad !== undefined)
    throw new Error(`--peers: unknown peer ${JSON.stringify(bad)} (known: ${PEERS.join(', ')})`);
  return { peers: peers as PeerId[], named: true };
}

interface RunOptions {
  peer: PeerId;
  pods: number;
  inFlight: number;
  timeoutS: number;
  deleteTimeoutS: number;
  workDir: string;
  binaries: Map<string, string>;
  profile: boolean;
}

/** One peer at one pod count, on a control plane of its own. */
async function race(o: RunOptions): Promise<RaceRun> {
  const label = PEER_LABELS[o.peer];
  const cluster = await freshCluster(args.cluster);
  const kube = await createKubeClients({ kubeconfig: cluster.kubeconfig, qps: 1000, burst: 1000 });
  const profileDir = o.profile && o.peer.startsWith('ours') ? path.join(o.workDir, 'profile') : undefined;
  const notes: string[] = [];
  const stopWatch = new AbortController();
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
  try {
    await kube.core.createNamespace({ body: { metadata: { name: NS } } });
    say(`${label}: starting for ${o.pods.toLocaleString('en')} pods`);
    peer = await startPeer(o.peer, {
      cluster,
      kube,
      node: NODE,
      workDir: o.workDir,
      binaries: o.binaries,
      profileDir,
    });
    const apiserverPid = cluster.pids['kube-apiserver'];
    const apiBefore = await apiserverMetrics(cluster.kubeconfig);
    const peerCpu0 = await cpuSeconds(peer.pid);
    const apiCpu0 = await cpuSeconds(apiserverPid);

    const created = new Map<string, number>();
    const ready: number[] = [];
    const latencies: number[] = [];
    let allReady: () => void = () => undefined;
    const done = new Promise<void>((r) => (allReady = r));
    const t0 = performance.now();
    watchRunning(
      kube,
      NS,
      (name) => {
        const t = performance.now();
        ready.push((t - t0) / 1000);
        latencies.push((t - created.get(name)!) / 1000);
        if (ready.length === o.pods) allReady();
      },
      stopWatch.signal,
      { ready: true },
    );
    const progress = setInterval(() => say(`${label}: ${ready.length}/${o.pods} Running+Ready`), 5000);
    const creating = createBoundPods(kube, {
      namespace: NS,
      node: NODE,
      count: o.pods,
      inFlight: o.inFlight,
      onCreate: (name) => created.set(name, performance.now()),
    });
    const giveUp = new AbortController();
    const timedOut = delay(o.timeoutS * 1000, 'timeout' as const, { signal: giveUp.signal }).catch(
      () => 'aborted' as const,
    );
    const outcome = await Promise.race([Promise.all([creating, done]).then(() => 'done' as const), timedOut]);
    giveUp.abort();
    clearInterval(progress);
    const seconds = (performance.now() - t0) / 1000;
    stopWatch.abort();
    if (outcome !== 'done') {
      await creating.catch(() => undefined);
      notes.push(`${label} ${o.pods}: gave up after ${o.timeoutS} s with ${ready.length} pods Running+Ready`);
    }
    let rss = await peakRss(peer.pid);
    latencies.sort((a, b) => a - b);
    ready.sort((a, b) => a - b);

    if (peer.heapSnapshot) {
      say(`${label}: writing a heap snapshot of the controller with ${ready.length} pods Ready`);
      const file = await peer.heapSnapshot();
      notes.push(`${label} ${o.pods}: heap snapshot ${file} (taken after the peak RSS was read)`);
    }

    say(`${label}: deleting the pods`);
    const tDelete = performance.now();
    await kube.core.deleteCollectionNamespacedPod({ namespace: NS });
    let deleteSeconds: number | null = null;
    while ((performance.now() - tDelete) / 1000 < o.deleteTimeoutS) {
      if ((await podCount(kube, NS)) === 0) {
        deleteSeconds = (performance.now() - tDelete) / 1000;
        break;
      }
      await delay(500);
    }
    if (deleteSeconds === null) notes.push(`${label} ${o.pods}: pods left after ${o.deleteTimeoutS} s`);
    if (!peer.heapSnapshot) rss = Math.max(rss, await peakRss(peer.pid));
    const peerCpu = (await cpuSeconds(peer.pid)) - peerCpu0;
    const apiserverCpu = (await cpuSeconds(apiserverPid)) - apiCpu0;
    const requests = requestsByVerbAndResource(growth(apiBefore, await apiserverMetrics(cluster.kubeconfig)));
    if (profileDir)
      notes.push(`${label} ${o.pods}: profiled (--cpu-prof adds a few % CPU); profiles in ${profileDir}`);
    return {
      peer: o.peer,
      label,
      pods: o.pods,
      ready,
      latencies,
      seconds,
      deleteSeconds,
      peakRssMiB: rss,
      peerCpu,
      apiserverCpu,
      requests,
      notes,
    };
  } catch (err) {
    const tail = peer ? await peer.logTail() : '';
    throw new Error(
      `${label} at ${o.pods} pods: ${err instanceof Error ? err.message : String(err)}${tail ? `\npeer log tail:\n${tail}` : ''}`,
      { cause: err },
    );
  } finally {
    stopWatch.abort();
    await peer?.stop();
    await kube.close();
    await clusterDown({ name: args.cluster, purge: true });
  }
}

/** Summaries of the CPU profile and heap snapshots a profiled run left in `dir`. */
async function summarizeProfiles(dir: string): Promise<string> {
  const files = (await readdir(dir).catch(() => [] as string[])).sort();
  const out: string[] = [];
  for (const f of files.filter((x) => x.endsWith('.cpuprofile'))) {
    const profile = await readCpuProfile(path.join(dir, f));
    // Writing the heap snapshot is the profiler's own work, not the controller's.
    const exclude = /^writeHeapSnapshot /;
    out.push(
      formatCpu(
        path.join(dir, f),
        topSelfTime(profile, 10, { exclude }),
        topSelfTime(profile, 10, { exclude, by: 'package' }),
      ),
    );
  }
  for (const f of files.filter((x) => x.endsWith('.heapsnapshot')))
    out.push(formatHeap(path.join(dir, f), summarizeHeap(await readHeapSnapshot(path.join(dir, f)))));
  return out.join('\n\n');
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const counts = args.pods.split(',').map((p) => positiveInt('pods', p.trim()));
  const { peers, named } = parsePeers(args.peers);
  const inFlight = positiveInt('in-flight', args['in-flight']);
  const timeoutS = positiveInt('timeout-s', args['timeout-s']);
  const deleteTimeoutS = positiveInt('delete-timeout-s', args['delete-timeout-s']);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(args.out ?? path.join(os.tmpdir(), 'eci-virtual-node-race', stamp));
  await mkdir(outDir, { recursive: true });
  say(`results, logs and profiles go to ${outDir}`);

  const binaries = await ensurePeerBinaries(peers);
  const runs: RaceRun[] = [];
  const failures: string[] = [];
  const skipped: string[] = [];
  for (const pods of counts) {
    for (const peer of peers) {
      if (peer === 'vk' && !named && pods > STOCK_VK_MAX_DEFAULT) {
        skipped.push(
          `${PEER_LABELS.vk} at ${pods}: ~5 pods/s would take over ${Math.round(pods / 5 / 60)} min; name vk in --peers to run it`,
        );
        continue;
      }
      const workDir = path.join(outDir, `${peer}-${pods}`);
      try {
        const run = await race({
          peer,
          pods,
          inFlight,
          timeoutS,
          deleteTimeoutS,
          workDir,
          binaries,
          profile: args.profile,
        });
        runs.push(run);
        say(`${run.label} ${pods}: ${(run.ready.length / run.seconds).toFixed(1)} pods/s`);
        await writeFile(
          path.join(outDir, 'runs.json'),
          JSON.stringify(runs, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)),
        );
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        failures.push(msg);
        say(`failed: ${msg}`);
      }
    }
  }

  const title = `Pod-startup race, ${os.hostname()}, ${new Date().toISOString().slice(0, 16)}Z`;
  const report = [
    `# ${title}`,
    '',
    `Each run on a fresh control plane; ${inFlight} creates in flight; startup = create → Running+Ready seen by a watch;`,
    `CPU and requests from the first create until the last pod is gone; requests are all the API server served (the`,
    `harness's own creates, deletes and watch included, the same for every peer). ÷K / ÷V = ratio to KWOK / to VK`,
    `(tuned where it ran) at the same pod count. "ours": \`eci-virtual-node run\` with its embedded emulator, ECI quotas`,
    `×${QUOTA_MULTIPLIER} on both sides, lifecycle timings 0 ("default timings": the emulator's defaults).`,
    '',
    raceTable(runs),
    '',
    requestsTable(runs),
    '',
    ...[...runs.flatMap((r) => r.notes), ...skipped, ...failures.map((f) => `FAILED: ${f}`)].map(
      (n) => `- ${n}`,
    ),
  ].join('\n');
  console.log(report);
  await writeFile(path.join(outDir, 'race.md'), `${report}\n`);
  await writeFile(path.join(outDir, 'race.svg'), raceChartSvg(runs, title));
  say(`chart: ${path.join(outDir, 'race.svg')}`);

  if (args.profile) {
    for (const r of runs.filter((x) => x.peer.startsWith('ours'))) {
      const dir = path.join(outDir, `${r.peer}-${r.pods}`, 'profile');
      const summary = await summarizeProfiles(dir);
      console.log(`\n## ${r.label}, ${r.pods} pods: profiles\n\n${summary}`);
      await writeFile(path.join(dir, 'summary.txt'), `${summary}\n`);
    }
  }
  if (failures.length > 0) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  process.stderr.write(
    `[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}
