import { randomBytes } from 'node:crypto';
import type { CoreV1Api, CoreV1Event, V1ObjectReference } from '@kubernetes/client-node';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { mergePatch } from './client.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventTarget {
  kind: string;
  /** '' for a cluster-scoped object: its Events go to `default`, as the kubelet's Node events do. */
  namespace: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/**
 * Records Kubernetes Events the way kubelet does: the same (object, type, reason, message) seen again
 * within `aggregateMs` bumps the count of the existing Event instead of writing a new one. Recording
 * never throws: an Event is worth a log line, not a failed reconcile.
 *
 * Give it an API client of its own (its own rate limit, as kubelet's event QPS is separate from its
 * API QPS): events are several per pod, and must never queue pod status writes behind them.
 */
export class EventRecorder {
  readonly #api: CoreV1Api;
  readonly #component: string;
  readonly #host: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #aggregateMs: number;
  readonly #recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();
  #inFlight = 0;
  #dropped = 0;
  /** Events waiting for the rate limit at most; beyond it they are dropped (and counted), as client-go does. */
  static readonly MAX_IN_FLIGHT = 1000;

  /** Events dropped because too many were waiting. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records without waiting: the caller goes on while the Event waits for its turn. */
  post(target: EventTarget, type: EventType, reason: string, message: string): void {
    if (this.#inFlight >= EventRecorder.MAX_IN_FLIGHT) {
      this.#dropped++;
      return;
    }
    this.#inFlight++;
    void this.record(target, type, reason, message).finally(() => this.#inFlight--);
  }

  constructor(opts: {
    api: CoreV1Api;
    component: string;
    host: string;
    clock: Clock;
    log: Logger;
    aggregateMs?: number;
  }) {
    this.#api = opts.api;
    this.#component = opts.component;
    this.#host = opts.host;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#aggregateMs = opts.aggregateMs ?? 10 * 60_000;
  }

  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const now = this.#clock.now();
    const key = `${target.namespace}/${target.name}/${target.uid ?? ''}/${type}/${reason}/${message}`;
    const seen = this.#recent.get(key);
    try {
      if (seen && now - seen.at < this.#aggregateMs) {
        seen.count += 1;
        seen.at = now;
        await this.#api.patchNamespacedEvent(
          {
            name: seen.name,
            namespace: seen.namespace,
            body: { count: seen.count, lastTimestamp: new Date(now) },
          },
          mergePatch,
        );
        return;
      }
      const eventNamespace = target.namespace || 'default';
      const involvedObject: V1ObjectReference = {
        kind: target.kind,
        namespace: target.namespace || undefined,
        name: target.name,
        uid: target.uid,
        apiVersion: target.apiVersion ?? 'v1',
      };
      const name = `${target.name}.${randomBytes(8).toString('hex')}`;
      const event: CoreV1Event = {
        metadata: { name, namespace: eventNamespace },
        involvedObject,
        type,
        reason,
        message: message.slice(0, 1024),
        count: 1,
        firstTimestamp: new Date(now),
        lastTimestamp: new Date(now),
        source: { component: this.#component, host: this.#host },
        reportingComponent: this.#component,
        reportingInstance: this.#host,
      };
      await this.#api.createNamespacedEvent({ namespace: eventNamespace, body: event });
      this.#recent.set(key, { name, namespace: eventNamespace, count: 1, at: now });
      if (this.#recent.size > 10_000) this.#prune(now);
    } catch (err) {
      this.#recent.delete(key);
      this.#log.warn(
        { target: `${target.namespace}/${target.name}`, reason, err: describeError(err) },
        'event not recorded',
      );
    }
  }

  #prune(now: number): void {
    for (const [k, v] of this.#recent) if (now - v.at >= this.#aggregateMs) this.#recent.delete(k);
  }
}
