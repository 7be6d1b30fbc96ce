// The contestants of the pod-startup race, each started against a given control plane to serve one
// node: KWOK (no provider work: the control plane's own limit), virtual-kubelet's mock provider as
// released and tuned (tools/build-race-peers.sh builds both), and our controller with its embedded
// ECI emulator, with the emulator's lifecycle timings at 0 and at their defaults.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { issueServingCert, type ClusterInfo } from '../dev/cluster/controlplane.ts';
import { pickFreePorts } from '../dev/cluster/ports.ts';
import { EmulatorAdminClient } from '../src/emulator/admin/client.ts';
import { DEFAULT_QUOTAS } from '../src/emulator/config.ts';
import type { KubeClients } from '../src/kube/client.ts';
import { embeddedEmulatorUrl, startController } from './harness.ts';

export const PEERS = ['kwok', 'vk', 'vk-tuned', 'ours', 'ours-default'] as const;
export type PeerId = (typeof PEERS)[number];

export const PEER_LABELS: Record<PeerId, string> = {
  kwok: 'KWOK',
  vk: 'VK mock stock',
  'vk-tuned': 'VK mock tuned',
  ours: 'ours',
  'ours-default': 'ours, default timings',
};

/** Our controller's ECI quotas in the race: the account's documented quotas × this. */
export const QUOTA_MULTIPLIER = 1000;

export interface PeerContext {
  cluster: ClusterInfo;
  kube: KubeClients;
  node: string;
  /** Where the peer's log and files go. */
  workDir: string;
  /** Built binaries by peer (`tools/build-race-peers.sh`). */
  binaries: Map<string, string>;
  /** Our controller only: write a CPU profile here (on exit) and heap snapshots on request. */
  profileDir?: string;
}

export interface RunningPeer {
  pid: number;
  /** The end of the peer's log, for error messages. */
  logTail(): Promise<string>;
  /** Writes a heap snapshot into the profile directory; resolves with its path (profiled runs only). */
  heapSnapshot?(): Promise<string>;
  /** Stops the peer and waits for it to exit (a CPU profile is written then). */
  stop(): Promise<void>;
}

const BUILD_SCRIPT = fileURLToPath(new URL('../tools/build-race-peers.sh', import.meta.url));

/**
 * Builds (first time) or finds the Go peers among `peers`, streaming the build's progress lines to
 * stderr; returns the binary of each.
 */
export async function ensurePeerBinaries(peers: readonly PeerId[]): Promise<Map<string, string>> {
  const wanted = peers.filter((p) => p === 'kwok' || p === 'vk' || p === 'vk-tuned');
  if (wanted.length === 0) return new Map();
  const child = spawn('bash', [BUILD_SCRIPT, ...wanted], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0)
    throw new Error(`${BUILD_SCRIPT} ${wanted.join(' ')} failed (exit ${code}); see its output above`);
  const out = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const [peer, bin] = line.split(' ');
    if (peer && bin) out.set(peer, bin);
  }
  for (const p of wanted) if (!out.has(p)) throw new Error(`${BUILD_SCRIPT} named no binary for ${p}`);
  return out;
}

export async function startPeer(peer: PeerId, ctx: PeerContext): Promise<RunningPeer> {
  await mkdir(ctx.workDir, { recursive: true });
  switch (peer) {
    case 'kwok':
      return startKwok(ctx);
    case 'vk':
    case 'vk-tuned':
      return startVirtualKubelet(peer, ctx);
    case 'ours':
      return startOurs(ctx, { timingsZero: true });
    case 'ours-default':
      return startOurs(ctx, { timingsZero: false });
  }
}

/** A Go peer as a child process, its output in `<workDir>/peer.log`. */
async function spawnLogged(bin: string, args: string[], env: Record<string, string>, workDir: string) {
  const logFile = path.join(workDir, 'peer.log');
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = once(child, 'exit');
  const logTail = async () => (await readFile(logFile, 'utf8').catch(() => '')).slice(-3000);
  return {
    pid: child.pid!,
    logTail,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      log.end();
    },
    exited,
  };
}

/** Waits until the Node reports Ready, failing early when the peer exits. */
async function waitNodeReady(ctx: PeerContext, exited: Promise<unknown>, logTail: () => Promise<string>) {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (gone) throw new Error(`the peer exited before its node was Ready:\n${await logTail()}`);
    const node = await ctx.kube.core.readNode({ name: ctx.node }).catch(() => undefined);
    if (node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`node ${ctx.node} not Ready in 120 s:\n${await logTail()}`);
    await delay(250);
  }
}

async function startKwok(ctx: PeerContext): Promise<RunningPeer> {
  const bin = ctx.binaries.get('kwok')!;
  const stagesDir = path.join(path.dirname(bin), '..', 'stages');
  const stages = (await readdir(stagesDir)).filter((f) => f.endsWith('.yaml')).sort();
  // KWOK manages a Node that exists; it does what a kubelet's registration would have done.
  await ctx.kube.core.createNode({
    body: {
      metadata: {
        name: ctx.node,
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': ctx.node },
      },
      spec: { taints: [{ key: 'virtual-kubelet.io/provider', value: 'kwok', effect: 'NoSchedule' }] },
    },
  });
  const p = await spawnLogged(
    bin,
    [
      '--kubeconfig',
      ctx.cluster.kubeconfig,
      '--manage-single-node',
      ctx.node,
      '--node-lease-duration-seconds',
      '40',
      // Its default pool (a /24) is smaller than the race's pod counts.
      '--cidr',
      '10.0.0.0/16',
      // Its default is INFO, a line per pod; the other peers run at warn too.
      '-v',
      'WARN',
      ...stages.flatMap((f) => ['--config', path.join(stagesDir, f)]),
    ],
    {},
    ctx.workDir,
  );
  try {
    await waitNodeReady(ctx, p.exited, p.logTail);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

async function startVirtualKubelet(peer: 'vk' | 'vk-tuned', ctx: PeerContext): Promise<RunningPeer> {
  const bin = ctx.binaries.get(peer)!;
  const [kubeletPort, metricsPort] = (await pickFreePorts(2)) as [number, number];
  // The kubelet API needs a serving certificate; the cluster CA signs one, as for our node.
  const cert = await issueServingCert(ctx.cluster.stateDir, ctx.node, ['127.0.0.1']);
  const providerConfig = path.join(ctx.workDir, 'mock.json');
  // The mock's default capacity is 20 pods; the API server does not check it for bound pods, but a
  // node that says 20 while running 10,000 would look odd.
  await writeFile(
    providerConfig,
    JSON.stringify({ [ctx.node]: { cpu: '2000', memory: '8Ti', pods: '20000' } }),
  );
  const p = await spawnLogged(
    bin,
    [
      '--provider',
      'mock',
      '--provider-config',
      providerConfig,
      '--nodename',
      ctx.node,
      '--kubeconfig',
      ctx.cluster.kubeconfig,
      '--metrics-addr',
      `127.0.0.1:${metricsPort}`,
      // Its default is info, a line per pod operation; ours runs at warn too.
      '--log-level',
      'warn',
    ],
    {
      KUBELET_PORT: String(kubeletPort),
      VKUBELET_POD_IP: '127.0.0.1',
      APISERVER_CERT_LOCATION: cert.cert,
      APISERVER_KEY_LOCATION: cert.key,
    },
    ctx.workDir,
  );
  try {
    await waitNodeReady(ctx, p.exited, p.logTail);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

async function startOurs(ctx: PeerContext, o: { timingsZero: boolean }): Promise<RunningPeer> {
  const env: Record<string, string> = {
    // No region and no AccessKey: `run` starts its embedded emulator, as a new user's first run does.
    ECI_REGION: '',
    ECI_ACCESS_KEY: '',
    ECI_SECRET_KEY: '',
    ECI_ENDPOINT: '',
    ECI_VSWITCH: '',
    ECI_SECURITY_GROUP: '',
  };
  if (ctx.profileDir) {
    await mkdir(ctx.profileDir, { recursive: true });
    env.NODE_OPTIONS = [
      process.env.NODE_OPTIONS ?? '',
      '--cpu-prof',
      `--cpu-prof-dir=${ctx.profileDir}`,
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${ctx.profileDir}`,
    ]
      .join(' ')
      .trim();
  }
  const { controller, metricsPort } = await startController({
    cluster: ctx.cluster,
    node: ctx.node,
    args: [
      '--eci-quota-multiplier',
      String(QUOTA_MULTIPLIER),
      '--emulator-state-dir',
      path.join(ctx.workDir, 'emulator-state'),
      // No container runs for real: KWOK and the mock provider run none either, and thousands of
      // real processes on 2 cores would measure the machine, not the controller.
      '--emulator-runtime',
      'simulated',
      // The API server client's rate limit raised as the tuned virtual-kubelet's is (5000/10000;
      // KWOK has none): the race measures the pipeline, not a client-side limit of 200 requests/s.
      '--kube-api-qps',
      '5000',
      '--kube-api-burst',
      '10000',
    ],
    env,
  });
  const logTail = async () => controller.output.slice(-3000);
  const stop = async () => {
    await controller.stop('SIGTERM');
    await writeFile(path.join(ctx.workDir, 'controller.log'), controller.output);
  };
  try {
    // The embedded emulator enforces the account's quotas as the cloud does: raised like the
    // controller's own, so both sides allow the same rate.
    const admin = new EmulatorAdminClient(embeddedEmulatorUrl(controller));
    await admin.setQuotas({
      enabled: true,
      perMinute: Object.fromEntries(
        Object.entries(DEFAULT_QUOTAS).map(([a, n]) => [a, n * QUOTA_MULTIPLIER]),
      ),
    });
    if (o.timingsZero) {
      // KWOK marks a pod Running at once; so does the emulator with every lifecycle stage at 0 ms.
      const { stages } = await admin.getLifecycle();
      await admin.setLifecycle({ stages: stages.map((s) => ({ ...s, delayMs: 0 })) });
    }
    await waitNodeReady(ctx, new Promise(() => undefined), logTail);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: controller.pid!,
    logTail,
    stop,
    heapSnapshot: ctx.profileDir
      ? () => heapSnapshot(metricsPort, controller.pid!, ctx.profileDir!)
      : undefined,
  };
}

/**
 * Asks the controller for a heap snapshot (`--heapsnapshot-signal`) and waits until it is written. V8
 * writes it on the main thread, so once the file exists, the next answer from the controller's
 * metrics server means the snapshot is complete.
 */
async function heapSnapshot(metricsPort: number, pid: number, dir: string): Promise<string> {
  const before = new Set((await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no heap snapshot in ${dir} after 600 s`);
    await delay(500);
    const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    await fetch(`http://127.0.0.1:${metricsPort}/healthz`, { signal: AbortSignal.timeout(600_000) });
    return path.join(dir, file);
  }
}
