// The kubelet API's figures, measured through the real kube-apiserver and kubectl against pods that
// really run (the emulator's process runtime):
//   - the latency `kubectl exec -- true` adds over the same exec made directly on the ECI API;
//   - how late `kubectl logs -f` delivers a line after the container wrote it;
//   - exec throughput, stdin → `cat` → stdout;
//   - DescribeContainerLog calls per minute while 100 clients follow 10 containers.
//
//   npx node bench/kubelet.ts [--execs 40] [--follow-seconds 60] [--mb 32] [--keep-cluster]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { EciClient } from '../src/providers/eci/eci-client.ts';
import { runExecSession } from '../src/providers/eci/exec-wire.ts';
import { systemClock } from '../src/util/clock.ts';
import { firstLabel, growth, pct, say, scrapeController, startBenchStack } from './harness.ts';

const { values: flags } = parseArgs({
  options: {
    execs: { type: 'string', default: '40' },
    'follow-seconds': { type: 'string', default: '60' },
    mb: { type: 'string', default: '32' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const EXECS = Number(flags.execs);
const FOLLOW_S = Number(flags['follow-seconds']);
const MB = Number(flags.mb);
const NODE = 'vk-bench-kubelet';
const NS = 'bench-kubelet';
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

const stack = await startBenchStack({
  cluster: 'bench-kubelet',
  node: NODE,
  keepCluster: flags['keep-cluster'],
  // info: the log line saying the cluster-issued certificate is served is what the bench waits for.
  controllerArgs: ['--approve-own-serving-csr', '--log-level', 'info'],
  runtime: 'process',
});
const { kube, cluster, emu, controller } = stack;

interface Ran {
  code: number | null;
  ms: number;
  stdout: Buffer;
}

/** Runs kubectl (its wall time includes its own start, as a user's would). */
function kubectl(args: string[], input?: Buffer | NodeJS.ReadableStream): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(KUBECTL, ['--kubeconfig', cluster.kubeconfig, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, ms: performance.now() - t0, stdout: Buffer.concat(out) }));
    if (input === undefined) child.stdin.end();
    else if (Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${pct(s, 50).toFixed(0)} ms, p99 ${pct(s, 99).toFixed(0)} ms (n=${s.length})`;
};

try {
  await waitUntil('the kubelet API serves its cluster-issued certificate', async () =>
    controller.output.includes('kubelet API now serves the certificate the cluster issued'),
  );
  await kube.core.createNamespace({ body: { metadata: { name: NS } } });
  const placement = {
    nodeName: NODE,
    tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
  };
  const pod = (name: string, command: string[], labels: Record<string, string> = {}) =>
    kube.core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, labels },
        spec: { ...placement, containers: [{ name: 'c', image: 'busybox', command }] },
      },
    });
  await pod('shell', ['sleep', '36000']);
  // A line every 100 ms: the delivery delay of logs -f.
  await pod('ticker', ['sh', '-c', 'while true; do echo tick; usleep 100000; done']);
  // Ten containers for a hundred followers: a line a second each.
  for (let i = 0; i < 10; i++)
    await pod(`chatty-${i}`, ['sh', '-c', 'while true; do echo line; sleep 1; done'], { app: 'chatty' });
  await waitUntil(
    '12 pods Running',
    async () =>
      (await kube.core.listNamespacedPod({ namespace: NS })).items.filter(
        (p) => p.status?.phase === 'Running',
      ).length === 12,
    300_000,
  );

  // --- exec latency ------------------------------------------------------------------------------
  const shell = await kube.core.readNamespacedPod({ name: 'shell', namespace: NS });
  const groupId =
    /^eci:\/\/([^/]+)\//.exec(shell.status?.containerStatuses?.[0]?.containerID ?? '')?.[1] ?? '';
  const eci = new EciClient({
    credentials: { accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret },
    regionId: emu.regionId,
    endpoint: emu.endpoint,
    protocol: emu.protocol,
    clock: systemClock,
    log: pino({ level: 'silent' }),
  });
  const direct = async () => {
    const t0 = performance.now();
    const { webSocketUri } = await eci.execContainerCommand({
      containerGroupId: groupId,
      containerName: 'c',
      command: ['true'],
      tty: false,
      stdin: false,
    });
    const r = await runExecSession(webSocketUri, { tty: false }, AbortSignal.timeout(30_000));
    if (!('exitCode' in r) || r.exitCode !== 0) throw new Error(`direct exec failed: ${JSON.stringify(r)}`);
    return performance.now() - t0;
  };
  const viaKubectl: number[] = [];
  const viaEci: number[] = [];
  const kubectlGet: number[] = [];
  const added: number[] = [];
  for (let i = 0; i < 3; i++) await kubectl(['-n', NS, 'exec', 'shell', '--', 'true']); // warm caches
  for (let i = 0; i < EXECS; i++) {
    const k = await kubectl(['-n', NS, 'exec', 'shell', '--', 'true']);
    if (k.code !== 0) throw new Error(`kubectl exec exited ${k.code}`);
    const d = await direct();
    const g = await kubectl(['-n', NS, 'get', 'pod', 'shell', '-o', 'name']);
    viaKubectl.push(k.ms);
    viaEci.push(d);
    kubectlGet.push(g.ms);
    // What the path through the API server and the kubelet API adds to the exec itself, and to any
    // kubectl call (its start, its API round trip).
    added.push(k.ms - d - g.ms);
  }
  say(`kubectl exec -- true: ${stats(viaKubectl)}`);
  say(`the same exec directly on the ECI API: ${stats(viaEci)}`);
  say(`kubectl get pod (kubectl's own cost): ${stats(kubectlGet)}`);

  // --- logs -f delivery delay ------------------------------------------------------------------
  const delays: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      KUBECTL,
      ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'logs', '-f', '--timestamps', '--tail=0', 'ticker'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buf = '';
    child.stdout.on('data', (b: Buffer) => {
      const now = Date.now();
      buf += b.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const stamp = Date.parse(`${l.slice(0, 23)}Z`);
        if (!Number.isNaN(stamp)) delays.push(now - stamp);
      }
    });
    child.once('error', reject);
    setTimeout(() => {
      child.kill('SIGTERM');
      resolve();
    }, 30_000);
  });
  const sortedDelays = [...delays].sort((a, b) => a - b);

  // --- exec throughput ---------------------------------------------------------------------------
  const payload = randomBytes(MB * 1024 * 1024);
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await kubectl(['-n', NS, 'exec', '-i', 'shell', '--', 'cat'], payload);
    if (r.code !== 0 || !r.stdout.equals(payload))
      throw new Error(`exec cat returned ${r.stdout.length} bytes, code ${r.code}`);
    rates.push(MB / (r.ms / 1000));
  }
  rates.sort((a, b) => a - b);

  // --- 100 followers of 10 containers --------------------------------------------------------
  const port = ((await kube.core.readNode({ name: NODE })) as V1Node).status?.daemonEndpoints?.kubeletEndpoint
    ?.Port;
  const pki = path.join(cluster.stateDir, 'pki');
  const tls = {
    ca: await readFile(cluster.caFile),
    cert: await readFile(path.join(pki, 'apiserver-kubelet-client.crt')),
    key: await readFile(path.join(pki, 'apiserver-kubelet-client.key')),
  };
  // As the API server proxies `kubectl logs -f`: one HTTPS request per follower, with its client
  // certificate (a hundred kubectl processes would measure kubectl, not us).
  const received = new Array<number>(100).fill(0);
  const requests = Array.from({ length: 100 }, (_, i) =>
    https.get(
      {
        host: '127.0.0.1',
        port,
        path: `/containerLogs/${NS}/chatty-${i % 10}/c?follow=true&tailLines=0`,
        agent: false,
        ...tls,
      },
      (res) => res.on('data', (b: Buffer) => (received[i]! += b.toString().split('\n').length - 1)),
    ),
  );
  await delay(5000); // let the followers settle before counting
  const before = await scrapeController(stack.metricsPort);
  await delay(FOLLOW_S * 1000);
  const after = await scrapeController(stack.metricsPort);
  const pollers = await scrapePollers(stack.metricsPort);
  for (const r of requests) r.destroy();
  const logCalls = [...growth(before, after)]
    .filter(
      ([k]) => k.startsWith('eci_virtual_node_eci_calls_total') && firstLabel(k) === 'DescribeContainerLog',
    )
    .reduce((a, [, v]) => a + v, 0);

  const out = {
    execLatency: {
      kubectlExecTrue: summary(viaKubectl),
      directEciExec: summary(viaEci),
      kubectlGetPod: summary(kubectlGet),
      addedByApiServerAndKubeletApi: summary(added),
    },
    logsFollowDelayMs: {
      p50: pct(sortedDelays, 50),
      p99: pct(sortedDelays, 99),
      max: sortedDelays.at(-1),
      lines: delays.length,
    },
    execThroughputMBps: { median: rates[1], min: rates[0], max: rates[2], mb: MB },
    followers: {
      followers: 100,
      containers: 10,
      pollers,
      describeContainerLogPerMinute: (logCalls * 60) / FOLLOW_S,
      seconds: FOLLOW_S,
      everyFollowerGotLines: received.every((n) => n > 0),
    },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  await kube.core.deleteNamespace({ name: NS }).catch(() => undefined);
  await waitUntil(
    'the bench pods gone',
    async () =>
      (await kube.core.listNamespacedPod({ namespace: NS }).catch(() => ({ items: [] as V1Pod[] }))).items
        .length === 0,
    120_000,
  ).catch(() => undefined);
  await stack.close();
}

function summary(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: Math.round(pct(s, 50)), p99: Math.round(pct(s, 99)), n: s.length };
}

async function scrapePollers(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^eci_virtual_node_log_pollers (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${controller.output.slice(-3000)}`);
    await delay(500);
  }
}
