import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';

/**
 * The Kubernetes objects a pod's spec points at, fetched by the caller before mapping (the mapping
 * does no I/O). Keys are object names in the pod's namespace.
 *
 * Contract: fetch everything `requiredRefs(pod)` lists. Put what exists into the maps and leave out
 * what does not. An optional reference that is absent is then treated as Kubernetes treats it (empty);
 * a required one that is absent makes `podToCreateRequest` answer `missing` — retry later, as the
 * kubelet does for CreateContainerConfigError.
 */
export interface ResolvedRefs {
  readonly configMaps: ReadonlyMap<string, V1ConfigMap>;
  readonly secrets: ReadonlyMap<string, V1Secret>;
  /** Service-account tokens from TokenRequest, keyed by `tokenKey(audience, expirationSeconds)`. */
  readonly serviceAccountTokens: ReadonlyMap<string, string>;
}

export const NO_REFS: ResolvedRefs = {
  configMaps: new Map(),
  secrets: new Map(),
  serviceAccountTokens: new Map(),
};

/** Kubernetes' default lifetime for a projected service-account token. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;

/** The key of a token in `ResolvedRefs.serviceAccountTokens`; '' is the API server's own audience. */
export function tokenKey(audience: string | undefined, expirationSeconds: number | undefined): string {
  return `${audience ?? ''}|${expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS}`;
}

export type RefNeed =
  | { readonly kind: 'ConfigMap' | 'Secret'; readonly name: string; readonly optional: boolean }
  | {
      readonly kind: 'ServiceAccountToken';
      /** The pod's service account; TokenRequest on it, bound to this pod. */
      readonly serviceAccountName: string;
      readonly audience: string;
      readonly expirationSeconds: number;
      readonly key: string;
      readonly optional: false;
    };

/** A reference the mapping needed and did not find; `key` when the object exists but lacks the key. */
export interface MissingRef {
  readonly kind: 'ConfigMap' | 'Secret' | 'ServiceAccountToken';
  readonly name: string;
  readonly key?: string;
  /** Where the pod refers to it, e.g. `spec.containers[0].env[2]`. */
  readonly field: string;
}

function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

/**
 * Every ConfigMap, Secret and service-account token the pod needs, each once. An object referenced
 * both optionally and not is required. Image pull secrets are optional: Kubernetes pulls without a
 * missing one rather than failing the pod.
 */
export function requiredRefs(pod: V1Pod): RefNeed[] {
  const objects = new Map<string, { kind: 'ConfigMap' | 'Secret'; name: string; optional: boolean }>();
  const tokens = new Map<string, RefNeed>();
  const add = (
    kind: 'ConfigMap' | 'Secret',
    name: string | undefined,
    optional: boolean | undefined,
  ): void => {
    if (!name) return;
    const k = `${kind}/${name}`;
    const prev = objects.get(k);
    objects.set(k, { kind, name, optional: (prev?.optional ?? true) && optional === true });
  };
  for (const c of allContainers(pod)) {
    for (const e of c.env ?? []) {
      add('ConfigMap', e.valueFrom?.configMapKeyRef?.name, e.valueFrom?.configMapKeyRef?.optional);
      add('Secret', e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.optional);
    }
    for (const f of c.envFrom ?? []) {
      add('ConfigMap', f.configMapRef?.name, f.configMapRef?.optional);
      add('Secret', f.secretRef?.name, f.secretRef?.optional);
    }
  }
  const sa = pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
  for (const v of pod.spec?.volumes ?? []) {
    add('ConfigMap', v.configMap?.name, v.configMap?.optional);
    add('Secret', v.secret?.secretName, v.secret?.optional);
    for (const s of v.projected?.sources ?? []) {
      add('ConfigMap', s.configMap?.name, s.configMap?.optional);
      add('Secret', s.secret?.name, s.secret?.optional);
      const t = s.serviceAccountToken;
      if (t) {
        const audience = t.audience ?? '';
        const expirationSeconds = t.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS;
        const key = tokenKey(audience, expirationSeconds);
        tokens.set(key, {
          kind: 'ServiceAccountToken',
          serviceAccountName: sa,
          audience,
          expirationSeconds,
          key,
          optional: false,
        });
      }
    }
  }
  for (const s of pod.spec?.imagePullSecrets ?? []) add('Secret', s.name, true);
  return [...objects.values(), ...tokens.values()];
}

/** The subset of `requiredRefs(pod)` not yet in `refs` — what the caller still has to fetch. */
export function missingRefs(pod: V1Pod, refs: ResolvedRefs = NO_REFS): RefNeed[] {
  return requiredRefs(pod).filter((n) => {
    if (n.kind === 'ServiceAccountToken') return !refs.serviceAccountTokens.has(n.key);
    return n.kind === 'ConfigMap' ? !refs.configMaps.has(n.name) : !refs.secrets.has(n.name);
  });
}
