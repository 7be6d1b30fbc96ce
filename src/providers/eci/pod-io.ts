import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../util/clock.ts';
import { ErrorCodes, ProductError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { advance, cursorAfter, parseStampedLines, stampMillis } from '../log-cursor.ts';
import type {
  ContainerRef,
  ContainerUsage,
  LogLine,
  LogRead,
  PodIOProvider,
  PodUsage,
  SessionIO,
  SessionResult,
} from '../provider.ts';
import type { EciClient } from './eci-client.ts';
import { EciApiError } from './eci-errors.ts';
import { runExecSession } from './exec-wire.ts';
import type { GroupIndex, IndexedGroup } from './group-index.ts';

/** ECI's DescribeContainerLog returns at most this many lines per call. */
export const ECI_MAX_TAIL = 2000;
/** DescribeMultiContainerGroupMetric takes at most this many group IDs per call. */
const METRIC_BATCH = 20;
const METRIC_CONCURRENCY = 4;

export interface EciPodIOOptions {
  eci: EciClient;
  /** The provider's index of this node's groups: how a pod finds its group without a cloud call. */
  index: GroupIndex;
  clock: Clock;
  log: Logger;
  /** How long an attach session's output poll waits between calls. */
  attachPollMs?: number;
  connectTimeoutMs?: number;
}

/**
 * The kubelet API's operations on ECI: logs from DescribeContainerLog, exec through
 * ExecContainerCommand's session (exec-wire.ts), port-forward by dialling the pod's VPC address,
 * resource usage from DescribeMultiContainerGroupMetric in batches of 20.
 *
 * Attach: ECI has no attach API. A session writes stdin to the main process by running
 * `cat > /proc/1/fd/0` in the container (needs `sh` and `cat` in the image and a container started
 * with `stdin: true`), and its output is the container's log, polled. A TTY attach is refused.
 */
export class EciPodIO implements PodIOProvider {
  readonly #o: EciPodIOOptions;

  constructor(o: EciPodIOOptions) {
    this.#o = o;
  }

  async containerLogs(ref: ContainerRef, read: LogRead, signal: AbortSignal): Promise<LogLine[]> {
    const group = this.#groupOf(ref.pod);
    this.#assertContainer(group, ref);
    const tail = Math.min(read.tailLines ?? ECI_MAX_TAIL, ECI_MAX_TAIL);
    try {
      const content = await this.#o.eci.describeContainerLog(
        {
          containerGroupId: group.id,
          containerName: ref.container,
          tail,
          startTime: read.since !== undefined ? new Date(read.since).toISOString() : undefined,
          limitBytes: read.limitBytes,
          timestamps: true,
          lastTime: read.previous,
        },
        signal,
      );
      return parseStampedLines(content);
    } catch (err) {
      throw this.#mapError(err, ref);
    }
  }

  async exec(
    ref: ContainerRef,
    command: readonly string[],
    io: SessionIO,
    signal: AbortSignal,
  ): Promise<SessionResult> {
    const group = this.#groupOf(ref.pod);
    this.#assertContainer(group, ref);
    let uri: string;
    try {
      ({ webSocketUri: uri } = await this.#o.eci.execContainerCommand(
        {
          containerGroupId: group.id,
          containerName: ref.container,
          command: [...command],
          tty: io.tty,
          stdin: io.stdin !== undefined,
        },
        signal,
      ));
    } catch (err) {
      const mapped = this.#mapError(err, ref);
      if (mapped instanceof ProductError && mapped.code !== ErrorCodes.ECI_API) throw mapped;
      return { error: (mapped as Error).message };
    }
    return runExecSession(uri, io, signal);
  }

  async attach(ref: ContainerRef, io: SessionIO, signal: AbortSignal): Promise<SessionResult> {
    if (io.tty) {
      throw new ProductError(
        ErrorCodes.INVALID_INPUT,
        'attaching with a TTY is not supported on ECI (it has no attach API); use kubectl attach -i without -t, or kubectl exec -it',
      );
    }
    const group = this.#groupOf(ref.pod);
    this.#assertContainer(group, ref);
    const session = new AbortController();
    const stop = () => session.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      // Input ends when the client's stdin does; the session goes on (as kubelet's attach does) until
      // the container stops or the client leaves.
      if (io.stdin) {
        void this.exec(
          ref,
          ['sh', '-c', 'cat > /proc/1/fd/0'],
          { tty: false, stdin: io.stdin },
          session.signal,
        )
          .then((r) => {
            if ('error' in r && !session.signal.aborted)
              this.#o.log.warn({ pod: podName(ref.pod), err: r.error }, 'attach input failed');
          })
          .catch(() => undefined);
      }
      const ended = await this.#pollOutput(ref, io, session.signal);
      return ended ?? { exitCode: 0 };
    } finally {
      session.abort();
      signal.removeEventListener('abort', stop);
      io.stdout?.end();
      io.stderr?.end();
    }
  }

  /** Streams the container's new log lines to stdout until it stops running or `signal` aborts. */
  async #pollOutput(
    ref: ContainerRef,
    io: SessionIO,
    signal: AbortSignal,
  ): Promise<SessionResult | undefined> {
    const start = this.#o.clock.now();
    let cursor = cursorAfter(
      (await this.containerLogs(ref, { previous: false, since: start }, signal).catch(() => [])).filter(
        (l) => stampMillis(l.time) < start,
      ),
    );
    while (!signal.aborted) {
      await this.#o.clock.sleep(this.#o.attachPollMs ?? 1000, signal).catch(() => undefined);
      if (signal.aborted) break;
      const lines = await this.containerLogs(
        ref,
        { previous: false, since: cursor.time ? stampMillis(cursor.time) : start },
        signal,
      ).catch(() => undefined);
      if (!lines) continue;
      const r = advance(cursor, lines);
      cursor = r.cursor;
      for (const l of r.fresh) io.stdout?.write(`${l.text}\n`);
      const running = this.#o.index
        .forUid(ref.pod.metadata?.uid ?? '')[0]
        ?.group.containers?.find((c) => c.name === ref.container)?.currentState?.state;
      if (running && running !== 'Running') return { exitCode: 0 };
    }
    return undefined;
  }

  async portForward(pod: V1Pod, port: number, signal: AbortSignal): Promise<Duplex> {
    this.#groupOf(pod);
    const ip = pod.status?.podIP;
    if (!ip) {
      throw new ProductError(ErrorCodes.INVALID_INPUT, `pod ${podName(pod)} has no IP yet`);
    }
    return new Promise<Duplex>((resolve, reject) => {
      const sock = net.connect({ host: ip, port, signal });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ProductError(ErrorCodes.TIMEOUT, `connecting to ${ip}:${port} timed out`));
      }, this.#o.connectTimeoutMs ?? 10_000);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(sock);
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(new ProductError(ErrorCodes.ECI_API, `connecting to ${ip}:${port}: ${err.message}`));
      });
    });
  }

  async podUsage(pods: readonly V1Pod[], signal: AbortSignal): Promise<Map<string, PodUsage>> {
    const byGroup = new Map<string, V1Pod>();
    for (const p of pods) {
      const g = this.#o.index.forUid(p.metadata?.uid ?? '')[0];
      if (g && g.group.status === 'Running') byGroup.set(g.id, p);
    }
    const ids = [...byGroup.keys()];
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += METRIC_BATCH) batches.push(ids.slice(i, i + METRIC_BATCH));
    const out = new Map<string, PodUsage>();
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const datas = await this.#o.eci.describeMultiContainerGroupMetric(batch, signal);
        for (const d of datas) {
          const pod = d.containerGroupId ? byGroup.get(d.containerGroupId) : undefined;
          const record = d.records?.at(-1);
          if (!pod || !record) continue;
          const usage = toPodUsage(pod, record, this.#o.index.get(d.containerGroupId!));
          if (usage) out.set(usage.uid, usage);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(METRIC_CONCURRENCY, batches.length) }, worker));
    return out;
  }

  #groupOf(pod: V1Pod): IndexedGroup {
    const g = this.#o.index.forUid(pod.metadata?.uid ?? '')[0];
    if (!g) {
      throw new ProductError(ErrorCodes.NOT_FOUND, `pod ${podName(pod)} has no ECI container group (yet)`);
    }
    return g;
  }

  #assertContainer(g: IndexedGroup, ref: ContainerRef): void {
    const known = [...(g.group.containers ?? []), ...(g.group.initContainers ?? [])];
    // A group just created knows its containers from the request; one described knows them all.
    if (known.length > 0 && !known.some((c) => c.name === ref.container)) {
      throw new ProductError(
        ErrorCodes.NOT_FOUND,
        `container ${ref.container} is not in ECI container group ${g.id} of pod ${podName(ref.pod)}`,
      );
    }
  }

  #mapError(err: unknown, ref: ContainerRef): unknown {
    if (!(err instanceof EciApiError)) return err;
    if (err.kind === 'not-found') {
      return new ProductError(ErrorCodes.NOT_FOUND, `${podName(ref.pod)}/${ref.container}: ${err.message}`, {
        cause: err,
      });
    }
    if (err.kind === 'invalid') {
      // e.g. IncorrectStatus: the container is waiting to start, or there is no previous run.
      return new ProductError(
        ErrorCodes.INVALID_INPUT,
        `container ${ref.container} of pod ${podName(ref.pod)}: ${err.message.replace(/^ECI \w+ failed: /, '')}`,
        { cause: err },
      );
    }
    return err;
  }
}

function podName(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

interface MetricRecord {
  timestamp?: string;
  CPU?: { usageNanoCores?: number; usageCoreNanoSeconds?: number };
  memory?: { workingSet?: number; usageBytes?: number; rss?: number; availableBytes?: number };
  containers?: {
    name?: string;
    CPU?: { usageNanoCores?: number; usageCoreNanoSeconds?: number };
    memory?: { workingSet?: number; usageBytes?: number; rss?: number; availableBytes?: number };
  }[];
  network?: { interfaces?: { rxBytes?: number; txBytes?: number; rxErrors?: number; txErrors?: number }[] };
}

/** One ECI metric record as a pod's usage; undefined when it carries no time. */
export function toPodUsage(pod: V1Pod, r: MetricRecord, g: IndexedGroup | undefined): PodUsage | undefined {
  const time = r.timestamp ? Date.parse(r.timestamp) : NaN;
  if (Number.isNaN(time)) return undefined;
  const started = (name: string) => {
    const c = g?.group.containers?.find((x) => x.name === name);
    const t = c?.currentState?.startTime ? Date.parse(c.currentState.startTime) : NaN;
    return Number.isNaN(t) ? undefined : t;
  };
  const memory = (m: MetricRecord['memory']): ContainerUsage['memory'] => ({
    workingSetBytes: m?.workingSet,
    usageBytes: m?.usageBytes,
    rssBytes: m?.rss,
    availableBytes: m?.availableBytes,
  });
  const cpu = (c: MetricRecord['CPU']): ContainerUsage['cpu'] => ({
    usageNanoCores: c?.usageNanoCores,
    usageCoreNanoSeconds: c?.usageCoreNanoSeconds,
  });
  const ifaces = r.network?.interfaces ?? [];
  const sum = (k: 'rxBytes' | 'txBytes' | 'rxErrors' | 'txErrors') =>
    ifaces.reduce((a, i) => a + (i[k] ?? 0), 0);
  return {
    uid: pod.metadata?.uid ?? '',
    time,
    cpu: cpu(r.CPU),
    memory: memory(r.memory),
    containers: (r.containers ?? [])
      .filter((c) => c.name)
      .map((c) => ({
        name: c.name!,
        time,
        startTime: started(c.name!),
        cpu: cpu(c.CPU),
        memory: memory(c.memory),
      })),
    network: ifaces.length
      ? {
          rxBytes: sum('rxBytes'),
          txBytes: sum('txBytes'),
          rxErrors: sum('rxErrors'),
          txErrors: sum('txErrors'),
        }
      : undefined,
  };
}
