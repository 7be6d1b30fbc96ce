import { cloudErrors } from './cloud-errors.ts';
import { newId } from './ids.ts';
import type { GroupEvent, ImageCacheRecord, ImageCacheStatus, Tag } from './model.ts';
import { isBuilding, type Store } from './store.ts';

/**
 * Image caches as the cloud makes them: CreateImageCache starts an intermediate instance in a zone
 * (one unit of that zone's stock, one address of its vSwitch) that pulls the images onto a disk and
 * snapshots it. The cache is Preparing, then Creating with its progress going up in steps of 10 %,
 * then Ready at 100 %, when the instance goes away. It expires after its retention (or a day after it
 * failed) and is forgotten an hour later. Records are journaled through the store like groups.
 */

export interface ImageCacheInput {
  name: string;
  images: string[];
  size: number;
  retentionDays?: number;
  eliminationStrategy?: string;
  tags: Tag[];
  clientToken?: string;
  resourceGroupId?: string;
  /** Candidate vSwitches for the intermediate instance, tried in order. */
  vSwitchIds: string[];
  /** Reuse layers of existing caches (AutoMatchImageCache): the shared images need no pull. */
  reuse: boolean;
  /** Flash: a local snapshot first, which halves the build. */
  flash: boolean;
  auto?: boolean;
}

export interface ImageCacheDeps {
  store: Store;
  now: () => number;
  /** Build time of one image; a cache of n images takes n of them (less with reuse or Flash). */
  readyMs: number;
  schedule: (id: string, at: number) => void;
  cancel: (id: string) => void;
  /** Journals a background change (errors are logged, not thrown). */
  persist: (p: Promise<void>) => void;
  /** Claims a zone and an address for an intermediate instance, or throws the stock-out error. */
  place: (vSwitchIds: string[]) => { zoneId: string; vSwitchId: string; ip: string };
  maxEvents: number;
  /**
   * Builds one image for real (the process runtime's root filesystem); absent when the runtime has
   * nothing to build. A cache is Ready only once all of its images are built.
   */
  prepare?: (image: string) => Promise<void>;
}

const DAY_MS = 86_400_000;
/** A failed cache expires this long after it failed (as the cloud documents). */
const FAILED_TTL_MS = DAY_MS;
/** An expired cache is still listed (as Expired) this long, then forgotten. */
const EXPIRED_KEEP_MS = 3_600_000;
/** Share of the build spent Preparing (0 %) before the pull starts. */
const PREPARE_SHARE = 0.1;

/** `nginx`, `nginx:latest`, `docker.io/library/nginx:latest` are one image. */
export function normalizeImage(image: string): string {
  let ref = image.trim();
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at) : '';
  if (at >= 0) ref = ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (digest === '' && colon <= slash) ref += ':latest';
  const first = ref.split('/')[0]!;
  const hasRegistry =
    ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) ref = `docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`;
  return ref + digest;
}

/** How many of `wanted` the cache holds. */
export function matchCount(cacheImages: readonly string[], wanted: readonly string[]): number {
  const held = new Set(cacheImages.map(normalizeImage));
  return new Set(wanted.map(normalizeImage).filter((i) => held.has(i))).size;
}

export class ImageCaches {
  readonly #d: ImageCacheDeps;

  constructor(deps: ImageCacheDeps) {
    this.#d = deps;
  }

  /** Creates a cache (or returns the one made with the same ClientToken) once it is durable. */
  async create(input: ImageCacheInput): Promise<ImageCacheRecord> {
    const { store } = this.#d;
    if (input.clientToken !== undefined) {
      const existing = store.cacheByToken(input.clientToken);
      if (existing !== undefined) {
        await store.whenDurable(existing.id);
        return existing;
      }
    }
    const now = this.#d.now();
    // From here to putCache nothing awaits: the stock check and the address claim are one step.
    const where = this.#d.place(input.vSwitchIds);
    const r: ImageCacheRecord = {
      id: newId('imc'),
      seq: store.nextSeq(),
      name: input.name,
      images: input.images,
      size: input.size,
      status: 'Preparing',
      progress: '0%',
      createdAt: now,
      statusSince: now,
      tags: input.tags,
      containerGroupId: newId('eci'),
      events: [],
      zoneId: where.zoneId,
      vSwitchId: where.vSwitchId,
      ip: where.ip,
      buildMs: this.#buildMs(input),
    };
    if (input.retentionDays !== undefined) {
      r.retentionDays = input.retentionDays;
      r.expireAt = now + input.retentionDays * DAY_MS;
    }
    if (input.eliminationStrategy !== undefined) r.eliminationStrategy = input.eliminationStrategy;
    if (input.clientToken !== undefined) r.clientToken = input.clientToken;
    if (input.resourceGroupId !== undefined) r.resourceGroupId = input.resourceGroupId;
    if (input.auto === true) r.auto = true;
    if (this.#d.prepare === undefined) r.prepared = true;
    this.#event(r, 'Normal', 'Preparing', `Preparing the image cache in ${where.zoneId}`, now);
    const p = store.putCache(r);
    this.touch(r.id);
    await p;
    await store.whenDurable(r.id);
    return r;
  }

  /** Caches in flight whose images are not built yet (after a restart of the emulator too). */
  readonly #preparing = new Set<string>();

  /** Builds the cache's images with the runtime; Ready waits for it, a failure fails the cache. */
  #startPreparing(r: ImageCacheRecord): void {
    const prepare = this.#d.prepare;
    if (prepare === undefined || r.prepared === true || this.#preparing.has(r.id)) return;
    this.#preparing.add(r.id);
    const id = r.id;
    void (async () => {
      let failure: string | undefined;
      for (const image of r.images) {
        try {
          await prepare(image);
        } catch (err) {
          failure = `image ${image}: ${err instanceof Error ? err.message : String(err)}`;
          break;
        }
      }
      this.#preparing.delete(id);
      const cur = this.#d.store.imageCaches.get(id);
      if (cur === undefined || !isBuilding(cur)) return;
      if (failure === undefined) cur.prepared = true;
      else {
        this.#setStatus(cur, 'Failed', this.#d.now());
        cur.events[cur.events.length - 1]!.message = `Image cache creation failed: ${failure}`;
      }
      this.#d.persist(this.#d.store.putCache(cur));
      this.touch(id);
    })();
  }

  /** Images already held by a Ready cache need no pull when reuse is on; Flash halves the rest. */
  #buildMs(input: ImageCacheInput): number {
    const per = this.#d.readyMs;
    let pulls = new Set(input.images.map(normalizeImage)).size;
    if (input.reuse) {
      const held = new Set<string>();
      for (const c of this.#d.store.imageCaches.values())
        if (c.status === 'Ready') for (const i of c.images) held.add(normalizeImage(i));
      pulls = input.images.map(normalizeImage).filter((i) => !held.has(i)).length;
    }
    const ms = Math.max(1, pulls) * per * (input.flash ? 0.5 : 1);
    return Math.round(ms);
  }

  get(id: string): ImageCacheRecord {
    const r = this.#d.store.imageCaches.get(id);
    if (r === undefined) throw cloudErrors.imageCacheNotFound(id);
    return r;
  }

  async delete(id: string): Promise<void> {
    this.get(id);
    this.#d.cancel(id);
    await this.#d.store.deleteCache(id);
  }

  /** On demand: forces a status. */
  async drive(id: string, status: ImageCacheStatus): Promise<ImageCacheRecord> {
    const r = this.get(id);
    this.#setStatus(r, status, this.#d.now());
    await this.#d.store.putCache(r);
    this.touch(id);
    return r;
  }

  /**
   * The best Ready cache for `images` (most of them held, then the newest), or undefined. `minCount`
   * is how many must be held (all of them for a full match).
   */
  bestMatch(images: readonly string[], minCount = 1): ImageCacheRecord | undefined {
    let best: { r: ImageCacheRecord; n: number } | undefined;
    for (const r of this.#d.store.imageCaches.values()) {
      if (r.status !== 'Ready') continue;
      const n = matchCount(r.images, images);
      if (n < Math.max(1, minCount)) continue;
      if (best === undefined || n > best.n || (n === best.n && r.createdAt > best.r.createdAt))
        best = { r, n };
    }
    return best?.r;
  }

  /** A cache being built that will hold all of `images` (so a miss does not start a second one). */
  building(images: readonly string[]): ImageCacheRecord | undefined {
    const want = new Set(images.map(normalizeImage)).size;
    for (const r of this.#d.store.imageCaches.values())
      if (isBuilding(r) && matchCount(r.images, images) === want) return r;
    return undefined;
  }

  #event(r: ImageCacheRecord, type: GroupEvent['type'], reason: string, message: string, at: number): void {
    r.events.push({
      name: `${r.name}.${(r.events.length + 1).toString(16).padStart(16, '0')}`,
      type,
      reason,
      message,
      count: 1,
      first: at,
      last: at,
    });
    if (r.events.length > this.#d.maxEvents) r.events.splice(0, r.events.length - this.#d.maxEvents);
  }

  #releaseBuilder(r: ImageCacheRecord): void {
    delete r.ip;
    delete r.vSwitchId;
  }

  #setStatus(r: ImageCacheRecord, status: ImageCacheStatus, at: number): void {
    if (r.status === status) return;
    r.status = status;
    r.statusSince = at;
    switch (status) {
      case 'Preparing':
        r.progress = '0%';
        break;
      case 'Creating':
        this.#event(r, 'Normal', 'Pulling', `Pulling images ${r.images.join(', ')}`, at);
        break;
      case 'Ready':
        r.progress = '100%';
        r.snapshotId ??= newId('s');
        this.#releaseBuilder(r);
        this.#event(r, 'Normal', 'Created', `Image cache ${r.id} created (snapshot ${r.snapshotId})`, at);
        break;
      case 'Failed':
        this.#releaseBuilder(r);
        r.expireAt = at + FAILED_TTL_MS;
        this.#event(r, 'Warning', 'Failed', 'Image cache creation failed', at);
        break;
      case 'Expired':
        this.#releaseBuilder(r);
        this.#event(r, 'Warning', 'Expired', `Image cache ${r.id} expired and was cleaned up`, at);
        break;
      case 'Deleting':
        this.#releaseBuilder(r);
        break;
    }
  }

  /** Moves a cache forward to now (every due step at the time it fell due) and schedules the next. */
  touch(id: string): void {
    const r = this.#d.store.imageCaches.get(id);
    if (r === undefined) return;
    const now = this.#d.now();
    const build = r.buildMs ?? this.#d.readyMs;
    const startPull = r.createdAt + Math.round(build * PREPARE_SHARE);
    const ready = r.createdAt + build;
    let changed = false;
    let next: number | undefined;
    if (r.status === 'Preparing') {
      if (now >= startPull) {
        this.#setStatus(r, 'Creating', startPull);
        changed = true;
      } else next = startPull;
    }
    if (isBuilding(r)) this.#startPreparing(r);
    const built = r.prepared === true || this.#d.prepare === undefined;
    if (r.status === 'Creating') {
      // The build takes its time, and (with a runtime that builds images) until they are built; the
      // end of that build touches the cache again.
      if (now >= ready && built) {
        this.#setStatus(r, 'Ready', this.#d.prepare === undefined ? ready : now);
        changed = true;
      } else if (now >= ready) {
        if (r.progress !== '90%') {
          r.progress = '90%';
          changed = true;
        }
      } else {
        // Progress in steps of 10 %, each one a change the feed and the controller can see.
        const pulling = ready - startPull;
        const step = Math.min(9, Math.floor(((now - startPull) / Math.max(1, pulling)) * 10));
        const progress = `${step * 10}%`;
        if (r.progress !== progress) {
          r.progress = progress;
          changed = true;
        }
        next = Math.min(ready, startPull + Math.ceil(((step + 1) * pulling) / 10));
      }
    }
    if (r.expireAt !== undefined && r.status !== 'Expired' && r.status !== 'Deleting') {
      if (now >= r.expireAt) {
        this.#setStatus(r, 'Expired', r.expireAt);
        changed = true;
      } else next = next === undefined ? r.expireAt : Math.min(next, r.expireAt);
    }
    if (r.status === 'Expired') {
      const forget = r.statusSince + EXPIRED_KEEP_MS;
      if (now >= forget) {
        this.#d.cancel(id);
        this.#d.persist(this.#d.store.deleteCache(id));
        return;
      }
      next = forget;
    }
    if (changed) this.#d.persist(this.#d.store.putCache(r));
    if (next === undefined) this.#d.cancel(id);
    else this.#d.schedule(id, next);
  }
}
