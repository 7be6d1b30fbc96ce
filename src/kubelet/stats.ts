// /stats/summary and /metrics/resource: the resource usage kubelet reports, from one batched backend
// read for every running pod, cached for a scrape interval so several scrapers cost one read.
import type { V1Pod } from '@kubernetes/client-node';
import type { ContainerUsage, PodUsage } from '../providers/provider.ts';
import type { Clock } from '../util/clock.ts';

export interface UsageSnapshot {
  /** When it was read (epoch ms). */
  readonly at: number;
  readonly pods: readonly { pod: V1Pod; usage: PodUsage }[];
  /** The node's cumulative CPU (core-nanoseconds): only ever grows, see NodeCpuCounter. */
  readonly nodeCpuCoreNanoSeconds: number;
  /** Set when the backend could not be read: the last snapshot is served and scrape_error is 1. */
  readonly error?: string;
}

/**
 * The node's CPU counter, which metrics-server turns into a rate: the sum of pod counters goes down
 * when a pod goes away, so instead every increase a pod's counter shows is added, and a pod's first
 * sample only sets where it starts.
 */
export class NodeCpuCounter {
  #total = 0;
  readonly #last = new Map<string, number>();

  observe(usages: readonly PodUsage[]): number {
    const seen = new Set<string>();
    for (const u of usages) {
      for (const c of u.containers) {
        const key = `${u.uid}/${c.name}/${c.startTime ?? ''}`;
        seen.add(key);
        const v = c.cpu.usageCoreNanoSeconds;
        if (v === undefined) continue;
        const prev = this.#last.get(key);
        if (prev !== undefined && v > prev) this.#total += v - prev;
        this.#last.set(key, v);
      }
    }
    for (const k of this.#last.keys()) if (!seen.has(k)) this.#last.delete(k);
    return this.#total;
  }
}

export interface UsageReaderOptions {
  /** The pods bound to the node now. */
  pods: () => V1Pod[];
  read: (pods: V1Pod[], signal: AbortSignal) => Promise<Map<string, PodUsage>>;
  clock: Clock;
  /** How long a snapshot is served before the next read (metrics-server scrapes every 15 s). */
  ttlMs?: number;
  timeoutMs?: number;
}

/** One read for all pods per `ttlMs`, however many requests ask; concurrent askers share it. */
export class UsageReader {
  readonly #o: UsageReaderOptions;
  readonly #cpu = new NodeCpuCounter();
  #last: UsageSnapshot | undefined;
  #inFlight: Promise<UsageSnapshot> | undefined;
  #reads = 0;

  constructor(o: UsageReaderOptions) {
    this.#o = o;
  }

  /** Backend reads made so far. */
  get reads(): number {
    return this.#reads;
  }

  snapshot(): Promise<UsageSnapshot> {
    const now = this.#o.clock.now();
    if (this.#last && now - this.#last.at < (this.#o.ttlMs ?? 10_000)) return Promise.resolve(this.#last);
    this.#inFlight ??= this.#read().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #read(): Promise<UsageSnapshot> {
    const running = this.#o.pods().filter((p) => p.status?.phase === 'Running');
    this.#reads++;
    try {
      const usage = await this.#o.read(running, AbortSignal.timeout(this.#o.timeoutMs ?? 20_000));
      const pods = running.flatMap((pod) => {
        const u = usage.get(pod.metadata?.uid ?? '');
        return u ? [{ pod, usage: u }] : [];
      });
      this.#last = {
        at: this.#o.clock.now(),
        pods,
        nodeCpuCoreNanoSeconds: this.#cpu.observe(pods.map((p) => p.usage)),
      };
    } catch (err) {
      this.#last = {
        at: this.#o.clock.now(),
        pods: this.#last?.pods ?? [],
        nodeCpuCoreNanoSeconds: this.#last?.nodeCpuCoreNanoSeconds ?? 0,
        error: (err as Error).message,
      };
    }
    return this.#last;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function cpuStats(c: ContainerUsage['cpu'], time: number) {
  return { time: iso(time), usageNanoCores: c.usageNanoCores, usageCoreNanoSeconds: c.usageCoreNanoSeconds };
}

function memoryStats(m: ContainerUsage['memory'], time: number) {
  return {
    time: iso(time),
    availableBytes: m.availableBytes,
    usageBytes: m.usageBytes,
    workingSetBytes: m.workingSetBytes,
    rssBytes: m.rssBytes,
  };
}

const sum = (xs: (number | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/** The kubelet's stats/v1alpha1 Summary. */
export function statsSummary(nodeName: string, nodeStart: number, s: UsageSnapshot): Record<string, unknown> {
  const time = Math.max(s.at, ...s.pods.map((p) => p.usage.time));
  return {
    node: {
      nodeName,
      startTime: iso(nodeStart),
      cpu: {
        time: iso(time),
        usageNanoCores: sum(s.pods.map((p) => p.usage.cpu.usageNanoCores)),
        usageCoreNanoSeconds: s.nodeCpuCoreNanoSeconds,
      },
      memory: {
        time: iso(time),
        usageBytes: sum(s.pods.map((p) => p.usage.memory.usageBytes)),
        workingSetBytes: sum(s.pods.map((p) => p.usage.memory.workingSetBytes)),
        rssBytes: sum(s.pods.map((p) => p.usage.memory.rssBytes)),
      },
      systemContainers: [],
    },
    pods: s.pods.map(({ pod, usage }) => ({
      podRef: { name: pod.metadata?.name, namespace: pod.metadata?.namespace, uid: pod.metadata?.uid },
      startTime: iso(
        new Date(pod.status?.startTime ?? pod.metadata?.creationTimestamp ?? usage.time).getTime(),
      ),
      containers: usage.containers.map((c) => ({
        name: c.name,
        startTime: iso(c.startTime ?? usage.time),
        cpu: cpuStats(c.cpu, c.time),
        memory: memoryStats(c.memory, c.time),
      })),
      cpu: cpuStats(usage.cpu, usage.time),
      memory: memoryStats(usage.memory, usage.time),
      ...(usage.network
        ? {
            network: {
              time: iso(usage.time),
              name: 'eth0',
              rxBytes: usage.network.rxBytes,
              rxErrors: usage.network.rxErrors,
              txBytes: usage.network.txBytes,
              txErrors: usage.network.txErrors,
              interfaces: [{ name: 'eth0', ...usage.network }],
            },
          }
        : {}),
    })),
  };
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(15).replace(/\.?0+$/, ''));

/**
 * The kubelet's /metrics/resource in Prometheus text format, with sample timestamps (metrics-server
 * computes CPU rates from them). A container without CPU or memory is left out: metrics-server drops
 * a pod whose container reports 0.
 */
export function resourceMetrics(s: UsageSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: string[]) => {
    out.push(`# HELP ${name} [STABLE] ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const time = Math.max(s.at, ...s.pods.map((p) => p.usage.time));
  const containers = s.pods.flatMap(({ pod, usage }) =>
    usage.containers
      .filter((c) => c.cpu.usageCoreNanoSeconds !== undefined && c.memory.workingSetBytes !== undefined)
      .map((c) => ({
        labels: `container="${esc(c.name)}",namespace="${esc(pod.metadata?.namespace ?? '')}",pod="${esc(pod.metadata?.name ?? '')}"`,
        c,
      })),
  );
  const podLabels = (pod: V1Pod) =>
    `namespace="${esc(pod.metadata?.namespace ?? '')}",pod="${esc(pod.metadata?.name ?? '')}"`;
  family(
    'container_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the container in core-seconds',
    containers.map(
      ({ labels, c }) =>
        `container_cpu_usage_seconds_total{${labels}} ${num(c.cpu.usageCoreNanoSeconds! / 1e9)} ${c.time}`,
    ),
  );
  family(
    'container_memory_working_set_bytes',
    'gauge',
    'Current working set of the container in bytes',
    containers.map(
      ({ labels, c }) =>
        `container_memory_working_set_bytes{${labels}} ${num(c.memory.workingSetBytes!)} ${c.time}`,
    ),
  );
  family(
    'container_start_time_seconds',
    'gauge',
    'Start time of the container since unix epoch in seconds',
    containers
      .filter(({ c }) => c.startTime !== undefined)
      .map(
        ({ labels, c }) => `container_start_time_seconds{${labels}} ${num(c.startTime! / 1000)} ${c.time}`,
      ),
  );
  family(
    'node_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the node in core-seconds',
    [`node_cpu_usage_seconds_total ${num(s.nodeCpuCoreNanoSeconds / 1e9)} ${time}`],
  );
  family('node_memory_working_set_bytes', 'gauge', 'Current working set of the node in bytes', [
    `node_memory_working_set_bytes ${num(sum(s.pods.map((p) => p.usage.memory.workingSetBytes)))} ${time}`,
  ]);
  family(
    'pod_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the pod in core-seconds',
    s.pods
      .filter((p) => p.usage.cpu.usageCoreNanoSeconds !== undefined)
      .map(
        ({ pod, usage }) =>
          `pod_cpu_usage_seconds_total{${podLabels(pod)}} ${num(usage.cpu.usageCoreNanoSeconds! / 1e9)} ${usage.time}`,
      ),
  );
  family(
    'pod_memory_working_set_bytes',
    'gauge',
    'Current working set of the pod in bytes',
    s.pods
      .filter((p) => p.usage.memory.workingSetBytes !== undefined)
      .map(
        ({ pod, usage }) =>
          `pod_memory_working_set_bytes{${podLabels(pod)}} ${num(usage.memory.workingSetBytes!)} ${usage.time}`,
      ),
  );
  family(
    'resource_scrape_error',
    'gauge',
    '1 if there was an error while getting container metrics, 0 otherwise',
    [`resource_scrape_error ${s.error ? 1 : 0}`],
  );
  return `${out.join('\n')}\n`;
}
