import { Worker } from 'node:worker_threads';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { parseAdmissionReview, projectForDecision, type AdmissionRequest } from './admission.ts';
import type { ReviewJob, ReviewResult } from './review-worker.ts';

/**
 * Turns request bodies into AdmissionRequests, keeping large ones off the event loop: bodies under
 * `inlineBelowBytes` (almost every pod) are parsed in place, where a worker round trip would cost more
 * than the parse; larger ones go to one worker thread, started on first use. At most `maxQueued`
 * bodies wait for the worker; past that `parse` rejects with EVN_BUSY-style TOO_MANY so the server can
 * answer 429 (the API server then applies the webhook's failure policy) instead of queueing without
 * bound.
 */
export class ReviewParser {
  readonly #inlineBelow: number;
  readonly #maxQueued: number;
  #worker: Worker | undefined;
  readonly #pending = new Map<
    number,
    { resolve: (r: AdmissionRequest) => void; reject: (e: Error) => void }
  >();
  #next = 0;

  constructor(opts: { inlineBelowBytes?: number; maxQueued?: number } = {}) {
    this.#inlineBelow = opts.inlineBelowBytes ?? 64 * 1024;
    this.#maxQueued = opts.maxQueued ?? 16;
  }

  /** Rejects with EVN_INVALID_INPUT for a malformed review, EVN_BUSY when too many wait. */
  parse(body: Buffer): Promise<AdmissionRequest> {
    if (body.length < this.#inlineBelow) {
      try {
        return Promise.resolve(projectForDecision(parseAdmissionReview(JSON.parse(body.toString('utf8')))));
      } catch (err) {
        return Promise.reject(invalid(err instanceof Error ? err.message : String(err)));
      }
    }
    if (this.#pending.size >= this.#maxQueued) {
      return Promise.reject(
        new ProductError(ErrorCodes.BUSY, `${this.#pending.size} admission reviews are being parsed already`),
      );
    }
    const id = this.#next++;
    // A copy the worker can own: the request's buffer may be a slice of a pooled one.
    const copy = new Uint8Array(body).buffer;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const job: ReviewJob = { id, body: copy };
      this.#ensureWorker().postMessage(job, [copy]);
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./review-worker.ts', import.meta.url));
    // Idle, it must not keep the process alive (tests, `run` shutting down).
    w.unref();
    w.on('message', (r: ReviewResult) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.request);
      else p.reject(invalid(r.message));
    });
    const fail = (err: Error) => {
      if (this.#worker === w) this.#worker = undefined;
      for (const [id, p] of this.#pending) {
        this.#pending.delete(id);
        p.reject(
          new ProductError(ErrorCodes.START_FAILED, `admission review parser stopped: ${err.message}`),
        );
      }
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
    this.#worker = w;
    return w;
  }
}

function invalid(message: string): ProductError {
  return message.startsWith('not an admission')
    ? new ProductError(ErrorCodes.INVALID_INPUT, message)
    : new ProductError(ErrorCodes.INVALID_INPUT, `not an AdmissionReview: ${message}`);
}
