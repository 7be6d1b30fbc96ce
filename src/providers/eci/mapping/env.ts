import type { CreateContainerGroupRequestContainerEnvironmentVar } from '@alicloud/eci20180808';
import type { V1Container, V1ObjectFieldSelector, V1Pod } from '@kubernetes/client-node';
import { refuse, type BuildContext } from './build-context.ts';
import { expand } from './expand.ts';
import { resourceFieldValue } from './resources.ts';
import { RefusalReasons, type ModelInit } from './types.ts';

export type EnvVarInit = ModelInit<CreateContainerGroupRequestContainerEnvironmentVar>;

/**
 * ECI resolves only one field reference itself: `FieldRef.FieldPath=status.podIP` (ECI
 * EnvironmentVar reference: "Only status.podIP is supported"). Everything else the pod can know is
 * known before creation and is sent as a literal.
 */
export const ECI_POD_IP_FIELD = 'status.podIP';

export interface ContainerEnv {
  readonly vars: EnvVarInit[];
  /** True when a value came from a Secret: ECI then hides the env from DescribeContainerGroups. */
  readonly fromSecret: boolean;
  /** Literal values by name, for `$(VAR)` in command, args and subPathExpr. */
  readonly literals: ReadonlyMap<string, string>;
}

/** Kubernetes' relaxed env var name rule: printable ASCII except '='. */
const ENV_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;

function decodeSecret(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** A pod field as the downward API renders it in env, or 'podIP' when only ECI can know it. */
export function podFieldValue(
  b: BuildContext,
  ref: V1ObjectFieldSelector,
  field: string,
): { value: string } | { podIP: true } {
  const pod: V1Pod = b.pod;
  const p = ref.fieldPath;
  const meta = pod.metadata ?? {};
  switch (p) {
    case 'metadata.name':
      return { value: meta.name ?? '' };
    case 'metadata.namespace':
      return { value: meta.namespace ?? 'default' };
    case 'metadata.uid':
      return { value: meta.uid ?? '' };
    case 'spec.nodeName':
      return { value: pod.spec?.nodeName || b.nodeName };
    case 'spec.serviceAccountName':
      return { value: pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default' };
    case 'status.podIP':
    case 'status.podIPs':
      return { podIP: true };
    case 'status.hostIP':
    case 'status.hostIPs':
      // The status mapping reports the node's InternalIP when known, else the pod IP; env must agree.
      return b.hostIP ? { value: b.hostIP } : { podIP: true };
  }
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(p);
  if (m) {
    const map = m[1] === 'labels' ? meta.labels : meta.annotations;
    return { value: map?.[m[2] ?? ''] ?? '' };
  }
  return refuse(
    `${field}.valueFrom.fieldRef.fieldPath`,
    RefusalReasons.ENV,
    `fieldRef ${p} is not available to environment variables on ECI; use metadata.name, metadata.namespace, ` +
      `metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, ` +
      `spec.serviceAccountName, status.podIP or status.hostIP`,
  );
}

/**
 * A container's environment as the kubelet would build it: service variables lowest, then envFrom
 * sources in order, then env entries in order (later wins), with `$(VAR)` expanded in env values
 * against what is defined before them. Values of a missing required ConfigMap/Secret (key) are
 * recorded in `b.missing` and left out.
 */
export function containerEnv(
  b: BuildContext,
  c: V1Container,
  path: string,
  serviceEnv: Readonly<Record<string, string>> = {},
): ContainerEnv {
  const vars = new Map<string, EnvVarInit>();
  const literals = new Map<string, string>();
  let fromSecret = false;
  const setLiteral = (k: string, v: string): void => {
    vars.set(k, { key: k, value: v });
    literals.set(k, v);
  };
  const lookup = (name: string): string | undefined => literals.get(name) ?? serviceEnv[name];

  (c.envFrom ?? []).forEach((f, i) => {
    const field = `${path}.envFrom[${i}]`;
    const prefix = f.prefix ?? '';
    let data: Record<string, string> | undefined;
    let secret = false;
    if (f.configMapRef?.name) {
      const cm = b.refs.configMaps.get(f.configMapRef.name);
      if (!cm) {
        if (!f.configMapRef.optional) b.missing.push({ kind: 'ConfigMap', name: f.configMapRef.name, field });
        return;
      }
      data = cm.data ?? {};
    } else if (f.secretRef?.name) {
      const s = b.refs.secrets.get(f.secretRef.name);
      if (!s) {
        if (!f.secretRef.optional) b.missing.push({ kind: 'Secret', name: f.secretRef.name, field });
        return;
      }
      secret = true;
      data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decodeSecret(v)]));
    }
    const skipped: string[] = [];
    for (const [k, v] of Object.entries(data ?? {})) {
      const name = prefix + k;
      if (!ENV_NAME.test(name)) {
        skipped.push(k);
        continue;
      }
      setLiteral(name, v);
      fromSecret ||= secret;
    }
    if (skipped.length > 0) {
      b.warnings.push(
        `${field}: skipped keys that are not valid environment variable names: ${skipped.join(', ')}`,
      );
    }
  });

  (c.env ?? []).forEach((e, i) => {
    const field = `${path}.env[${i}]`;
    const vf = e.valueFrom;
    if (!vf) {
      setLiteral(e.name, expand(e.value ?? '', lookup));
      return;
    }
    if (vf.fieldRef) {
      const r = podFieldValue(b, vf.fieldRef, field);
      if ('podIP' in r) {
        vars.set(e.name, { key: e.name, fieldRef: { fieldPath: ECI_POD_IP_FIELD } });
        literals.delete(e.name);
      } else {
        setLiteral(e.name, r.value);
      }
      return;
    }
    if (vf.resourceFieldRef) {
      const target = vf.resourceFieldRef.containerName
        ? [...(b.pod.spec?.containers ?? []), ...(b.pod.spec?.initContainers ?? [])].find(
            (x) => x.name === vf.resourceFieldRef?.containerName,
          )
        : c;
      const v = target
        ? resourceFieldValue(
            target,
            vf.resourceFieldRef.resource,
            vf.resourceFieldRef.divisor,
            b.groupCapacity,
          )
        : undefined;
      if (v === undefined) {
        refuse(
          `${field}.valueFrom.resourceFieldRef`,
          RefusalReasons.ENV,
          `resourceFieldRef ${vf.resourceFieldRef.resource} of container ` +
            `${vf.resourceFieldRef.containerName ?? c.name} cannot be resolved; use limits.cpu, limits.memory, ` +
            `limits.ephemeral-storage, requests.cpu, requests.memory or requests.ephemeral-storage of a container in this pod`,
        );
      }
      setLiteral(e.name, v);
      return;
    }
    if (vf.configMapKeyRef) {
      const { name, key, optional } = vf.configMapKeyRef;
      const cm = b.refs.configMaps.get(name ?? '');
      const value = cm?.data?.[key];
      if (value === undefined) {
        if (!optional) b.missing.push({ kind: 'ConfigMap', name: name ?? '', ...(cm ? { key } : {}), field });
        return;
      }
      setLiteral(e.name, value);
      return;
    }
    if (vf.secretKeyRef) {
      const { name, key, optional } = vf.secretKeyRef;
      const s = b.refs.secrets.get(name ?? '');
      const value = s?.data?.[key];
      if (value === undefined) {
        if (!optional) b.missing.push({ kind: 'Secret', name: name ?? '', ...(s ? { key } : {}), field });
        return;
      }
      setLiteral(e.name, decodeSecret(value));
      fromSecret = true;
      return;
    }
    refuse(
      `${field}.valueFrom`,
      RefusalReasons.ENV,
      `env ${e.name} uses a valueFrom source ECI cannot express`,
    );
  });

  const out: EnvVarInit[] = [];
  for (const [k, v] of Object.entries(serviceEnv)) {
    if (!vars.has(k)) out.push({ key: k, value: v });
  }
  out.push(...vars.values());
  const all = new Map(literals);
  for (const [k, v] of Object.entries(serviceEnv)) if (!all.has(k)) all.set(k, v);
  return { vars: out, fromSecret, literals: all };
}
