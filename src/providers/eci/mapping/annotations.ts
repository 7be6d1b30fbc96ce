import { parseQuantity, GIB } from './quantity.ts';
import { refusal, RefusalReasons, type Refusal } from './types.ts';

/**
 * The `k8s.aliyun.com/eci-*` pod annotations this mapping honours, named as in Alibaba's "ECI Pod
 * Annotation" reference so manifests written for ack-virtual-node work unchanged. They are read at
 * create time only; changing them on a running pod has no effect (as documented for ECI).
 */
export const ECI_ANNOTATIONS = {
  VSWITCH: 'k8s.aliyun.com/eci-vswitch',
  SECURITY_GROUP: 'k8s.aliyun.com/eci-security-group',
  SCHEDULE_STRATEGY: 'k8s.aliyun.com/eci-schedule-strategy',
  USE_SPECS: 'k8s.aliyun.com/eci-use-specs',
  INSTANCE_TYPE: 'k8s.aliyun.com/eci-instance-type',
  SPOT_STRATEGY: 'k8s.aliyun.com/eci-spot-strategy',
  SPOT_PRICE_LIMIT: 'k8s.aliyun.com/eci-spot-price-limit',
  SPOT_DURATION: 'k8s.aliyun.com/eci-spot-duration',
  IMAGE_CACHE: 'k8s.aliyun.com/eci-image-cache',
  AUTO_IMC: 'k8s.aliyun.com/eci-auto-imc',
  IMAGE_SNAPSHOT_ID: 'k8s.aliyun.com/eci-image-snapshot-id',
  IMC_ID: 'k8s.aliyun.com/eci-imc-id',
  WITH_EIP: 'k8s.aliyun.com/eci-with-eip',
  EIP_INSTANCE_ID: 'k8s.aliyun.com/eci-eip-instanceid',
  EIP_BANDWIDTH: 'k8s.aliyun.com/eip-bandwidth',
  EIP_ISP: 'k8s.aliyun.com/eip-isp',
  EIP_COMMON_BANDWIDTH_PACKAGE: 'k8s.aliyun.com/eip-common-bandwidth-package-id',
  RAM_ROLE_NAME: 'k8s.aliyun.com/eci-ram-role-name',
  EXTRA_EPHEMERAL_STORAGE: 'k8s.aliyun.com/eci-extra-ephemeral-storage',
  CPU_OPTION_CORE: 'k8s.aliyun.com/eci-cpu-option-core',
  CPU_OPTION_HT: 'k8s.aliyun.com/eci-cpu-option-ht',
  ENABLE_IPV6: 'k8s.aliyun.com/eci-enable-ipv6',
  NTP_SERVER: 'k8s.aliyun.com/eci-ntp-server',
} as const;

/** CreateContainerGroup's documented limit on VSwitchId. */
export const MAX_VSWITCHES = 10;

export type ScheduleStrategy = 'VSwitchOrdered' | 'VSwitchRandom';
export type SpotStrategy = 'NoSpot' | 'SpotAsPriceGo' | 'SpotWithPriceLimit';

/** What the annotations ask for, already validated and in CreateContainerGroup's units. */
export interface EciOptions {
  vSwitchIds?: string[];
  securityGroupId?: string;
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
  ntpServer?: string[];
}

const CPU_MEM_SPEC = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)Gi$/;
const ECS_TYPE = /^ecs\.[a-z0-9-]+\.[a-z0-9-]+$/i;

/** Whether the pod asks for a specific instance type or spec list (GPU pods need one). */
export function hasInstanceTypeAnnotation(
  annotations: Readonly<Record<string, string>> | undefined,
): boolean {
  return Boolean(annotations?.[ECI_ANNOTATIONS.USE_SPECS] || annotations?.[ECI_ANNOTATIONS.INSTANCE_TYPE]);
}

export function parseEciAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): { ok: true; options: EciOptions } | { ok: false; refusal: Refusal } {
  const a = annotations ?? {};
  const o: EciOptions = {};
  const bad = (key: string, why: string): { ok: false; refusal: Refusal } => ({
    ok: false,
    refusal: refusal(
      `metadata.annotations['${key}']`,
      RefusalReasons.ANNOTATION,
      `annotation ${key}=${JSON.stringify(a[key])} is not valid: ${why}`,
    ),
  });
  const present = (key: string): string | undefined => {
    const v = a[key]?.trim();
    return v ? v : undefined;
  };
  const bool = (key: string): boolean | undefined | 'bad' => {
    const v = present(key)?.toLowerCase();
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    return 'bad';
  };
  const num = (key: string, integer: boolean): number | undefined | 'bad' => {
    const v = present(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) return 'bad';
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

  const vsw = list(ECI_ANNOTATIONS.VSWITCH);
  if (vsw !== undefined) {
    if (vsw.length === 0) return bad(ECI_ANNOTATIONS.VSWITCH, 'list at least one vSwitch ID');
    if (vsw.length > MAX_VSWITCHES) {
      return bad(ECI_ANNOTATIONS.VSWITCH, `ECI accepts at most ${MAX_VSWITCHES} vSwitch IDs`);
    }
    if (vsw.some((s) => /\s/.test(s))) return bad(ECI_ANNOTATIONS.VSWITCH, 'separate IDs with commas only');
    o.vSwitchIds = vsw;
  }
  const sg = present(ECI_ANNOTATIONS.SECURITY_GROUP);
  if (sg !== undefined) o.securityGroupId = sg;

  const strategy = present(ECI_ANNOTATIONS.SCHEDULE_STRATEGY)?.toLowerCase();
  if (strategy !== undefined) {
    if (strategy === 'vswitchordered') o.scheduleStrategy = 'VSwitchOrdered';
    else if (strategy === 'vswitchrandom') o.scheduleStrategy = 'VSwitchRandom';
    else return bad(ECI_ANNOTATIONS.SCHEDULE_STRATEGY, 'use VSwitchOrdered or VSwitchRandom');
  }

  const specs = list(ECI_ANNOTATIONS.USE_SPECS);
  if (specs !== undefined) {
    if (specs.length === 0) return bad(ECI_ANNOTATIONS.USE_SPECS, 'list at least one spec');
    for (const s of specs) {
      if (!CPU_MEM_SPEC.test(s) && !ECS_TYPE.test(s)) {
        return bad(
          ECI_ANNOTATIONS.USE_SPECS,
          `"${s}" is neither <cpu>-<memory>Gi (e.g. 2-4Gi) nor an ECS type`,
        );
      }
    }
    const single = specs.length === 1 ? CPU_MEM_SPEC.exec(specs[0] ?? '') : null;
    if (single) {
      o.groupCpu = Number(single[1]);
      o.groupMemory = Number(single[2]);
    } else {
      o.instanceType = specs.join(',');
    }
  } else {
    const types = list(ECI_ANNOTATIONS.INSTANCE_TYPE);
    if (types !== undefined) {
      if (types.length === 0 || types.some((t) => !ECS_TYPE.test(t))) {
        return bad(
          ECI_ANNOTATIONS.INSTANCE_TYPE,
          'use ECS instance types such as ecs.c6.large, comma-separated',
        );
      }
      o.instanceType = types.join(',');
    }
  }

  const spot = present(ECI_ANNOTATIONS.SPOT_STRATEGY);
  if (spot !== undefined) {
    if (spot !== 'SpotAsPriceGo' && spot !== 'SpotWithPriceLimit' && spot !== 'NoSpot') {
      return bad(ECI_ANNOTATIONS.SPOT_STRATEGY, 'use SpotAsPriceGo, SpotWithPriceLimit or NoSpot');
    }
    o.spotStrategy = spot;
  }
  const price = num(ECI_ANNOTATIONS.SPOT_PRICE_LIMIT, false);
  if (price === 'bad') return bad(ECI_ANNOTATIONS.SPOT_PRICE_LIMIT, 'use a price per hour such as 0.25');
  if (price !== undefined) o.spotPriceLimit = price;
  if (o.spotStrategy === 'SpotWithPriceLimit' && o.spotPriceLimit === undefined) {
    return bad(
      ECI_ANNOTATIONS.SPOT_STRATEGY,
      `SpotWithPriceLimit needs ${ECI_ANNOTATIONS.SPOT_PRICE_LIMIT} (the highest hourly price)`,
    );
  }
  const duration = num(ECI_ANNOTATIONS.SPOT_DURATION, true);
  if (duration === 'bad') return bad(ECI_ANNOTATIONS.SPOT_DURATION, 'use a whole number of hours (0 or 1)');
  if (duration !== undefined) o.spotDuration = duration;

  for (const key of [ECI_ANNOTATIONS.IMAGE_CACHE, ECI_ANNOTATIONS.AUTO_IMC]) {
    const v = bool(key);
    if (v === 'bad') return bad(key, 'use "true" or "false"');
    if (v !== undefined) o.autoMatchImageCache = (o.autoMatchImageCache ?? false) || v;
  }
  const snapshot = present(ECI_ANNOTATIONS.IMC_ID) ?? present(ECI_ANNOTATIONS.IMAGE_SNAPSHOT_ID);
  if (snapshot !== undefined) o.imageSnapshotId = snapshot;

  const eip = bool(ECI_ANNOTATIONS.WITH_EIP);
  if (eip === 'bad') return bad(ECI_ANNOTATIONS.WITH_EIP, 'use "true" or "false"');
  if (eip !== undefined) o.autoCreateEip = eip;
  const eipId = present(ECI_ANNOTATIONS.EIP_INSTANCE_ID);
  if (eipId !== undefined) o.eipInstanceId = eipId;
  const bw = num(ECI_ANNOTATIONS.EIP_BANDWIDTH, true);
  if (bw === 'bad') return bad(ECI_ANNOTATIONS.EIP_BANDWIDTH, 'use a whole number of Mbit/s');
  if (bw !== undefined) o.eipBandwidth = bw;
  const isp = present(ECI_ANNOTATIONS.EIP_ISP);
  if (isp !== undefined) o.eipISP = isp;
  const cbwp = present(ECI_ANNOTATIONS.EIP_COMMON_BANDWIDTH_PACKAGE);
  if (cbwp !== undefined) o.eipCommonBandwidthPackage = cbwp;

  const role = present(ECI_ANNOTATIONS.RAM_ROLE_NAME);
  if (role !== undefined) o.ramRoleName = role;

  const extra = present(ECI_ANNOTATIONS.EXTRA_EPHEMERAL_STORAGE);
  if (extra !== undefined) {
    const asNumber = Number(extra);
    const bytes = Number.isFinite(asNumber) ? asNumber * GIB : parseQuantity(extra);
    if (bytes === undefined || bytes <= 0) {
      return bad(ECI_ANNOTATIONS.EXTRA_EPHEMERAL_STORAGE, 'use a size such as 50Gi');
    }
    o.ephemeralStorage = Math.ceil(bytes / GIB - 1e-9);
  }

  const core = num(ECI_ANNOTATIONS.CPU_OPTION_CORE, true);
  if (core === 'bad') return bad(ECI_ANNOTATIONS.CPU_OPTION_CORE, 'use a whole number of cores');
  if (core !== undefined) o.cpuOptionsCore = core;
  const ht = num(ECI_ANNOTATIONS.CPU_OPTION_HT, true);
  if (ht === 'bad') return bad(ECI_ANNOTATIONS.CPU_OPTION_HT, 'use 1 or 2 threads per core');
  if (ht !== undefined) o.cpuOptionsThreadsPerCore = ht;

  const v6 = bool(ECI_ANNOTATIONS.ENABLE_IPV6);
  if (v6 === 'bad') return bad(ECI_ANNOTATIONS.ENABLE_IPV6, 'use "true" or "false"');
  if (v6) o.ipv6AddressCount = 1;

  const ntp = list(ECI_ANNOTATIONS.NTP_SERVER);
  if (ntp !== undefined && ntp.length > 0) o.ntpServer = ntp;

  return { ok: true, options: o };
}
