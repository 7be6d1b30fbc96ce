import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import type { PodInputs, PodProvider, SyncOutcome } from '../../src/providers/provider.ts';

/** One instance the fake backend runs: what a container group is to ECI. */
export interface FakeInstance {
  readonly key: string;
  readonly uid: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** The inputs it was created with. */
  readonly inputs: PodInputs;
}

const keyOf = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/**
 * A provider that keeps its instances in memory and honours the PodProvider contract the way a real
 * backend must (virtual-kubelet's mock provider plays this part in its node tests): at most one
 * instance per pod UID, inputs asked for only when an instance is really made, deletes that converge
 * when repeated. Every call is logged in order, calls can be made to fail or to wait, and the answer
 * to a sync can be scripted, so a test drives the pod controller into each path it has.
 */
export class FakeProvider implements PodProvider {
  /** Instances by pod UID. */
  readonly instances = new Map<string, FakeInstance>();
  /** Every call, in order: `start`, `sync ns/name`, `sync ns/name +inputs`, `delete ns/name`, `stale ns/name`, `orphans`. */
  readonly calls: string[] = [];
  /** When each call was made (the clock's ms), in the order of `calls`. */
  readonly times: number[] = [];
  /** Answers to return from syncPod before its own logic, one per call, in order. */
  readonly scripted: SyncOutcome[] = [];
  /** Asked to look again this long after every status answer (as an activeDeadlineSeconds makes ECI's). */
  requeueAfterMs: number | undefined;
  readonly #failures = new Map<string, unknown[]>();
  readonly #gates = new Map<string, Promise<void>>();
  #notify: ((key: string) => void) | undefined;
  readonly #now: () => number;

  constructor(o: { now?: () => number } = {}) {
    this.#now = o.now ?? (() => 0);
  }

  /** Makes the next call of `method` (start, syncPod, deletePod, deleteStale, collectOrphans) throw. */
  failNext(method: keyof PodProvider, err: unknown = new Error(`${method}: injected failure`)): void {
    const list = this.#failures.get(method) ?? [];
    list.push(err);
    this.#failures.set(method, list);
  }

  /** Holds every call of `method` until the returned function is called. */
  hold(method: keyof PodProvider): () => void {
    let release!: () => void;
    this.#gates.set(method, new Promise<void>((r) => (release = r)));
    return () => {
      this.#gates.delete(method);
      release();
    };
  }

  /** Adds an instance as an earlier run of the controller left it (for adoption and orphan tests). */
  seed(pod: V1Pod, phase: FakeInstance['phase'] = 'Running'): FakeInstance {
    const inst: FakeInstance = { key: keyOf(pod), uid: pod.metadata?.uid ?? '', phase, inputs: NO_INPUTS };
    this.instances.set(inst.uid, inst);
    return inst;
  }

  /** The backend changed an instance on its own (it started, exited): the controller is told. */
  setPhase(uid: string, phase: FakeInstance['phase']): void {
    const inst = this.instances.get(uid);
    if (!inst) throw new Error(`no instance for ${uid}`);
    inst.phase = phase;
    this.#notify?.(inst.key);
  }

  /** The backend lost an instance (a cloud-side deletion): the controller is told. */
  lose(uid: string): void {
    const inst = this.instances.get(uid);
    if (!inst) throw new Error(`no instance for ${uid}`);
    this.instances.delete(uid);
    this.#notify?.(inst.key);
  }

  /** Calls whose log line starts with `prefix`. */
  count(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }

  async #enter(method: keyof PodProvider, line: string): Promise<void> {
    this.calls.push(line);
    this.times.push(this.#now());
    await this.#gates.get(method);
    const queued = this.#failures.get(method);
    if (queued && queued.length > 0) throw queued.shift();
  }

  async start(notify: (podKey: string) => void, signal: AbortSignal): Promise<void> {
    await this.#enter('start', 'start');
    signal.throwIfAborted();
    this.#notify = notify;
  }

  async syncPod(pod: V1Pod, inputs: PodInputs | undefined, _signal: AbortSignal): Promise<SyncOutcome> {
    await this.#enter('syncPod', `sync ${keyOf(pod)}${inputs ? ' +inputs' : ''}`);
    const script = this.scripted.shift();
    if (script) return script;
    const uid = pod.metadata?.uid ?? '';
    const inst = this.instances.get(uid);
    if (!inst) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { kind: 'terminal' };
      if (!inputs) return { kind: 'needs-inputs' };
      this.instances.set(uid, { key: keyOf(pod), uid, phase: 'Pending', inputs });
      return {
        kind: 'status',
        status: statusFor('Pending', pod),
        events: [{ type: 'Normal', reason: 'InstanceCreated', message: `created the instance of ${uid}` }],
      };
    }
    const again = this.requeueAfterMs === undefined ? {} : { requeueAfterMs: this.requeueAfterMs };
    return { kind: 'status', status: statusFor(inst.phase, pod), ...again };
  }

  async deletePod(pod: V1Pod, _signal: AbortSignal): Promise<void> {
    await this.#enter('deletePod', `delete ${keyOf(pod)}`);
    this.instances.delete(pod.metadata?.uid ?? '');
  }

  async deleteStale(podKey: string, liveUid: string | undefined, _signal: AbortSignal): Promise<void> {
    await this.#enter('deleteStale', `stale ${podKey}`);
    for (const [uid, inst] of this.instances) {
      if (inst.key === podKey && uid !== liveUid) this.instances.delete(uid);
    }
  }

  async collectOrphans(liveUids: ReadonlySet<string>, _signal: AbortSignal): Promise<void> {
    await this.#enter('collectOrphans', 'orphans');
    for (const uid of this.instances.keys()) if (!liveUids.has(uid)) this.instances.delete(uid);
  }
}

const NO_INPUTS: PodInputs = {
  refs: { configMaps: new Map(), secrets: new Map(), serviceAccountTokens: new Map() },
  placement: { vSwitchIds: [], securityGroupId: '' },
};

/**
 * The status a backend reports for an instance in `phase`: the pod's own conditions (PodScheduled)
 * kept, Ready set, as a real provider answers (a merge patch replaces the whole list).
 */
export function statusFor(phase: FakeInstance['phase'], pod?: V1Pod): V1PodStatus {
  const ready = phase === 'Running' ? 'True' : 'False';
  const others = (pod?.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  return {
    phase,
    conditions: [...others, { type: 'Ready', status: ready }],
    ...(phase === 'Pending' ? {} : { podIP: '10.1.0.7' }),
  };
}
