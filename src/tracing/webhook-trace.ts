import { context, trace } from '@opentelemetry/api';
import type { AdmissionPod, JsonPatchOp } from '../webhook/decide.ts';
import { TRACEPARENT_ANNOTATION } from './pod-traces.ts';
import { traceparentOf } from './tracing.ts';

/**
 * The routing decision as the first span of the pod's trace, and the patch that annotates the pod
 * with its traceparent, so the controller continues the same trace when the pod is bound.
 */
export function traceRoutingDecision(
  pod: AdmissionPod,
  reason: string,
  patch: readonly JsonPatchOp[],
): JsonPatchOp[] {
  const span = trace.getTracer('eci-virtual-node').startSpan('webhook.decide', {
    attributes: {
      'k8s.namespace.name': pod.metadata?.namespace ?? '',
      'k8s.pod.name': pod.metadata?.name ?? pod.metadata?.generateName ?? '',
      'eci.routing.reason': reason,
    },
  });
  span.end();
  const traceparent = traceparentOf(trace.setSpan(context.active(), span));
  if (!traceparent) return [];
  // The decision's own patch may have created the annotations map; otherwise the pod's own may exist.
  const hasAnnotations =
    pod.metadata?.annotations !== undefined ||
    patch.some((op) => op.op === 'add' && op.path === '/metadata/annotations');
  return hasAnnotations
    ? [
        {
          op: 'add',
          path: `/metadata/annotations/${TRACEPARENT_ANNOTATION.replaceAll('~', '~0').replaceAll('/', '~1')}`,
          value: traceparent,
        },
      ]
    : [{ op: 'add', path: '/metadata/annotations', value: { [TRACEPARENT_ANNOTATION]: traceparent } }];
}
