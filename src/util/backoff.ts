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
