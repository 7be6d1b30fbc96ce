import type { V1Node, V1NodeCondition, V1Taint } from '@kubernetes/client-node';

/** What the virtual node says about itself. Parsed and validated once, at the edge. */
export interface NodeSpecConfig {
  name: string;
  internalIP: string;
  kubeletPort: number;
  capacity: Record<string, string>;
  kubeletVersion: string;
  operatingSystem: string;
  architecture: string;
  /** Labels beyond the fixed ones below (e.g. a zone); the fixed ones win. */
  extraLabels?: Record<string, string>;
  /**
   * The Node is written by the node itself (system:node:<name>), under NodeRestriction: only the
   * labels a kubelet may set on itself (not kubernetes.io/role), and taints only when it is created.
   */
  selfRegistered?: boolean;
}

/** Labels NodeRestriction forbids a node to set on itself. */
const NOT_SELF_SETTABLE = ['kubernetes.io/role'];

/** The names users already type (DESIGN §1); changing any of them breaks the drop-in promise. */
export const NODE_TYPE_LABEL = 'type';
export const NODE_TYPE_VALUE = 'virtual-kubelet';
export const PROVIDER_TAINT: V1Taint = {
  key: 'virtual-kubelet.io/provider',
  value: 'alibabacloud',
  effect: 'NoSchedule',
};

export function nodeLabels(cfg: NodeSpecConfig): Record<string, string> {
  const labels = allNodeLabels(cfg);
  if (cfg.selfRegistered) for (const k of NOT_SELF_SETTABLE) delete labels[k];
  return labels;
}

function allNodeLabels(cfg: NodeSpecConfig): Record<string, string> {
  return {
    ...cfg.extraLabels,
    [NODE_TYPE_LABEL]: NODE_TYPE_VALUE,
    'kubernetes.io/role': 'agent',
    'kubernetes.io/hostname': cfg.name,
    'kubernetes.io/os': cfg.operatingSystem,
    'kubernetes.io/arch': cfg.architecture,
    'beta.kubernetes.io/os': cfg.operatingSystem,
    'beta.kubernetes.io/arch': cfg.architecture,
    'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
  };
}

/**
 * Conditions as a healthy virtual node reports them. A transition time is kept from `previous` when
 * the status did not change, so `kubectl describe node` shows when Ready really last flipped.
 */
export function nodeConditions(previous: V1NodeCondition[] | undefined, now: Date): V1NodeCondition[] {
  const want: [string, string, string, string][] = [
    ['Ready', 'True', 'KubeletReady', 'eci-virtual-node is posting ready status'],
    ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'ECI capacity is elastic'],
    ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'ECI capacity is elastic'],
    ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'ECI capacity is elastic'],
    ['NetworkUnavailable', 'False', 'RouteCreated', 'pods get their network from the ECI vSwitch'],
  ];
  return want.map(([type, status, reason, message]) => {
    const old = previous?.find((c) => c.type === type);
    const lastTransitionTime =
      old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now;
    return { type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime };
  });
}

/** The status part the node refreshes on every report. */
export function nodeStatus(
  cfg: NodeSpecConfig,
  previous: V1NodeCondition[] | undefined,
  now: Date,
): V1Node['status'] {
  return {
    capacity: cfg.capacity,
    allocatable: cfg.capacity,
    conditions: nodeConditions(previous, now),
    // No Hostname address: the node's name resolves nowhere, and an API server (or metrics-server)
    // preferring Hostname would fail to reach the kubelet API by it. The InternalIP is where we listen.
    addresses: [{ type: 'InternalIP', address: cfg.internalIP }],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.kubeletPort } },
    nodeInfo: {
      kubeletVersion: cfg.kubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: cfg.operatingSystem,
      architecture: cfg.architecture,
      osImage: 'Alibaba Cloud Elastic Container Instance',
      kernelVersion: '',
      containerRuntimeVersion: 'eci://2018-08-08',
      machineID: '',
      systemUUID: '',
      bootID: '',
    },
  };
}

export function buildNode(cfg: NodeSpecConfig, now: Date): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: cfg.name, labels: nodeLabels(cfg) },
    spec: { taints: [PROVIDER_TAINT] },
    status: nodeStatus(cfg, undefined, now),
  };
}

/**
 * Our taint added to what is there. Other owners' taints stay: the node lifecycle controller puts
 * `node.kubernetes.io/unreachable` here while we are away and takes it off itself.
 */
export function mergeTaints(existing: V1Taint[] | undefined): V1Taint[] {
  const rest = (existing ?? []).filter(
    (t) => !(t.key === PROVIDER_TAINT.key && t.effect === PROVIDER_TAINT.effect),
  );
  return [...rest, PROVIDER_TAINT];
}

/** True when the node already carries every label and the taint we own, unchanged. */
export function nodeMetadataCurrent(node: V1Node, cfg: NodeSpecConfig): boolean {
  const labels = node.metadata?.labels ?? {};
  const labelsOk = Object.entries(nodeLabels(cfg)).every(([k, v]) => labels[k] === v);
  const taintOk = (node.spec?.taints ?? []).some(
    (t) =>
      t.key === PROVIDER_TAINT.key && t.value === PROVIDER_TAINT.value && t.effect === PROVIDER_TAINT.effect,
  );
  // A self-registered node may not change its taints after creation (NodeRestriction); the caller
  // reports a missing one instead of trying.
  return labelsOk && (taintOk || cfg.selfRegistered === true);
}
