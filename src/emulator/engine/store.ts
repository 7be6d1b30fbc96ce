import type { RegionConfig } from '../config.ts';
import type { Journal, JournalRecord } from './journal.ts';
import type { GroupRecord, ImageCacheRecord, Tag } from './model.ts';
import { IpPool, parseCidr } from '../network.ts';

/**
 * The emulator's state: container groups and image caches in memory, every change journaled. The
 * store owns the records and their indexes (ClientToken, creation order, pod IPs); callers change a
 * record and `put` it, then await the returned promise before they answer.
 */
export class Store {
  readonly groups = new Map<string, GroupRecord>();
  readonly imageCaches = new Map<string, ImageCacheRecord>();
  /** vSwitch id → its address pool. */
  readonly pools = new Map<string, IpPool>();
  readonly #groupTokens = new Map<string, string>();
  readonly #cacheTokens = new Map<string, string>();
  /** Addresses held by building image caches, by cache id. */
  readonly #cacheIps = new Map<string, { ip: string; vSwitchId: string }>();
  /** Live groups in creation order, for paging (kept exact: lists scan it on every request). */
  #ordered = new SeqList();
  /**
   * Groups by tag (`key\0value`) and by tag key (`key\u0001`), each in creation order: a list filtered
   * by tag starts from the smallest of these instead of touching every record.
   */
  readonly #byTag = new Map<string, SeqList>();
  /** The tags each group is indexed under (compared by reference to notice a re-tag). */
  readonly #indexedTags = new Map<string, readonly Tag[]>();
  #seq = 0;
  readonly #durable = new Map<string, Promise<void>>();
  journal: Journal | undefined;

  constructor(region: RegionConfig) {
    for (const v of region.vSwitches) this.pools.set(v.id, new IpPool(parseCidr(v.cidr)!));
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  /** Applies a journaled record while loading (no journaling, no durability tracking). */
  replay(rec: JournalRecord): void {
    switch (rec.t) {
      case 'group':
        this.#upsertGroup(rec.g);
        break;
      case 'del':
        this.#removeGroup(rec.id);
        break;
      case 'imc':
        this.#upsertCache(rec.r);
        break;
      case 'imc-del':
        this.#removeCache(rec.id);
        break;
      case 'reset':
        this.#clear();
        break;
    }
  }

  /** Called once loading is over: creation order is rebuilt from the records. */
  finishReplay(): void {
    this.#ordered = new SeqList([...this.groups.values()].sort((a, b) => a.seq - b.seq));
    this.#byTag.clear();
    this.#indexedTags.clear();
    for (const g of this.#ordered.items) this.#indexTags(g);
  }

  #tagKeys(tags: readonly Tag[]): Set<string> {
    const keys = new Set<string>();
    for (const t of tags) {
      keys.add(`${t.key}\u0000${t.value}`);
      keys.add(`${t.key}\u0001`);
    }
    return keys;
  }

  #indexTags(g: GroupRecord): void {
    for (const k of this.#tagKeys(g.tags)) {
      let list = this.#byTag.get(k);
      if (list === undefined) {
        list = new SeqList();
        this.#byTag.set(k, list);
      }
      list.insert(g);
    }
    this.#indexedTags.set(g.id, g.tags);
  }

  #unindexTags(g: GroupRecord): void {
    const tags = this.#indexedTags.get(g.id);
    if (tags === undefined) return;
    for (const k of this.#tagKeys(tags)) {
      const list = this.#byTag.get(k);
      if (list === undefined) continue;
      list.remove(g);
      if (list.items.length === 0) this.#byTag.delete(k);
    }
    this.#indexedTags.delete(g.id);
  }

  /** The state as journal records (for snapshots). */
  *records(): Iterable<JournalRecord> {
    for (const g of this.groups.values()) yield { t: 'group', g };
    for (const r of this.imageCaches.values()) yield { t: 'imc', r };
  }

  #write(key: string, rec: JournalRecord): Promise<void> {
    const p = this.journal === undefined ? Promise.resolve() : this.journal.append(rec);
    this.#durable.set(key, p);
    const forget = () => {
      if (this.#durable.get(key) === p) this.#durable.delete(key);
    };
    p.then(forget, forget);
    return p;
  }

  /** Resolves when the last journaled change of `id` is durable. */
  whenDurable(id: string): Promise<void> {
    return this.#durable.get(id) ?? Promise.resolve();
  }

  #upsertGroup(g: GroupRecord): void {
    const old = this.groups.get(g.id);
    if (old === undefined) {
      this.#ordered.insert(g);
      if (g.ip !== '') this.pools.get(g.vSwitchId)?.claim(g.ip);
      this.#indexTags(g);
    } else {
      if (old !== g) {
        this.#ordered.remove(old);
        this.#ordered.insert(g);
        if (old.ip !== g.ip) {
          this.pools.get(old.vSwitchId)?.release(old.ip);
          this.pools.get(g.vSwitchId)?.claim(g.ip);
        }
      }
      if (old !== g || this.#indexedTags.get(g.id) !== g.tags) {
        this.#unindexTags(old);
        this.#indexTags(g);
      }
    }
    if (g.clientToken !== undefined) this.#groupTokens.set(g.clientToken, g.id);
    this.groups.set(g.id, g);
    if (g.seq > this.#seq) this.#seq = g.seq;
  }

  #removeGroup(id: string): void {
    const g = this.groups.get(id);
    if (g === undefined) return;
    this.groups.delete(id);
    this.pools.get(g.vSwitchId)?.release(g.ip);
    if (g.clientToken !== undefined && this.#groupTokens.get(g.clientToken) === id)
      this.#groupTokens.delete(g.clientToken);
    this.#ordered.remove(g);
    this.#unindexTags(g);
  }

  #upsertCache(r: ImageCacheRecord): void {
    // A building cache's intermediate instance holds an address; the record is replaced as a whole, so
    // compare with what was claimed for it before (the previous record, or the ledger after a replay).
    const claimed = this.#cacheIps.get(r.id);
    if (claimed !== undefined && (claimed.ip !== r.ip || claimed.vSwitchId !== r.vSwitchId)) {
      this.pools.get(claimed.vSwitchId)?.release(claimed.ip);
      this.#cacheIps.delete(r.id);
    }
    if (r.ip !== undefined && r.vSwitchId !== undefined && !this.#cacheIps.has(r.id)) {
      this.pools.get(r.vSwitchId)?.claim(r.ip);
      this.#cacheIps.set(r.id, { ip: r.ip, vSwitchId: r.vSwitchId });
    }
    this.imageCaches.set(r.id, r);
    if (r.clientToken !== undefined) this.#cacheTokens.set(r.clientToken, r.id);
    if (r.seq > this.#seq) this.#seq = r.seq;
  }

  #removeCache(id: string): void {
    const r = this.imageCaches.get(id);
    if (r === undefined) return;
    this.imageCaches.delete(id);
    const claimed = this.#cacheIps.get(id);
    if (claimed !== undefined) this.pools.get(claimed.vSwitchId)?.release(claimed.ip);
    this.#cacheIps.delete(id);
    if (r.clientToken !== undefined && this.#cacheTokens.get(r.clientToken) === id)
      this.#cacheTokens.delete(r.clientToken);
  }

  #clear(): void {
    for (const id of [...this.groups.keys()]) this.#removeGroup(id);
    for (const id of [...this.imageCaches.keys()]) this.#removeCache(id);
    this.#cacheTokens.clear();
    this.#ordered = new SeqList();
    this.#byTag.clear();
    this.#indexedTags.clear();
  }

  /** Stores a new or changed group; the promise resolves when the change is durable. */
  putGroup(g: GroupRecord): Promise<void> {
    this.#upsertGroup(g);
    return this.#write(g.id, { t: 'group', g });
  }

  deleteGroup(id: string): Promise<void> {
    this.#removeGroup(id);
    return this.#write(id, { t: 'del', id });
  }

  putCache(r: ImageCacheRecord): Promise<void> {
    this.#upsertCache(r);
    return this.#write(r.id, { t: 'imc', r });
  }

  deleteCache(id: string): Promise<void> {
    this.#removeCache(id);
    return this.#write(id, { t: 'imc-del', id });
  }

  reset(): Promise<void> {
    this.#clear();
    return this.#write('\0reset', { t: 'reset' });
  }

  groupByToken(token: string): GroupRecord | undefined {
    const id = this.#groupTokens.get(token);
    return id === undefined ? undefined : this.groups.get(id);
  }

  cacheByToken(token: string): ImageCacheRecord | undefined {
    const id = this.#cacheTokens.get(token);
    return id === undefined ? undefined : this.imageCaches.get(id);
  }

  /** All groups in creation order (read-only view; do not keep it across changes). */
  groupsInOrder(): readonly GroupRecord[] {
    return this.#ordered.items;
  }

  /** Groups with the tag (any value when `value` is undefined), in creation order. */
  groupsWithTag(key: string, value: string | undefined): readonly GroupRecord[] {
    return this.#byTag.get(value === undefined ? `${key}\u0001` : `${key}\u0000${value}`)?.items ?? [];
  }

  /** Live groups per zone, plus image caches building there (stock accounting). */
  liveInZone(zoneId: string): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.zoneId === zoneId && isLive(g)) n++;
    for (const r of this.imageCaches.values()) if (r.zoneId === zoneId && isBuilding(r)) n++;
    return n;
  }
}

/** An image cache whose intermediate instance still exists. */
export function isBuilding(r: ImageCacheRecord): boolean {
  return r.status === 'Preparing' || r.status === 'Creating';
}

/** A group that holds capacity: anything not finished. */
export function isLive(g: GroupRecord): boolean {
  return (
    g.status !== 'Succeeded' &&
    g.status !== 'Failed' &&
    g.status !== 'Expired' &&
    g.status !== 'ScheduleFailed'
  );
}

/** Records sorted by creation number, with binary-search insert and remove. */
class SeqList {
  readonly items: GroupRecord[];

  constructor(items: GroupRecord[] = []) {
    this.items = items;
  }

  /** Index of the first record created after `seq`. */
  indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(g: GroupRecord): void {
    const last = this.items[this.items.length - 1];
    if (last === undefined || last.seq < g.seq) this.items.push(g);
    else this.items.splice(this.indexAfter(g.seq), 0, g);
  }

  remove(g: GroupRecord): void {
    const i = this.indexAfter(g.seq - 1);
    if (this.items[i] === g) this.items.splice(i, 1);
  }
}
