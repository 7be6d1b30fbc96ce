import type { DescribeImageCachesResponseBodyImageCaches as CloudCache } from '@alicloud/eci20180808';
import { IMC_TAGS, tagOf } from './request.ts';
import {
  FINALIZER,
  hasFinalizer,
  isDeleting,
  type ImageCacheEvent,
  type ImageCacheObject,
  type ImageCacheStatus,
} from './resource.ts';

/**
 * What to do for one ImageCache, given the cloud caches made for it (tagged with its UID): a pure
 * function of (resource, caches, spec hash, now), in the order the controller carries it out.
 *
 * - Deleted resource: delete every cache, then drop the finalizer.
 * - No finalizer yet: add it before anything costs money.
 * - A cache built from the current spec mirrors into the status. When it is Ready, caches of earlier
 *   specs are deleted (a spec change makes the new cache first, then retires the old one; pods keep
 *   matching the old one meanwhile).
 * - No cache for the current spec: create one — unless the status already says this generation
 *   Failed or Expired (the cloud forgets such caches; recreating one would defeat the retention).
 */

export type Action =
  | { kind: 'add-finalizer' }
  | { kind: 'remove-finalizer' }
  | { kind: 'create' }
  | { kind: 'delete'; ids: string[]; why: 'deleting' | 'replaced' }
  | { kind: 'status'; status: ImageCacheStatus };

/** Statuses after which a cache for this generation is not made again. */
const TERMINAL = new Set(['Failed', 'Expired']);

export function cacheEvents(c: CloudCache): ImageCacheEvent[] {
  return (c.events ?? []).map((e) => ({
    name: e.name,
    type: e.type,
    reason: e.reason,
    message: e.message,
    count: e.count,
    firstTimestamp: e.firstTimestamp,
    lastTimestamp: e.lastTimestamp,
  }));
}

/** The status a resource shows for `c` (without lastUpdatedTime, which the controller stamps). */
export function statusFor(c: CloudCache, generation: number | undefined): ImageCacheStatus {
  return dropUndefined({
    phase: c.status,
    progress: c.progress,
    imageCacheId: c.imageCacheId,
    startTime: c.creationTime,
    expireDateTime: c.expireDateTime,
    events: cacheEvents(c),
    observedGeneration: generation,
  });
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Newest first. */
function byAge(caches: CloudCache[]): CloudCache[] {
  return [...caches].sort((a, b) => String(b.creationTime ?? '').localeCompare(String(a.creationTime ?? '')));
}

export function decide(ic: ImageCacheObject, caches: CloudCache[], hash: string, now: number): Action[] {
  const ids = (cs: CloudCache[]) => cs.map((c) => c.imageCacheId ?? '').filter(Boolean);
  if (isDeleting(ic)) {
    if (caches.length > 0) return [{ kind: 'delete', ids: ids(caches), why: 'deleting' }];
    return hasFinalizer(ic) ? [{ kind: 'remove-finalizer' }] : [];
  }
  if (!hasFinalizer(ic)) return [{ kind: 'add-finalizer' }];

  const generation = ic.metadata.generation;
  const [current, ...duplicates] = byAge(caches.filter((c) => tagOf(c, IMC_TAGS.SPEC) === hash));
  const earlier = caches.filter((c) => tagOf(c, IMC_TAGS.SPEC) !== hash);
  const st = ic.status ?? {};
  if (current === undefined) {
    const sameGeneration = st.observedGeneration === generation;
    const expired = st.expireDateTime !== undefined && now >= Date.parse(st.expireDateTime);
    if (sameGeneration && (TERMINAL.has(st.phase ?? '') || expired)) {
      // The cloud has forgotten the cache this status describes; the status keeps saying what became of it.
      return expired && st.phase !== 'Expired' && st.phase !== 'Failed'
        ? [{ kind: 'status', status: { ...st, phase: 'Expired' } }]
        : [];
    }
    return [{ kind: 'create' }];
  }
  const actions: Action[] = [{ kind: 'status', status: statusFor(current, generation) }];
  const retire = current.status === 'Ready' ? [...earlier, ...duplicates] : [];
  if (retire.length > 0) actions.push({ kind: 'delete', ids: ids(retire), why: 'replaced' });
  return actions;
}

/** Whether the status a resource shows differs from `next` in anything but lastUpdatedTime. */
export function statusChanged(current: ImageCacheStatus | undefined, next: ImageCacheStatus): boolean {
  const strip = ({ lastUpdatedTime: _ignored, ...rest }: ImageCacheStatus) => rest;
  return canonical(strip(current ?? {})) !== canonical(strip(next));
}

/** JSON with object keys sorted: the API server need not keep the order we wrote. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export { FINALIZER };
