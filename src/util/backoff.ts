/** Exponential backoff delays: base, 2·base, 4·base ... capped at max. Pure, so tests assert the schedule. */
export class Backoff {
  readonly #base: number;
  readonly #max: number;
  #attempt = 0;

  constructor(opts: { baseMs: number; maxMs: number }) {
    this.#base = opts.baseMs;
    this.#max = opts.maxMs;
  }

  next(): number {
    const d = Math.min(this.#max, this.#base * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return d;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a delay drawn uniformly from
 * [0, ceiling). Many clients that failed together then retry spread over the window instead of in
 * lock-step waves, which is what keeps a recovering server from being knocked over again.
 * `random` is injected so tests pin the draw.
 */
export function fullJitter(ceilingMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * ceilingMs);
}
