import OpenApiUtil from '@alicloud/openapi-util';
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { CreateContext } from '../../src/providers/eci/mapping/pod-to-group.ts';
import type { ResolvedRefs } from '../../src/providers/eci/mapping/refs.ts';

/** Pods, refs and wire helpers shared by the ECI mapping's tests (src/providers/eci/mapping). */

export function container(over: Partial<V1Container> = {}): V1Container {
  return { name: 'app', image: 'nginx:1.27', ...over };
}

export function pod(
  spec: Partial<NonNullable<V1Pod['spec']>> = {},
  meta: Partial<NonNullable<V1Pod['metadata']>> = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', uid: '0a1b2c3d-0000-4000-8000-000000000001', ...meta },
    spec: { containers: [container()], nodeName: 'virtual-kubelet', ...spec },
  };
}

export function secret(name: string, data: Record<string, string>, type = 'Opaque'): V1Secret {
  return {
    metadata: { name },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export function configMap(
  name: string,
  data: Record<string, string>,
  binaryData?: Record<string, string>,
): V1ConfigMap {
  return { metadata: { name }, data, ...(binaryData ? { binaryData } : {}) };
}

export function refs(
  r: { configMaps?: V1ConfigMap[]; secrets?: V1Secret[]; tokens?: Record<string, string> } = {},
): ResolvedRefs {
  return {
    configMaps: new Map((r.configMaps ?? []).map((c) => [c.metadata?.name ?? '', c])),
    secrets: new Map((r.secrets ?? []).map((s) => [s.metadata?.name ?? '', s])),
    serviceAccountTokens: new Map(Object.entries(r.tokens ?? {})),
  };
}

export function ctx(over: Partial<CreateContext> = {}): CreateContext {
  return {
    regionId: 'cn-hangzhou',
    vSwitchIds: ['vsw-a', 'vsw-b'],
    securityGroupId: 'sg-1',
    clusterId: 'c-test',
    nodeName: 'virtual-kubelet',
    refs: refs(),
    ...over,
  };
}

/** A model as plain JSON (camelCase fields, no undefined, no class), for deepEqual. */
export function plain<T>(x: T): unknown {
  return JSON.parse(JSON.stringify(x)) as unknown;
}

export function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

/**
 * A model flattened the way the SDK sends it (`POST /?Container.1.Image=...`). openapi-util is the
 * SDK's own serialiser; it is CommonJS with `exports.default`, hence `.default` under ESM.
 */
export function wireQuery(model: { toMap(): Record<string, unknown> }): Record<string, string> {
  return OpenApiUtil.default.query(model.toMap());
}
