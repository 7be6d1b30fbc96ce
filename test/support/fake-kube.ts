import { PassThrough } from 'node:stream';
import { randomUUID } from 'node:crypto';
import {
  ApiException,
  type CoreV1Event,
  type V1ConfigMap,
  type V1Lease,
  type V1Node,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import type { KubeClients } from '../../src/kube/client.ts';
import { WatchStats } from '../../src/kube/watch-stats.ts';

/**
 * An in-memory API server for the typed client methods the controllers call, for unit tests. It
 * keeps what the controllers rely on: a resourceVersion bumped on every write, 404 and 409 answers
 * as the API server gives them (create of an existing name, a stale resourceVersion on replace or
 * patch, a UID precondition that does not match), watches that replay from a resourceVersion and
 * then stream, field selectors on name and spec.nodeName, a pod bound to a node that is only marked
 * for deletion until its node deletes it with grace 0, and the Lease going with its owning Node.
 *
 * Everything else (admission, validation, defaulting) is out of scope: a test that needs it is an
 * end-to-end test against the real control plane.
 */

type Kind = 'pods' | 'nodes' | 'leases' | 'configmaps' | 'secrets' | 'events';
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface Obj {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: Date;
    ownerReferences?: { uid?: string }[];
  };
  spec?: unknown;
}
interface Change {
  rv: number;
  kind: Kind;
  type: EventType;
  obj: Obj;
}
interface Watcher {
  kind: Kind;
  namespace?: string;
  field?: [string, string];
  stream: PassThrough;
}

/** The failure an API server call answers with; `code` is what isNotFound / isConflict read. */
export function apiError(code: number, message: string): ApiException<unknown> {
  const reason = { 404: 'NotFound', 409: code === 409 ? 'Conflict' : '', 500: 'InternalError' }[code] ?? '';
  return new ApiException(code, message, { kind: 'Status', code, reason, message }, {});
}

const clone = <T>(x: T): T => structuredClone(x);

export class FakeKube {
  readonly #store = new Map<Kind, Map<string, Obj>>(
    (['pods', 'nodes', 'leases', 'configmaps', 'secrets', 'events'] as Kind[]).map((k) => [k, new Map()]),
  );
  readonly #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  #rv = 100;
  #compactedAt = 0;
  /** Every call, as `method name` (e.g. `patchNamespacedPodStatus shop/web-0`), in order. */
  readonly calls: string[] = [];
  /** Failures to answer with, by method, before doing anything; each is used once. */
  readonly #failures = new Map<string, unknown[]>();
  readonly watchStats = new WatchStats();
  readonly #now: () => number;

  /** `now` stamps creation and deletion times (the test's fake clock). */
  constructor(o: { now?: () => number } = {}) {
    this.#now = o.now ?? Date.now;
  }

  /** Makes the next call of `method` fail with `err` (in addition to any already queued). */
  failNext(method: string, err: unknown = apiError(500, `${method}: injected failure`)): void {
    const list = this.#failures.get(method) ?? [];
    list.push(err);
    this.#failures.set(method, list);
  }

  /** Calls of `method` so far. */
  count(method: string): number {
    return this.calls.filter((c) => c === method || c.startsWith(`${method} `)).length;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  // --- What a test (or another cluster actor) does to the cluster -------------------------------

  get<T extends Obj>(kind: Kind, key: string): T | undefined {
    const o = this.#store.get(kind)!.get(key);
    return o ? (clone(o) as T) : undefined;
  }

  list<T extends Obj>(kind: Kind): T[] {
    return [...this.#store.get(kind)!.values()].map((o) => clone(o) as T);
  }

  /** Adds an object as a client would create it: uid, resourceVersion, creationTimestamp set. */
  put<T extends Obj>(kind: Kind, obj: T): T {
    const key = keyOf(obj);
    const existing = this.#store.get(kind)!.get(key);
    const o = clone(obj) as Obj & { metadata: NonNullable<Obj['metadata']> };
    o.metadata = { ...o.metadata };
    if (existing) {
      o.metadata.uid = existing.metadata?.uid;
    } else {
      o.metadata.uid ??= randomUUID();
      (o.metadata as { creationTimestamp?: Date }).creationTimestamp ??= new Date(this.#now());
    }
    return this.#write(kind, o, existing ? 'MODIFIED' : 'ADDED') as T;
  }

  /**
   * Deletes as a user's `kubectl delete` does: a pod bound to a node only gets its deletionTimestamp
   * (the node removes it once its instance is gone); anything else goes at once.
   */
  delete(kind: Kind, key: string): void {
    const o = this.#store.get(kind)!.get(key);
    if (!o) throw apiError(404, `${kind} "${key}" not found`);
    if (kind === 'pods' && (o.spec as V1Pod['spec'])?.nodeName) {
      const marked = clone(o);
      marked.metadata!.deletionTimestamp = new Date(this.#now());
      (marked.metadata as { deletionGracePeriodSeconds?: number }).deletionGracePeriodSeconds = 30;
      this.#write(kind, marked, 'MODIFIED');
      return;
    }
    this.#remove(kind, key);
  }

  /** Ends every open watch as the API server does at its timeout; clients resume from their last RV. */
  closeWatches(): void {
    for (const w of this.#watchers) w.stream.end();
    this.#watchers.clear();
  }

  /**
   * Forgets the change history up to now, as etcd compaction does: a watch from an older
   * resourceVersion is answered 410 Gone, and only a relist can go on.
   */
  compact(): void {
    this.#compactedAt = this.#rv;
    this.#history.length = 0;
  }

  // --- The typed clients --------------------------------------------------------------------------

  readonly core = {
    listPodForAllNamespaces: async (a: { fieldSelector?: string; limit?: number; _continue?: string }) => {
      this.#call('listPodForAllNamespaces');
      const field = parseField(a.fieldSelector);
      return this.#listOf<V1Pod>('pods', undefined, field);
    },
    patchNamespacedPodStatus: async (a: {
      name: string;
      namespace: string;
      body: { metadata?: { uid?: string }; status?: object };
    }) => {
      this.#call('patchNamespacedPodStatus', `${a.namespace}/${a.name}`);
      const o = this.#must<V1Pod>('pods', `${a.namespace}/${a.name}`);
      if (a.body.metadata?.uid && a.body.metadata.uid !== o.metadata?.uid) {
        throw apiError(409, `Precondition failed: UID in precondition: ${a.body.metadata.uid}`);
      }
      o.status = mergePatch(o.status ?? {}, a.body.status ?? {}) as V1Pod['status'];
      return this.#write('pods', o, 'MODIFIED') as V1Pod;
    },
    deleteNamespacedPod: async (a: {
      name: string;
      namespace: string;
      gracePeriodSeconds?: number;
      body?: { gracePeriodSeconds?: number; preconditions?: { uid?: string } };
    }) => {
      this.#call('deleteNamespacedPod', `${a.namespace}/${a.name}`);
      const key = `${a.namespace}/${a.name}`;
      const o = this.#must<V1Pod>('pods', key);
      const uid = a.body?.preconditions?.uid;
      if (uid && uid !== o.metadata?.uid)
        throw apiError(409, `Precondition failed: UID in precondition: ${uid}`);
      if ((a.gracePeriodSeconds ?? a.body?.gracePeriodSeconds) !== 0) {
        throw new Error('the fake only models the node deleting its pod with grace 0');
      }
      this.#remove('pods', key);
      return o;
    },
    readNode: async (a: { name: string }) => {
      this.#call('readNode', a.name);
      return this.#must<V1Node>('nodes', a.name);
    },
    listNode: async (a: { fieldSelector?: string }) => {
      this.#call('listNode');
      return this.#listOf<V1Node>('nodes', undefined, parseField(a.fieldSelector));
    },
    createNode: async (a: { body: V1Node }) => {
      this.#call('createNode', a.body.metadata?.name ?? '');
      return this.#create<V1Node>('nodes', a.body);
    },
    patchNode: async (a: { name: string; body: { metadata?: V1Node['metadata']; spec?: object } }) => {
      this.#call('patchNode', a.name);
      const o = this.#must<V1Node>('nodes', a.name);
      const rv = a.body.metadata?.resourceVersion;
      if (rv && rv !== o.metadata?.resourceVersion) {
        throw apiError(
          409,
          `Operation cannot be fulfilled on nodes "${a.name}": the object has been modified`,
        );
      }
      const { resourceVersion: _, ...meta } = a.body.metadata ?? {};
      const patched = strategicMerge(o, { metadata: meta, ...(a.body.spec ? { spec: a.body.spec } : {}) });
      return this.#write('nodes', patched as Obj, 'MODIFIED') as V1Node;
    },
    patchNodeStatus: async (a: { name: string; body: { status?: object } }) => {
      this.#call('patchNodeStatus', a.name);
      const o = this.#must<V1Node>('nodes', a.name);
      const patched = strategicMerge(o, { status: a.body.status ?? {} });
      return this.#write('nodes', patched as Obj, 'MODIFIED') as V1Node;
    },
    readNamespacedConfigMap: async (a: { name: string; namespace: string }) => {
      this.#call('readNamespacedConfigMap', `${a.namespace}/${a.name}`);
      return this.#must<V1ConfigMap>('configmaps', `${a.namespace}/${a.name}`);
    },
    listNamespacedConfigMap: async (a: { namespace: string; fieldSelector?: string }) => {
      this.#call('listNamespacedConfigMap', a.namespace);
      return this.#listOf<V1ConfigMap>('configmaps', a.namespace, parseField(a.fieldSelector));
    },
    readNamespacedSecret: async (a: { name: string; namespace: string }) => {
      this.#call('readNamespacedSecret', `${a.namespace}/${a.name}`);
      return this.#must<V1Secret>('secrets', `${a.namespace}/${a.name}`);
    },
    listNamespacedSecret: async (a: { namespace: string; fieldSelector?: string }) => {
      this.#call('listNamespacedSecret', a.namespace);
      return this.#listOf<V1Secret>('secrets', a.namespace, parseField(a.fieldSelector));
    },
    createNamespacedEvent: async (a: { namespace: string; body: CoreV1Event }) => {
      this.#call('createNamespacedEvent', `${a.namespace}/${a.body.reason}`);
      return this.#create<CoreV1Event>('events', {
        ...a.body,
        metadata: { ...a.body.metadata, namespace: a.namespace },
      });
    },
    patchNamespacedEvent: async (a: { name: string; namespace: string; body: object }) => {
      this.#call('patchNamespacedEvent', `${a.namespace}/${a.name}`);
      const o = this.#must<CoreV1Event>('events', `${a.namespace}/${a.name}`);
      return this.#write('events', mergePatch(o, a.body) as Obj, 'MODIFIED') as CoreV1Event;
    },
  };

  readonly coordination = {
    readNamespacedLease: async (a: { name: string; namespace: string }) => {
      this.#call('readNamespacedLease', `${a.namespace}/${a.name}`);
      return this.#must<V1Lease>('leases', `${a.namespace}/${a.name}`);
    },
    createNamespacedLease: async (a: { namespace: string; body: V1Lease }) => {
      this.#call('createNamespacedLease', `${a.namespace}/${a.body.metadata?.name}`);
      return this.#create<V1Lease>('leases', {
        ...a.body,
        metadata: { ...a.body.metadata, namespace: a.namespace },
      });
    },
    replaceNamespacedLease: async (a: { name: string; namespace: string; body: V1Lease }) => {
      this.#call('replaceNamespacedLease', `${a.namespace}/${a.name}`);
      const o = this.#must<V1Lease>('leases', `${a.namespace}/${a.name}`);
      const rv = a.body.metadata?.resourceVersion;
      // A replace must carry the resourceVersion it read: optimistic concurrency, as the API server does.
      if (rv !== o.metadata?.resourceVersion) {
        throw apiError(
          409,
          `Operation cannot be fulfilled on leases "${a.name}": the object has been modified`,
        );
      }
      const next = clone(a.body);
      next.metadata = { ...next.metadata, uid: o.metadata?.uid, namespace: a.namespace };
      return this.#write('leases', next as Obj, 'MODIFIED') as V1Lease;
    },
  };

  /** The fake as the controllers take it (only the members they call exist). */
  get clients(): KubeClients {
    return {
      core: this.core,
      coordination: this.coordination,
      watchStats: this.watchStats,
      openWatch: (path: string, o: { signal: AbortSignal }) => this.#openWatch(path, o.signal),
      requests: new Map(),
    } as unknown as KubeClients;
  }

  // --- Internals ----------------------------------------------------------------------------------

  #call(method: string, what?: string): void {
    this.calls.push(what === undefined ? method : `${method} ${what}`);
    const queued = this.#failures.get(method);
    if (queued && queued.length > 0) throw queued.shift();
  }

  #must<T>(kind: Kind, key: string): T {
    const o = this.#store.get(kind)!.get(key);
    if (!o) throw apiError(404, `${kind} "${key}" not found`);
    return clone(o) as T;
  }

  #create<T>(kind: Kind, obj: Obj): T {
    const key = keyOf(obj);
    if (this.#store.get(kind)!.has(key)) throw apiError(409, `${kind} "${key}" already exists`);
    const o = clone(obj);
    o.metadata = { ...o.metadata, uid: randomUUID() };
    (o.metadata as { creationTimestamp?: Date }).creationTimestamp = new Date(this.#now());
    return this.#write(kind, o, 'ADDED') as T;
  }

  #write(kind: Kind, obj: Obj, type: EventType): Obj {
    obj.metadata = { ...obj.metadata, resourceVersion: String(++this.#rv) };
    this.#store.get(kind)!.set(keyOf(obj), clone(obj));
    this.#emit({ rv: this.#rv, kind, type, obj: clone(obj) });
    return clone(obj);
  }

  #remove(kind: Kind, key: string): void {
    const o = this.#store.get(kind)!.get(key)!;
    this.#store.get(kind)!.delete(key);
    const gone = clone(o);
    gone.metadata = { ...gone.metadata, resourceVersion: String(++this.#rv) };
    this.#emit({ rv: this.#rv, kind, type: 'DELETED', obj: gone });
    // The garbage collector: objects owned by what went (the node's Lease) go with it.
    for (const k of this.#store.keys()) {
      for (const [ownedKey, owned] of this.#store.get(k)!) {
        if (owned.metadata?.ownerReferences?.some((r) => r.uid && r.uid === o.metadata?.uid)) {
          this.#remove(k, ownedKey);
        }
      }
    }
  }

  #listOf<T>(kind: Kind, namespace: string | undefined, field: [string, string] | undefined) {
    const items = [...this.#store.get(kind)!.values()]
      .filter((o) => matches({ kind, namespace, field, stream: undefined as never }, o))
      .map((o) => clone(o) as T);
    return { items, metadata: { resourceVersion: String(this.#rv) } };
  }

  #emit(change: Change): void {
    this.#history.push(change);
    for (const w of this.#watchers) {
      if (w.kind === change.kind && matches(w, change.obj)) {
        w.stream.write(`${JSON.stringify({ type: change.type, object: change.obj })}\n`);
      }
    }
  }

  async #openWatch(pathAndQuery: string, signal: AbortSignal) {
    this.calls.push(`watch ${pathAndQuery.split('?')[0]}`);
    const url = new URL(pathAndQuery, 'http://fake');
    const parts = url.pathname.split('/').filter(Boolean); // api v1 [namespaces ns] kind
    const kind = parts[parts.length - 1] as Kind;
    const namespace = parts[2] === 'namespaces' ? parts[3] : undefined;
    const w: Watcher = {
      kind,
      namespace,
      field: parseField(url.searchParams.get('fieldSelector') ?? undefined),
      stream: new PassThrough(),
    };
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.#compactedAt) {
      const status = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' };
      const body = Object.assign(new PassThrough(), { text: async () => JSON.stringify(status) });
      body.end();
      return { statusCode: 410, headers: {}, body };
    }
    for (const c of this.#history) {
      if (c.rv > from && c.kind === kind && matches(w, c.obj)) {
        w.stream.write(`${JSON.stringify({ type: c.type, object: c.obj })}\n`);
      }
    }
    this.#watchers.add(w);
    const close = () => {
      this.#watchers.delete(w);
      w.stream.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) close();
    else signal.addEventListener('abort', close, { once: true });
    const body = Object.assign(w.stream, { text: async () => '' });
    return { statusCode: 200, headers: {}, body };
  }
}

function keyOf(o: Obj): string {
  const m = o.metadata;
  return m?.namespace ? `${m.namespace}/${m.name}` : (m?.name ?? '');
}

function parseField(selector: string | undefined): [string, string] | undefined {
  if (!selector) return undefined;
  const [k, v] = selector.split('=');
  return [k ?? '', v ?? ''];
}

function matches(w: Watcher, o: Obj): boolean {
  if (w.namespace !== undefined && o.metadata?.namespace !== w.namespace) return false;
  if (!w.field) return true;
  const [k, v] = w.field;
  if (k === 'metadata.name') return o.metadata?.name === v;
  if (k === 'spec.nodeName') return (o.spec as { nodeName?: string } | undefined)?.nodeName === v;
  throw new Error(`the fake does not know field selector ${k}`);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The merge keys the API server uses for the Node lists it merges (taints it replaces whole). */
const MERGE_KEYS: Record<string, string> = { conditions: 'type', addresses: 'type' };

/** A strategic merge patch, as far as Node labels, taints, conditions and addresses need it. */
function strategicMerge(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const mk = MERGE_KEYS[field];
    if (!mk || !Array.isArray(target))
      return patch.filter((p) => (p as { $patch?: string }).$patch !== 'delete');
    const out = [...(target as Record<string, unknown>[])];
    for (const p of patch as Record<string, unknown>[]) {
      const i = out.findIndex((t) => t[mk] === p[mk]);
      if (p.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = strategicMerge(out[i], p) as Record<string, unknown>;
      else out.push(p);
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object' || patch instanceof Date) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = strategicMerge(out[k], v, k);
  }
  return out;
}
