import { CloudError, cloudErrors } from './cloud-errors.ts';
import type { FaultSpec } from '../config.ts';

/**
 * Faults on demand: rules that make matching requests slow or fail the way the cloud fails
 * (throttling, 5xx). Rules come from the configuration and from the admin API; a rule with a `count`
 * disappears after that many matching requests.
 */

export interface Fault extends FaultSpec {
  id: string;
  /** Requests this rule has affected. */
  hits: number;
}

export interface FaultOutcome {
  delayMs: number;
  error: CloudError | undefined;
}

export class FaultInjector {
  readonly #faults: Fault[] = [];
  #nextId = 1;
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  add(spec: FaultSpec): Fault {
    const f: Fault = { ...spec, id: `fault-${this.#nextId++}`, hits: 0 };
    this.#faults.push(f);
    return f;
  }

  remove(id: string): boolean {
    const i = this.#faults.findIndex((f) => f.id === id);
    if (i < 0) return false;
    this.#faults.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#faults.length = 0;
  }

  list(): readonly Fault[] {
    return this.#faults;
  }

  /** What the faults do to a request for `action`: a delay, an error, both or neither. */
  evaluate(action: string): FaultOutcome {
    let delayMs = 0;
    let error: CloudError | undefined;
    for (const f of [...this.#faults]) {
      if (f.actions !== undefined && !f.actions.includes(action)) continue;
      if (f.kind !== 'latency' && error !== undefined) continue;
      if (f.probability < 1 && this.#random() >= f.probability) continue;
      f.hits++;
      if (f.count !== undefined && f.hits >= f.count) this.remove(f.id);
      if (f.kind === 'latency') delayMs += f.latencyMs ?? 0;
      else error = toError(f);
    }
    return { delayMs, error };
  }
}

function toError(f: FaultSpec): CloudError {
  const base = f.kind === 'throttle' ? cloudErrors.throttlingUser() : cloudErrors.serviceUnavailable();
  return new CloudError(f.status ?? base.status, f.code ?? base.code, f.message ?? base.message);
}
