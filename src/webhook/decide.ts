// The routing decision: which pods go to the virtual node, and the JSON Patch that sends them there.
// Pure — plain objects in, plain objects out — so every rule is table-tested without a server.

/** Pod label (also accepted on namespaces) that sends a pod to ECI, as ACK documents it. */
export const ECI_LABEL = 'alibabacloud.com/eci';
/** ACK still honours `eci=true` on pods ("仍支持添加eci=true的Label，但不推荐"). */
export const LEGACY_ECI_LABEL = 'eci';

/** The taint every virtual node carries (see the node registration), tolerated by routed pods. */
export const VIRTUAL_NODE_TAINT = {
  key: 'virtual-kubelet.io/provider',
  value: 'alibabacloud',
  effect: 'NoSchedule',
} as const;
export const VIRTUAL_NODE_TOLERATION = {
  key: VIRTUAL_NODE_TAINT.key,
  operator: 'Exists',
  effect: VIRTUAL_NODE_TAINT.effect,
} as const;
export const VIRTUAL_NODE_SELECTOR: Readonly<Record<string, string>> = { type: 'virtual-kubelet' };

/** Namespaces whose pods are never touched: the cluster's own machinery must not depend on ECI. */
export const EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];
/** The controller's own pods: routing them to the node they implement would be a bootstrap loop. */
export const OWN_POD_LABEL = { key: 'app', value: 'ack-virtual-node-controller' } as const;

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

/** Kubernetes `metav1.LabelSelector` semantics: every matchLabels pair and every expression must hold. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** One entry of eci-profile's `selectors`: pods it matches are routed and get its effect. */
export interface RoutingSelector {
  name: string;
  /** Labels of the pod's namespace; absent = any namespace. */
  namespaceSelector?: LabelSelector;
  /** Labels of the pod; absent = any pod. At least one of the two selectors is present. */
  objectSelector?: LabelSelector;
  /** Added to the pod; a key the pod already has keeps the pod's value. */
  effect: { annotations: Record<string, string>; labels: Record<string, string> };
}

/** What the webhook routes by besides the fixed labels; read anew for every request (hot reload). */
export interface RoutingProfile {
  readonly selectors: readonly RoutingSelector[];
}

export const EMPTY_PROFILE: RoutingProfile = { selectors: [] };

/** RFC 6902 operations we emit. */
export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** The parts of a Pod (as the raw JSON in an AdmissionReview) the decision reads. */
export interface AdmissionPod {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string> | null;
    annotations?: Record<string, string> | null;
  };
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string> | null;
    tolerations?: Toleration[] | null;
    affinity?: { nodeAffinity?: unknown; podAffinity?: unknown; podAntiAffinity?: unknown } | null;
  };
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface Decision {
  /** Empty when the pod is admitted unchanged. */
  patch: JsonPatchOp[];
  /** Why, in words an operator reads in a log line. */
  reason: string;
  /** True when the pod is sent to the virtual node. */
  routed: boolean;
}

/**
 * Decides how to mutate a pod being created. `namespaceLabels` undefined means they could not be
 * read: routing by namespace then does not happen, routing by the pod's own labels still does.
 */
export function decide(
  pod: AdmissionPod,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
  profile: RoutingProfile,
): Decision {
  const skip = excluded(pod);
  if (skip) return { patch: [], reason: skip, routed: false };

  const labels = pod.metadata?.labels ?? {};
  const route = routeReason(labels, namespaceLabels);
  if (route === 'opted-out') {
    return { patch: [], reason: `pod label ${optOutLabel(labels)} opts out of ECI`, routed: false };
  }
  const matched = profile.selectors.filter((s) => selectorMatches(s, labels, namespaceLabels));
  if (!route && matched.length === 0) {
    return { patch: [], reason: 'no ECI label or eci-profile selector matches', routed: false };
  }
  const reasons = [...(route ? [route] : []), ...matched.map((s) => `eci-profile selector ${s.name}`)];
  const patch = [
    ...routingPatch(pod),
    ...mapPatch('/metadata/labels', pod.metadata?.labels, mergeEffects(matched, 'labels')),
    ...mapPatch('/metadata/annotations', pod.metadata?.annotations, mergeEffects(matched, 'annotations')),
  ];
  const why = reasons.join(', ');
  return {
    patch,
    reason: patch.length ? `routed to the virtual node by ${why}` : `already routed (${why})`,
    routed: true,
  };
}

/** Pods no rule may touch, whatever their labels say — also enforced by the webhook's selectors. */
function excluded(pod: AdmissionPod): string | undefined {
  const ns = pod.metadata?.namespace;
  if (ns && EXCLUDED_NAMESPACES.includes(ns)) return `namespace ${ns} is never routed`;
  if (pod.metadata?.labels?.[OWN_POD_LABEL.key] === OWN_POD_LABEL.value) {
    return `the controller's own pod (${OWN_POD_LABEL.key}=${OWN_POD_LABEL.value}) is never routed`;
  }
  // A pod bound by name bypasses the scheduler; a nodeSelector added now would only make the kubelet
  // of that node reject it.
  if (pod.spec?.nodeName) return `pod is already bound to node ${pod.spec.nodeName}`;
  return undefined;
}

/**
 * The pod's own label decides first (true routes, false opts out even in a labelled namespace), then
 * the namespace label. The current label outranks the legacy one when both are set.
 */
function routeReason(
  labels: Readonly<Record<string, string>>,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): string | 'opted-out' | undefined {
  for (const key of [ECI_LABEL, LEGACY_ECI_LABEL]) {
    const v = labels[key];
    if (v === 'true') return `pod label ${key}=true`;
    if (v === 'false') return 'opted-out';
  }
  if (namespaceLabels?.[ECI_LABEL] === 'true') return `namespace label ${ECI_LABEL}=true`;
  return undefined;
}

function optOutLabel(labels: Readonly<Record<string, string>>): string {
  return labels[ECI_LABEL] === 'false' ? `${ECI_LABEL}=false` : `${LEGACY_ECI_LABEL}=false`;
}

function selectorMatches(
  s: RoutingSelector,
  podLabels: Readonly<Record<string, string>>,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (s.namespaceSelector && (!namespaceLabels || !labelsMatch(s.namespaceSelector, namespaceLabels))) {
    return false;
  }
  if (s.objectSelector && !labelsMatch(s.objectSelector, podLabels)) return false;
  return Boolean(s.namespaceSelector || s.objectSelector);
}

/** `metav1.LabelSelector` matching, as the API server does it. */
export function labelsMatch(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const ok =
      r.operator === 'In'
        ? has && (r.values ?? []).includes(value as string)
        : r.operator === 'NotIn'
          ? !has || !(r.values ?? []).includes(value as string)
          : r.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/**
 * Toleration (merged, never duplicated), nodeSelector replaced and node affinity dropped: the ECI
 * label wins over the pod's own node selection, as ACK documents. Pod (anti-)affinity stays.
 */
function routingPatch(pod: AdmissionPod): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const tolerations = pod.spec?.tolerations;
  if (!tolerations) {
    ops.push({ op: 'add', path: '/spec/tolerations', value: [{ ...VIRTUAL_NODE_TOLERATION }] });
  } else if (!tolerations.some(toleratesVirtualNode)) {
    ops.push({ op: 'add', path: '/spec/tolerations/-', value: { ...VIRTUAL_NODE_TOLERATION } });
  }
  if (!sameMap(pod.spec?.nodeSelector ?? undefined, VIRTUAL_NODE_SELECTOR)) {
    // `add` on an existing member replaces it (RFC 6902 §4.1), so one op covers both cases.
    ops.push({ op: 'add', path: '/spec/nodeSelector', value: { ...VIRTUAL_NODE_SELECTOR } });
  }
  if (pod.spec?.affinity?.nodeAffinity !== undefined) {
    ops.push({ op: 'remove', path: '/spec/affinity/nodeAffinity' });
  }
  return ops;
}

/** Kubernetes' ToleratesTaint for the virtual node's taint. */
export function toleratesVirtualNode(t: Toleration): boolean {
  if (t.effect && t.effect !== VIRTUAL_NODE_TAINT.effect) return false;
  const operator = t.operator || 'Equal';
  if (!t.key) return operator === 'Exists';
  if (t.key !== VIRTUAL_NODE_TAINT.key) return false;
  if (operator === 'Exists') return true;
  return operator === 'Equal' && (t.value ?? '') === VIRTUAL_NODE_TAINT.value;
}

/** Effects of the matched selectors in order; the first selector to set a key wins. */
function mergeEffects(selectors: readonly RoutingSelector[], kind: 'labels' | 'annotations') {
  const out: Record<string, string> = {};
  for (const s of selectors) {
    for (const [k, v] of Object.entries(s.effect[kind])) if (!Object.hasOwn(out, k)) out[k] = v;
  }
  return out;
}

/** Adds the keys the pod does not have yet; the pod's own values are its owner's intent and stay. */
function mapPatch(
  path: string,
  current: Record<string, string> | null | undefined,
  add: Record<string, string>,
): JsonPatchOp[] {
  const missing = Object.entries(add).filter(([k]) => !current || !Object.hasOwn(current, k));
  if (missing.length === 0) return [];
  if (!current) return [{ op: 'add', path, value: Object.fromEntries(missing) }];
  return missing.map(([k, v]) => ({ op: 'add', path: `${path}/${escapePointer(k)}`, value: v }));
}

/** RFC 6901: `~` → `~0`, `/` → `~1` (label keys like `alibabacloud.com/eci` contain a slash). */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function sameMap(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>) {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
