import { GIB, parseQuantity } from './quantity.ts';
import { refusal, RefusalReasons, type Refusal } from './types.ts';

/**
 * The pod annotations Alibaba documents for ECI pods ("Annotations for Elastic Container Instance-based
 * pods", and the ImageCache, CPU-option and legacy pages before it), named exactly as there so
 * manifests written for ack-virtual-node work unchanged. Every documented one is in `ANNOTATIONS`:
 * supported (mapped to CreateContainerGroup, or honoured by the controller), refused (the pod is not
 * created, with an Event naming the annotation and why), or written by the controller itself (ignored
 * on input). An unknown key under `k8s.aliyun.com/eci-`, `/eip-` or `/imc-` is refused too: a typo
 * must not silently run a pod without what was asked. They are read at create time only; changing
 * them on a running pod has no effect (as documented for ECI).
 */

export const ECI_ANNOTATIONS = {
  VSWITCH: 'k8s.aliyun.com/eci-vswitch',
  SECURITY_GROUP: 'k8s.aliyun.com/eci-security-group',
  RESOURCE_GROUP: 'k8s.aliyun.com/eci-resource-group-id',
  SCHEDULE_STRATEGY: 'k8s.aliyun.com/eci-schedule-strategy',
  USE_SPECS: 'k8s.aliyun.com/eci-use-specs',
  INSTANCE_TYPE: 'k8s.aliyun.com/eci-instance-type',
  GPU_DRIVER_VERSION: 'k8s.aliyun.com/eci-gpu-driver-version',
  INSTANCE_FAMILY: 'k8s.aliyun.com/eci-instance-family',
  INSTANCE_GENERATION: 'k8s.aliyun.com/eci-instance-generation',
  COMPUTE_CATEGORY: 'k8s.aliyun.com/eci-compute-category',
  SPOT_STRATEGY: 'k8s.aliyun.com/eci-spot-strategy',
  SPOT_PRICE_LIMIT: 'k8s.aliyun.com/eci-spot-price-limit',
  SPOT_DURATION: 'k8s.aliyun.com/eci-spot-duration',
  SPOT_FALLBACK: 'k8s.aliyun.com/eci-spot-fallback',
  PRIVATE_POOL_MATCH: 'k8s.aliyun.com/eci-privatepool-matchcriteria',
  PRIVATE_POOL_ID: 'k8s.aliyun.com/eci-privatepool-id',
  FAIL_STRATEGY: 'k8s.aliyun.com/eci-fail-strategy',
  POD_FAIL_ON_CREATE_ERR: 'k8s.aliyun.com/pod-fail-on-create-err',
  MAX_PENDING_MINUTE: 'k8s.aliyun.com/eci-max-pending-minute',
  RESCHEDULE_ENABLE: 'k8s.aliyun.com/eci-reschedule-enable',
  CUSTOM_HOSTS: 'k8s.aliyun.com/eci-custom-hosts',
  CUSTOM_TAGS: 'k8s.aliyun.com/eci-custom-tags',
  RAM_ROLE_NAME: 'k8s.aliyun.com/eci-ram-role-name',
  CPU_OPTION_CORE: 'k8s.aliyun.com/eci-cpu-option-core',
  CPU_OPTION_HT: 'k8s.aliyun.com/eci-cpu-option-ht',
  AUTO_IMC: 'k8s.aliyun.com/eci-auto-imc',
  IMAGE_CACHE: 'k8s.aliyun.com/eci-image-cache',
  IMC_PERFECT_MATCH: 'k8s.aliyun.com/imc-perfect-match',
  IMC_MATCH_COUNT: 'k8s.aliyun.com/imc-match-count-request',
  IMC_ID: 'k8s.aliyun.com/eci-imc-id',
  IMAGE_SNAPSHOT_ID: 'k8s.aliyun.com/eci-image-snapshot-id',
  ACR_INSTANCE_IDS: 'k8s.aliyun.com/acr-instance-ids',
  ACR_INSTANCE_ID: 'k8s.aliyun.com/acr-instance-id',
  ACR_SERVICE_ARNS: 'k8s.aliyun.com/acr-service-arns',
  ACR_USER_ARNS: 'k8s.aliyun.com/acr-user-arns',
  PLAIN_HTTP_REGISTRY: 'k8s.aliyun.com/plain-http-registry',
  INSECURE_REGISTRY: 'k8s.aliyun.com/insecure-registry',
  DATA_CACHE_BUCKET: 'k8s.aliyun.com/eci-data-cache-bucket',
  DATA_CACHE_PL: 'k8s.aliyun.com/eci-data-cache-pl',
  DATA_CACHE_IOPS: 'k8s.aliyun.com/eci-data-cache-provisionedIops',
  DATA_CACHE_BURSTING: 'k8s.aliyun.com/eci-data-cache-burstingEnabled',
  EIP_INSTANCE_ID: 'k8s.aliyun.com/eci-eip-instanceid',
  WITH_EIP: 'k8s.aliyun.com/eci-with-eip',
  EIP_BANDWIDTH: 'k8s.aliyun.com/eip-bandwidth',
  EIP_COMMON_BANDWIDTH_PACKAGE: 'k8s.aliyun.com/eip-common-bandwidth-package-id',
  EIP_ISP: 'k8s.aliyun.com/eip-isp',
  EIP_CHARGE_TYPE: 'k8s.aliyun.com/eip-internet-charge-type',
  EIP_ADDRESS_POOL: 'k8s.aliyun.com/eip-public-ip-address-pool-id',
  ENABLE_IPV6: 'k8s.aliyun.com/eci-enable-ipv6',
  IPV6_BANDWIDTH_ENABLE: 'k8s.aliyun.com/eci-ipv6-bandwidth-enable',
  IPV6_BANDWIDTH: 'k8s.aliyun.com/eci-ipv6-bandwidth',
  PRIVATE_IP: 'k8s.aliyun.com/eci-private-ip-address',
  FIXED_IP: 'k8s.aliyun.com/eci-fixed-ip',
  FIXED_IP_RETAIN_HOUR: 'k8s.aliyun.com/eci-fixed-ip-retain-hour',
  INGRESS_BANDWIDTH: 'kubernetes.io/ingress-bandwidth',
  EGRESS_BANDWIDTH: 'kubernetes.io/egress-bandwidth',
  CUSTOM_DNS_CONFIG: 'k8s.aliyun.com/eci-custom-dnsconfig',
  EXTRA_EPHEMERAL_STORAGE: 'k8s.aliyun.com/eci-extra-ephemeral-storage',
  EPHEMERAL_STORAGE_OPTIONS: 'k8s.aliyun.com/eci-ephemeral-storage-options',
  EVICTION_ENABLE: 'k8s.aliyun.com/eci-eviction-enable',
  NTP_SERVER: 'k8s.aliyun.com/eci-ntp-server',
  SLS_ENABLE: 'k8s.aliyun.com/eci-sls-enable',
  CORE_PATTERN: 'k8s.aliyun.com/eci-core-pattern',
} as const;

const A = ECI_ANNOTATIONS;

/**
 * Annotations documented as written by the system after the pod is created. The controller writes
 * none of them on input pods' behalf and ignores them when they come in (a copied manifest may carry them).
 */
export const WRITTEN_ANNOTATIONS = [
  'k8s.aliyun.com/eci-request-id',
  'k8s.aliyun.com/eci-instance-id',
  'k8s.aliyun.com/eci-instance-spec',
  'k8s.aliyun.com/eci-instance-compute-category',
  'k8s.aliyun.com/allocated-eipInstanceId',
  'k8s.aliyun.com/allocated-eipAddress',
  'k8s.aliyun.com/allocated-ipv6Address',
  'k8s.aliyun.com/eci-created-by-template',
  'k8s.aliyun.com/eni-instance-id',
  'k8s.aliyun.com/eci-vpc',
  'k8s.aliyun.com/eci-matched-image-cache',
  'k8s.aliyun.com/eci-schedule-result',
  'k8s.aliyun.com/eci-platform-version',
] as const;

export type AnnotationState = 'supported' | 'refused' | 'ignored';

/** One documented annotation: what this node does with it, for the docs table and the refusal text. */
export interface AnnotationDoc {
  readonly key: string;
  readonly category: string;
  readonly state: AnnotationState;
  /** Supported: what it becomes. Refused: why. Ignored: why. */
  readonly detail: string;
  /**
   * A cloud privilege (RAM role, security group, vSwitch, EIP): allowed only as the eci-profile
   * `cloudPrivileges` allow-list gives it to the pod's namespace (privileges.ts checks exactly these).
   */
  readonly privileged?: boolean;
}

/** Why the annotations below cannot be honoured: the ECI API version this node speaks has no parameter. */
const NO_PARAMETER =
  'CreateContainerGroup in the ECI SDK this node uses (@alicloud/eci20180808 2.0.3) has no parameter for it';

/** Every documented annotation and its state here. docs/annotations.md is rendered from this table. */
export const ANNOTATIONS: readonly AnnotationDoc[] = [
  // Instances
  {
    key: A.VSWITCH,
    category: 'Instance',
    state: 'supported',
    privileged: true,
    detail: '`VSwitchId`: up to 10 vSwitches, one zone per attempt in order (zone failover)',
  },
  {
    key: A.SCHEDULE_STRATEGY,
    category: 'Instance',
    state: 'supported',
    detail: '`VSwitchOrdered` / `VSwitchRandom` order of the zones tried',
  },
  {
    key: A.USE_SPECS,
    category: 'Instance',
    state: 'supported',
    detail:
      "one `<cpu>-<mem>Gi` → the group's `Cpu`/`Memory`; several specs or ECS types → `InstanceType`, tried in order",
  },
  {
    key: A.INSTANCE_TYPE,
    category: 'Instance',
    state: 'supported',
    detail: 'ECS instance types → `InstanceType` (older name of eci-use-specs for ECS types)',
  },
  { key: A.GPU_DRIVER_VERSION, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  { key: A.INSTANCE_FAMILY, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  { key: A.INSTANCE_GENERATION, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  { key: A.COMPUTE_CATEGORY, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  {
    key: A.SPOT_STRATEGY,
    category: 'Instance',
    state: 'supported',
    detail: '`SpotStrategy` (`SpotAsPriceGo`, `SpotWithPriceLimit` with eci-spot-price-limit)',
  },
  {
    key: A.SPOT_PRICE_LIMIT,
    category: 'Instance',
    state: 'supported',
    detail: '`SpotPriceLimit` (hourly price, up to 3 decimals)',
  },
  {
    key: A.SPOT_DURATION,
    category: 'Instance',
    state: 'supported',
    detail: '`SpotDuration` (protection hours, 0 or 1)',
  },
  {
    key: A.SPOT_FALLBACK,
    category: 'Instance',
    state: 'refused',
    detail: `${NO_PARAMETER}; a pay-as-you-go fallback would also change what the pod costs`,
  },
  { key: A.PRIVATE_POOL_MATCH, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  { key: A.PRIVATE_POOL_ID, category: 'Instance', state: 'refused', detail: NO_PARAMETER },
  {
    key: A.FAIL_STRATEGY,
    category: 'Instance',
    state: 'supported',
    detail:
      'controller: `fail-back`/`fail-over` retry a failed create with backoff (the default); `fail-fast` fails the pod at the first failed create',
  },
  {
    key: A.POD_FAIL_ON_CREATE_ERR,
    category: 'Instance',
    state: 'supported',
    detail: 'controller: `"true"` is eci-fail-strategy `fail-fast` (older name)',
  },
  {
    key: A.MAX_PENDING_MINUTE,
    category: 'Instance',
    state: 'supported',
    detail:
      'controller: a pod still Pending after 10–1440 minutes has its group deleted and fails (`PendingTimeout`)',
  },
  {
    key: A.RESCHEDULE_ENABLE,
    category: 'Instance',
    state: 'refused',
    detail:
      'the controller never moves a pod to another node; it fails over between zones instead (several vSwitches)',
  },
  {
    key: A.CUSTOM_HOSTS,
    category: 'Instance',
    state: 'supported',
    detail: '`HostAliase`, after spec.hostAliases (JSON `[{"host":…,"ip":…}]`)',
  },
  {
    key: A.CUSTOM_TAGS,
    category: 'Instance',
    state: 'supported',
    detail: '`Tag`: up to 3 `key:value` pairs beside the identity tags (which they may not replace)',
  },
  {
    key: A.RAM_ROLE_NAME,
    category: 'Instance',
    state: 'supported',
    privileged: true,
    detail: '`RamRoleName`',
  },
  { key: A.RESOURCE_GROUP, category: 'Instance', state: 'supported', detail: '`ResourceGroupId`' },
  { key: A.CPU_OPTION_CORE, category: 'Instance', state: 'supported', detail: '`CpuOptionsCore`' },
  { key: A.CPU_OPTION_HT, category: 'Instance', state: 'supported', detail: '`CpuOptionsThreadsPerCore`' },
  // Images
  {
    key: A.AUTO_IMC,
    category: 'Image',
    state: 'supported',
    detail: '`AutoMatchImageCache` (on a miss ECI builds a cache for the next pods)',
  },
  {
    key: A.IMAGE_CACHE,
    category: 'Image',
    state: 'supported',
    detail: '`AutoMatchImageCache` (older name of eci-auto-imc)',
  },
  {
    key: A.IMC_PERFECT_MATCH,
    category: 'Image',
    state: 'supported',
    detail:
      'controller: DescribeImageCaches with `ImageFullMatch`; the match found is sent as `ImageSnapshotId`, none → no cache',
  },
  {
    key: A.IMC_MATCH_COUNT,
    category: 'Image',
    state: 'supported',
    detail:
      'controller: DescribeImageCaches with `ImageMatchCountRequest`, as above (imc-perfect-match wins)',
  },
  {
    key: A.IMC_ID,
    category: 'Image',
    state: 'supported',
    detail: '`ImageSnapshotId` (wins over automatic matching); a missing or unfinished cache is an Event',
  },
  {
    key: A.IMAGE_SNAPSHOT_ID,
    category: 'Image',
    state: 'supported',
    detail: '`ImageSnapshotId` (older name of eci-imc-id)',
  },
  {
    key: A.ACR_INSTANCE_IDS,
    category: 'Image',
    state: 'supported',
    detail: '`AcrRegistryInfo.N.InstanceId` (`region:cri-…` sets its `RegionId`)',
  },
  {
    key: A.ACR_INSTANCE_ID,
    category: 'Image',
    state: 'supported',
    detail: 'as acr-instance-ids (older name)',
  },
  {
    key: A.ACR_SERVICE_ARNS,
    category: 'Image',
    state: 'supported',
    detail: '`AcrRegistryInfo.N.ArnService` of every ACR instance given',
  },
  {
    key: A.ACR_USER_ARNS,
    category: 'Image',
    state: 'supported',
    detail: '`AcrRegistryInfo.N.ArnUser` of every ACR instance given',
  },
  { key: A.PLAIN_HTTP_REGISTRY, category: 'Image', state: 'supported', detail: '`PlainHttpRegistry`' },
  { key: A.INSECURE_REGISTRY, category: 'Image', state: 'supported', detail: '`InsecureRegistry`' },
  // Data caches
  { key: A.DATA_CACHE_BUCKET, category: 'Data cache', state: 'supported', detail: '`DataCacheBucket`' },
  { key: A.DATA_CACHE_PL, category: 'Data cache', state: 'supported', detail: '`DataCachePL` (PL0–PL3)' },
  {
    key: A.DATA_CACHE_IOPS,
    category: 'Data cache',
    state: 'supported',
    detail: '`DataCacheProvisionedIops`',
  },
  {
    key: A.DATA_CACHE_BURSTING,
    category: 'Data cache',
    state: 'supported',
    detail: '`DataCacheBurstingEnabled`',
  },
  // Network
  {
    key: A.SECURITY_GROUP,
    category: 'Network',
    state: 'supported',
    privileged: true,
    detail: '`SecurityGroupId` (one group; a list of several is refused: the request carries one)',
  },
  {
    key: A.EIP_INSTANCE_ID,
    category: 'Network',
    state: 'supported',
    privileged: true,
    detail: '`EipInstanceId` (an existing EIP)',
  },
  { key: A.WITH_EIP, category: 'Network', state: 'supported', privileged: true, detail: '`AutoCreateEip`' },
  {
    key: A.EIP_BANDWIDTH,
    category: 'Network',
    state: 'supported',
    detail: '`EipBandwidth` (Mbit/s)',
  },
  {
    key: A.EIP_COMMON_BANDWIDTH_PACKAGE,
    category: 'Network',
    state: 'supported',
    detail: '`EipCommonBandwidthPackage`',
  },
  {
    key: A.EIP_ISP,
    category: 'Network',
    state: 'supported',
    detail: '`EipISP` (`BGP`, `BGP_PRO`)',
  },
  { key: A.EIP_CHARGE_TYPE, category: 'Network', state: 'refused', detail: NO_PARAMETER },
  { key: A.EIP_ADDRESS_POOL, category: 'Network', state: 'refused', detail: NO_PARAMETER },
  { key: A.ENABLE_IPV6, category: 'Network', state: 'supported', detail: '`Ipv6AddressCount=1`' },
  {
    key: A.IPV6_BANDWIDTH_ENABLE,
    category: 'Network',
    state: 'supported',
    detail: '`Ipv6GatewayBandwidthEnable`',
  },
  {
    key: A.IPV6_BANDWIDTH,
    category: 'Network',
    state: 'supported',
    detail: '`Ipv6GatewayBandwidth` (e.g. `100M`)',
  },
  {
    key: A.PRIVATE_IP,
    category: 'Network',
    state: 'supported',
    detail: '`PrivateIpAddress` (IPv4)',
  },
  { key: A.FIXED_IP, category: 'Network', state: 'supported', detail: '`FixedIp`' },
  { key: A.FIXED_IP_RETAIN_HOUR, category: 'Network', state: 'supported', detail: '`FixedIpRetainHour`' },
  {
    key: A.INGRESS_BANDWIDTH,
    category: 'Network',
    state: 'supported',
    detail: '`IngressBandwidth` (bit/s, e.g. `40M`)',
  },
  {
    key: A.EGRESS_BANDWIDTH,
    category: 'Network',
    state: 'supported',
    detail: '`EgressBandwidth` (bit/s, e.g. `20M`)',
  },
  {
    key: A.CUSTOM_DNS_CONFIG,
    category: 'Network',
    state: 'supported',
    detail:
      'added to the pod\'s `DnsConfig` (JSON `{"nameservers":"a,b","searches":"x,y","options":"ndots:2,edns0"}`)',
  },
  // Storage
  {
    key: A.EXTRA_EPHEMERAL_STORAGE,
    category: 'Storage',
    state: 'supported',
    detail: '`EphemeralStorage` (GiB on top of the 30 GiB included)',
  },
  {
    key: A.EPHEMERAL_STORAGE_OPTIONS,
    category: 'Storage',
    state: 'refused',
    detail: `${NO_PARAMETER}; an encryption request must not be dropped silently`,
  },
  {
    key: A.EVICTION_ENABLE,
    category: 'Storage',
    state: 'refused',
    detail: 'the controller does not evict pods on ephemeral storage pressure',
  },
  // Container configuration, logs, O&M
  { key: A.NTP_SERVER, category: 'Container', state: 'supported', detail: '`NtpServer`' },
  {
    key: A.SLS_ENABLE,
    category: 'Logs',
    state: 'supported',
    detail:
      '`"false"` is what this node does anyway (no log collection); `"true"` is refused: no Simple Log Service collection here',
  },
  { key: A.CORE_PATTERN, category: 'O&M', state: 'supported', detail: '`CorePattern`' },
  ...WRITTEN_ANNOTATIONS.map((key): AnnotationDoc => ({
    key,
    category: 'Written by the system',
    state: 'ignored',
    detail: 'documented as set by the system after creation; ignored on input',
  })),
];

const BY_KEY = new Map(ANNOTATIONS.map((d) => [d.key, d]));

/** Prefixes under which every key must be a documented one. */
const OWNED_PREFIXES = ['k8s.aliyun.com/eci-', 'k8s.aliyun.com/eip-', 'k8s.aliyun.com/imc-'];

/** Annotations checked against the eci-profile `cloudPrivileges` allow-list (privileges.ts). */
export const PRIVILEGED_ANNOTATIONS: readonly string[] = ANNOTATIONS.filter((d) => d.privileged).map(
  (d) => d.key,
);

/** CreateContainerGroup's documented limit on VSwitchId. */
export const MAX_VSWITCHES = 10;
const MAX_CUSTOM_TAGS = 3;

export type ScheduleStrategy = 'VSwitchOrdered' | 'VSwitchRandom';
export type SpotStrategy = 'NoSpot' | 'SpotAsPriceGo' | 'SpotWithPriceLimit';
export type FailStrategy = 'fail-back' | 'fail-over' | 'fail-fast';

/** What the annotations ask for, already validated and in CreateContainerGroup's units. */
export interface EciOptions {
  vSwitchIds?: string[];
  securityGroupId?: string;
  resourceGroupId?: string;
  scheduleStrategy?: ScheduleStrategy;
  /** A single `<cpu>-<mem>Gi` spec: the group's Cpu (cores) and Memory (GiB). */
  groupCpu?: number;
  groupMemory?: number;
  /** ECS instance types and/or several `<cpu>-<mem>Gi` specs, comma-joined, tried in order by ECI. */
  instanceType?: string;
  spotStrategy?: SpotStrategy;
  spotPriceLimit?: number;
  spotDuration?: number;
  autoMatchImageCache?: boolean;
  imageSnapshotId?: string;
  /** Match a cache by the controller (DescribeImageCaches): all images, or at least this many. */
  imageCacheMatch?: { full: true } | { count: number };
  autoCreateEip?: boolean;
  eipInstanceId?: string;
  eipBandwidth?: number;
  eipISP?: string;
  eipCommonBandwidthPackage?: string;
  ramRoleName?: string;
  /** Extra temporary storage on top of ECI's default 30 GiB, in GiB. */
  ephemeralStorage?: number;
  cpuOptionsCore?: number;
  cpuOptionsThreadsPerCore?: number;
  ipv6AddressCount?: number;
  ipv6GatewayBandwidthEnable?: boolean;
  ipv6GatewayBandwidth?: string;
  ntpServer?: string[];
  customTags?: { key: string; value: string }[];
  hostAliases?: { ip: string; hostnames: string[] }[];
  dnsConfig?: { nameServers: string[]; searches: string[]; options: { name: string; value?: string }[] };
  privateIpAddress?: string;
  fixedIp?: boolean;
  fixedIpRetainHour?: number;
  ingressBandwidth?: number;
  egressBandwidth?: number;
  dataCache?: { bucket?: string; pl?: string; provisionedIops?: number; burstingEnabled?: boolean };
  acrRegistries?: { instanceId: string; regionId?: string; arnService?: string; arnUser?: string }[];
  plainHttpRegistry?: string;
  insecureRegistry?: string;
  corePattern?: string;
  failStrategy?: FailStrategy;
  maxPendingMinutes?: number;
}

const CPU_MEM_SPEC = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)Gi$/;
const ECS_TYPE = /^ecs\.[a-z0-9-]+\.[a-z0-9-]+$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Whether the pod asks for a specific instance type or spec list (GPU pods need one). */
export function hasInstanceTypeAnnotation(
  annotations: Readonly<Record<string, string>> | undefined,
): boolean {
  return Boolean(annotations?.[A.USE_SPECS] || annotations?.[A.INSTANCE_TYPE]);
}

type Parsed = { ok: true; options: EciOptions } | { ok: false; refusal: Refusal };

/** Thrown inside the parser; turned into a refusal at its edge. */
class Bad {
  readonly refusal: Refusal;
  constructor(r: Refusal) {
    this.refusal = r;
  }
}

export function parseEciAnnotations(annotations: Readonly<Record<string, string>> | undefined): Parsed {
  try {
    return { ok: true, options: parse(annotations ?? {}) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, refusal: err.refusal };
    throw err;
  }
}

function parse(a: Readonly<Record<string, string>>): EciOptions {
  const field = (key: string) => `metadata.annotations['${key}']`;
  const bad = (key: string, why: string): never => {
    throw new Bad(
      refusal(
        field(key),
        RefusalReasons.ANNOTATION,
        `annotation ${key}=${JSON.stringify(a[key])} is not valid: ${why}`,
      ),
    );
  };
  const unsupported = (key: string, why: string): never => {
    throw new Bad(
      refusal(
        field(key),
        RefusalReasons.UNSUPPORTED_ANNOTATION,
        `annotation ${key} is not supported by this virtual node: ${why}; remove it to run the pod here`,
      ),
    );
  };

  // Refused and unknown keys first: the pod is not run without what it asked for.
  for (const key of Object.keys(a)) {
    const doc = BY_KEY.get(key);
    if (doc?.state === 'refused') unsupported(key, doc.detail);
    if (doc === undefined && OWNED_PREFIXES.some((p) => key.startsWith(p)))
      unsupported(key, 'it is not an annotation Alibaba documents for ECI pods (a typo?)');
  }

  const o: EciOptions = {};
  const present = (key: string): string | undefined => {
    const v = a[key]?.trim();
    return v ? v : undefined;
  };
  const bool = (key: string): boolean | undefined => {
    const v = present(key)?.toLowerCase();
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    return bad(key, 'use "true" or "false"');
  };
  const num = (key: string, why: string, opts: { integer?: boolean; min?: number; max?: number } = {}) => {
    const v = present(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (
      !Number.isFinite(n) ||
      n < (opts.min ?? 0) ||
      (opts.max !== undefined && n > opts.max) ||
      (opts.integer === true && !Number.isInteger(n))
    )
      return bad(key, why);
    return n;
  };
  const list = (key: string): string[] | undefined => {
    const v = present(key);
    return v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  };
  const json = (key: string, what: string): unknown => {
    const v = present(key);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return bad(key, `use ${what}`);
    }
  };
  const bitsPerSecond = (key: string): number | undefined => {
    const v = present(key);
    if (v === undefined) return undefined;
    const n = parseQuantity(v);
    if (n === undefined || n < 1 || !Number.isFinite(n)) return bad(key, 'use a rate such as 40M (bit/s)');
    return Math.round(n);
  };

  // Placement and identity in the cloud.
  const vsw = list(A.VSWITCH);
  if (vsw !== undefined) {
    if (vsw.length === 0) bad(A.VSWITCH, 'list at least one vSwitch ID');
    if (vsw.length > MAX_VSWITCHES) bad(A.VSWITCH, `ECI accepts at most ${MAX_VSWITCHES} vSwitch IDs`);
    if (vsw.some((s) => /\s/.test(s))) bad(A.VSWITCH, 'separate IDs with commas only');
    o.vSwitchIds = vsw;
  }
  const sgs = list(A.SECURITY_GROUP);
  if (sgs !== undefined) {
    if (sgs.length !== 1)
      unsupported(A.SECURITY_GROUP, 'it lists several security groups and CreateContainerGroup takes one');
    o.securityGroupId = sgs[0]!;
  }
  const rg = present(A.RESOURCE_GROUP);
  if (rg !== undefined) o.resourceGroupId = rg;
  const strategy = present(A.SCHEDULE_STRATEGY)?.toLowerCase();
  if (strategy !== undefined) {
    if (strategy === 'vswitchordered') o.scheduleStrategy = 'VSwitchOrdered';
    else if (strategy === 'vswitchrandom') o.scheduleStrategy = 'VSwitchRandom';
    else bad(A.SCHEDULE_STRATEGY, 'use VSwitchOrdered or VSwitchRandom');
  }
  const role = present(A.RAM_ROLE_NAME);
  if (role !== undefined) o.ramRoleName = role;

  // Size.
  const specs = list(A.USE_SPECS);
  if (specs !== undefined) {
    if (specs.length === 0) bad(A.USE_SPECS, 'list at least one spec');
    for (const s of specs) {
      if (!CPU_MEM_SPEC.test(s) && !ECS_TYPE.test(s))
        bad(A.USE_SPECS, `"${s}" is neither <cpu>-<memory>Gi (e.g. 2-4Gi) nor an ECS type`);
    }
    const single = specs.length === 1 ? CPU_MEM_SPEC.exec(specs[0] ?? '') : null;
    if (single) {
      o.groupCpu = Number(single[1]);
      o.groupMemory = Number(single[2]);
    } else {
      o.instanceType = specs.join(',');
    }
  } else {
    const types = list(A.INSTANCE_TYPE);
    if (types !== undefined) {
      if (types.length === 0 || types.some((t) => !ECS_TYPE.test(t)))
        bad(A.INSTANCE_TYPE, 'use ECS instance types such as ecs.c6.large, comma-separated');
      o.instanceType = types.join(',');
    }
  }
  const core = num(A.CPU_OPTION_CORE, 'use a whole number of cores', { integer: true, min: 1 });
  if (core !== undefined) o.cpuOptionsCore = core;
  const ht = num(A.CPU_OPTION_HT, 'use 1 or 2 threads per core', { integer: true, min: 1, max: 2 });
  if (ht !== undefined) o.cpuOptionsThreadsPerCore = ht;

  // Spot.
  const spot = present(A.SPOT_STRATEGY);
  if (spot !== undefined) {
    if (spot !== 'SpotAsPriceGo' && spot !== 'SpotWithPriceLimit' && spot !== 'NoSpot')
      bad(A.SPOT_STRATEGY, 'use SpotAsPriceGo, SpotWithPriceLimit or NoSpot');
    o.spotStrategy = spot as SpotStrategy;
  }
  const price = num(A.SPOT_PRICE_LIMIT, 'use a price per hour such as 0.25');
  if (price !== undefined) {
    if (Math.round(price * 1000) !== price * 1000)
      bad(A.SPOT_PRICE_LIMIT, 'the price has at most three decimal places');
    o.spotPriceLimit = price;
  }
  if (o.spotStrategy === 'SpotWithPriceLimit' && o.spotPriceLimit === undefined)
    bad(A.SPOT_STRATEGY, `SpotWithPriceLimit needs ${A.SPOT_PRICE_LIMIT} (the highest hourly price)`);
  const duration = num(A.SPOT_DURATION, 'use a whole number of hours (0 or 1)', { integer: true, max: 6 });
  if (duration !== undefined) o.spotDuration = duration;

  // Create failures and pending time.
  const fail = present(A.FAIL_STRATEGY);
  if (fail !== undefined) {
    if (fail !== 'fail-back' && fail !== 'fail-over' && fail !== 'fail-fast')
      bad(A.FAIL_STRATEGY, 'use fail-back, fail-over or fail-fast');
    o.failStrategy = fail as FailStrategy;
  }
  if (bool(A.POD_FAIL_ON_CREATE_ERR) === true) o.failStrategy ??= 'fail-fast';
  const pending = num(A.MAX_PENDING_MINUTE, 'use a whole number of minutes from 10 to 1440', {
    integer: true,
    min: 10,
    max: 1440,
  });
  if (pending !== undefined) o.maxPendingMinutes = pending;

  // Hosts, tags, DNS.
  const hosts = json(A.CUSTOM_HOSTS, 'a JSON list such as [{"host":"example.com","ip":"100.100.1.1"}]');
  if (hosts !== undefined) {
    if (!Array.isArray(hosts)) bad(A.CUSTOM_HOSTS, 'use a JSON list of {"host", "ip"}');
    o.hostAliases = (hosts as unknown[]).map((h) => {
      const e = h as { host?: unknown; ip?: unknown };
      if (typeof e?.host !== 'string' || typeof e.ip !== 'string' || !IPV4.test(e.ip) || e.host === '')
        return bad(A.CUSTOM_HOSTS, 'every entry needs a "host" name and an IPv4 "ip"');
      return { ip: e.ip, hostnames: [e.host] };
    });
  }
  const tags = list(A.CUSTOM_TAGS);
  if (tags !== undefined) {
    if (tags.length > MAX_CUSTOM_TAGS) bad(A.CUSTOM_TAGS, `at most ${MAX_CUSTOM_TAGS} tags`);
    o.customTags = tags.map((t) => {
      const i = t.indexOf(':');
      const key = i > 0 ? t.slice(0, i).trim() : '';
      if (key === '') return bad(A.CUSTOM_TAGS, 'use key:value pairs separated by commas');
      if (key.startsWith('eci-virtual-node/') || key.startsWith('aliyun') || key.startsWith('acs:'))
        return bad(A.CUSTOM_TAGS, `tag key ${key} is reserved`);
      return { key, value: t.slice(i + 1).trim() };
    });
  }
  const dns = json(
    A.CUSTOM_DNS_CONFIG,
    'a JSON object such as {"nameservers":"10.0.0.10","searches":"corp.local","options":"ndots:2"}',
  );
  if (dns !== undefined) {
    if (typeof dns !== 'object' || dns === null || Array.isArray(dns))
      bad(A.CUSTOM_DNS_CONFIG, 'use a JSON object with nameservers, searches and options');
    const d = dns as Record<string, unknown>;
    const csv = (k: string): string[] => {
      const v = d[k];
      if (v === undefined) return [];
      if (typeof v !== 'string') return bad(A.CUSTOM_DNS_CONFIG, `${k} is a comma-separated string`);
      return v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    };
    const nameServers = csv('nameservers');
    if (nameServers.some((s) => !IPV4.test(s))) bad(A.CUSTOM_DNS_CONFIG, 'nameservers are IPv4 addresses');
    o.dnsConfig = {
      nameServers,
      searches: csv('searches'),
      options: csv('options').map((x) => {
        const i = x.indexOf(':');
        return i < 0 ? { name: x } : { name: x.slice(0, i), value: x.slice(i + 1) };
      }),
    };
  }

  // Images and caches.
  for (const key of [A.AUTO_IMC, A.IMAGE_CACHE]) {
    const v = bool(key);
    if (v !== undefined) o.autoMatchImageCache = (o.autoMatchImageCache ?? false) || v;
  }
  const perfect = bool(A.IMC_PERFECT_MATCH);
  const count = num(A.IMC_MATCH_COUNT, 'use a whole number of images', { integer: true, min: 1 });
  if (perfect === true) o.imageCacheMatch = { full: true };
  else if (count !== undefined) o.imageCacheMatch = { count };
  const snapshot = present(A.IMC_ID) ?? present(A.IMAGE_SNAPSHOT_ID);
  if (snapshot !== undefined) {
    if (!/^(imc|s)-[a-z0-9]+$/.test(snapshot))
      bad(
        present(A.IMC_ID) ? A.IMC_ID : A.IMAGE_SNAPSHOT_ID,
        'use an image cache ID such as imc-2ze5tm5gehgtiiga****',
      );
    o.imageSnapshotId = snapshot;
  }
  const acrIds = list(A.ACR_INSTANCE_IDS) ?? list(A.ACR_INSTANCE_ID);
  const arnService = present(A.ACR_SERVICE_ARNS);
  const arnUser = present(A.ACR_USER_ARNS);
  if (acrIds !== undefined) {
    o.acrRegistries = acrIds.map((entry) => {
      const [first, second] = entry.split(':');
      const r: { instanceId: string; regionId?: string; arnService?: string; arnUser?: string } =
        second === undefined ? { instanceId: first! } : { regionId: first!, instanceId: second };
      if (!/^cri-[a-z0-9]+$/.test(r.instanceId))
        return bad(A.ACR_INSTANCE_IDS, 'use Container Registry instance IDs such as cri-j36zhodptmyq****');
      if (arnService !== undefined) r.arnService = arnService;
      if (arnUser !== undefined) r.arnUser = arnUser;
      return r;
    });
  } else if (arnService !== undefined || arnUser !== undefined) {
    bad(
      arnService !== undefined ? A.ACR_SERVICE_ARNS : A.ACR_USER_ARNS,
      `it applies to the instances of ${A.ACR_INSTANCE_IDS}, which is not set`,
    );
  }
  const plain = present(A.PLAIN_HTTP_REGISTRY);
  if (plain !== undefined) o.plainHttpRegistry = plain;
  const insecure = present(A.INSECURE_REGISTRY);
  if (insecure !== undefined) o.insecureRegistry = insecure;

  // Data caches.
  const bucket = present(A.DATA_CACHE_BUCKET);
  const pl = present(A.DATA_CACHE_PL);
  if (pl !== undefined && !/^PL[0-3]$/.test(pl)) bad(A.DATA_CACHE_PL, 'use PL0, PL1, PL2 or PL3');
  const iops = num(A.DATA_CACHE_IOPS, 'use a whole number of IOPS up to 50000', {
    integer: true,
    max: 50_000,
  });
  const bursting = bool(A.DATA_CACHE_BURSTING);
  if ([bucket, pl, iops, bursting].some((x) => x !== undefined)) {
    if (bucket === undefined)
      bad(
        pl !== undefined ? A.DATA_CACHE_PL : iops !== undefined ? A.DATA_CACHE_IOPS : A.DATA_CACHE_BURSTING,
        `it needs ${A.DATA_CACHE_BUCKET}`,
      );
    o.dataCache = dropUndefined({ bucket, pl, provisionedIops: iops, burstingEnabled: bursting });
  }

  // Public addresses.
  const eip = bool(A.WITH_EIP);
  if (eip !== undefined) o.autoCreateEip = eip;
  const eipId = present(A.EIP_INSTANCE_ID);
  if (eipId !== undefined) {
    if (!/^eip-[a-z0-9]+$/.test(eipId))
      bad(A.EIP_INSTANCE_ID, 'use an EIP ID such as eip-bp1q5n8cq4p7f6dzu****');
    if (o.autoCreateEip === true) bad(A.EIP_INSTANCE_ID, `it cannot be used with ${A.WITH_EIP}: "true"`);
    o.eipInstanceId = eipId;
  }
  const bw = num(A.EIP_BANDWIDTH, 'use a whole number of Mbit/s', { integer: true, min: 1 });
  if (bw !== undefined) o.eipBandwidth = bw;
  const isp = present(A.EIP_ISP);
  if (isp !== undefined) {
    if (isp !== 'BGP' && isp !== 'BGP_PRO') bad(A.EIP_ISP, 'use BGP or BGP_PRO');
    o.eipISP = isp;
  }
  const cbwp = present(A.EIP_COMMON_BANDWIDTH_PACKAGE);
  if (cbwp !== undefined) o.eipCommonBandwidthPackage = cbwp;
  for (const key of [A.EIP_BANDWIDTH, A.EIP_ISP, A.EIP_COMMON_BANDWIDTH_PACKAGE]) {
    if (present(key) !== undefined && o.autoCreateEip !== true)
      bad(key, `it configures the EIP that ${A.WITH_EIP}: "true" creates, which is not set`);
  }

  // Addresses and bandwidth.
  if (bool(A.ENABLE_IPV6) === true) o.ipv6AddressCount = 1;
  const v6bw = bool(A.IPV6_BANDWIDTH_ENABLE);
  if (v6bw !== undefined) o.ipv6GatewayBandwidthEnable = v6bw;
  const v6rate = present(A.IPV6_BANDWIDTH);
  if (v6rate !== undefined) {
    if (!/^\d+M$/.test(v6rate)) bad(A.IPV6_BANDWIDTH, 'use a rate in Mbit/s such as 100M');
    o.ipv6GatewayBandwidth = v6rate;
  }
  const ip = present(A.PRIVATE_IP);
  if (ip !== undefined) {
    if (!IPV4.test(ip)) bad(A.PRIVATE_IP, 'use an IPv4 address');
    o.privateIpAddress = ip;
  }
  const fixed = bool(A.FIXED_IP);
  if (fixed !== undefined) o.fixedIp = fixed;
  const retain = num(A.FIXED_IP_RETAIN_HOUR, 'use a whole number of hours', { integer: true, min: 1 });
  if (retain !== undefined) o.fixedIpRetainHour = retain;
  const ingress = bitsPerSecond(A.INGRESS_BANDWIDTH);
  if (ingress !== undefined) o.ingressBandwidth = ingress;
  const egress = bitsPerSecond(A.EGRESS_BANDWIDTH);
  if (egress !== undefined) o.egressBandwidth = egress;

  // Storage, time, logs, dumps.
  const extra = present(A.EXTRA_EPHEMERAL_STORAGE);
  if (extra !== undefined) {
    const asNumber = Number(extra);
    const bytes = Number.isFinite(asNumber) ? asNumber * GIB : parseQuantity(extra);
    if (bytes === undefined || bytes <= 0) bad(A.EXTRA_EPHEMERAL_STORAGE, 'use a size such as 50Gi');
    o.ephemeralStorage = Math.ceil(bytes! / GIB - 1e-9);
  }
  const ntp = list(A.NTP_SERVER);
  if (ntp !== undefined && ntp.length > 0) o.ntpServer = ntp;
  if (bool(A.SLS_ENABLE) === true)
    unsupported(
      A.SLS_ENABLE,
      'this node does not collect logs to Simple Log Service; only "false" is honoured',
    );
  const corePattern = present(A.CORE_PATTERN);
  if (corePattern !== undefined) {
    if (!corePattern.startsWith('/')) bad(A.CORE_PATTERN, 'use an absolute path such as /pod/data/dump/core');
    o.corePattern = corePattern;
  }
  return o;
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** The docs table (docs/annotations.md holds this text between its markers; a test keeps them equal). */
export function renderAnnotationTable(): string {
  const state = { supported: 'supported', refused: '**refused**', ignored: 'ignored' } as const;
  const rows = ANNOTATIONS.map(
    (d) =>
      `| ${d.category} | \`${d.key}\` | ${state[d.state]}${d.privileged ? ' (cloud privilege)' : ''} | ${d.detail.replaceAll('|', '\\|')} |`,
  );
  return ['| area | annotation | state | what this node does |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}
