import { createHash } from 'node:crypto';
import {
  CreateImageCacheRequest,
  type DescribeImageCachesResponseBodyImageCaches,
} from '@alicloud/eci20180808';
import type { V1Secret } from '@kubernetes/client-node';
import { registryCredentials, registryServer } from '../providers/eci/mapping/pull-secrets.ts';
import { tagValue } from '../providers/eci/mapping/tags.ts';
import type { ModelInit } from '../providers/eci/mapping/types.ts';
import {
  IMC_ANNOTATIONS as A,
  REFUSED_IMC_ANNOTATIONS,
  type ImageCacheObject,
  type ImageCacheSpec,
} from './resource.ts';

/**
 * ImageCache → CreateImageCache, and the identity that ties a cloud cache to its resource: tags for
 * the cluster, the resource's UID and name, and a hash of what the cache is made from (spec and the
 * annotations that shape it). A different hash is a different cache: a spec change makes a new one.
 * Pure: Secrets and placement come in as arguments.
 */

export const IMC_TAGS = {
  CLUSTER_ID: 'eci-virtual-node/cluster-id',
  UID: 'eci-virtual-node/imagecache-uid',
  NAME: 'eci-virtual-node/imagecache-name',
  SPEC: 'eci-virtual-node/imagecache-spec',
} as const;

export interface CachePlacement {
  readonly vSwitchIds: readonly string[];
  readonly securityGroupId: string;
}

export type BuildResult =
  | { ok: true; request: CreateImageCacheRequest; warnings: string[] }
  /** The resource cannot be made as it is (a fix of the resource is needed). */
  | { ok: false; permanent: true; why: string }
  /** Something it refers to is missing (a Secret): try again later. */
  | { ok: false; permanent: false; why: string };

const SHAPING = [
  A.VSWITCH_IDS,
  A.SECURITY_GROUP_ID,
  A.RESOURCE_GROUP_ID,
  A.ACR_INSTANCE_IDS,
  A.ACR_SERVICE_ARNS,
  A.ACR_USER_ARNS,
  A.PLAIN_HTTP_REGISTRY,
  A.INSECURE_REGISTRY,
  A.ENABLE_REUSE,
  A.ENABLE_FLASH,
];

/** 12 hex digits of sha256 over the spec and the annotations that shape the cache. */
export function specHash(ic: ImageCacheObject, spec: ImageCacheSpec): string {
  const a = ic.metadata.annotations ?? {};
  const shaping = Object.fromEntries(SHAPING.filter((k) => a[k] !== undefined).map((k) => [k, a[k]]));
  return createHash('sha256')
    .update(JSON.stringify([spec, shaping]))
    .digest('hex')
    .slice(0, 12);
}

/** ECI's name rule (2–128 of [a-z0-9-], starting and ending with a letter or digit). */
export function cacheName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 128)
    .replace(/-+$/, '');
  return s.length >= 2 ? s : `imc-${s || 'cache'}`;
}

export function cacheTags(ic: ImageCacheObject, clusterId: string, hash: string): Record<string, string> {
  return {
    [IMC_TAGS.CLUSTER_ID]: tagValue(clusterId),
    [IMC_TAGS.UID]: ic.metadata.uid ?? '',
    [IMC_TAGS.NAME]: tagValue(ic.metadata.name ?? ''),
    [IMC_TAGS.SPEC]: hash,
  };
}

/** The tag value of `key` on a described cache. */
export function tagOf(c: DescribeImageCachesResponseBodyImageCaches, key: string): string | undefined {
  return c.tags?.find((t) => t.key === key)?.value;
}

export function buildCreateRequest(
  ic: ImageCacheObject,
  spec: ImageCacheSpec,
  o: {
    clusterId: string;
    placement: CachePlacement;
    /** `namespace:name` → the Secret, or undefined when it does not exist. */
    secrets: ReadonlyMap<string, V1Secret | undefined>;
  },
): BuildResult {
  const a = ic.metadata.annotations ?? {};
  for (const key of Object.keys(a)) {
    if (REFUSED_IMC_ANNOTATIONS.has(key))
      return {
        ok: false,
        permanent: true,
        why: `annotation ${key} is not supported: CreateImageCache in the ECI SDK this node uses (2.0.3) has no parameter for it`,
      };
    if (key.startsWith('k8s.aliyun.com/imc-') && !Object.values(A).includes(key as never))
      return {
        ok: false,
        permanent: true,
        why: `annotation ${key} is not an ImageCache annotation Alibaba documents (a typo?)`,
      };
  }
  const bool = (key: string): boolean | undefined | 'bad' => {
    const v = a[key]?.trim().toLowerCase();
    if (v === undefined || v === '') return undefined;
    return v === 'true' ? true : v === 'false' ? false : 'bad';
  };
  const reuse = bool(A.ENABLE_REUSE);
  const flash = bool(A.ENABLE_FLASH);
  for (const [key, v] of [
    [A.ENABLE_REUSE, reuse],
    [A.ENABLE_FLASH, flash],
  ] as const)
    if (v === 'bad')
      return { ok: false, permanent: true, why: `annotation ${key} must be "true" or "false"` };

  const warnings: string[] = [];
  const credentials: { server: string; userName: string; password: string }[] = [];
  for (const ref of spec.imagePullSecrets) {
    const secret = o.secrets.get(ref);
    if (!secret)
      return {
        ok: false,
        permanent: false,
        why: `Secret ${ref.replace(':', '/')} (spec.imagePullSecrets) not found`,
      };
    const r = registryCredentials(secret);
    if (!r.ok) {
      warnings.push(`Secret ${ref.replace(':', '/')} is not usable (${r.why}); pulling without it`);
      continue;
    }
    for (const c of r.credentials) {
      const server = registryServer(c.server ?? '');
      if (server && !credentials.some((x) => x.server === server))
        credentials.push({ server, userName: c.userName ?? '', password: c.password ?? '' });
    }
  }

  const vSwitches = (a[A.VSWITCH_IDS] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const acr = (a[A.ACR_INSTANCE_IDS] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const init: ModelInit<CreateImageCacheRequest> = {
    imageCacheName: cacheName(ic.metadata.name ?? ''),
    image: spec.images,
    imageCacheSize: spec.imageCacheSize,
    retentionDays: spec.retentionDays,
    // A retried create (after a crash or a lost answer) returns the same cache.
    clientToken: `${ic.metadata.uid ?? ''}-${specHash(ic, spec)}`.slice(0, 64),
    vSwitchId: (vSwitches.length > 0 ? vSwitches : o.placement.vSwitchIds).join(',') || undefined,
    securityGroupId: a[A.SECURITY_GROUP_ID]?.trim() || o.placement.securityGroupId || undefined,
    resourceGroupId: a[A.RESOURCE_GROUP_ID]?.trim() || undefined,
    imageRegistryCredential: credentials.length > 0 ? credentials : undefined,
    acrRegistryInfo:
      acr.length > 0
        ? acr.map((e) => {
            const [first, second] = e.split(':');
            return {
              ...(second === undefined ? { instanceId: first } : { regionId: first, instanceId: second }),
              ...(a[A.ACR_SERVICE_ARNS] ? { arnService: a[A.ACR_SERVICE_ARNS] } : {}),
              ...(a[A.ACR_USER_ARNS] ? { arnUser: a[A.ACR_USER_ARNS] } : {}),
            };
          })
        : undefined,
    plainHttpRegistry: a[A.PLAIN_HTTP_REGISTRY]?.trim() || undefined,
    insecureRegistry: a[A.INSECURE_REGISTRY]?.trim() || undefined,
    autoMatchImageCache: reuse === true ? true : undefined,
    flash: flash === true ? true : undefined,
    tag: Object.entries(cacheTags(ic, o.clusterId, specHash(ic, spec))).map(([key, value]) => ({
      key,
      value,
    })),
  };
  return { ok: true, request: new CreateImageCacheRequest(init), warnings };
}
