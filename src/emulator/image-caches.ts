import { cloudErrors } from './cloud-errors.ts';
import { newId } from './ids.ts';
import type { ImageCacheRecord, ImageCacheStatus, Tag } from './model.ts';
import type { Store } from './store.ts';

/**
 * Image caches: records with their own small lifecycle (Preparing → Creating half way → Ready after
 * `imageCacheReadyMs`), journaled through the store like container groups.
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
}

export interface ImageCacheDeps {
  store: Store;
  now: () => number;
  readyMs: number;
  schedule: (id: string, at: number) => void;
  cancel: (id: string) => void;
  /** Journals a background change (errors are logged, not thrown). */
  persist: (p: Promise<void>) => void;
}

const MESSAGES: Record<ImageCacheStatus, (r: ImageCacheRecord) => string> = {
  Preparing: () => 'Preparing the image cache',
  Creating: (r) => `Pulling images ${r.images.join(', ')}`,
  Ready: () => 'Image cache created',
  Failed: () => 'Image cache creation failed',
  Expired: () => 'Image cache expired',
  Deleting: () => 'Deleting the image cache',
};

const PROGRESS: Partial<Record<ImageCacheStatus, string>> = {
  Preparing: '0%',
  Creating: '50%',
  Ready: '100%',
};

export class ImageCaches {
  private readonly d: ImageCacheDeps;

  constructor(deps: ImageCacheDeps) {
    this.d = deps;
  }

  /** Creates a cache (or returns the one made with the same ClientToken) once it is durable. */
  async create(input: ImageCacheInput): Promise<ImageCacheRecord> {
    const { store } = this.d;
    if (input.clientToken !== undefined) {
      const existing = store.cacheByToken(input.clientToken);
      if (existing !== undefined) {
        await store.whenDurable(existing.id);
        return existing;
      }
    }
    const now = this.d.now();
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
    };
    if (input.retentionDays !== undefined) r.retentionDays = input.retentionDays;
    if (input.eliminationStrategy !== undefined) r.eliminationStrategy = input.eliminationStrategy;
    if (input.clientToken !== undefined) r.clientToken = input.clientToken;
    if (input.resourceGroupId !== undefined) r.resourceGroupId = input.resourceGroupId;
    const p = store.putCache(r);
    this.touch(r.id);
    await p;
    await store.whenDurable(r.id);
    return r;
  }

  get(id: string): ImageCacheRecord {
    const r = this.d.store.imageCaches.get(id);
    if (r === undefined) throw cloudErrors.imageCacheNotFound(id);
    return r;
  }

  async delete(id: string): Promise<void> {
    this.get(id);
    this.d.cancel(id);
    await this.d.store.deleteCache(id);
  }

  /** On demand: forces a status. */
  async drive(id: string, status: ImageCacheStatus): Promise<ImageCacheRecord> {
    const r = this.get(id);
    this.setStatus(r, status, this.d.now());
    await this.d.store.putCache(r);
    this.touch(id);
    return r;
  }

  private setStatus(r: ImageCacheRecord, status: ImageCacheStatus, at: number): void {
    r.status = status;
    r.statusSince = at;
    r.progress = PROGRESS[status] ?? r.progress;
    if (status === 'Ready') r.snapshotId ??= newId('s');
    r.events.push({
      name: `${r.id}.${(r.events.length + 1).toString(16).padStart(16, '0')}`,
      type: status === 'Failed' ? 'Warning' : 'Normal',
      reason: status === 'Ready' ? 'Created' : status,
      message: MESSAGES[status](r),
      count: 1,
      first: at,
      last: at,
    });
  }

  /** Moves a cache forward to now and schedules its next step. */
  touch(id: string): void {
    const r = this.d.store.imageCaches.get(id);
    if (r === undefined) return;
    const half = r.createdAt + this.d.readyMs / 2;
    const ready = r.createdAt + this.d.readyMs;
    const now = this.d.now();
    let changed = false;
    if (r.status === 'Preparing' && now >= half) {
      this.setStatus(r, 'Creating', half);
      changed = true;
    }
    if (r.status === 'Creating' && now >= ready) {
      this.setStatus(r, 'Ready', ready);
      changed = true;
    }
    if (changed) this.d.persist(this.d.store.putCache(r));
    const next = r.status === 'Preparing' ? half : r.status === 'Creating' ? ready : undefined;
    if (next === undefined) this.d.cancel(id);
    else this.d.schedule(id, next);
  }
}
