import type { ServerResponse } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { cursorAfter, normalizeStamp } from '../providers/log-cursor.ts';
import type { ContainerRef, LogLine, PodIOProvider } from '../providers/provider.ts';
import type { Clock } from '../util/clock.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { LogFollowHub } from './log-follow.ts';
import { parseLogOptions, type LogOptions } from './log-options.ts';

export interface LogsContext {
  provider: PodIOProvider;
  follow: LogFollowHub;
  /** The pod as the cache holds it now (status included), to know whether a followed run goes on. */
  pod: (namespace: string, name: string) => V1Pod | undefined;
  clock: Clock;
}

/** A container of the pod's spec (app, init or ephemeral), or NOT_FOUND as kubelet words it. */
export function containerOf(pod: V1Pod, name: string): void {
  const spec = pod.spec;
  const all = [
    ...(spec?.containers ?? []),
    ...(spec?.initContainers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ];
  if (!all.some((c) => c.name === name)) {
    throw new ProductError(
      ErrorCodes.NOT_FOUND,
      `container "${name}" not found in pod "${pod.metadata?.name}"`,
    );
  }
}

/** The container's status in the pod: whether it runs now, and which run it is. */
function runOf(pod: V1Pod | undefined, container: string): { running: boolean; restartCount: number } {
  const st = [...(pod?.status?.containerStatuses ?? []), ...(pod?.status?.initContainerStatuses ?? [])].find(
    (s) => s.name === container,
  );
  return { running: st?.state?.running !== undefined, restartCount: st?.restartCount ?? 0 };
}

/**
 * What `opts` selects of `lines` (oldest first), as kubelet applies it: the last `tailLines`, then
 * nothing before `since`. (The backend was asked for the same; this makes it exact.)
 */
export function selectLines(lines: readonly LogLine[], opts: LogOptions): LogLine[] {
  let out =
    opts.tailLines === undefined ? [...lines] : lines.slice(Math.max(0, lines.length - opts.tailLines));
  if (opts.since !== undefined) {
    const since = normalizeStamp(new Date(opts.since).toISOString())!;
    out = out.filter((l) => !l.time || l.time >= since);
  }
  return out;
}

/** A line as the client asked for it: with the kubelet's fixed-width timestamp, or without. */
export function renderLine(l: LogLine, timestamps: boolean): string {
  return timestamps && l.time ? `${l.time} ${l.text}\n` : `${l.text}\n`;
}

/**
 * GET /containerLogs/{namespace}/{pod}/{container}: the log as kubelet serves it, chunked, each write
 * flushed; with follow=true the new lines keep coming (from the shared poller) until the container
 * stops or the client leaves. Throws before writing anything when the request cannot be served.
 */
export async function serveContainerLogs(
  ctx: LogsContext,
  ref: ContainerRef,
  query: URLSearchParams,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const opts = parseLogOptions(query, ctx.clock.now());
  containerOf(ref.pod, ref.container);
  const namespace = ref.pod.metadata?.namespace ?? '';
  const name = ref.pod.metadata?.name ?? '';
  const run = runOf(ref.pod, ref.container);
  const lines = await ctx.provider.containerLogs(
    ref,
    { previous: opts.previous, tailLines: opts.tailLines, since: opts.since },
    signal,
  );
  let budget = opts.limitBytes ?? Infinity;
  /** Writes what fits in limitBytes; false once the limit is reached. */
  const write = (ls: readonly LogLine[]): boolean => {
    for (const l of ls) {
      const text = Buffer.from(renderLine(l, opts.timestamps));
      if (text.length >= budget) {
        res.write(text.subarray(0, budget));
        budget = 0;
        return false;
      }
      res.write(text);
      budget -= text.length;
    }
    return true;
  };
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  const more = write(selectLines(lines, opts));
  if (!opts.follow || opts.previous || !more || !run.running) {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    let done = false;
    let leave: (() => void) | undefined = undefined;
    const finish = () => {
      if (done) return;
      done = true;
      leave?.();
      if (!res.writableEnded) res.end();
      resolve();
    };
    leave = ctx.follow.follow(
      `${ref.pod.metadata?.uid}/${ref.container}/${run.restartCount}`,
      {
        read: (since, s) => ctx.provider.containerLogs(ref, { previous: false, since }, s),
        live: () => {
          const now = runOf(ctx.pod(namespace, name), ref.container);
          return now.running && now.restartCount === run.restartCount;
        },
      },
      cursorAfter(lines),
      {
        lines: (ls) => {
          if (!write(ls)) finish();
        },
        end: () => finish(),
      },
    );
    // The follower may have been served (and finished) while joining.
    if (done) leave();
    signal.addEventListener('abort', finish, { once: true });
    res.once('close', finish);
  });
}
