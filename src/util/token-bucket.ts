import { systemClock, type Clock } from './clock.ts';

/**
 * A token bucket rate limiter: `rate` tokens per second, up to `burst` saved. `take()` waits its turn
 * (FIFO), so a burst of callers is spread out instead of failing — the client-side match for a
 * server-side quota (kube-apiserver QPS, ECI per-action per-minute limits).
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(opts: { rate: number; burst: number; clock?: Clock }) {
    if (!(opts.rate > 0) || !(opts.burst >= 1))
      throw new RangeError('token bucket needs rate > 0 and burst >= 1');
    this.#rate = opts.rate;
    this.#burst = opts.burst;
    this.#clock = opts.clock ?? systemClock;
    this.#tokens = opts.burst;
    this.#last = this.#clock.now();
  }

  /** Resolves when a token is available; rejects when the signal aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.#tail.then(() => this.#wait(signal));
    // A caller that gives up must not block the ones behind it.
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  /** How long until a token is free (0 when one is there now); takes nothing. */
  msUntilAvailable(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }

  /** Takes a token if one is there now; never waits. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  async #wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.#refill();
    if (this.#tokens < 1) {
      await this.#clock.sleep(Math.ceil(((1 - this.#tokens) / this.#rate) * 1000), signal);
      this.#refill();
    }
    this.#tokens -= 1;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}
