import type { KubeClients } from './client.ts';
import { Backoff } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { describeError } from '../util/errors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Versioned {
  metadata?: { resourceVersion?: string };
}

export interface WatchLoopOptions<T> {
  kube: Pick<KubeClients, 'openWatch' | 'watchStats'>;
  /** Collection path, e.g. `/api/v1/nodes`. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Lists the collection (all pages); returns the items and the list's resourceVersion. */
  list: () => Promise<{ items: T[]; resourceVersion: string }>;
  /** Called with every list item as ADDED after each (re)list, then with each watch event. */
  onEvent: (type: WatchEventType, obj: T) => void;
  /** Called after each successful list, before its items, so the caller can drop what is gone. */
  onSync?: (items: T[]) => void;
  /** Called after each (re)list's items have been handed to onEvent. */
  onListed?: () => void;
  /** Called whenever the server shows the watch is alive: a list, an opened stream, any event or bookmark. */
  onActivity?: () => void;
  clock: Clock;
  log: Logger;
  /** [0, 1); injected so tests can pin the jitter. */
  random?: () => number;
}

/**
 * How long the API server keeps one watch open. Randomised between 5 and 10 minutes, as client-go's
 * reflector does, so a fleet of watches does not end (and reopen) in step.
 */
export const MIN_WATCH_TIMEOUT_S = 300;
/** Silence longer than the server's own timeout plus this means the connection is dead, not quiet. */
const IDLE_MARGIN_MS = 60_000;
/** A watch that ends on its own sooner than this, having delivered nothing, is treated as a failure. */
const EARLY_CLOSE_MS = 1_000;
/** Backoff while the API server fails: short enough that a watch is back within seconds of it. */
const ERROR_BACKOFF = { baseMs: 250, maxMs: 5_000 };
/** Backoff between relists after 410 Gone: the first relist is quick, a server that keeps answering 410 is not hammered. */
const RELIST_BACKOFF = { baseMs: 1_000, maxMs: 30_000 };

/** How one watch request ended. */
type WatchEnd =
  /** The server closed the stream (its timeout, or a graceful shutdown). */
  | { kind: 'closed' }
  /** 410 Gone: the resourceVersion is older than the server keeps; only a relist can go on. */
  | { kind: 'expired' }
  /** Anything else: a network error, an HTTP error, an ERROR event, silence past the idle limit. */
  | { kind: 'failed'; reason: string; err: unknown }
  | { kind: 'aborted' };

/**
 * List, then watch from the list's resourceVersion, for as long as `signal` is not aborted. We keep
 * our own watch over the shared connection pool rather than the library's `Watch`, which aborts any
 * watch after 30 s without data (a quiet ConfigMap watch was blind half of every minute), opens a
 * new connection per watch, and leaves resume and relist policy to the caller.
 *
 * - A watch the server ends normally resumes from the last resourceVersion seen (bookmarks
 *   included) at once: no relist, no backoff.
 * - Only 410 Gone relists, after a jittered delay that grows while the server keeps answering 410.
 * - Other failures resume from the last resourceVersion after a full-jitter backoff, which resets
 *   only once a watch has delivered something; a watch that closes at once counts as a failure.
 */
export async function runWatchLoop<T extends Versioned>(
  opts: WatchLoopOptions<T>,
  signal: AbortSignal,
): Promise<void> {
  const random = opts.random ?? Math.random;
  const errors = new Backoff(ERROR_BACKOFF);
  const relists = new Backoff(RELIST_BACKOFF);
  const stats = opts.kube.watchStats;
  const resource = resourceOf(opts.path);
  const pause = async (ms: number): Promise<boolean> => {
    try {
      await opts.clock.sleep(Math.floor(random() * ms), signal);
      return true;
    } catch {
      return false;
    }
  };
  let resourceVersion: string | undefined;
  let relistReason = 'initial';
  while (!signal.aborted) {
    if (resourceVersion === undefined) {
      try {
        const listed = await opts.list();
        stats.relisted(resource, relistReason);
        opts.onSync?.(listed.items);
        for (const item of listed.items) opts.onEvent('ADDED', item);
        opts.onListed?.();
        opts.onActivity?.();
        resourceVersion = listed.resourceVersion;
      } catch (err) {
        if (signal.aborted) return;
        const delay = errors.next();
        opts.log.warn(
          { path: opts.path, err: describeError(err), retryInMs: delay },
          'list failed; retrying',
        );
        if (!(await pause(delay))) return;
        continue;
      }
    }
    const started = opts.clock.now();
    const outcome = await watchOnce(opts, resourceVersion, signal);
    resourceVersion = outcome.resourceVersion;
    const end = outcome.end;
    if (end.kind === 'aborted') return;
    if (outcome.delivered) {
      errors.reset();
      relists.reset();
    }
    if (end.kind === 'closed' && (outcome.delivered || opts.clock.now() - started >= EARLY_CLOSE_MS)) {
      stats.restarted(resource, 'closed');
      continue;
    }
    if (end.kind === 'expired') {
      stats.restarted(resource, 'expired');
      resourceVersion = undefined;
      relistReason = 'expired';
      const delay = relists.next();
      opts.log.info({ path: opts.path, relistInMs: delay }, 'watch expired (410 Gone); relisting');
      if (!(await pause(delay))) return;
      continue;
    }
    const reason = end.kind === 'failed' ? end.reason : 'closed-early';
    stats.restarted(resource, reason);
    const delay = errors.next();
    opts.log.warn(
      {
        path: opts.path,
        reason,
        err: end.kind === 'failed' ? describeError(end.err) : 'the server closed the watch at once',
        retryInMs: delay,
      },
      'watch failed; resuming',
    );
    if (!(await pause(delay))) return;
  }
}

interface WatchOutcome {
  end: WatchEnd;
  /** The last resourceVersion seen (events and bookmarks), to resume from. */
  resourceVersion: string;
  /** Whether any event other than ERROR arrived: the connection and the server were healthy. */
  delivered: boolean;
}

interface RawEvent {
  type?: string;
  object?: { metadata?: { resourceVersion?: string }; code?: number; reason?: string; message?: string };
}

/** One watch request, read to its end; never throws. */
async function watchOnce<T extends Versioned>(
  opts: WatchLoopOptions<T>,
  from: string,
  signal: AbortSignal,
): Promise<WatchOutcome> {
  const random = opts.random ?? Math.random;
  const timeoutSeconds = MIN_WATCH_TIMEOUT_S + Math.floor(random() * MIN_WATCH_TIMEOUT_S);
  const query = new URLSearchParams({
    watch: '1',
    resourceVersion: from,
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(timeoutSeconds),
  });
  if (opts.fieldSelector) query.set('fieldSelector', opts.fieldSelector);
  if (opts.labelSelector) query.set('labelSelector', opts.labelSelector);
  let resourceVersion = from;
  let delivered = false;
  const done = (end: WatchEnd): WatchOutcome => ({ end, resourceVersion, delivered });
  const failed = (reason: string, err: unknown): WatchOutcome =>
    done(signal.aborted ? { kind: 'aborted' } : { kind: 'failed', reason, err });

  let res;
  try {
    res = await opts.kube.openWatch(`${opts.path}?${query}`, {
      signal,
      idleTimeoutMs: timeoutSeconds * 1000 + IDLE_MARGIN_MS,
    });
  } catch (err) {
    return failed('connect', err);
  }
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    if (res.statusCode === 410) return done({ kind: 'expired' });
    return failed(`http-${res.statusCode}`, new Error(`HTTP ${res.statusCode}: ${statusMessage(text)}`));
  }
  opts.onActivity?.();

  // One event per line. Lines are split on the byte 0x0A, which never occurs inside a multi-byte
  // UTF-8 sequence, so a chunk boundary in the middle of a character is harmless.
  let pending: Buffer[] = [];
  const handle = (line: Buffer): WatchEnd | undefined => {
    let event: RawEvent;
    try {
      event = JSON.parse(line.toString('utf8')) as RawEvent;
    } catch (err) {
      return { kind: 'failed', reason: 'decode', err };
    }
    const obj = event.object;
    if (event.type === 'ERROR') {
      if (obj?.code === 410) return { kind: 'expired' };
      return {
        kind: 'failed',
        reason: 'error-event',
        err: new Error(`watch error ${obj?.code ?? '?'} ${obj?.reason ?? ''}: ${obj?.message ?? ''}`),
      };
    }
    delivered = true;
    opts.onActivity?.();
    const rv = obj?.metadata?.resourceVersion;
    if (rv) resourceVersion = rv;
    if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
      try {
        opts.onEvent(event.type, obj as T);
      } catch (err) {
        opts.log.error({ path: opts.path, err: describeError(err) }, 'watch event handler failed');
      }
    }
    return undefined;
  };
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        pending.push(chunk.subarray(start, nl));
        start = nl + 1;
        const line = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        pending = [];
        if (line.length === 0) continue;
        const end = handle(line);
        if (end !== undefined) {
          res.body.destroy();
          return done(end);
        }
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
  } catch (err) {
    return failed(isIdleTimeout(err) ? 'idle' : 'stream', err);
  }
  return done({ kind: 'closed' });
}

/** `pods` for `/api/v1/pods`, `configmaps` for `/api/v1/namespaces/x/configmaps`. */
function resourceOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { reason?: string; message?: string };
    return `${status.reason ?? ''} ${status.message ?? ''}`.trim() || 'no message';
  } catch {
    return body.slice(0, 200) || 'no message';
  }
}

function isIdleTimeout(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'UND_ERR_BODY_TIMEOUT';
}

interface ListPage<T> {
  items: T[];
  metadata?: { _continue?: string; resourceVersion?: string };
}

/**
 * Every page of a list and the list's resourceVersion. The library never follows `continue`, which
 * silently loses what lies past the first page.
 */
export async function listAllPages<T>(
  fetchPage: (page: { limit: number; _continue?: string }) => Promise<ListPage<T>>,
  pageSize = 500,
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let _continue: string | undefined;
  let resourceVersion = '';
  do {
    const page = await fetchPage({ limit: pageSize, _continue });
    items.push(...page.items);
    _continue = page.metadata?._continue || undefined;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (_continue);
  return { items, resourceVersion };
}
