import type { Clock } from '../../src/util/clock.ts';

/** A clock for tests: time moves only when `advance` is called; sleepers wake in time order. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];
  /** Every duration passed to sleep, so tests can assert a backoff schedule without waiting. */
  readonly sleeps: number[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const sleeper = { at: this.#now + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward, waking each sleeper whose time has come and letting its continuation run. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > until) break;
      this.#sleepers.shift();
      this.#now = next.at;
      next.resolve();
      await new Promise((r) => setImmediate(r));
    }
    this.#now = until;
    await new Promise((r) => setImmediate(r));
  }
}
