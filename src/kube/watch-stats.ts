/**
 * Counts of watch restarts and relists by resource and reason, owned by the watch loops and read by
 * the metrics endpoint at scrape time. A relist costs the API server a full LIST of the resource, so
 * these counts are what an operator watches for a controller that has gone blind or noisy.
 */
export class WatchStats {
  readonly #restarts = new Map<string, number>();
  readonly #relists = new Map<string, number>();

  /** A watch request ended and another was opened (`reason`: why it ended). */
  restarted(resource: string, reason: string): void {
    bump(this.#restarts, resource, reason);
  }

  /** The resource was listed again (`reason`: `initial`, `expired` after 410 Gone, ...). */
  relisted(resource: string, reason: string): void {
    bump(this.#relists, resource, reason);
  }

  restarts(): ReadonlyMap<string, number> {
    return this.#restarts;
  }

  relists(): ReadonlyMap<string, number> {
    return this.#relists;
  }
}

/** The key the maps use; `splitKey` turns it back into labels. */
const SEP = '\u0000';

function bump(map: Map<string, number>, resource: string, reason: string): void {
  const key = `${resource}${SEP}${reason}`;
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function splitKey(key: string): { resource: string; reason: string } {
  const i = key.indexOf(SEP);
  return { resource: key.slice(0, i), reason: key.slice(i + 1) };
}
