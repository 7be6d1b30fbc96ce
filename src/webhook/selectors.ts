// Parser of the `selectors` key of ConfigMap kube-system/eci-profile.
//
// The documented ConfigMap format (Alibaba Cloud ECI docs, "配置eci-profile" and "配置eci-profile自动使用
// ImageCache"): a JSON array of
//   { "name": "demo",                                        // required, non-empty
//     "namespaceSelector": { "matchLabels": { ... } },        // optional, namespace labels, ANDed
//     "objectSelector":    { "matchLabels": { ... } },        // optional, pod labels, ANDed
//     "effect": { "annotations": { ... }, "labels": { ... } } }
// ACK's newer Selector CRD (github.com/aliyuneci/eci-profile, eci.aliyun.com/v1 Selector.spec) spells
// the two selectors `namespaceLabels` / `objectLabels` and types them as metav1.LabelSelector; both
// spellings and `matchExpressions` are accepted here so either kind of config routes the same way.
import { z } from 'zod';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { LabelSelector, RoutingSelector } from './decide.ts';

// Kubernetes validation (apimachinery IsQualifiedName / IsValidLabelValue). An effect that breaks these
// would make the API server reject every pod it is added to — a failure `failurePolicy: Ignore` cannot
// absorb, because the webhook call itself succeeded — so it is refused here, when the config is read.
const NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'prefix must be a DNS subdomain (lower case, at most 253 characters)';
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return 'name must be 1-63 alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric';
  }
  return undefined;
}

const qualifiedKey = z.string().superRefine((k, ctx) => {
  const problem = qualifiedNameProblem(k);
  if (problem) ctx.addIssue({ code: 'custom', message: `invalid key ${JSON.stringify(k)}: ${problem}` });
});
const labelValue = z
  .string()
  .refine(
    (v) => v === '' || (v.length <= 63 && NAME.test(v)),
    'a label value must be empty or 1-63 alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric',
  );

const requirement = z
  .strictObject({
    key: qualifiedKey,
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })
  .superRefine((r, ctx) => {
    const n = r.values?.length ?? 0;
    if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `must not be empty for ${r.operator}` });
    }
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `must be empty for ${r.operator}` });
    }
  });

const labelSelector = z.strictObject({
  matchLabels: z.record(qualifiedKey, labelValue).optional(),
  matchExpressions: z.array(requirement).optional(),
});

const selector = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty'),
    namespaceSelector: labelSelector.optional(),
    objectSelector: labelSelector.optional(),
    namespaceLabels: labelSelector.optional(),
    objectLabels: labelSelector.optional(),
    effect: z
      .strictObject({
        annotations: z.record(qualifiedKey, z.string()).optional(),
        labels: z.record(qualifiedKey, labelValue).optional(),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    for (const [a, b] of [
      ['namespaceSelector', 'namespaceLabels'],
      ['objectSelector', 'objectLabels'],
    ] as const) {
      if (s[a] && s[b]) ctx.addIssue({ code: 'custom', path: [b], message: `give ${a} or ${b}, not both` });
    }
    const ns = s.namespaceSelector ?? s.namespaceLabels;
    const obj = s.objectSelector ?? s.objectLabels;
    if (isEmpty(ns) && isEmpty(obj)) {
      // An empty selector matches everything: one typo would send every pod in the cluster to ECI.
      ctx.addIssue({
        code: 'custom',
        message:
          'needs a non-empty namespaceSelector or objectSelector (an empty one would select every pod)',
      });
    }
  });

function isEmpty(sel: LabelSelector | undefined): boolean {
  return (
    !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}

const selectorList = z.array(selector);

/**
 * Parses and validates eci-profile's `selectors` (a JSON array; empty or blank text — ACK's default
 * `selectors: ""` — means none). Throws a ProductError (EVN_CONFIG_INVALID) whose message names each
 * bad entry by index and key, e.g. `selectors[1].objectSelector.matchLabels: ...`.
 */
export function parseSelectors(json: string): RoutingSelector[] {
  if (json.trim() === '') return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `eci-profile selectors: not valid JSON (${(err as Error).message})`,
      { cause: err },
    );
  }
  const r = selectorList.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${formatPath(i.path)}: ${issueMessage(i)}`);
    throw new ProductError(
      ErrorCodes.CONFIG_INVALID,
      `eci-profile selectors invalid:\n  ${lines.join('\n  ')}`,
    );
  }
  return r.data.map((s) => ({
    name: s.name,
    namespaceSelector: nonEmpty(s.namespaceSelector ?? s.namespaceLabels),
    objectSelector: nonEmpty(s.objectSelector ?? s.objectLabels),
    effect: { annotations: s.effect?.annotations ?? {}, labels: s.effect?.labels ?? {} },
  }));
}

function nonEmpty(sel: LabelSelector | undefined): LabelSelector | undefined {
  return isEmpty(sel) ? undefined : sel;
}

/** A bad record key is reported as "Invalid key in record" with the reason nested; show the reason. */
function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_key') return i.issues.map((n) => n.message).join('; ');
  return i.message;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = 'selectors';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}
