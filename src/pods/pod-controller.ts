import { isDeepStrictEqual } from 'node:util';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { isConflict, isNotFound, mergePatch, type KubeClients } from '../kube/client.ts';
import type { EventRecorder, EventTarget } from '../kube/events.ts';
import { PodInformer } from '../kube/pod-informer.ts';
import type { PodInputs, PodProvider } from '../providers/provider.ts';
import { Backoff, fullJitter } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { statusDiff } from './status-diff.ts';
import { WorkQueue } from './work-queue.ts';
import { PodTraces } from '../tracing/pod-traces.ts';

export interface PodControllerOptions {
  kube: KubeClients;
  provider: PodProvider;
  /** Resolves what the provider needs to create a pod's instance (refs, placement); see PodInputsResolver. */
  inputs: (pod: V1Pod) => Promise<PodInputs>;
  nodeName: string;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  /** Pods reconciled at once; ECI calls are latency-bound, so this is well above the core count. */
  concurrency?: number;
  /** Told when a pod's status first says Running: seconds since it was bound to the node. */
  onPodRunning?: (pod: V1Pod, seconds: number) => void;
  /** Spans of each pod's path; absent = no tracing. */
  traces?: PodTraces;
  /**
   * Asked right before every write to the API server (pod status, pod deletion): false means this
   * process may no longer write (leader election lost, or about to be), and the write is not sent.
   */
  mayWrite?: () => boolean;
  /** Names this writer in the debug log of each status write (the leader election identity). */
  writer?: string;
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

/**
 * Makes every pod bound to the node exist in the provider, and every provider instance have a pod:
 * creates, updates and deletes through the provider, writes pod status back (only when it changed),
 * and on start adopts what exists, removes orphans and repairs pods whose instance vanished.
 * One key is reconciled at a time per pod; all decisions come from the informer cache and the
 * provider's index, never from a list call per pod.
 */
export class PodController {
  readonly #o: Required<Omit<PodControllerOptions, 'mayWrite' | 'writer'>> &
    Pick<PodControllerOptions, 'mayWrite' | 'writer'>;
  readonly #queue: WorkQueue;
  readonly #informer: PodInformer;
  #started = false;
  #synced = false;
  /** Pods refused, by namespace/name: what the refusal judged (see refusalKey). */
  readonly #refused = new Map<string, string>();

  constructor(o: PodControllerOptions) {
    this.#o = {
      ...o,
      concurrency: o.concurrency ?? 32,
      onPodRunning: o.onPodRunning ?? (() => undefined),
      traces: o.traces ?? new PodTraces({ enabled: false, clock: o.clock }),
    };
    this.#queue = new WorkQueue({ clock: o.clock, concurrency: this.#o.concurrency });
    this.#informer = new PodInformer({
      kube: o.kube,
      nodeName: o.nodeName,
      clock: o.clock,
      log: o.log,
      onChange: (key, type, pod, old) => {
        if (type === 'MODIFIED' && old && onlyStatusChanged(old, pod)) return;
        this.#queue.add(key);
      },
    });
  }

  /** When the pod watch last showed it is alive (ms epoch), for liveness. */
  get podWatchActivityAt(): number {
    return this.#informer.lastActivityAt;
  }

  /** The work queue's figures, for the metrics. */
  queueStats(): ReturnType<WorkQueue['stats']> {
    return this.#queue.stats();
  }

  /** Pods bound to the node, as the informer holds them. */
  get podCount(): number {
    return this.#informer.size;
  }

  /** A pod bound to the node, from the informer's cache (no API call). */
  pod(namespace: string, name: string): V1Pod | undefined {
    return this.#informer.get(`${namespace}/${name}`);
  }

  /** Every pod bound to the node, from the informer's cache. */
  pods(): V1Pod[] {
    return [...this.#informer.values()];
  }

  /** True once the first full sync (pods and provider instances) is done and workers run. */
  get started(): boolean {
    return this.#started;
  }

  /** True once the caches (pods and provider instances) are loaded, leading or not. */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Loads and keeps current the caches (the pod informer, the provider's instances), then, once
   * `leading` resolves, acts: collects orphans, reconciles every pod and keeps doing so until the
   * leadership signal it resolved with aborts. Without `leading` it acts as soon as the caches are
   * loaded. A standby thus holds warm caches and takes over without relisting anything.
   */
  async run(signal: AbortSignal, leading?: Promise<AbortSignal>): Promise<void> {
    const informer = this.#informer.run(signal);
    await Promise.race([this.#informer.synced, abortPromise(signal)]);
    if (signal.aborted) return informer;
    // Adopt before acting: the provider must know every instance that exists, or a restart would
    // take an existing instance for a missing one.
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000 });
    for (;;) {
      try {
        // The cloud's news about a pod (Running, exited, gone) jumps the queue.
        await this.#o.provider.start((key) => this.#queue.add(key, true), signal);
        break;
      } catch (err) {
        if (signal.aborted) return informer;
        const ms = fullJitter(backoff.next());
        this.#o.log.error({ err: describeError(err), retryInMs: ms }, 'provider start failed');
        await this.#o.clock.sleep(ms, signal).catch(() => undefined);
      }
    }
    this.#synced = true;
    let lead = signal;
    if (leading) {
      this.#o.log.info({ pods: this.#informer.size }, 'pod controller caches synced; standing by');
      try {
        lead = await Promise.race([leading, abortPromise(signal).then(() => signal)]);
      } catch {
        return informer;
      }
      if (signal.aborted) return informer;
    }
    // From here on this process writes: pods and instances as the caches show them now.
    const live = new Set<string>();
    for (const pod of this.#informer.values()) if (pod.metadata?.uid) live.add(pod.metadata.uid);
    await this.#o.provider.collectOrphans(live, lead).catch((err: unknown) => {
      this.#o.log.warn({ err: describeError(err) }, 'orphan collection failed; the next resync retries');
    });
    for (const key of this.#informer.keys()) this.#queue.add(key);
    this.#started = true;
    this.#o.log.info({ pods: this.#informer.size }, 'pod controller synced');
    await Promise.all([informer, this.#queue.run((key) => this.#reconcile(key, lead), lead)]);
  }

  /** Throws instead of writing when this process may no longer write. */
  #fence(what: string): void {
    if (this.#o.mayWrite && !this.#o.mayWrite()) {
      throw new Error(`not writing ${what}: this process no longer leads`);
    }
  }

  async #reconcile(key: string, signal: AbortSignal): Promise<void> {
    try {
      const pod = this.#informer.get(key);
      if (!pod) {
        this.#refused.delete(key);
        await this.#o.provider.deleteStale(key, undefined, signal);
        this.#queue.forget(key);
        return;
      }
      await this.#o.traces.within(pod, () => this.#sync(pod, signal));
    } catch (err) {
      if (signal.aborted) return;
      const ms = this.#queue.retry(key);
      this.#o.log.warn({ pod: key, err: describeError(err), retryInMs: ms }, 'reconcile failed');
    }
  }

  async #sync(pod: V1Pod, signal: AbortSignal): Promise<void> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const provider = this.#o.provider;

    if (pod.metadata?.deletionTimestamp) {
      await provider.deletePod(pod, signal);
      await this.#o.traces.removed(pod, () => this.#removePodObject(pod));
      this.#queue.forget(key);
      return;
    }
    // An instance recorded for this name but another UID belonged to a pod that is gone.
    await provider.deleteStale(key, pod.metadata?.uid, signal);

    // A refusal holds for the spec it judged (a provider says so): asking again on every update of the
    // pod — the refusal's own status write is one — would cost a cloud call each time for nothing.
    const judged = refusalKey(pod);
    if (this.#refused.get(key) === judged) return;

    let outcome = await provider.syncPod(pod, undefined, signal);
    // The second call decides afresh (and reports its own events), now with what a create needs.
    if (outcome.kind === 'needs-inputs')
      outcome = await provider.syncPod(pod, await this.#o.inputs(pod), signal);
    switch (outcome.kind) {
      case 'status':
        await this.#writeStatus(pod, outcome.status);
        if (outcome.requeueAfterMs !== undefined) this.#queue.addAfter(key, outcome.requeueAfterMs);
        else this.#queue.forget(key);
        break;
      case 'refused':
        this.#event(pod, 'Warning', outcome.reason, outcome.message);
        await this.#writeStatus(pod, { phase: 'Pending', reason: outcome.reason, message: outcome.message });
        this.#refused.set(key, judged);
        this.#queue.forget(key);
        break;
      case 'retry': {
        this.#event(pod, 'Warning', outcome.reason, outcome.message);
        if (outcome.status) await this.#writeStatus(pod, outcome.status);
        const ms = this.#queue.retry(key);
        this.#o.log.info({ pod: key, reason: outcome.reason, retryInMs: ms }, 'pod not created yet');
        break;
      }
      case 'later':
        this.#queue.addAfter(key, outcome.afterMs);
        break;
      case 'terminal':
        this.#queue.forget(key);
        break;
      case 'needs-inputs':
        // Asked twice with inputs in hand: a provider bug; retrying with backoff keeps it visible.
        this.#queue.retry(key);
        this.#o.log.error({ pod: key }, 'provider asked for inputs it was given');
        break;
    }
    for (const e of outcome.events ?? []) this.#event(pod, e.type, e.reason, e.message);
  }

  #writeStatus(pod: V1Pod, status: V1PodStatus): Promise<void> {
    return this.#o.traces.statusWrite(pod, status, () => this.#patchStatus(pod, status));
  }

  async #patchStatus(pod: V1Pod, status: V1PodStatus): Promise<void> {
    if (TERMINAL.has(pod.status?.phase ?? '') && pod.status?.phase !== status.phase) {
      // Kubernetes forbids leaving a terminal phase; a late, stale answer must not try.
      return;
    }
    const diff = statusDiff(pod.status, status);
    if (!diff) return;
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    this.#fence(`the status of ${key}`);
    this.#o.log.debug({ pod: key, writer: this.#o.writer, phase: status.phase }, 'pod status patched');
    await this.#o.kube.core.patchNamespacedPodStatus(
      {
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        // The UID guards against patching a new pod that reuses the name.
        body: { metadata: { uid: pod.metadata?.uid }, status: diff },
      },
      mergePatch,
    );
    if (status.phase === 'Running' && pod.status?.phase !== 'Running') {
      const bound = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.lastTransitionTime;
      const since = new Date(bound ?? pod.metadata?.creationTimestamp ?? this.#o.clock.now()).getTime();
      this.#o.onPodRunning(pod, Math.max(0, (this.#o.clock.now() - since) / 1000));
    }
  }

  /** Removes the pod object once its instance is gone; the UID precondition spares a successor. */
  async #removePodObject(pod: V1Pod): Promise<void> {
    this.#fence(`the deletion of ${pod.metadata?.namespace}/${pod.metadata?.name}`);
    try {
      await this.#o.kube.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  #event(pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const target: EventTarget = {
      kind: 'Pod',
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      uid: pod.metadata?.uid,
    };
    // Logged too (debug): inside the pod's trace the line carries its trace_id, so an Event leads to
    // the trace that explains it.
    this.#o.log.debug({ pod: `${target.namespace}/${target.name}`, type, reason, message }, 'pod event');
    this.#o.events.post(target, type, reason, message);
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * What a refusal is about: the spec (its generation) and the metadata a provider reads (annotations,
 * labels). The same key later means nothing the provider judged has changed.
 */
function refusalKey(pod: V1Pod): string {
  const m = pod.metadata;
  return JSON.stringify([m?.uid, m?.generation, m?.annotations, m?.labels]);
}

/**
 * An update that changed nothing but the status — most often the echo of our own status write — gives
 * the controller nothing to do: what it acts on is the spec, the metadata a provider reads and the
 * deletion (virtual-kubelet's podShouldEnqueue says the same). Enqueueing it would cost a sync per
 * write and cut short a backoff the previous sync chose.
 */
function onlyStatusChanged(old: V1Pod, pod: V1Pod): boolean {
  const a = old.metadata;
  const b = pod.metadata;
  return (
    a?.uid === b?.uid &&
    a?.generation === b?.generation &&
    a?.deletionTimestamp?.valueOf() === b?.deletionTimestamp?.valueOf() &&
    a?.deletionGracePeriodSeconds === b?.deletionGracePeriodSeconds &&
    isDeepStrictEqual(a?.labels, b?.labels) &&
    isDeepStrictEqual(a?.annotations, b?.annotations) &&
    isDeepStrictEqual(old.spec, pod.spec)
  );
}
