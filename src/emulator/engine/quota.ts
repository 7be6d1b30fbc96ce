/**
 * Per-account, per-action flow control: a token bucket per (AccessKey, action) holding a minute's
 * quota and refilled continuously, so a burst up to the quota passes and the sustained rate is the
 * quota per minute, which is how the cloud's per-minute API limits behave for a client.
 */
export class QuotaLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  enabled: boolean;
  #limitFor: (action: string) => number | undefined;

  constructor(enabled: boolean, limitFor: (action: string) => number | undefined) {
    this.enabled = enabled;
    this.#limitFor = limitFor;
  }

  setLimits(limitFor: (action: string) => number | undefined): void {
    this.#limitFor = limitFor;
    this.#buckets.clear();
  }

  /** Takes one call from the bucket; false when the quota is used up. */
  take(accessKeyId: string, action: string, now: number): boolean {
    if (!this.enabled) return true;
    const perMinute = this.#limitFor(action);
    if (perMinute === undefined) return true;
    const key = `${accessKeyId}\n${action}`;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: perMinute, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  reset(): void {
    this.#buckets.clear();
  }
}
