// AdmissionReview (admission.k8s.io/v1) in and out: the wire shapes, nothing else.
import { z } from 'zod';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { AdmissionPod, JsonPatchOp } from './decide.ts';

const reviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string().min(1),
    kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
    namespace: z.string().optional(),
    name: z.string().optional(),
    operation: z.string(),
    dryRun: z.boolean().optional(),
    object: z.record(z.string(), z.unknown()).nullish(),
  }),
});

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  namespace?: string;
  name?: string;
  operation: string;
  dryRun?: boolean;
  object?: Record<string, unknown> | null;
}

/**
 * Validates a decoded request body. Throws a ProductError (EVN_INVALID_INPUT) naming what is wrong;
 * the server answers that with 400.
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  const r = reviewSchema.safeParse(body);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
    throw new ProductError(
      ErrorCodes.INVALID_INPUT,
      `not an admission.k8s.io/v1 AdmissionReview: ${what.join('; ')}`,
    );
  }
  return r.data.request;
}

/**
 * The pod of a pod CREATE. Its namespace is the request's: that is where the API server creates it
 * (the object's own metadata.namespace may be empty, or say anything), so decisions such as "never
 * kube-system" must not read it from the object.
 */
export function podOf(req: AdmissionRequest): AdmissionPod | undefined {
  if (req.kind.group !== '' || req.kind.kind !== 'Pod' || req.operation !== 'CREATE' || !req.object)
    return undefined;
  const pod = req.object as AdmissionPod;
  const namespace = req.namespace || pod.metadata?.namespace;
  return { ...pod, metadata: { ...pod.metadata, namespace } };
}

/**
 * The request with its object cut down to what the routing decision reads (metadata names, labels and
 * annotations; spec nodeName, nodeSelector, tolerations, affinity), so a multi-megabyte pod crosses
 * from the parser's thread as a few hundred bytes.
 */
export function projectForDecision(req: AdmissionRequest): AdmissionRequest {
  const o = req.object as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> } | null;
  if (!o) return req;
  const pick = (from: Record<string, unknown> | undefined, keys: readonly string[]) =>
    from === undefined || from === null || typeof from !== 'object'
      ? undefined
      : Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]));
  return {
    ...req,
    object: {
      metadata: pick(o.metadata, ['name', 'generateName', 'namespace', 'labels', 'annotations']),
      spec: pick(o.spec, ['nodeName', 'nodeSelector', 'tolerations', 'affinity']),
    },
  };
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: true;
    patchType?: 'JSONPatch';
    patch?: string;
  };
}

/** Always allowed: we route pods, we never reject them. An empty patch sends no patch at all. */
export function admissionResponse(uid: string, patch: readonly JsonPatchOp[] = []): AdmissionReviewResponse {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: true,
      ...(patch.length
        ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(patch)).toString('base64') }
        : {}),
    },
  };
}
