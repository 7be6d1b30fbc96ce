import type { V1ObjectMeta } from '@kubernetes/client-node';
import { z } from 'zod';

/**
 * The ImageCache custom resource exactly as Alibaba documents it for ack-virtual-node ("kubernetes
 * ImageCache API", "Deploy an ImageCache CRD", "Image cache annotations"): cluster-scoped,
 * `eci.alibabacloud.com/v1`, spec `images` / `imagePullSecrets` (`namespace:secretName`) /
 * `imageCacheSize` (GiB, 20–32768, default 20) / `retentionDays` (1–65536, empty = never expires), status
 * `phase` / `progress` / `imageCacheId` / `startTime` / `lastUpdatedTime` / `events` / `expireDateTime`.
 * `status.observedGeneration` is ours: the spec generation the status describes.
 */

export const GROUP = 'eci.alibabacloud.com';
export const VERSION = 'v1';
export const PLURAL = 'imagecaches';
export const KIND = 'ImageCache';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Keeps an ImageCache until its cloud caches are deleted. */
export const FINALIZER = 'eci.alibabacloud.com/image-cache';
/** CreateImageCache takes at most this many images. */
export const MAX_IMAGES = 20;

export interface ImageCacheEvent {
  name?: string;
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
}

export interface ImageCacheStatus {
  phase?: string;
  progress?: string;
  imageCacheId?: string;
  startTime?: string;
  lastUpdatedTime?: string;
  expireDateTime?: string;
  events?: ImageCacheEvent[];
  observedGeneration?: number;
}

export interface ImageCacheObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: Record<string, unknown>;
  status?: ImageCacheStatus;
}

const SECRET_REF = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

export const specSchema = z.object({
  images: z.array(z.string().trim().min(1, 'an image name is empty')).min(1).max(MAX_IMAGES),
  imagePullSecrets: z
    .array(z.string().regex(SECRET_REF, 'use namespace:secretName, e.g. default:secret1'))
    .default([]),
  imageCacheSize: z.number().int().min(20).max(32768).default(20),
  retentionDays: z.number().int().min(1).max(65536).optional(),
});
export type ImageCacheSpec = z.infer<typeof specSchema>;

/** The spec, validated; the error names the field, as `kubectl explain` spells it. */
export function parseSpec(
  ic: ImageCacheObject,
): { ok: true; spec: ImageCacheSpec } | { ok: false; why: string } {
  const r = specSchema.safeParse(ic.spec ?? {});
  if (r.success) return { ok: true, spec: r.data };
  const why = r.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
  return { ok: false, why };
}

/** The annotations Alibaba documents for ImageCache ("Image cache annotations"). */
export const IMC_ANNOTATIONS = {
  VSWITCH_IDS: 'k8s.aliyun.com/vswitch-ids',
  SECURITY_GROUP_ID: 'k8s.aliyun.com/security-group-id',
  RESOURCE_GROUP_ID: 'k8s.aliyun.com/resource-group-id',
  ACR_INSTANCE_IDS: 'k8s.aliyun.com/acr-instance-ids',
  ACR_SERVICE_ARNS: 'k8s.aliyun.com/acr-service-arns',
  ACR_USER_ARNS: 'k8s.aliyun.com/acr-user-arns',
  PLAIN_HTTP_REGISTRY: 'k8s.aliyun.com/plain-http-registry',
  INSECURE_REGISTRY: 'k8s.aliyun.com/insecure-registry',
  ENABLE_REUSE: 'k8s.aliyun.com/imc-enable-reuse',
  ENABLE_FLASH: 'k8s.aliyun.com/imc-enable-flash',
  CPU_ARCH: 'k8s.aliyun.com/imc-cpu-arch',
  OS_TYPE: 'k8s.aliyun.com/imc-os-type',
} as const;

/** Documented ImageCache annotations CreateImageCache (SDK 2.0.3) has no parameter for. */
export const REFUSED_IMC_ANNOTATIONS: ReadonlySet<string> = new Set([
  IMC_ANNOTATIONS.CPU_ARCH,
  IMC_ANNOTATIONS.OS_TYPE,
]);

export function isDeleting(ic: ImageCacheObject): boolean {
  return Boolean(ic.metadata.deletionTimestamp);
}

export function hasFinalizer(ic: ImageCacheObject): boolean {
  return (ic.metadata.finalizers ?? []).includes(FINALIZER);
}
