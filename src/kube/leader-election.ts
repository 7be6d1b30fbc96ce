import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { microTime } from './micro-time.ts';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { isConflict, isNotFound } from './client.ts';

/** The one Lease, per cluster, whose holder reconciles ImageCaches (in the leader election namespace). */
export const IMAGE_CACHE_LEASE = 'eci-virtual-node-imagecaches';

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  /** Unique per process: the pod name plus a random suffix, so a restarted pod is a new candidate. */
  identity: string;
  /**
   * How long a Lease holds without renewal. A standby takes over at most this long (plus one retry
   * period) after the leader stopped renewing.
   */
  leaseDurationMs?: number;
  /**
   * The leader gives up if it could not renew for this long; shorter than the lease duration, so it
   * has stopped before anyone else may start.
   */
  renewDeadlineMs?: number;
  /** How often the leader renews and a standby looks. */
  retryPeriodMs?: number;
  clock: Clock;
  log: Logger;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: one holder at a time; the
 * holder renews every retry period; a candidate takes the Lease only when it has not seen it change
 * for a whole lease duration (measured on its own clock from when it last saw a change, so clocks of
 * different machines never compare); every write is guarded by the Lease's resourceVersion, so two
 * candidates racing cannot both win.
 *
 * The leader stops (its `leading` signal aborts) as soon as it has failed to renew for renewDeadline,
 * which is shorter than the lease duration: by the time a standby may take over, the old leader has
 * already stopped. `isLeading()` re-checks that deadline on the wall clock at the moment of a write,
 * so a process that was frozen (SIGSTOP, a long GC) and wakes up past its deadline writes nothing,
 * even before its renew loop has run.
 */
export class LeaderElector {
  readonly #o: Required<LeaderElectionOptions>;
  #lastRenew = 0;
  #leading: AbortController | undefined;
  #observed: { rv: string | undefined; at: number; holder: string | undefined } = {
    rv: undefined,
    at: 0,
    holder: undefined,
  };

  constructor(o: LeaderElectionOptions) {
    this.#o = {
      ...o,
      leaseDurationMs: o.leaseDurationMs ?? 8_000,
      renewDeadlineMs: o.renewDeadlineMs ?? 6_000,
      retryPeriodMs: o.retryPeriodMs ?? 1_500,
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new Error('leader election: the renew deadline must be shorter than the lease duration');
    }
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** True while this process holds the Lease and renewed it within the renew deadline. */
  isLeading(): boolean {
    return this.#leading !== undefined && this.#o.clock.now() - this.#lastRenew < this.#o.renewDeadlineMs;
  }

  /** The holder last seen, for logs and metrics. */
  get holder(): string | undefined {
    return this.#observed.holder;
  }

  /**
   * Campaigns until this process leads, then resolves with a signal that aborts when leadership ends
   * (renewal failed past the deadline, or `signal` aborted). Rejects only when `signal` aborts first.
   * Keeps renewing in the background while leading.
   */
  async acquire(signal: AbortSignal): Promise<AbortSignal> {
    const { clock, log, retryPeriodMs } = this.#o;
    for (;;) {
      signal.throwIfAborted();
      try {
        if (await this.#tryAcquireOrRenew()) break;
      } catch (err) {
        log.warn(
          { err: describeError(err), lease: this.#leaseName() },
          'leader election: cannot read the Lease',
        );
      }
      await clock.sleep(retryPeriodMs, signal);
    }
    const leading = new AbortController();
    this.#leading = leading;
    log.info({ lease: this.#leaseName(), identity: this.#o.identity }, 'leader election: leading');
    void this.#renewLoop(leading, signal);
    return leading.signal;
  }

  /**
   * Gives the Lease up at once (a clean shutdown), so a standby need not wait for it to expire. Only
   * when we still hold it; a failure is logged, the Lease then simply expires.
   */
  async release(): Promise<void> {
    const leading = this.#leading;
    this.#leading = undefined;
    leading?.abort(new Error('leadership released'));
    // Whether or not the renew loop already stopped (a shutdown stops it first), the Lease is ours to
    // give back only if it still names us.
    if (this.#lastRenew === 0) return;
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity !== this.#o.identity) return;
      await this.#o.api.replaceNamespacedLease({
        name: this.#o.name,
        namespace: this.#o.namespace,
        body: {
          ...lease,
          spec: {
            ...this.#spec(lease),
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
          },
        },
      });
      this.#o.log.info({ lease: this.#leaseName() }, 'leader election: released');
    } catch (err) {
      this.#o.log.warn({ err: describeError(err) }, 'leader election: release failed; the Lease will expire');
    }
  }

  async #renewLoop(leading: AbortController, signal: AbortSignal): Promise<void> {
    const { clock, log, retryPeriodMs, renewDeadlineMs } = this.#o;
    const stop = AbortSignal.any([signal, leading.signal]);
    while (!stop.aborted) {
      try {
        await clock.sleep(retryPeriodMs, stop);
      } catch {
        break;
      }
      let renewed = false;
      try {
        renewed = await this.#tryAcquireOrRenew();
      } catch (err) {
        log.warn({ err: describeError(err) }, 'leader election: renew failed');
      }
      if (!renewed && clock.now() - this.#lastRenew >= renewDeadlineMs) {
        log.error(
          {
            lease: this.#leaseName(),
            holder: this.#observed.holder,
            sinceRenewMs: clock.now() - this.#lastRenew,
          },
          'leader election: leadership lost',
        );
        break;
      }
      if (!renewed && this.#observed.holder !== this.#o.identity) {
        log.error(
          { lease: this.#leaseName(), holder: this.#observed.holder },
          'leader election: another holder took the Lease',
        );
        break;
      }
    }
    if (this.#leading === leading) this.#leading = undefined;
    leading.abort(new Error('leadership lost'));
  }

  /** One attempt: true when we hold a freshly renewed Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity, clock, leaseDurationMs } = this.#o;
    const now = clock.now();
    const lease = await this.#read();
    if (lease === undefined) {
      try {
        const created = await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
              acquireTime: microTime(new Date(now)),
              renewTime: microTime(new Date(now)),
              leaseTransitions: 0,
            },
          },
        });
        this.#saw(created, now);
        this.#lastRenew = now;
        return true;
      } catch (err) {
        // 409: another candidate created it first.
        if (isConflict(err)) return false;
        throw err;
      }
    }
    this.#saw(lease, now);
    const holder = lease.spec?.holderIdentity;
    const ours = holder === identity;
    const heldByOther = holder !== undefined && holder !== '' && !ours;
    // Someone else holds it and we have seen it change within a lease duration: wait.
    if (heldByOther && now - this.#observed.at < this.#leaseMs(lease)) return false;
    const spec = this.#spec(lease);
    try {
      const updated = await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { ...lease.metadata, name, namespace },
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
            renewTime: microTime(new Date(now)),
            ...(ours
              ? {}
              : {
                  acquireTime: microTime(new Date(now)),
                  leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1,
                }),
          },
        },
      });
      this.#saw(updated, now);
      this.#lastRenew = now;
      return true;
    } catch (err) {
      // Another candidate wrote first: its write wins, ours is refused by resourceVersion.
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#o.api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Remembers when the Lease last changed, by our clock (resourceVersion tells a change). */
  #saw(lease: V1Lease, now: number): void {
    const rv = lease.metadata?.resourceVersion;
    if (rv !== this.#observed.rv) this.#observed = { rv, at: now, holder: lease.spec?.holderIdentity };
  }

  #leaseMs(lease: V1Lease): number {
    return (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.#o.leaseDurationMs / 1000)) * 1000;
  }

  /**
   * The spec fields to send back unchanged. The library turns the MicroTime fields it read into Dates
   * with millisecond precision, which the API server refuses on write; they are re-sent as strings.
   */
  #spec(lease: V1Lease): NonNullable<V1Lease['spec']> {
    const s = lease.spec ?? {};
    const micro = (d: Date | undefined) => (d === undefined ? undefined : microTime(new Date(d)));
    return { ...s, acquireTime: micro(s.acquireTime), renewTime: micro(s.renewTime) };
  }

  #leaseName(): string {
    return `${this.#o.namespace}/${this.#o.name}`;
  }
}
