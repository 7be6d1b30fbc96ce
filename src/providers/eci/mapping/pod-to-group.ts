import {
  CreateContainerGroupRequest,
  type CreateContainerGroupRequestContainer,
  type CreateContainerGroupRequestDnsConfig,
  type CreateContainerGroupRequestInitContainer,
} from '@alicloud/eci20180808';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { parseEciAnnotations, type EciOptions, type ScheduleStrategy } from './annotations.ts';
import { refuse, Refused, type BuildContext } from './build-context.ts';
import { containerEnv } from './env.ts';
import { expand, references } from './expand.ts';
import { containerGroupName } from './names.ts';
import { containerLifecycle, containerProbes, dropUndefined } from './probes.ts';
import { registryCredentials, type CredentialInit } from './pull-secrets.ts';
import type { MissingRef, ResolvedRefs } from './refs.ts';
import {
  containerSize,
  ECI_DEFAULT_CPU,
  ECI_DEFAULT_EPHEMERAL_GIB,
  ECI_DEFAULT_MEMORY_GIB,
  groupSize,
} from './resources.ts';
import { identityTags, podIdentity } from './tags.ts';
import { RefusalReasons, type ModelInit, type Refusal } from './types.ts';
import { DEFAULT_CAPABILITIES, normalizeCapability, sysctlKind, validatePod } from './validate.ts';
import { mapVolume } from './volumes.ts';
import { cloudPrivilegeRefusal, NO_CLOUD_PRIVILEGES, type CloudPrivileges } from './privileges.ts';

type ContainerInit = ModelInit<CreateContainerGroupRequestContainer>;
type InitContainerInit = ModelInit<CreateContainerGroupRequestInitContainer>;
type DnsConfigInit = ModelInit<CreateContainerGroupRequestDnsConfig>;
type RequestInit = ModelInit<CreateContainerGroupRequest>;
type VolumeMountInit = NonNullable<InitContainerInit['volumeMount']>[number];

/** Where and as whom to create, plus the objects the pod refers to (fetched per `requiredRefs`). */
export interface CreateContext {
  readonly regionId: string;
  /** Default vSwitches, tried in this order (one per zone); `k8s.aliyun.com/eci-vswitch` overrides. */
  readonly vSwitchIds: readonly string[];
  readonly securityGroupId: string;
  readonly clusterId: string;
  readonly nodeName: string;
  readonly refs: ResolvedRefs;
  /** The virtual node's InternalIP, reported as the pod's hostIP (and for `status.hostIP` in env). */
  readonly hostIP?: string;
  /** The cluster DNS (kubelet's clusterDNS/clusterDomain). Without it ClusterFirst falls back to VPC DNS. */
  readonly clusterDNS?: { readonly nameservers: readonly string[]; readonly clusterDomain: string };
  /** Service env vars the kubelet would inject (KUBERNETES_SERVICE_HOST, ...), lowest precedence. */
  readonly serviceEnv?: Readonly<Record<string, string>>;
  /** Multi-zone policy when several vSwitches are given; default VSwitchOrdered (zone failover in order). */
  readonly scheduleStrategy?: ScheduleStrategy;
  /**
   * What pods of this namespace may pick by annotation beyond vSwitchIds and securityGroupId above:
   * RAM role, other security groups and vSwitches, EIPs. Absent: nothing more (the safe default).
   */
  readonly privileges?: CloudPrivileges;
}

/**
 * - ok: send `request`; `warnings` list what ECI runs differently from the spec (worth an Event).
 * - refusal: ECI cannot run this spec; fail the pod with `refusal.reason`/`message`.
 * - missing: referenced objects or keys do not exist yet; retry later (the kubelet's
 *   CreateContainerConfigError), naming them in an Event.
 */
export type CreateResult =
  | {
      readonly ok: true;
      readonly request: CreateContainerGroupRequest;
      readonly warnings: readonly string[];
      /** What the pod's annotations ask of the controller itself (fail strategy, cache matching, ...). */
      readonly options: EciOptions;
    }
  | { readonly ok: false; readonly refusal: Refusal }
  | { readonly ok: false; readonly missing: readonly MissingRef[] };

/** Kubernetes' DNS defaults (kubelet dns.go): at most 3 nameservers, 32 search domains, ndots 5. */
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;

function groupCapacity(pod: V1Pod, o: EciOptions): { cpu: number; memory: number; ephemeralGiB: number } {
  const g = groupSize(pod);
  return {
    cpu: o.groupCpu ?? (g.kind === 'spec' ? g.cpu : ECI_DEFAULT_CPU),
    memory: o.groupMemory ?? (g.kind === 'spec' ? g.memory : ECI_DEFAULT_MEMORY_GIB),
    ephemeralGiB: ECI_DEFAULT_EPHEMERAL_GIB + (o.ephemeralStorage ?? 0),
  };
}

function volumeMounts(b: BuildContext, c: V1Container, path: string, literals: ReadonlyMap<string, string>) {
  return (c.volumeMounts ?? []).map((m, i) => {
    let subPath = m.subPath || undefined;
    if (m.subPathExpr) {
      const unknown = references(m.subPathExpr).filter((n) => !literals.has(n));
      if (unknown.length > 0) {
        refuse(
          `${path}.volumeMounts[${i}].subPathExpr`,
          RefusalReasons.SUBPATH_EXPR,
          `subPathExpr of mount ${m.name} uses ${unknown.join(', ')}, which is not a literal, fieldRef or ` +
            'ConfigMap/Secret value known before the ECI instance starts',
        );
      }
      subPath = expand(m.subPathExpr, (n) => literals.get(n));
    }
    if (m.recursiveReadOnly && m.recursiveReadOnly !== 'Disabled') {
      b.warnings.push(`${path}.volumeMounts[${i}]: ECI has no recursive read-only mounts; mounted read-only`);
    }
    const mount: VolumeMountInit = {
      name: m.name,
      mountPath: m.mountPath,
      readOnly: m.readOnly,
      subPath,
      mountPropagation: m.mountPropagation,
    };
    return mount;
  });
}

/** The parts app and init containers share. */
function commonContainer(b: BuildContext, c: V1Container, path: string, ctx: CreateContext) {
  const env = containerEnv(b, c, path, ctx.serviceEnv);
  const lookup = (n: string): string | undefined => env.literals.get(n);
  const size = containerSize(c);
  const psc = b.pod.spec?.securityContext;
  const sc = c.securityContext;
  const add = (sc?.capabilities?.add ?? [])
    .map(normalizeCapability)
    .filter((x) => !DEFAULT_CAPABILITIES.has(x));
  if ((sc?.capabilities?.drop?.length ?? 0) > 0) {
    b.warnings.push(
      `${path}.securityContext.capabilities.drop: ECI cannot drop capabilities; the container keeps the default set`,
    );
  }
  const runAsUser = sc?.runAsUser ?? psc?.runAsUser;
  const securityContext: InitContainerInit['securityContext'] = dropUndefined({
    capability: add.length > 0 ? { add: [...new Set(add)] } : undefined,
    readOnlyRootFilesystem: sc?.readOnlyRootFilesystem,
    runAsUser,
  });
  const fields: InitContainerInit = {
    name: c.name,
    image: c.image,
    imagePullPolicy: c.imagePullPolicy,
    command: c.command?.map((s) => expand(s, lookup)),
    arg: c.args?.map((s) => expand(s, lookup)),
    workingDir: c.workingDir || undefined,
    port: c.ports?.map((p) => ({ port: p.containerPort, protocol: p.protocol ?? 'TCP' })),
    environmentVar: env.vars.length > 0 ? env.vars : undefined,
    cpu: size.cpu,
    memory: size.memory,
    gpu: size.gpu,
    volumeMount: c.volumeMounts?.length ? volumeMounts(b, c, path, env.literals) : undefined,
    securityContext: Object.keys(securityContext).length > 0 ? securityContext : undefined,
    terminationMessagePath: c.terminationMessagePath,
    terminationMessagePolicy: c.terminationMessagePolicy,
  };
  return { env, fields };
}

function appContainer(b: BuildContext, c: V1Container, i: number, ctx: CreateContext): ContainerInit {
  const path = `spec.containers[${i}]`;
  const { env, fields } = commonContainer(b, c, path, ctx);
  const psc = b.pod.spec?.securityContext;
  const out: ContainerInit = {
    ...fields,
    ...containerProbes(b, c, path),
    ...containerLifecycle(b, c, path),
    // A Secret-derived value would otherwise be readable by anyone allowed DescribeContainerGroups.
    environmentVarHide: env.fromSecret ? true : undefined,
    securityContextRunAsGroup: c.securityContext?.runAsGroup ?? psc?.runAsGroup,
    securityContextRunAsNonRoot: c.securityContext?.runAsNonRoot ?? psc?.runAsNonRoot,
    stdin: c.stdin,
    stdinOnce: c.stdinOnce,
    tty: c.tty,
  };
  return out;
}

function initContainer(b: BuildContext, c: V1Container, i: number, ctx: CreateContext): InitContainerInit {
  const path = `spec.initContainers[${i}]`;
  const { env, fields } = commonContainer(b, c, path, ctx);
  if (env.fromSecret) {
    // ECI's InitContainer has no EnvironmentVarHide; the value is visible to DescribeContainerGroups.
    b.warnings.push(`${path}: ECI cannot hide init container environment variables taken from Secrets`);
  }
  return fields;
}

function dns(b: BuildContext, ctx: CreateContext): { dnsPolicy?: string; dnsConfig?: DnsConfigInit } {
  const pod = b.pod;
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  const pc = pod.spec?.dnsConfig;
  const podOptions = (pc?.options ?? []).map((o) => dropUndefined({ name: o.name, value: o.value }));
  const podConfig: DnsConfigInit | undefined = pc
    ? {
        nameServer: pc.nameservers?.length ? pc.nameservers : undefined,
        search: pc.searches?.length ? pc.searches : undefined,
        option: podOptions.length ? podOptions : undefined,
      }
    : undefined;
  if (policy === 'None') return { dnsPolicy: 'None', ...(podConfig ? { dnsConfig: podConfig } : {}) };
  if (policy === 'Default') return { dnsPolicy: 'Default', ...(podConfig ? { dnsConfig: podConfig } : {}) };
  // ClusterFirst (and ClusterFirstWithHostNet, which without hostNetwork means the same).
  if (!ctx.clusterDNS || ctx.clusterDNS.nameservers.length === 0) {
    b.warnings.push(
      'spec.dnsPolicy: cluster DNS is not configured for this node; the pod resolves through VPC DNS',
    );
    return podConfig ? { dnsConfig: podConfig } : {};
  }
  const ns = pod.metadata?.namespace ?? 'default';
  const domain = ctx.clusterDNS.clusterDomain;
  const search = [...new Set([`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...(pc?.searches ?? [])])];
  const options = new Map<string, { name?: string; value?: string }>([
    ['ndots', { name: 'ndots', value: '5' }],
  ]);
  for (const o of podOptions) if (o.name) options.set(o.name, o);
  return {
    dnsPolicy: 'None',
    dnsConfig: {
      nameServer: [...new Set([...ctx.clusterDNS.nameservers, ...(pc?.nameservers ?? [])])].slice(
        0,
        MAX_NAMESERVERS,
      ),
      search: search.slice(0, MAX_SEARCHES),
      option: [...options.values()],
    },
  };
}

/** The kubelet's hostname rules: spec.hostname or the pod name, at most 63 characters. */
function hostName(pod: V1Pod, ctx: CreateContext): string | undefined {
  const name = (pod.spec?.hostname || pod.metadata?.name || '').slice(0, 63).replace(/[-.]+$/, '');
  if (!name) return undefined;
  const sub = pod.spec?.subdomain;
  if (pod.spec?.setHostnameAsFQDN && sub && ctx.clusterDNS) {
    return `${name}.${sub}.${pod.metadata?.namespace ?? 'default'}.svc.${ctx.clusterDNS.clusterDomain}`;
  }
  return name;
}

function pullCredentials(b: BuildContext): CredentialInit[] {
  const out = new Map<string, CredentialInit>();
  for (const ref of b.pod.spec?.imagePullSecrets ?? []) {
    const s = ref.name ? b.refs.secrets.get(ref.name) : undefined;
    if (!s) {
      b.warnings.push(`spec.imagePullSecrets: Secret ${ref.name ?? ''} not found; pulling without it`);
      continue;
    }
    const r = registryCredentials(s);
    if (!r.ok) {
      b.warnings.push(
        `spec.imagePullSecrets: Secret ${ref.name ?? ''} is not usable (${r.why}); pulling without it`,
      );
      continue;
    }
    // Like the kubelet's keyring, the first secret naming a registry wins.
    for (const c of r.credentials) if (c.server && !out.has(c.server)) out.set(c.server, c);
  }
  return [...out.values()];
}

function sysctls(pod: V1Pod) {
  const safe: { name: string; value: string }[] = [];
  const unsafe: { name: string; value: string }[] = [];
  for (const s of pod.spec?.securityContext?.sysctls ?? []) {
    (sysctlKind(s.name) === 'safe' ? safe : unsafe).push({ name: s.name, value: s.value });
  }
  return {
    ...(safe.length ? { securityContext: { sysctl: safe } } : {}),
    ...(unsafe.length ? { hostSecurityContext: { sysctl: unsafe } } : {}),
  };
}

/** The request fields the annotations set directly (see annotations.ts for each one). */
function annotationFields(o: EciOptions): Partial<RequestInit> {
  const out: Partial<RequestInit> = {
    instanceType: o.instanceType,
    resourceGroupId: o.resourceGroupId,
    spotStrategy: o.spotStrategy,
    spotPriceLimit: o.spotPriceLimit,
    spotDuration: o.spotDuration,
    autoMatchImageCache: o.autoMatchImageCache,
    imageSnapshotId: o.imageSnapshotId,
    autoCreateEip: o.autoCreateEip,
    eipInstanceId: o.eipInstanceId,
    eipBandwidth: o.eipBandwidth,
    eipISP: o.eipISP,
    eipCommonBandwidthPackage: o.eipCommonBandwidthPackage,
    ramRoleName: o.ramRoleName,
    ephemeralStorage: o.ephemeralStorage,
    cpuOptionsCore: o.cpuOptionsCore,
    cpuOptionsThreadsPerCore: o.cpuOptionsThreadsPerCore,
    ipv6AddressCount: o.ipv6AddressCount,
    ipv6GatewayBandwidthEnable: o.ipv6GatewayBandwidthEnable,
    ipv6GatewayBandwidth: o.ipv6GatewayBandwidth,
    ntpServer: o.ntpServer,
    privateIpAddress: o.privateIpAddress,
    fixedIp: o.fixedIp === undefined ? undefined : String(o.fixedIp),
    fixedIpRetainHour: o.fixedIpRetainHour,
    ingressBandwidth: o.ingressBandwidth,
    egressBandwidth: o.egressBandwidth,
    dataCacheBucket: o.dataCache?.bucket,
    dataCachePL: o.dataCache?.pl,
    dataCacheProvisionedIops: o.dataCache?.provisionedIops,
    dataCacheBurstingEnabled: o.dataCache?.burstingEnabled,
    acrRegistryInfo: o.acrRegistries?.map((r) => ({ ...r })),
    plainHttpRegistry: o.plainHttpRegistry,
    insecureRegistry: o.insecureRegistry,
    corePattern: o.corePattern,
  };
  return out;
}

/** The pod's DnsConfig with eci-custom-dnsconfig added after it (Kubernetes' limits kept). */
function withCustomDns(
  base: { dnsPolicy?: string; dnsConfig?: DnsConfigInit },
  o: EciOptions,
): { dnsPolicy?: string; dnsConfig?: DnsConfigInit } {
  const extra = o.dnsConfig;
  if (!extra) return base;
  const d = base.dnsConfig ?? {};
  const options = new Map((d.option ?? []).map((x) => [x.name ?? '', x]));
  for (const x of extra.options) options.set(x.name, x);
  return {
    ...base,
    dnsConfig: {
      nameServer: [...new Set([...(d.nameServer ?? []), ...extra.nameServers])].slice(0, MAX_NAMESERVERS),
      search: [...new Set([...(d.search ?? []), ...extra.searches])].slice(0, MAX_SEARCHES),
      option: [...options.values()],
    },
  };
}

/**
 * The CreateContainerGroup request that runs `pod`, or why it cannot be built now. Pure: the same pod
 * and context give the same request, so a retried create carries the same ClientToken (the pod UID)
 * and ECI answers with the group it already made.
 */
export function podToCreateRequest(pod: V1Pod, ctx: CreateContext): CreateResult {
  const refused = validatePod(pod);
  if (refused) return { ok: false, refusal: refused };
  const parsed = parseEciAnnotations(pod.metadata?.annotations);
  if (!parsed.ok) return { ok: false, refusal: parsed.refusal };
  const o = parsed.options;
  const privileged = cloudPrivilegeRefusal(
    o,
    pod.metadata?.namespace ?? 'default',
    ctx.privileges ?? NO_CLOUD_PRIVILEGES,
    { vSwitchIds: ctx.vSwitchIds, securityGroupId: ctx.securityGroupId },
  );
  if (privileged) return { ok: false, refusal: privileged };
  const uid = pod.metadata?.uid;
  if (!uid) {
    return {
      ok: false,
      refusal: {
        field: 'metadata.uid',
        reason: RefusalReasons.IDENTITY,
        message: 'the pod has no UID; only pods read from the API server can be created',
      },
    };
  }
  const b: BuildContext = {
    pod,
    refs: ctx.refs,
    nodeName: ctx.nodeName,
    ...(ctx.hostIP ? { hostIP: ctx.hostIP } : {}),
    groupCapacity: groupCapacity(pod, o),
    warnings: [],
    missing: [],
  };
  try {
    const spec = pod.spec;
    const vSwitches = o.vSwitchIds ?? [...ctx.vSwitchIds];
    const g = groupSize(pod);
    const groupCpu = o.groupCpu ?? (o.instanceType === undefined && g.kind === 'spec' ? g.cpu : undefined);
    const groupMemory =
      o.groupMemory ?? (o.instanceType === undefined && g.kind === 'spec' ? g.memory : undefined);
    const initContainers = (spec?.initContainers ?? []).map((c, i) => initContainer(b, c, i, ctx));
    const containers = (spec?.containers ?? []).map((c, i) => appContainer(b, c, i, ctx));
    const volumes = (spec?.volumes ?? []).map((v, i) => mapVolume(b, v, `spec.volumes[${i}]`));
    const credentials = pullCredentials(b);
    if (
      (spec?.securityContext?.fsGroup ?? undefined) !== undefined ||
      (spec?.securityContext?.supplementalGroups?.length ?? 0) > 0
    ) {
      b.warnings.push(
        'spec.securityContext: ECI applies no fsGroup or supplementalGroups; volume ownership is unchanged',
      );
    }
    const hostAliases = [
      ...(spec?.hostAliases ?? []).map((h) => ({ ip: h.ip, hostname: h.hostnames ?? [] })),
      ...(o.hostAliases ?? []).map((h) => ({ ip: h.ip, hostname: h.hostnames })),
    ];
    const init: RequestInit = {
      regionId: ctx.regionId,
      clientToken: uid,
      containerGroupName: containerGroupName(pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? ''),
      securityGroupId: o.securityGroupId ?? (ctx.securityGroupId || undefined),
      vSwitchId: vSwitches.length > 0 ? vSwitches.join(',') : undefined,
      scheduleStrategy:
        vSwitches.length > 1 ? (o.scheduleStrategy ?? ctx.scheduleStrategy ?? 'VSwitchOrdered') : undefined,
      restartPolicy: spec?.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: spec?.terminationGracePeriodSeconds,
      activeDeadlineSeconds: spec?.activeDeadlineSeconds,
      shareProcessNamespace: spec?.shareProcessNamespace,
      cpu: groupCpu,
      memory: groupMemory,
      ...annotationFields(o),
      tag: [...identityTags(podIdentity(pod, ctx.clusterId, ctx.nodeName)), ...(o.customTags ?? [])],
      container: containers,
      initContainer: initContainers.length > 0 ? initContainers : undefined,
      volume: volumes.length > 0 ? volumes : undefined,
      imageRegistryCredential: credentials.length > 0 ? credentials : undefined,
      hostAliase: hostAliases.length > 0 ? hostAliases : undefined,
      hostName: hostName(pod, ctx),
      ...withCustomDns(dns(b, ctx), o),
      ...sysctls(pod),
    };
    if (b.missing.length > 0) return { ok: false, missing: b.missing };
    return { ok: true, request: new CreateContainerGroupRequest(init), warnings: b.warnings, options: o };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, refusal: err.refusal };
    throw err;
  }
}
