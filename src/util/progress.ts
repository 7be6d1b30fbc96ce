import type { Clock } from './clock.ts';
import { ErrorCodes, ProductError } from './errors.ts';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress line at most every `everyMs`, and always for the last item. */
export function progress(o: {
  what: string;
  total: number;
  clock: Clock;
  say: (l: string) => void;
  everyMs: number;
}) {
  const started = o.clock.now();
  let last = -Infinity;
  return (done: number) => {
    const now = o.clock.now();
    if (done < o.total && now - last < o.everyMs) return;
    last = now;
    const elapsed = Math.max(1, now - started);
    const rate = (done / elapsed) * 1000;
    const eta = rate > 0 ? ((o.total - done) / rate) * 1000 : NaN;
    o.say(
      `${o.what}: ${done}/${o.total} (${Math.round((done / Math.max(1, o.total)) * 100)}%), ` +
        `${rate.toFixed(1)}/s, ${done >= o.total ? `took ${formatDuration(elapsed)}` : `ETA ${Number.isFinite(eta) ? formatDuration(eta) : '?'}`}`,
    );
  };
}

/** Runs `work` over `items` with at most `n` in flight; stops taking new items once `signal` aborts. */
export async function pool<T>(
  items: T[],
  n: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Throws the resumable-interruption error when `o.signal` has aborted. */
export function interrupted(o: { signal?: AbortSignal }, what: string): void {
  if (o.signal?.aborted) {
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `interrupted: ${what}. Nothing is half done: run cleanup again to delete what is left (the node is kept until then)`,
    );
  }
}
