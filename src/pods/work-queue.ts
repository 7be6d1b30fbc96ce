import { Backoff, fullJitter } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';

/**
 * A keyed work queue, client-go style: a key queued many times is processed once; a key being
 * processed and queued again runs again after it finishes (never twice at once); failed keys come back
 * after a per-key exponential delay with full jitter (so keys that failed together do not come back
 * together). Processing is `concurrency` keys at a time.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, Backoff>();
  readonly #delayed = new Map<string, AbortController>();
  #wakeWorkers: (() => void)[] = [];

  constructor(opts: {
    clock: Clock;
    concurrency: number;
    retryBaseMs?: number;
    retryMaxMs?: number;
    /** [0, 1), for the retry jitter; injected by tests. */
    random?: () => number;
  }) {
    this.#clock = opts.clock;
    this.#concurrency = opts.concurrency;
    this.#baseMs = opts.retryBaseMs ?? 1000;
    this.#maxMs = opts.retryMaxMs ?? 300_000;
    this.#random = opts.random ?? Math.random;
  }

  /** Number of keys waiting (not counting delayed retries or keys in progress). */
  get length(): number {
    return this.#queue.length;
  }

  /**
   * Queues `key`. An `urgent` key goes to the front (moved there if already waiting): news from the
   * cloud about a pod must not wait behind a burst of creates.
   */
  add(key: string, urgent = false): void {
    if (this.#active.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) {
      if (!urgent) return;
      const i = this.#queue.indexOf(key);
      if (i > 0) {
        this.#queue.splice(i, 1);
        this.#queue.unshift(key);
      }
      return;
    }
    this.#queued.add(key);
    if (urgent) this.#queue.unshift(key);
    else this.#queue.push(key);
    this.#wakeWorkers.shift()?.();
  }

  /** Adds `key` after `ms`, unless it is added sooner. */
  addAfter(key: string, ms: number): void {
    this.#delayed.get(key)?.abort();
    const ac = new AbortController();
    this.#delayed.set(key, ac);
    this.#clock.sleep(ms, ac.signal).then(
      () => {
        this.#delayed.delete(key);
        this.add(key);
      },
      () => undefined,
    );
  }

  /** Requeues a failed key with its backoff; returns the delay used. */
  retry(key: string): number {
    let b = this.#failures.get(key);
    if (!b) this.#failures.set(key, (b = new Backoff({ baseMs: this.#baseMs, maxMs: this.#maxMs })));
    const ms = fullJitter(b.next(), this.#random);
    this.addAfter(key, ms);
    return ms;
  }

  /** Clears the failure history of a key that succeeded or went away. */
  forget(key: string): void {
    this.#failures.delete(key);
    this.#delayed.get(key)?.abort();
    this.#delayed.delete(key);
  }

  /** Runs `handler` for queued keys until `signal` aborts; resolves when the workers have stopped. */
  async run(handler: (key: string) => Promise<void>, signal: AbortSignal): Promise<void> {
    const worker = async () => {
      while (!signal.aborted) {
        const key = this.#queue.shift();
        if (key === undefined) {
          // The abort listener goes when the worker wakes: one per idle wait would pile up for the
          // life of the signal (thousands after a busy hour).
          await new Promise<void>((resolve) => {
            const wake = () => {
              signal.removeEventListener('abort', wake);
              resolve();
            };
            this.#wakeWorkers.push(wake);
            signal.addEventListener('abort', wake, { once: true });
          });
          continue;
        }
        this.#queued.delete(key);
        this.#active.add(key);
        try {
          await handler(key);
        } finally {
          this.#active.delete(key);
          if (this.#dirty.delete(key)) this.add(key);
        }
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, worker));
    for (const ac of this.#delayed.values()) ac.abort();
  }
}
