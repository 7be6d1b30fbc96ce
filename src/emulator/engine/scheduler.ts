/**
 * One timer for many records: each key has at most one due time, the earliest of which arms a single
 * `setTimeout`. Rescheduling a key supersedes its older entry (left in the heap, skipped when popped).
 * Cheap with 10,000+ keys, where a timer per record would not be.
 */
export class Scheduler {
  readonly #heap: { at: number; key: string; version: number }[] = [];
  readonly #versions = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Infinity;
  #stopped = false;
  readonly #now: () => number;
  readonly #onDue: (key: string) => void;

  constructor(now: () => number, onDue: (key: string) => void) {
    this.#now = now;
    this.#onDue = onDue;
  }

  /** Calls `onDue(key)` at `at` (or soon, if in the past), replacing an earlier schedule of `key`. */
  schedule(key: string, at: number): void {
    if (this.#stopped) return;
    const version = (this.#versions.get(key) ?? 0) + 1;
    this.#versions.set(key, version);
    this.#push({ at, key, version });
    if (at < this.#armedAt) this.#arm();
  }

  /**
   * The clock jumped (the emulated clock moved forward): the armed timer counted real time to a due
   * time that may now be past, so it is armed again from the new now.
   */
  clockMoved(): void {
    if (!this.#stopped) this.#arm();
  }

  cancel(key: string): void {
    this.#versions.delete(key);
  }

  get size(): number {
    return this.#versions.size;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const top = this.#heap[0];
    if (top === undefined || this.#stopped) return;
    const delay = Math.min(Math.max(0, top.at - this.#now()), 2 ** 31 - 1);
    this.#armedAt = top.at;
    this.#timer = setTimeout(() => this.#fire(), delay);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    const due: string[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const e = this.#pop()!;
      if (this.#versions.get(e.key) === e.version) {
        this.#versions.delete(e.key);
        due.push(e.key);
      }
    }
    for (const key of due) this.#onDue(key);
    this.#arm();
  }

  #push(e: { at: number; key: string; version: number }): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  #pop(): { at: number; key: string; version: number } | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
