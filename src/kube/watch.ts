import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { Backoff } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { describeError } from '../util/errors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Versioned {
  metadata?: { resourceVersion?: string };
}

export interface WatchLoopOptions<T> {
  kc: KubeConfig;
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
  clock: Clock;
  log: Logger;
}

class Expired extends Error {}

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

/**
 * List, then watch from the list's resourceVersion. A watch the server ends normally resumes from the
 * last resourceVersion seen (bookmarks included), with no relist; "410 Gone" or an error relists, with
 * backoff while failing. The library's own `ListWatch` stops for good on a network error, never asks
 * for bookmarks and relists on every reconnect — a long-running controller can afford none of that.
 * Resolves when `signal` aborts.
 */
export async function runWatchLoop<T extends Versioned>(
  opts: WatchLoopOptions<T>,
  signal: AbortSignal,
): Promise<void> {
  const backoff = new Backoff({ baseMs: 500, maxMs: 30_000 });
  const watch = new Watch(opts.kc);
  let resourceVersion: string | undefined;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const listed = await opts.list();
        opts.onSync?.(listed.items);
        for (const item of listed.items) opts.onEvent('ADDED', item);
        opts.onListed?.();
        resourceVersion = listed.resourceVersion;
      }
      resourceVersion = await watchOnce(watch, opts, resourceVersion, signal, () => backoff.reset());
    } catch (err) {
      if (signal.aborted) return;
      resourceVersion = undefined;
      if (err instanceof Expired) continue;
      const delay = backoff.next();
      opts.log.warn(
        { path: opts.path, err: describeError(err), retryInMs: delay },
        'watch failed; relisting',
      );
      try {
        await opts.clock.sleep(delay, signal);
      } catch {
        return;
      }
    }
  }
}

/** One watch request; resolves with the last resourceVersion seen when the server ends it. */
function watchOnce<T extends Versioned>(
  watch: Watch,
  opts: WatchLoopOptions<T>,
  from: string,
  signal: AbortSignal,
  onProgress: () => void,
): Promise<string> {
  let last = from;
  return new Promise<string>((resolve, reject) => {
    let controller: AbortController | undefined;
    const onAbort = () => controller?.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      controller?.abort();
      if (err && !signal.aborted) reject(err);
      else resolve(last);
    };
    watch
      .watch(
        opts.path,
        {
          resourceVersion: from,
          allowWatchBookmarks: true,
          fieldSelector: opts.fieldSelector,
          labelSelector: opts.labelSelector,
          timeoutSeconds: 300 + Math.floor(Math.random() * 60),
        },
        (type: string, obj: T & { code?: number; message?: string }) => {
          onProgress();
          if (type === 'ERROR') {
            finish(obj.code === 410 ? new Expired() : new Error(`watch error ${obj.code}: ${obj.message}`));
            return;
          }
          const rv = obj.metadata?.resourceVersion;
          if (rv) last = rv;
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') opts.onEvent(type, obj);
        },
        (err: unknown) => finish((err as { name?: string } | null)?.name === 'AbortError' ? undefined : err),
      )
      .then((c) => {
        controller = c;
        if (signal.aborted) c.abort();
      }, finish);
  });
}
