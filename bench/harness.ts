// What every benchmark of the controller needs: a fresh control plane, the ECI emulator, the
// controller started as users start it (`eci-virtual-node run`), pods bound to its node, and the
// counters the controller and the API server report.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { clusterDown, clusterUp, type ClusterInfo } from '../dev/cluster/controlplane.ts';
import { pickFreePorts } from '../dev/cluster/ports.ts';
import type { EmulatorConfigInput, RuntimeChoice } from '../src/emulator/config.ts';
import { startEmulator, type RunningEmulator } from '../src/emulator/server.ts';
import { EmulatorAdminClient } from '../src/emulator/admin/client.ts';
import { createKubeClients, type KubeClients } from '../src/kube/client.ts';
import { listAllPages, runWatchLoop } from '../src/kube/watch.ts';
import { systemClock } from '../src/util/clock.ts';
import { createLogger } from '../src/util/log.ts';
import { ControllerProcess } from '../test/support/controller.ts';

const execFileP = promisify(execFile);

export const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Nearest-rank percentile of sorted values. */
export const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export interface BenchStack {
  cluster: ClusterInfo;
  emu: RunningEmulator;
  admin: EmulatorAdminClient;
  /** The benchmark's own API client (generous rate limit, so it never is the bottleneck). */
  kube: KubeClients;
  controller: ControllerProcess;
  metricsPort: number;
  /** Stops the controller and the emulator, and the control plane unless `keepCluster`. */
  close(): Promise<void>;
}

export interface BenchStackOptions {
  /** Cluster name; the cluster is brought up fresh, so figures do not depend on an earlier run. */
  cluster: string;
  node: string;
  keepCluster: boolean;
  /** Extra `run` flags. */
  controllerArgs?: string[];
  /**
   * What runs the emulator's containers. Default `simulated`: a benchmark of the controller must not
   * measure thousands of real processes competing for the same cores.
   */
  runtime?: RuntimeChoice;
  /** Emulator configuration on top of the benchmark's (quotas off). */
  emulatorConfig?: EmulatorConfigInput;
  /** Use the running control plane of that name instead of a fresh one (several stacks in one run). */
  reuseCluster?: boolean;
}

/** Stops any earlier cluster of this name, wipes its state, and starts a new one. */
export async function freshCluster(name: string): Promise<ClusterInfo> {
  say(`bringing up a fresh control plane (${name})`);
  await clusterDown({ name, purge: true });
  return clusterUp({ name });
}

export interface ControllerOptions {
  cluster: ClusterInfo;
  node: string;
  /** Extra `run` flags. */
  args?: string[];
  /** Environment on top of this process's own (e.g. the ECI endpoint, NODE_OPTIONS). */
  env?: Record<string, string>;
}

/**
 * Starts `eci-virtual-node run` as users start it, with its metrics port on loopback and its kubelet
 * port on a free one, and waits until it reports ready. Stops it again when it does not get there.
 */
export async function startController(
  o: ControllerOptions,
): Promise<{ controller: ControllerProcess; metricsPort: number }> {
  const [metricsPort, kubeletPort] = (await pickFreePorts(2)) as [number, number];
  const controller = new ControllerProcess([
    '--kubeconfig',
    o.cluster.kubeconfig,
    '--node-name',
    o.node,
    '--node-ip',
    '127.0.0.1',
    '--kubelet-port',
    String(kubeletPort),
    '--metrics-port',
    String(metricsPort),
    '--metrics-bind-address',
    '127.0.0.1',
    '--log-level',
    'warn',
    ...(o.args ?? []),
  ]);
  controller.start(o.env);
  try {
    const deadline = Date.now() + 120_000;
    while (
      !(await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline)
        throw new Error(`controller not ready in 120 s:\n${controller.output.slice(-2000)}`);
      await delay(200);
    }
  } catch (err) {
    await controller.stop('SIGTERM');
    throw err;
  }
  return { controller, metricsPort };
}

/**
 * The URL of the ECI emulator a controller started for itself (no AccessKey, no region): `run` says
 * where it listens in the warning it logs at start.
 */
export function embeddedEmulatorUrl(controller: ControllerProcess): string {
  for (const line of controller.output.split('\n')) {
    if (!line.includes('embedded ECI emulator')) continue;
    const url = (JSON.parse(line) as { url?: unknown }).url;
    if (typeof url === 'string') return url;
  }
  throw new Error(
    `the controller did not say where its embedded emulator listens:\n${controller.output.slice(-2000)}`,
  );
}

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  const cluster = o.reuseCluster ? await clusterUp({ name: o.cluster }) : await freshCluster(o.cluster);
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'evn-bench-emu-'));
  const emu = await startEmulator({
    port: 0,
    stateDir,
    config: { ...o.emulatorConfig, quotas: { enabled: false } },
    runtime: o.runtime ?? 'simulated',
    logger: createLogger({ level: 'warn', name: 'bench-emulator' }),
  });
  const kube = await createKubeClients({ kubeconfig: cluster.kubeconfig, qps: 1000, burst: 1000 });
  let controller: ControllerProcess | undefined;
  const close = async () => {
    await controller?.stop('SIGTERM');
    await kube.core.deleteNode({ name: o.node }).catch(() => undefined);
    await kube.close();
    await emu.close();
    await rm(stateDir, { recursive: true, force: true });
    if (!o.keepCluster) await clusterDown({ name: o.cluster, purge: true });
  };
  try {
    const started = await startController({
      cluster,
      node: o.node,
      args: o.controllerArgs,
      env: {
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
      },
    });
    controller = started.controller;
    return {
      cluster,
      emu,
      admin: new EmulatorAdminClient(emu.url),
      kube,
      controller,
      metricsPort: started.metricsPort,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Creates `count` nginx pods bound to `node` in `namespace`, `inFlight` at a time; calls `onCreate` first. */
export async function createBoundPods(
  kube: KubeClients,
  o: { namespace: string; node: string; count: number; inFlight: number; onCreate?: (name: string) => void },
): Promise<void> {
  let next = 0;
  const creators = Array.from({ length: o.inFlight }, async () => {
    while (next < o.count) {
      const name = `p-${next++}`;
      o.onCreate?.(name);
      await kube.core.createNamespacedPod({
        namespace: o.namespace,
        body: {
          metadata: { name, labels: { app: 'bench' } },
          spec: {
            nodeName: o.node,
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
}

/**
 * Watches `namespace` with the product's own watch loop (it resumes or relists when the API server
 * drops a watch under load) and calls `onRunning` once per pod, when it is first seen Running (and,
 * with `ready`, its Ready condition True: what a user's `kubectl wait` waits for).
 */
export function watchRunning(
  kube: KubeClients,
  namespace: string,
  onRunning: (name: string) => void,
  signal: AbortSignal,
  opts: { ready?: boolean } = {},
): void {
  const seen = new Set<string>();
  void runWatchLoop<V1Pod>(
    {
      kube,
      path: `/api/v1/namespaces/${namespace}/pods`,
      clock: systemClock,
      log: createLogger({ level: 'error', name: 'bench-watch' }),
      list: () => listAllPages((page) => kube.core.listNamespacedPod({ namespace, ...page })),
      onEvent: (_type, pod) => {
        const name = pod.metadata?.name ?? '';
        if (pod.status?.phase !== 'Running' || seen.has(name)) return;
        if (opts.ready && !pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          return;
        seen.add(name);
        onRunning(name);
      },
    },
    signal,
  );
}

/** Samples of a Prometheus text scrape, keyed `name{labels}`. */
export function scrapeText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The controller's own counters: `eci_virtual_node_*_total{…}`. */
export async function scrapeController(port: number): Promise<Map<string, number>> {
  const all = scrapeText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  return new Map([...all].filter(([k]) => k.startsWith('eci_virtual_node_') && k.includes('_total')));
}

/** The growth of each counter between two scrapes (keys only in `after` count from zero). */
export function growth(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

/** The first label value of a sample key, e.g. `GET` for `x_total{method="GET"}`. */
export function firstLabel(key: string): string {
  return /="([^"]*)"/.exec(key)?.[1] ?? '';
}

/**
 * How many pods `namespace` holds, from a one-item page (the API server counts the rest), so polling
 * it while thousands of pods go costs the API server little.
 */
export async function podCount(kube: KubeClients, namespace: string): Promise<number> {
  const page = await kube.core.listNamespacedPod({ namespace, limit: 1 });
  return page.items.length + (page.metadata?.remainingItemCount ?? 0);
}

/** The API server's own metrics (`/metrics`), fetched with `kubectl get --raw` as the admin. */
export async function apiserverMetrics(kubeconfig: string): Promise<Map<string, number>> {
  const { stdout } = await execFileP(
    process.env.KUBECTL ?? 'kubectl',
    ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'],
    { maxBuffer: 256 << 20 },
  );
  return scrapeText(stdout);
}

/** The value of label `name` in a sample key (`x_total{a="1",name="v"}` → `v`). */
export function label(key: string, name: string): string {
  return new RegExp(`[{,]${name}="([^"]*)"`).exec(key)?.[1] ?? '';
}

/**
 * `apiserver_request_total` growth summed by verb and resource (with its subresource), e.g.
 * `PATCH pods/status` → 2000. Every client counts: the benchmark's own creates and watch too.
 */
export function requestsByVerbAndResource(grown: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of grown) {
    if (!k.startsWith('apiserver_request_total{') || v === 0) continue;
    const sub = label(k, 'subresource');
    const key = `${label(k, 'verb')} ${label(k, 'resource')}${sub ? `/${sub}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + v);
  }
  return out;
}

export async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, i.e. 11 and 12 after the command, in
  // clock ticks of 1/100 s (USER_HZ on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
