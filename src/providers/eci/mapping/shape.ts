import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { parseQuantity } from './quantity.ts';
import { refusal, RefusalReasons, type Refusal } from './types.ts';

/**
 * The shape of every pod field the mapping reads, checked before any rule looks at the pod. The API
 * server normally guarantees it, but the mapping must not depend on that: a `null` container, a
 * quantity like `1.5.5Gi` or a probe port 70000 must become a refusal naming the field, never a
 * TypeError deep in the mapping or a value silently dropped. Unknown fields pass (the mapping ignores
 * them); only types and ranges of the fields read are checked.
 */

const str = z.string();
const name = z.string().min(1, 'must not be empty');
const int = z.number().int('must be an integer');
const nonNegInt = int.min(0, 'must not be negative');
const bool = z.boolean();
const strList = z.array(str);
const strMap = z.record(z.string(), str);

const quantity = z.union([z.string(), z.number()]).superRefine((v, ctx) => {
  const n = parseQuantity(v);
  if (n === undefined || !Number.isFinite(n)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)} is not a quantity (e.g. 500m, 1.5Gi)`,
      params: { kind: 'quantity' },
    });
  } else if (n < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(v)} is negative`,
      params: { kind: 'quantity' },
    });
  }
});
const resourceList = z.record(z.string(), quantity);
const resources = z.looseObject({ limits: resourceList.optional(), requests: resourceList.optional() });

const portNumber = int.min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535');
/** A port by number or by the name of one of the container's ports (IANA_SVC_NAME, at most 15 characters). */
const intOrStringPort = z.union([
  portNumber,
  z
    .string()
    .regex(/^(?:\d+|[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?)$/, 'must be a port number or a port name')
    .superRefine((v, ctx) => {
      if (/^\d+$/.test(v) && (Number(v) < 1 || Number(v) > 65535)) {
        ctx.addIssue({ code: 'custom', message: 'must be between 1 and 65535', params: { kind: 'port' } });
      }
    }),
]);

const httpGet = z.looseObject({
  path: str.optional(),
  port: intOrStringPort,
  host: str.optional(),
  scheme: str.optional(),
  httpHeaders: z.array(z.looseObject({ name: str, value: str })).optional(),
});
const tcpSocket = z.looseObject({ port: intOrStringPort, host: str.optional() });
const exec = z.looseObject({ command: strList.optional() });
const probe = z.looseObject({
  exec: exec.optional(),
  httpGet: httpGet.optional(),
  tcpSocket: tcpSocket.optional(),
  grpc: z.looseObject({ port: portNumber }).optional(),
  initialDelaySeconds: nonNegInt.optional(),
  periodSeconds: nonNegInt.optional(),
  timeoutSeconds: nonNegInt.optional(),
  successThreshold: nonNegInt.optional(),
  failureThreshold: nonNegInt.optional(),
});
const handler = z.looseObject({
  exec: exec.optional(),
  httpGet: httpGet.optional(),
  tcpSocket: tcpSocket.optional(),
  sleep: z.looseObject({ seconds: nonNegInt }).optional(),
});

const keyRef = z.looseObject({ name: str.optional(), key: str, optional: bool.optional() });
const fieldRef = z.looseObject({ fieldPath: str, apiVersion: str.optional() });
const resourceFieldRef = z.looseObject({
  resource: str,
  containerName: str.optional(),
  divisor: quantity.optional(),
});
const env = z.looseObject({
  name,
  value: str.optional(),
  valueFrom: z
    .looseObject({
      configMapKeyRef: keyRef.optional(),
      secretKeyRef: keyRef.optional(),
      fieldRef: fieldRef.optional(),
      resourceFieldRef: resourceFieldRef.optional(),
    })
    .optional(),
});
const envFrom = z.looseObject({
  prefix: str.optional(),
  configMapRef: z.looseObject({ name: str.optional(), optional: bool.optional() }).optional(),
  secretRef: z.looseObject({ name: str.optional(), optional: bool.optional() }).optional(),
});

const container = z.looseObject({
  name,
  image: name,
  imagePullPolicy: str.optional(),
  command: strList.optional(),
  args: strList.optional(),
  workingDir: str.optional(),
  ports: z
    .array(
      z.looseObject({
        containerPort: portNumber,
        hostPort: int.min(0).max(65535).optional(),
        name: str.optional(),
        protocol: str.optional(),
      }),
    )
    .optional(),
  env: z.array(env).optional(),
  envFrom: z.array(envFrom).optional(),
  resources: resources.optional(),
  volumeMounts: z
    .array(
      z.looseObject({
        name,
        mountPath: name,
        readOnly: bool.optional(),
        subPath: str.optional(),
        subPathExpr: str.optional(),
        mountPropagation: str.optional(),
        recursiveReadOnly: str.optional(),
      }),
    )
    .optional(),
  volumeDevices: z.array(z.looseObject({})).optional(),
  livenessProbe: probe.optional(),
  readinessProbe: probe.optional(),
  startupProbe: probe.optional(),
  lifecycle: z.looseObject({ postStart: handler.optional(), preStop: handler.optional() }).optional(),
  securityContext: z
    .looseObject({
      privileged: bool.optional(),
      runAsUser: int.optional(),
      runAsGroup: int.optional(),
      runAsNonRoot: bool.optional(),
      readOnlyRootFilesystem: bool.optional(),
      capabilities: z.looseObject({ add: strList.optional(), drop: strList.optional() }).optional(),
    })
    .optional(),
  stdin: bool.optional(),
  stdinOnce: bool.optional(),
  tty: bool.optional(),
  restartPolicy: str.optional(),
  terminationMessagePath: str.optional(),
  terminationMessagePolicy: str.optional(),
});

const keyToPath = z.looseObject({ key: str, path: str, mode: int.optional() });
const downwardItems = z.array(
  z.looseObject({
    path: str,
    fieldRef: fieldRef.optional(),
    resourceFieldRef: resourceFieldRef.optional(),
    mode: int.optional(),
  }),
);
const volume = z.looseObject({
  name,
  emptyDir: z.looseObject({ medium: str.optional(), sizeLimit: quantity.optional() }).nullish(),
  configMap: z
    .looseObject({
      name: str.optional(),
      items: z.array(keyToPath).optional(),
      defaultMode: int.optional(),
      optional: bool.optional(),
    })
    .nullish(),
  secret: z
    .looseObject({
      secretName: str.optional(),
      items: z.array(keyToPath).optional(),
      defaultMode: int.optional(),
      optional: bool.optional(),
    })
    .nullish(),
  projected: z
    .looseObject({
      defaultMode: int.optional(),
      sources: z
        .array(
          z.looseObject({
            configMap: z
              .looseObject({ name: str.optional(), items: z.array(keyToPath).optional() })
              .optional(),
            secret: z.looseObject({ name: str.optional(), items: z.array(keyToPath).optional() }).optional(),
            downwardAPI: z.looseObject({ items: downwardItems.optional() }).optional(),
            serviceAccountToken: z
              .looseObject({ path: str, audience: str.optional(), expirationSeconds: nonNegInt.optional() })
              .optional(),
          }),
        )
        .optional(),
    })
    .nullish(),
  downwardAPI: z.looseObject({ items: downwardItems.optional(), defaultMode: int.optional() }).nullish(),
  nfs: z.looseObject({ server: name, path: name, readOnly: bool.optional() }).nullish(),
});

const podSchema = z.looseObject({
  metadata: z.looseObject({
    name: str.optional(),
    namespace: str.optional(),
    uid: str.optional(),
    labels: strMap.nullish(),
    annotations: strMap.nullish(),
    ownerReferences: z.array(z.looseObject({ kind: str.optional(), name: str.optional() })).optional(),
  }),
  spec: z.looseObject({
    containers: z.array(container).min(1, 'a pod needs at least one container'),
    initContainers: z.array(container).optional(),
    ephemeralContainers: z.array(z.looseObject({})).optional(),
    volumes: z.array(volume).optional(),
    restartPolicy: str.optional(),
    terminationGracePeriodSeconds: nonNegInt.optional(),
    activeDeadlineSeconds: int.min(1, 'must be at least 1').optional(),
    shareProcessNamespace: bool.optional(),
    hostNetwork: bool.optional(),
    hostPID: bool.optional(),
    hostIPC: bool.optional(),
    hostname: str.optional(),
    subdomain: str.optional(),
    setHostnameAsFQDN: bool.optional(),
    serviceAccountName: str.optional(),
    automountServiceAccountToken: bool.optional(),
    dnsPolicy: str.optional(),
    dnsConfig: z
      .looseObject({
        nameservers: strList.optional(),
        searches: strList.optional(),
        options: z.array(z.looseObject({ name: str.optional(), value: str.optional() })).optional(),
      })
      .optional(),
    hostAliases: z.array(z.looseObject({ ip: str, hostnames: strList.optional() })).optional(),
    imagePullSecrets: z.array(z.looseObject({ name: str.optional() })).optional(),
    securityContext: z
      .looseObject({
        runAsUser: int.optional(),
        runAsGroup: int.optional(),
        runAsNonRoot: bool.optional(),
        fsGroup: int.optional(),
        supplementalGroups: z.array(int).optional(),
        sysctls: z.array(z.looseObject({ name, value: str })).optional(),
      })
      .optional(),
    os: z.looseObject({ name: str }).optional(),
    resources: resources.optional(),
    resourceClaims: z.array(z.looseObject({})).optional(),
    readinessGates: z.array(z.looseObject({ conditionType: str })).optional(),
  }),
});

/** `spec.containers[0].resources.limits.memory`, `metadata.annotations['k8s.aliyun.com/x']`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(p))) out += out === '' ? String(p) : `.${String(p)}`;
    else out += `['${String(p)}']`;
  }
  return out || 'spec';
}

/** The first field of `pod` the mapping cannot read, as a refusal; null when the shape is sound. */
export function podShapeRefusal(pod: V1Pod): Refusal | null {
  const r = podSchema.safeParse(pod);
  if (r.success) return null;
  // Union issues nest the real cause; the deepest issue names the field best.
  const issue = deepest(r.error.issues);
  const field = fieldPath(issue.path);
  const kind = kindOf(issue);
  const reason =
    kind === 'quantity'
      ? RefusalReasons.INVALID_QUANTITY
      : kind === 'port'
        ? RefusalReasons.INVALID_PORT
        : RefusalReasons.INVALID_SPEC;
  return refusal(field, reason, `${field}: ${describe(issue)}`);
}

type Issue = z.core.$ZodIssue;

function deepest(issues: readonly Issue[]): Issue {
  let best = issues[0]!;
  for (const i of issues) {
    if (i.code === 'invalid_union') {
      for (const branch of i.errors) {
        if (branch.length === 0) continue;
        const d = deepest(branch.map((b) => ({ ...b, path: [...i.path, ...b.path] })));
        if (d.path.length > best.path.length || best === i) best = d;
      }
    } else if (i.path.length > best.path.length) best = i;
  }
  return best;
}

function kindOf(issue: Issue): string | undefined {
  if (issue.code === 'custom') return (issue.params as { kind?: string } | undefined)?.kind;
  if ((issue.code === 'too_small' || issue.code === 'too_big') && /65535/.test(issue.message)) return 'port';
  return undefined;
}

function describe(issue: Issue): string {
  return issue.message.replace(/^Invalid input: /, '');
}
