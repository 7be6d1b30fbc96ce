import type { V1PodStatus } from '@kubernetes/client-node';

/**
 * The fields of `next` that differ from `current`, or null when the write would change nothing. Times
 * compare at second precision (what the API server stores) and objects with keys sorted, so the
 * watch echo of our own patch never looks like a change — otherwise every write would cause another.
 */
export function statusDiff(current: V1PodStatus | undefined, next: V1PodStatus): Partial<V1PodStatus> | null {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    const before = (current as Record<string, unknown> | undefined)?.[k];
    if (canonical(before) !== canonical(v)) out[k] = v;
  }
  return Object.keys(out).length ? (out as Partial<V1PodStatus>) : null;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function norm(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString().replace(/\.\d+Z$/, 'Z');
  if (typeof v === 'string' && ISO.test(v)) return v.replace(/\.\d+Z$/, 'Z');
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined && x !== null) o[k] = norm(x);
    }
    return o;
  }
  return v;
}

function canonical(v: unknown): string {
  return JSON.stringify(norm(v)) ?? 'undefined';
}
