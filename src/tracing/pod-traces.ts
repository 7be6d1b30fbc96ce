import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import type { Clock } from '../util/clock.ts';
import { contextFromTraceparent } from './tracing.ts';

/** Where the admission webhook leaves the trace of its routing decision for the controller. */
export const TRACEPARENT_ANNOTATION = 'eci-virtual-node.io/traceparent';

const tracer = () => trace.getTracer('eci-virtual-node');

interface PodTrace {
  kind: 'start' | 'delete';
  ctx: Context;
  root: Span;
  waitRunning?: Span;
  done: boolean;
}

/**
 * One trace per pod's start and one per its deletion, continuing the webhook's decision when the pod
 * carries its traceparent:
 *
 *   webhook.decide → pod.start ┬ pod.bound
 *                              ├ eci.CreateContainerGroup (and every other ECI call made for it)
 *                              ├ pod.wait-running (from the first reconcile short of Running)
 *                              └ pod.status.write (Running)
 *   pod.delete ┬ eci.DeleteContainerGroup
 *              └ pod.remove
 *
 * Disabled (no exporter), every method just runs its function: no span, no map entry.
 */
export class PodTraces {
  readonly #enabled: boolean;
  readonly #clock: Clock;
  readonly #pods = new Map<string, PodTrace>();

  constructor(o: { enabled: boolean; clock: Clock }) {
    this.#enabled = o.enabled;
    this.#clock = o.clock;
  }

  /** Runs the pod's reconcile inside its trace (started the first time the pod is seen bound). */
  within<T>(pod: V1Pod, fn: () => Promise<T>): Promise<T> {
    if (!this.#enabled) return fn();
    const uid = pod.metadata?.uid ?? '';
    let t = this.#pods.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      if (!t || t.kind === 'start') {
        // The deletion continues the pod's trace: a child of its start (ended or not).
        if (t && !t.done) {
          t.waitRunning?.end();
          t.root.end();
        }
        t = this.#begin(pod, 'pod.delete', 'delete', t?.ctx);
      }
    } else if (!t) {
      t = this.#begin(pod, 'pod.start', 'start');
      // From the pod's creation to the controller seeing it bound to the node.
      const created = new Date(pod.metadata?.creationTimestamp ?? this.#clock.now()).getTime();
      tracer().startSpan('pod.bound', { startTime: created }, t.ctx).end(this.#clock.now());
    }
    const started = t;
    return context.with(t.ctx, fn).finally(() => {
      // A reconcile that left the pod short of Running (its group created, or not yet) starts the
      // wait, whether or not it wrote a Pending status.
      if (started.kind === 'start' && !started.done) {
        started.waitRunning ??= tracer().startSpan('pod.wait-running', {}, started.ctx);
      }
    });
  }

  #begin(pod: V1Pod, name: string, kind: PodTrace['kind'], previous?: Context): PodTrace {
    const parent = previous ?? contextFromTraceparent(pod.metadata?.annotations?.[TRACEPARENT_ANNOTATION]);
    const root = tracer().startSpan(
      name,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'k8s.namespace.name': pod.metadata?.namespace ?? '',
          'k8s.pod.name': pod.metadata?.name ?? '',
          'k8s.pod.uid': pod.metadata?.uid ?? '',
          'k8s.node.name': pod.spec?.nodeName ?? '',
        },
      },
      parent,
    );
    const t: PodTrace = { kind, ctx: trace.setSpan(parent, root), root, done: false };
    this.#pods.set(pod.metadata?.uid ?? '', t);
    return t;
  }

  /** Wraps the status patch; the first Running one ends the start trace. */
  async statusWrite<T>(pod: V1Pod, status: V1PodStatus, fn: () => Promise<T>): Promise<T> {
    const t = this.#enabled ? this.#pods.get(pod.metadata?.uid ?? '') : undefined;
    if (!t || t.done) return fn();
    const running = status.phase === 'Running';
    if (!running) {
      // Created, not running yet: the wait starts now.
      t.waitRunning ??= tracer().startSpan('pod.wait-running', {}, t.ctx);
      return fn();
    }
    t.waitRunning?.end();
    const span = tracer().startSpan(
      'pod.status.write',
      { attributes: { 'k8s.pod.phase': 'Running' } },
      t.ctx,
    );
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      throw err;
    } finally {
      span.end();
      t.root.end();
      t.done = true;
    }
  }

  /** Wraps the final removal of a deleted pod's object, and ends its deletion trace. */
  async removed<T>(pod: V1Pod, fn: () => Promise<T>): Promise<T> {
    const uid = pod.metadata?.uid ?? '';
    const t = this.#enabled ? this.#pods.get(uid) : undefined;
    if (!t) return fn();
    const span = tracer().startSpan('pod.remove', {}, t.ctx);
    try {
      return await fn();
    } finally {
      span.end();
      t.root.end();
      this.#pods.delete(uid);
    }
  }

  /** Forgets a pod that went without passing through `removed`. */
  forget(uid: string): void {
    const t = this.#pods.get(uid);
    if (!t) return;
    t.waitRunning?.end();
    t.root.end();
    this.#pods.delete(uid);
  }
}
