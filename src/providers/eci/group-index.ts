import type { DescribeContainerGroupsResponseBodyContainerGroups as Group } from '@alicloud/eci20180808';
import { identityFromTags, tagValue, type PodIdentity } from './mapping/index.ts';

export interface IndexedGroup {
  readonly id: string;
  readonly identity: PodIdentity;
  /** The last full description seen; a just-created group has only what create returned. */
  group: Group;
}

/**
 * The container groups this node owns, as last seen in ECI, by group ID, pod UID and pod key.
 * One owner (the provider) writes it; readers never call ECI to find a pod's group.
 */
export class GroupIndex {
  readonly #byId = new Map<string, IndexedGroup>();
  readonly #byUid = new Map<string, Set<string>>();
  readonly #byKey = new Map<string, Set<string>>();
  readonly #scope: { clusterId: string; nodeName: string };

  /** Only groups tagged with this cluster and node are ever indexed (and so ever touched). */
  constructor(scope: { clusterId: string; nodeName: string }) {
    this.#scope = scope;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Adds or refreshes a group; returns it, or undefined when it is not ours (tags missing or other). */
  upsert(group: Group): IndexedGroup | undefined {
    const id = group.containerGroupId;
    if (!id) return undefined;
    const existing = this.#byId.get(id);
    if (existing) {
      if (!group.tags) group.tags = existing.group.tags;
      existing.group = group;
      return existing;
    }
    const identity = identityFromTags(group.tags);
    // Tags hold values as tagValue stored them; compare like with like.
    const ours =
      identity?.clusterId === tagValue(this.#scope.clusterId) &&
      identity.nodeName === tagValue(this.#scope.nodeName);
    if (!identity || !ours) {
      return undefined;
    }
    const entry: IndexedGroup = { id, identity, group };
    this.#byId.set(id, entry);
    add(this.#byUid, identity.podUid, id);
    add(this.#byKey, `${identity.namespace}/${identity.podName}`, id);
    return entry;
  }

  remove(id: string): void {
    const entry = this.#byId.get(id);
    if (!entry) return;
    this.#byId.delete(id);
    del(this.#byUid, entry.identity.podUid, id);
    del(this.#byKey, `${entry.identity.namespace}/${entry.identity.podName}`, id);
  }

  get(id: string): IndexedGroup | undefined {
    return this.#byId.get(id);
  }

  /** Groups created for this pod UID (normally one; more only after a lost group was replaced). */
  forUid(uid: string): IndexedGroup[] {
    return [...(this.#byUid.get(uid) ?? [])].map((id) => this.#byId.get(id)!);
  }

  /** Groups created for any pod that had this namespace/name. */
  forKey(key: string): IndexedGroup[] {
    return [...(this.#byKey.get(key) ?? [])].map((id) => this.#byId.get(id)!);
  }

  all(): IterableIterator<IndexedGroup> {
    return this.#byId.values();
  }

  /** Replaces the whole index with a full listing; returns the entries that disappeared. */
  replaceAll(groups: Group[]): IndexedGroup[] {
    const seen = new Set<string>();
    for (const g of groups) {
      if (this.upsert(g) && g.containerGroupId) seen.add(g.containerGroupId);
    }
    const gone = [...this.#byId.values()].filter((e) => !seen.has(e.id));
    for (const e of gone) this.remove(e.id);
    return gone;
  }
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function del(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
