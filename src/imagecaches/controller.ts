import type { DescribeImageCachesResponseBodyImageCaches as CloudCache } from '@alicloud/eci20180808';
import { CustomObjectsApi, type V1Secret } from '@kubernetes/client-node';
import { httpStatus, isNotFound, mergePatch, type KubeClients } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { listAllPages, runWatchLoop } from '../kube/watch.ts';
import { WorkQueue } from '../pods/work-queue.ts';
import type { EciClient } from '../providers/eci/eci-client.ts';
import { EciApiError } from '../providers/eci/eci-errors.ts';
import { tagValue } from '../providers/eci/mapping/tags.ts';
import type { Clock } from '../util/clock.ts';
import { describeError, ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { decide, statusChanged, statusFor, type Action } from './reconcile.ts';
import { buildCreateRequest, IMC_TAGS, specHash, tagOf, type CachePlacement } from './request.ts';
import {
  API_VERSION,
  FINALIZER,
  GROUP,
  isDeleting,
  KIND,
  parseSpec,
  PLURAL,
  VERSION,
  type ImageCacheObject,
  type ImageCacheSpec,
  type ImageCacheStatus,
} from './resource.ts';

export interface ImageCacheControllerOptions {
  kube: Pick<KubeClients, 'api' | 'core' | 'openWatch' | 'watchStats'>;
  eci: Pick<EciClient, 'createImageCache' | 'describeImageCaches' | 'deleteImageCache'>;
  events: Pick<EventRecorder, 'post'>;
  clusterId: string;
  /** Where caches are built when the resource names no vSwitch or security group: the live placement. */
  placement: () => CachePlacement;
  clock: Clock;
  log: Logger;
  /**
   * Poll periods: while a cache builds or a resource waits for one; when all are settled (expiry and
   * caches deleted elsewhere show within it); with no ImageCache at all (orphans only).
   */
  pollMs?: { busy: number; idle: number; empty: number };
}

const BUILDING = new Set(['Preparing', 'Creating', 'Updating']);

/**
 * Reconciles ImageCache resources against ECI's image caches (Create/Describe/DeleteImageCache).
 * Resources come from a watch; caches from one tag-filtered DescribeImageCaches of this cluster per
 * poll, fast while something builds and slow at rest, so the cost follows what changes. Each cache's
 * events become Kubernetes Events of its resource. See reconcile.ts for the decisions.
 */
export class ImageCacheController {
  readonly #o: ImageCacheControllerOptions;
  readonly #resources = new Map<string, ImageCacheObject>();
  /** Resource UID → its caches as last described; and a signature of them, to notice changes. */
  readonly #caches = new Map<string, CloudCache[]>();
  readonly #signatures = new Map<string, string>();
  /** Cloud events already turned into Kubernetes Events: cache ID → event name → count. */
  readonly #emitted = new Map<string, Map<string, number>>();
  readonly #queue: WorkQueue;
  readonly #custom: CustomObjectsApi;
  #synced = false;
  #polled = false;
  #kick: (() => void) | undefined;

  constructor(o: ImageCacheControllerOptions) {
    this.#o = o;
    this.#custom = o.kube.api(CustomObjectsApi);
    this.#queue = new WorkQueue({ clock: o.clock, concurrency: 4, retryBaseMs: 1000, retryMaxMs: 60_000 });
  }

  /** Runs until `signal` aborts. Without the CRD installed it waits for it, quietly. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.#watch(signal),
      this.#pollLoop(signal),
      this.#queue.run((name) => this.#reconcile(name, signal), signal),
    ]);
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    while (!signal.aborted) {
      try {
        await runWatchLoop<ImageCacheObject>(
          {
            kube: this.#o.kube,
            path,
            clock: this.#o.clock,
            log: this.#o.log,
            list: () =>
              listAllPages(
                (page) =>
                  this.#custom.listClusterCustomObject({
                    group: GROUP,
                    version: VERSION,
                    plural: PLURAL,
                    ...page,
                  }) as Promise<{
                    items: ImageCacheObject[];
                    metadata?: { _continue?: string; resourceVersion?: string };
                  }>,
              ),
            onSync: (items) => {
              const names = new Set(items.map((i) => i.metadata.name ?? ''));
              for (const name of this.#resources.keys()) if (!names.has(name)) this.#resources.delete(name);
            },
            onListed: () => {
              this.#synced = true;
              for (const name of this.#resources.keys()) this.#queue.add(name);
            },
            onEvent: (type, obj) => {
              const name = obj.metadata.name ?? '';
              const first = this.#resources.size === 0;
              if (type === 'DELETED') this.#resources.delete(name);
              else this.#resources.set(name, obj);
              this.#queue.add(name);
              // The first resource ends a long sleep of the empty cluster's poll.
              if (first && type !== 'DELETED') this.#kick?.();
            },
          },
          signal,
        );
        return;
      } catch (err) {
        if (signal.aborted) return;
        // 404: the CRD is not installed (yet). Look again in a minute; anything else sooner.
        const missing = httpStatus(err) === 404;
        if (missing) this.#o.log.info('ImageCache CRD not installed; image caches are off until it is');
        else this.#o.log.warn({ err: describeError(err) }, 'ImageCache watch failed; retrying');
        await this.#o.clock.sleep(missing ? 60_000 : 5_000, signal).catch(() => undefined);
      }
    }
  }

  /** Whether anything is building or waiting for a cache: poll fast then. */
  #busy(): boolean {
    for (const caches of this.#caches.values())
      if (caches.some((c) => BUILDING.has(c.status ?? ''))) return true;
    for (const r of this.#resources.values()) {
      const st = r.status ?? {};
      if (!st.imageCacheId || st.observedGeneration !== r.metadata.generation || BUILDING.has(st.phase ?? ''))
        if (st.phase !== 'Failed' && st.phase !== 'Expired') return true;
    }
    return false;
  }

  async #pollLoop(signal: AbortSignal): Promise<void> {
    const { busy, idle, empty } = this.#o.pollMs ?? { busy: 1000, idle: 10_000, empty: 300_000 };
    while (!signal.aborted) {
      if (this.#synced) {
        try {
          await this.#poll(signal);
        } catch (err) {
          if (signal.aborted) return;
          this.#o.log.warn({ err: describeError(err) }, 'DescribeImageCaches failed; will retry');
        }
      }
      const wait = !this.#synced
        ? 200
        : this.#busy()
          ? busy
          : this.#resources.size > 0 || this.#caches.size > 0
            ? idle
            : empty;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.#kick = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, wait);
        this.#kick = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Every cache of this cluster, grouped by resource; changed ones queue their resource. */
  async #poll(signal: AbortSignal): Promise<void> {
    const all = await this.#o.eci.describeImageCaches(
      { tags: { [IMC_TAGS.CLUSTER_ID]: tagValue(this.#o.clusterId) } },
      signal,
    );
    const byUid = new Map<string, CloudCache[]>();
    for (const c of all) {
      const uid = tagOf(c, IMC_TAGS.UID);
      if (!uid) continue;
      byUid.set(uid, [...(byUid.get(uid) ?? []), c]);
    }
    const nameByUid = new Map(
      [...this.#resources.values()].map((r) => [r.metadata.uid ?? '', r.metadata.name ?? '']),
    );
    for (const uid of new Set([...byUid.keys(), ...this.#caches.keys()])) {
      const caches = byUid.get(uid) ?? [];
      const signature = JSON.stringify(
        caches.map((c) => [c.imageCacheId, c.status, c.progress, c.events?.length, c.expireDateTime]),
      );
      const name = nameByUid.get(uid);
      if (caches.length === 0) this.#caches.delete(uid);
      else this.#caches.set(uid, caches);
      if (this.#signatures.get(uid) === signature) continue;
      this.#signatures.set(uid, signature);
      if (name !== undefined) this.#queue.add(name);
      else if (caches.length > 0) await this.#deleteOrphans(uid, caches, signal);
    }
    // A resource whose caches vanished from the cloud (expired and forgotten, or deleted by hand) is
    // looked at again too: nameByUid covers those through #caches above.
    this.#polled = true;
  }

  /** Caches of this cluster whose resource no longer exists (deleted while no controller ran). */
  async #deleteOrphans(uid: string, caches: CloudCache[], signal: AbortSignal): Promise<void> {
    for (const c of caches) {
      if (!c.imageCacheId) continue;
      this.#o.log.info(
        { imageCache: c.imageCacheId, resourceUid: uid },
        'deleting an image cache whose ImageCache is gone',
      );
      await this.#o.eci.deleteImageCache(c.imageCacheId, signal);
    }
    this.#caches.delete(uid);
    this.#signatures.delete(uid);
  }

  #event(ic: ImageCacheObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#o.events.post(
      {
        kind: KIND,
        namespace: '',
        name: ic.metadata.name ?? '',
        uid: ic.metadata.uid,
        apiVersion: API_VERSION,
      },
      type,
      reason,
      message,
    );
  }

  async #reconcile(name: string, signal: AbortSignal): Promise<void> {
    const ic = this.#resources.get(name);
    // Before the first poll the caches are unknown: deciding now could create a second one.
    if (!ic || !this.#polled) {
      if (ic) this.#queue.addAfter(name, 200);
      else this.#queue.forget(name);
      return;
    }
    try {
      const again = await this.#step(ic, signal);
      if (again) this.#queue.add(name);
      else this.#queue.forget(name);
    } catch (err) {
      if (signal.aborted) return;
      const ms = this.#queue.retry(name);
      this.#o.log.warn(
        { imageCache: name, err: describeError(err), retryInMs: ms },
        'ImageCache reconcile failed',
      );
    }
  }

  /** One pass; true when the resource should be looked at again at once (it changed under us). */
  async #step(ic: ImageCacheObject, signal: AbortSignal): Promise<boolean> {
    const uid = ic.metadata.uid ?? '';
    const caches = this.#caches.get(uid) ?? [];
    const spec = parseSpec(ic);
    const now = this.#o.clock.now();
    if (!spec.ok && !isDeleting(ic)) {
      // The schema catches most of this; what it cannot express (e.g. blank image names) lands here.
      const status: ImageCacheStatus = {
        ...ic.status,
        phase: 'Failed',
        observedGeneration: ic.metadata.generation,
      };
      if (await this.#writeStatus(ic, status, signal)) this.#event(ic, 'Warning', 'InvalidSpec', spec.why);
      return false;
    }
    const hash = spec.ok ? specHash(ic, spec.spec) : '';
    for (const action of decide(ic, caches, hash, now)) {
      switch (action.kind) {
        case 'add-finalizer':
        case 'remove-finalizer':
          await this.#setFinalizer(ic, action.kind === 'add-finalizer', signal);
          return false; // the watch brings the changed resource back
        case 'create':
          if (spec.ok) await this.#create(ic, spec.spec, signal);
          break;
        case 'delete':
          await this.#delete(ic, action, signal);
          // Deleting changes nothing the watch sees: look again now (to let go of the finalizer).
          return true;
        case 'status': {
          const cache = caches.find((c) => c.imageCacheId === action.status.imageCacheId);
          if (cache) this.#forwardEvents(ic, cache);
          await this.#writeStatus(ic, action.status, signal);
          break;
        }
      }
    }
    return false;
  }

  async #setFinalizer(ic: ImageCacheObject, add: boolean, signal: AbortSignal): Promise<void> {
    const others = (ic.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    signal.throwIfAborted();
    try {
      await this.#custom.patchClusterCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name: ic.metadata.name ?? '',
          // The resourceVersion makes the list replacement conditional: a concurrent change is not lost.
          body: {
            metadata: {
              finalizers: add ? [...others, FINALIZER] : others,
              resourceVersion: ic.metadata.resourceVersion,
            },
          },
        },
        mergePatch,
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async #readSecret(ref: string): Promise<V1Secret | undefined> {
    const [namespace, name] = ref.split(':');
    try {
      return await this.#o.kube.core.readNamespacedSecret({ namespace: namespace!, name: name! });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (httpStatus(err) === 403)
        throw new ProductError(
          ErrorCodes.KUBE_API,
          `Secret ${namespace}/${name} (spec.imagePullSecrets) cannot be read: the controller's RBAC does not ` +
            'grant get on Secrets (an administrator grants it with deploy/templates/imagecache-pull-secrets-rbac.yaml.example)',
          { cause: err },
        );
      throw err;
    }
  }

  async #create(ic: ImageCacheObject, spec: ImageCacheSpec, signal: AbortSignal): Promise<void> {
    const secrets = new Map<string, V1Secret | undefined>();
    try {
      for (const ref of spec.imagePullSecrets) secrets.set(ref, await this.#readSecret(ref));
    } catch (err) {
      if (err instanceof ProductError) this.#event(ic, 'Warning', 'SecretNotReadable', err.message);
      throw err;
    }
    const built = buildCreateRequest(ic, spec, {
      clusterId: this.#o.clusterId,
      placement: this.#o.placement(),
      secrets,
    });
    const generation = ic.metadata.generation;
    if (!built.ok) {
      if (built.permanent) {
        if (
          await this.#writeStatus(
            ic,
            { ...ic.status, phase: 'Failed', observedGeneration: generation },
            signal,
          )
        )
          this.#event(ic, 'Warning', 'InvalidImageCache', built.why);
        return;
      }
      this.#event(ic, 'Warning', 'SecretNotFound', built.why);
      throw new Error(built.why);
    }
    for (const w of built.warnings) this.#event(ic, 'Warning', 'PullSecretUnusable', w);
    let id: string;
    try {
      id = await this.#o.eci.createImageCache(built.request, signal);
    } catch (err) {
      if (!(err instanceof EciApiError)) throw err;
      const message = `CreateImageCache: ${err.cloudCode}: ${err.message}`;
      if (err.kind === 'stock' || err.retryable) {
        this.#event(ic, 'Warning', err.kind === 'stock' ? 'NoStock' : 'CreateFailed', message);
        throw err;
      }
      // The cloud refuses this cache as specified (a parameter, a quota): a fix of the resource is needed.
      if (
        await this.#writeStatus(ic, { ...ic.status, phase: 'Failed', observedGeneration: generation }, signal)
      )
        this.#event(ic, 'Warning', 'CreateFailed', message);
      return;
    }
    const [described] = await this.#o.eci.describeImageCaches({ imageCacheId: id }, signal);
    const cache =
      described ??
      ({ imageCacheId: id, status: 'Preparing', progress: '0%', tags: [] } as unknown as CloudCache);
    const uid = ic.metadata.uid ?? '';
    this.#caches.set(uid, [...(this.#caches.get(uid) ?? []).filter((c) => c.imageCacheId !== id), cache]);
    const images = spec.images.join(', ');
    const replacing =
      ic.status?.imageCacheId && ic.status.observedGeneration !== generation
        ? `; ${ic.status.imageCacheId} serves until it is Ready`
        : '';
    this.#event(
      ic,
      'Normal',
      'Creating',
      `creating image cache ${id} of ${images} (${spec.imageCacheSize} GiB${spec.retentionDays ? `, kept ${spec.retentionDays} days` : ''})${replacing}`,
    );
    this.#forwardEvents(ic, cache);
    await this.#writeStatus(ic, statusFor(cache, generation), signal);
    this.#kick?.();
  }

  async #delete(
    ic: ImageCacheObject,
    action: Extract<Action, { kind: 'delete' }>,
    signal: AbortSignal,
  ): Promise<void> {
    const uid = ic.metadata.uid ?? '';
    for (const id of action.ids) {
      await this.#o.eci.deleteImageCache(id, signal);
      this.#caches.set(
        uid,
        (this.#caches.get(uid) ?? []).filter((c) => c.imageCacheId !== id),
      );
      this.#emitted.delete(id);
      this.#event(
        ic,
        'Normal',
        action.why === 'deleting' ? 'Deleted' : 'Replaced',
        action.why === 'deleting'
          ? `deleted image cache ${id}`
          : `deleted image cache ${id}, built from an earlier spec: ${ic.status?.imageCacheId ?? 'the new cache'} is Ready`,
      );
    }
    if ((this.#caches.get(uid) ?? []).length === 0) this.#caches.delete(uid);
  }

  /** The cache's events not yet reported, as Events of the resource. */
  #forwardEvents(ic: ImageCacheObject, c: CloudCache): void {
    const id = c.imageCacheId ?? '';
    let seen = this.#emitted.get(id);
    if (!seen) this.#emitted.set(id, (seen = new Map()));
    for (const e of c.events ?? []) {
      const key = e.name ?? `${e.reason}/${e.firstTimestamp}`;
      const count = e.count ?? 1;
      if ((seen.get(key) ?? 0) >= count) continue;
      seen.set(key, count);
      this.#event(
        ic,
        e.type === 'Warning' ? 'Warning' : 'Normal',
        e.reason ?? 'ImageCache',
        `${id}: ${e.message ?? ''}`,
      );
    }
  }

  /** Writes the status when it changed; true when it wrote. */
  async #writeStatus(ic: ImageCacheObject, status: ImageCacheStatus, signal: AbortSignal): Promise<boolean> {
    if (!statusChanged(ic.status, status)) return false;
    signal.throwIfAborted();
    const next = {
      ...status,
      lastUpdatedTime: new Date(this.#o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    try {
      await this.#custom.patchClusterCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          name: ic.metadata.name ?? '',
          body: { status: next },
        },
        mergePatch,
      );
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    // Until the watch brings the written object back, decide from what was written.
    ic.status = next;
    return true;
  }
}
