import type { V1Node } from '@kubernetes/client-node';
import { isConflict, isNotFound, strategicMergePatch, type KubeClients } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { runWatchLoop } from '../kube/watch.ts';
import { Backoff, fullJitter } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { NodeLease } from './lease.ts';
import {
  buildNode,
  mergeTaints,
  nodeLabels,
  PROVIDER_TAINT,
  nodeMetadataCurrent,
  nodeStatus,
  type NodeSpecConfig,
} from './node-spec.ts';

export interface NodeControllerOptions {
  kube: KubeClients;
  spec: NodeSpecConfig;
  clock: Clock;
  log: Logger;
  /** Lease renew period (kubelet: 10 s) and duration (kubelet: 40 s). */
  leaseRenewMs?: number;
  leaseDurationSeconds?: number;
  /** Node status refresh period; at least once a minute so `kubectl describe node` stays fresh. */
  statusRefreshMs?: number;
  /** Where node Events go; without it they are only logged. */
  events?: EventRecorder;
  /** How many provider instances (paid ECI groups) the node owns, for the deletion warning. */
  ownedInstances?: () => number;
}

/**
 * Owns the Node object and its Lease: registers the node, keeps it Ready, and puts it back if someone
 * deletes it while we run. It never touches pods, and stopping it leaves the Node in place, so the
 * cluster sees a restart as a short heartbeat gap, not a node going away.
 */
export class NodeController {
  readonly #o: Required<Omit<NodeControllerOptions, 'events' | 'ownedInstances'>> &
    Pick<NodeControllerOptions, 'events' | 'ownedInstances'>;
  readonly #lease: NodeLease;
  #node: V1Node | undefined;
  #ready = false;
  /** Wakes the lease loop early, so a recreated Node gets its Lease at once. */
  #wake: (() => void) | undefined;

  constructor(opts: NodeControllerOptions) {
    this.#o = {
      ...opts,
      leaseRenewMs: opts.leaseRenewMs ?? 10_000,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 40,
      statusRefreshMs: opts.statusRefreshMs ?? 60_000,
    };
    this.#lease = new NodeLease(opts.kube.coordination, opts.spec.name, this.#o.leaseDurationSeconds);
  }

  get name(): string {
    return this.#o.spec.name;
  }

  /** True once the Node is registered with Ready=True. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Registers the node, then renews its Lease and status until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000 });
    for (;;) {
      try {
        await this.#register();
        break;
      } catch (err) {
        const delay = fullJitter(backoff.next());
        this.#o.log.error(
          { node: this.name, err: describeError(err), retryInMs: delay },
          'node registration failed',
        );
        if (!(await this.#sleep(delay, signal))) return;
      }
    }
    this.#ready = true;
    await Promise.all([this.#watchNode(signal), this.#leaseLoop(signal), this.#statusLoop(signal)]);
  }

  /** Creates the Node, or brings an existing one (ours from an earlier run) up to date. */
  async #register(): Promise<void> {
    const { core } = this.#o.kube;
    const now = new Date(this.#o.clock.now());
    let existing: V1Node | undefined;
    try {
      existing = await core.readNode({ name: this.name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!existing) {
      try {
        this.#node = await core.createNode({ body: buildNode(this.#o.spec, now) });
        this.#o.log.info({ node: this.name }, 'node registered');
        this.#lease.reset();
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        existing = await core.readNode({ name: this.name });
      }
    }
    if (!nodeMetadataCurrent(existing, this.#o.spec)) {
      // A merge patch with the resourceVersion, so a concurrent taint change by another owner is not lost.
      existing = await core.patchNode(
        {
          name: this.name,
          body: {
            metadata: {
              labels: nodeLabels(this.#o.spec),
              resourceVersion: existing.metadata?.resourceVersion,
            },
            ...(this.#o.spec.selfRegistered ? {} : { spec: { taints: mergeTaints(existing.spec?.taints) } }),
          },
        },
        strategicMergePatch,
      );
    }
    if (this.#o.spec.selfRegistered && !hasProviderTaint(existing)) {
      // NodeRestriction forbids a node to change its own taints; an administrator must put it back.
      const message = `the taint ${PROVIDER_TAINT.key}=${PROVIDER_TAINT.value}:${PROVIDER_TAINT.effect} was removed; restore it with kubectl taint node ${this.name} ${PROVIDER_TAINT.key}=${PROVIDER_TAINT.value}:${PROVIDER_TAINT.effect}`;
      this.#o.log.warn({ node: this.name }, message);
      this.#o.events?.post(
        { kind: 'Node', namespace: 'default', name: this.name, uid: existing.metadata?.uid },
        'Warning',
        'ProviderTaintMissing',
        message,
      );
    }
    this.#node = existing;
    await this.#patchStatus(now);
    this.#o.log.info({ node: this.name }, 'node re-registered; status refreshed');
  }

  async #patchStatus(now: Date): Promise<void> {
    this.#node = await this.#o.kube.core.patchNodeStatus(
      {
        name: this.name,
        body: {
          status: statusPatch(nodeStatus(this.#o.spec, this.#node?.status?.conditions, now), this.#node),
        },
      },
      strategicMergePatch,
    );
  }

  async #leaseLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#lease.renew(new Date(this.#o.clock.now()), this.#node?.metadata?.uid);
      } catch (err) {
        this.#o.log.warn({ node: this.name, err: describeError(err) }, 'lease renew failed; will retry');
      }
      if (!(await this.#sleep(this.#o.leaseRenewMs, signal, true))) return;
    }
  }

  async #statusLoop(signal: AbortSignal): Promise<void> {
    while (await this.#sleep(this.#o.statusRefreshMs, signal)) {
      try {
        if (this.#node) await this.#patchStatus(new Date(this.#o.clock.now()));
        else await this.#register();
      } catch (err) {
        if (isNotFound(err)) this.#node = undefined;
        this.#o.log.warn(
          { node: this.name, err: describeError(err) },
          'node status refresh failed; will retry',
        );
      }
    }
  }

  /** Watches our own Node, so a deletion is repaired in seconds, not at the next status refresh. */
  async #watchNode(signal: AbortSignal): Promise<void> {
    const { core } = this.#o.kube;
    const fieldSelector = `metadata.name=${this.name}`;
    await runWatchLoop<V1Node>(
      {
        kube: this.#o.kube,
        path: '/api/v1/nodes',
        fieldSelector,
        clock: this.#o.clock,
        log: this.#o.log,
        list: async () => {
          const list = await core.listNode({ fieldSelector });
          return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
        },
        onSync: (items) => {
          if (items.length === 0) this.#reRegister('node is missing');
        },
        onEvent: (type, node) => {
          if (type === 'DELETED') {
            this.#warnIfOwning();
            this.#reRegister('node was deleted');
          } else this.#node = node;
        },
      },
      signal,
    );
  }

  /**
   * Deleting the node while it still owns ECI groups would leave paid instances behind (the original
   * add-on does). We refuse: the node comes back, and the Event says how to uninstall properly.
   */
  #warnIfOwning(): void {
    const owned = this.#o.ownedInstances?.() ?? 0;
    if (owned === 0) return;
    const message =
      `node ${this.name} was deleted while it still owns ${owned} ECI container group(s); it was registered ` +
      'again so they are not left running unmanaged. To uninstall, run `eci-virtual-node cleanup`, which deletes ' +
      'the ECI pods, their groups and then the node';
    this.#o.log.warn({ node: this.name, owned }, message);
    void this.#o.events?.record(
      { kind: 'Node', namespace: 'default', name: this.name },
      'Warning',
      'NodeDeletedWithInstances',
      message,
    );
  }

  #reRegister(why: string): void {
    this.#node = undefined;
    this.#lease.reset();
    this.#o.log.warn({ node: this.name }, `${why}; registering it again`);
    this.#register().then(
      () => this.#wake?.(),
      (err: unknown) => {
        this.#o.log.error(
          { node: this.name, err: describeError(err) },
          're-registration failed; the status loop retries',
        );
      },
    );
  }

  /** Sleeps; false when cancelled. A re-registration wakes the lease loop so the Lease follows fast. */
  async #sleep(ms: number, signal: AbortSignal, wakeable = false): Promise<boolean> {
    const wake = new AbortController();
    if (wakeable) this.#wake = () => wake.abort();
    try {
      await this.#o.clock.sleep(ms, AbortSignal.any([signal, wake.signal]));
    } catch {
      // woken or cancelled
    }
    return !signal.aborted;
  }
}

/**
 * The status to patch, plus deletions of addresses we no longer advertise (a Node registered by an
 * older version carries a Hostname address; a strategic merge patch merges address lists by type and
 * would keep it).
 */
function statusPatch(status: V1Node['status'], current: V1Node | undefined): object {
  const ours = new Set((status?.addresses ?? []).map((a) => a.type));
  const stale = (current?.status?.addresses ?? []).filter((a) => !ours.has(a.type));
  if (stale.length === 0) return status ?? {};
  return {
    ...status,
    addresses: [...(status?.addresses ?? []), ...stale.map((a) => ({ type: a.type, $patch: 'delete' }))],
  };
}

function hasProviderTaint(node: V1Node): boolean {
  return (node.spec?.taints ?? []).some(
    (t) =>
      t.key === PROVIDER_TAINT.key && t.value === PROVIDER_TAINT.value && t.effect === PROVIDER_TAINT.effect,
  );
}
