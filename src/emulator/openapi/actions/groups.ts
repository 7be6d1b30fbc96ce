import { cloudErrors } from '../../engine/cloud-errors.ts';
import { hashParams } from '../../engine/ids.ts';
import type { GroupRecord, GroupSpec, Tag } from '../../engine/model.ts';
import { Params, readTags } from '../params.ts';
import { eventsShape, groupShape, statusShape } from '../render.ts';
import { applyUpdate, checkGroupName, readCreateSpec } from '../spec.ts';
import {
  type ActionContext,
  type ActionDef,
  COMMON_ACTION_PARAMS,
  groupsByIds,
  matchTags,
  paginate,
  readClientToken,
  readLimit,
  readNextToken,
} from './context.ts';

/** Parameters that do not make two creates different requests. */
const NOT_HASHED = new Set(['ClientToken', 'DryRun']);

function createTags(p: Params): Tag[] {
  return readTags(p).map((t) => ({ key: t.key, value: t.value ?? '' }));
}

/**
 * CreateContainerGroup from flat parameters (also the path of CreateContainerGroupFromTemplate).
 * Returns once the new group is durable.
 */
export async function createFromParams(
  ctx: ActionContext,
  flat: ReadonlyMap<string, string>,
): Promise<GroupRecord> {
  const p = Params.fromFlat(flat);
  const name = p.requiredString('ContainerGroupName');
  checkGroupName(name);
  const spec = readCreateSpec(p);
  checkSpotAndEip(spec);
  const tags = createTags(p);
  const region = ctx.core.config.region;
  const sgId = p.string('SecurityGroupId') || undefined;
  const vswText = p.string('VSwitchId');
  let vSwitchIds: string[];
  if (vswText !== undefined && vswText.trim() !== '') {
    vSwitchIds = [
      ...new Set(
        vswText
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
    ];
    if (vSwitchIds.length > 10)
      throw cloudErrors.valueExceeded('VSwitchId', 'At most 10 vSwitches are allowed.');
  } else {
    // No vSwitch: the system picks one in the security group's VPC (or the region's first VPC).
    const vpc = region.securityGroups.find((s) => s.id === sgId)?.vpcId ?? region.vpcs[0]!.id;
    vSwitchIds = region.vSwitches.filter((v) => v.vpcId === vpc).map((v) => v.id);
  }
  return ctx.core.createGroup({
    name,
    spec,
    tags,
    clientToken: readClientToken(p),
    requestHash: hashParams(flat, NOT_HASHED),
    vSwitchIds,
    securityGroupId: sgId,
    zoneId: p.string('ZoneId') || undefined,
    strategy: p.oneOf('ScheduleStrategy', ['VSwitchOrdered', 'VSwitchRandom']) ?? 'VSwitchRandom',
    privateIpAddress: p.string('PrivateIpAddress') || undefined,
    dryRun: p.bool('DryRun') ?? false,
  });
}

/** The cloud's checks across parameters of spot pricing and public addresses. */
function checkSpotAndEip(spec: GroupSpec): void {
  if (spec.spotStrategy === 'SpotWithPriceLimit' && spec.spotPriceLimit === undefined)
    throw cloudErrors.missingParameter('SpotPriceLimit');
  if (spec.eipInstanceId !== undefined) {
    if (spec.autoCreateEip === true)
      throw cloudErrors.invalidParameter('EipInstanceId', 'It cannot be used with AutoCreateEip.');
    if (!/^eip-[a-z0-9]+$/.test(spec.eipInstanceId)) throw cloudErrors.eipNotFound(spec.eipInstanceId);
  }
}

/** UpdateContainerGroup from a parameter tree (also the path of UpdateContainerGroupByTemplate). */
export async function updateFromParams(ctx: ActionContext, p: Params): Promise<void> {
  const id = p.requiredString('ContainerGroupId');
  const g = ctx.core.getGroup(id);
  const specKeys = ['Container', 'InitContainer', 'Volume', 'RestartPolicy', 'Cpu', 'Memory', 'DnsConfig'];
  const spec = specKeys.some((k) => p.has(k)) ? applyUpdate(g.spec, p) : undefined;
  const tags = p.has('Tag') ? createTags(p) : undefined;
  await ctx.core.updateGroup(id, { spec, tags });
}

const GROUP_FILTERS = ['ZoneId', 'VSwitchId', 'Tag', 'ContainerGroupIds', 'Limit', 'NextToken'];

/**
 * The request's filters as a source to scan and a predicate (undefined when nothing is left to check):
 * named IDs are looked up; otherwise a tag filter starts from that tag's index (the most selective
 * one), so the common "all groups of this cluster" list does not touch every record.
 */
function groupQuery(ctx: ActionContext): {
  source: readonly GroupRecord[];
  filter: ((g: GroupRecord) => boolean) | undefined;
} {
  const p = ctx.params;
  let tags = readTags(p);
  const zone = p.string('ZoneId') || undefined;
  const vsw = p.string('VSwitchId') || undefined;
  const name = p.string('ContainerGroupName') || undefined;
  const status = p.string('Status') || undefined;
  const rg = p.string('ResourceGroupId') || undefined;
  const ids = p.jsonStrings('ContainerGroupIds', 20);
  let source: readonly GroupRecord[];
  if (ids !== undefined) {
    source = groupsByIds(ctx, ids);
  } else if (tags.length > 0) {
    const lists = tags.map((t) => ctx.core.groupsWithTag(t.key, t.value));
    let best = 0;
    for (let i = 1; i < lists.length; i++) if (lists[i]!.length < lists[best]!.length) best = i;
    source = lists[best]!;
    tags = tags.filter((_, i) => i !== best);
  } else {
    source = ctx.core.groupsInOrder();
  }
  if (tags.length === 0 && [zone, vsw, name, status, rg].every((x) => x === undefined))
    return { source, filter: undefined };
  return {
    source,
    filter: (g) =>
      (zone === undefined || g.zoneId === zone) &&
      (vsw === undefined || g.vSwitchId === vsw) &&
      (name === undefined || g.name === name) &&
      (status === undefined || g.status === status) &&
      (rg === undefined || (g.spec.resourceGroupId ?? 'rg-emulator-default') === rg) &&
      matchTags(g.tags, tags),
  };
}

function and<T>(a: ((x: T) => boolean) | undefined, b: (x: T) => boolean): (x: T) => boolean {
  return a === undefined ? b : (x) => b(x) && a(x);
}

export const groupActions: Record<string, ActionDef> = {
  CreateContainerGroup: {
    params: [
      ...COMMON_ACTION_PARAMS,
      'ZoneId',
      'SecurityGroupId',
      'VSwitchId',
      'ContainerGroupName',
      'RestartPolicy',
      'Tag',
      'ImageRegistryCredential',
      'Container',
      'Volume',
      'EipInstanceId',
      'InitContainer',
      'DnsConfig',
      'Cpu',
      'Memory',
      'DnsPolicy',
      'HostAliase',
      'AcrRegistryInfo',
      'InstanceType',
      'SecurityContext',
      'HostSecurityContext',
      'SlsEnable',
      'ImageSnapshotId',
      'RamRoleName',
      'NtpServer',
      'TerminationGracePeriodSeconds',
      'AutoMatchImageCache',
      'Ipv6AddressCount',
      'ActiveDeadlineSeconds',
      'SpotStrategy',
      'SpotPriceLimit',
      'SpotDuration',
      'StrictSpot',
      'ScheduleStrategy',
      'TenantVSwitchId',
      'TenantSecurityGroupId',
      'CorePattern',
      'AutoCreateEip',
      'EipBandwidth',
      'EipCommonBandwidthPackage',
      'EipISP',
      'HostName',
      'IngressBandwidth',
      'EgressBandwidth',
      'CpuOptionsCore',
      'CpuOptionsThreadsPerCore',
      'CpuOptionsNuma',
      'CpuArchitecture',
      'EphemeralStorage',
      'InsecureRegistry',
      'PlainHttpRegistry',
      'ImageAccelerateMode',
      'DataCacheBucket',
      'DataCachePL',
      'DataCacheProvisionedIops',
      'DataCacheBurstingEnabled',
      'DryRun',
      'FixedIp',
      'FixedIpRetainHour',
      'PrivateIpAddress',
      'ContainerResourceView',
      'OsType',
      'OverheadReservationOption',
      'ShareProcessNamespace',
      'Ipv6GatewayBandwidth',
      'Ipv6GatewayBandwidthEnable',
      'GpuDriverVersion',
    ],
    regionRequired: true,
    async handle(ctx) {
      const g = await createFromParams(ctx, ctx.flat);
      return { ContainerGroupId: g.id };
    },
  },

  DeleteContainerGroup: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId', 'Force'],
    regionRequired: true,
    async handle(ctx) {
      await ctx.core.deleteGroup(ctx.params.requiredString('ContainerGroupId'));
      return {};
    },
  },

  RestartContainerGroup: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId'],
    regionRequired: true,
    async handle(ctx) {
      await ctx.core.restartGroup(ctx.params.requiredString('ContainerGroupId'));
      return {};
    },
  },

  UpdateContainerGroup: {
    params: [
      ...COMMON_ACTION_PARAMS,
      'ContainerGroupId',
      'RestartPolicy',
      'Tag',
      'Volume',
      'DnsConfig',
      'Container',
      'InitContainer',
      'ImageRegistryCredential',
      'AcrRegistryInfo',
      'Cpu',
      'Memory',
      'UpdateType',
    ],
    regionRequired: true,
    async handle(ctx) {
      await updateFromParams(ctx, ctx.params);
      return {};
    },
  },

  DescribeContainerGroups: {
    params: [...COMMON_ACTION_PARAMS, ...GROUP_FILTERS, 'ContainerGroupName', 'Status', 'WithEvent'],
    regionRequired: true,
    handle(ctx) {
      const limit = readLimit(ctx, 'DescribeContainerGroups');
      const after = readNextToken(ctx.params);
      const withEvent = ctx.params.bool('WithEvent') ?? false;
      const q = groupQuery(ctx);
      const page = paginate(q.source, q.filter, after, limit);
      return {
        TotalCount: page.total,
        NextToken: page.nextToken,
        ContainerGroups: page.items.map((g) => groupShape(g, withEvent)),
      };
    },
  },

  DescribeContainerGroupStatus: {
    params: [...COMMON_ACTION_PARAMS, ...GROUP_FILTERS, 'SinceSecond'],
    regionRequired: true,
    handle(ctx) {
      const limit = readLimit(ctx, 'DescribeContainerGroupStatus');
      const after = readNextToken(ctx.params);
      const since = ctx.params.int('SinceSecond', { min: 1 });
      const q = groupQuery(ctx);
      const from = since === undefined ? undefined : ctx.now - since * 1000;
      const filter = from === undefined ? q.filter : and(q.filter, (g) => g.changedAt >= from);
      const page = paginate(q.source, filter, after, limit);
      return { TotalCount: page.total, NextToken: page.nextToken, Data: page.items.map(statusShape) };
    },
  },

  DescribeContainerGroupEvents: {
    params: [...COMMON_ACTION_PARAMS, ...GROUP_FILTERS, 'SinceSecond', 'EventSource'],
    regionRequired: true,
    handle(ctx) {
      const limit = readLimit(ctx, 'DescribeContainerGroupEvents');
      const after = readNextToken(ctx.params);
      const since = ctx.params.int('SinceSecond', { min: 1 });
      const source_ = ctx.params.string('EventSource');
      if (source_ !== undefined && source_ !== '' && source_ !== 'K8S' && source_ !== 'EciService') {
        throw cloudErrors.invalidParameter('EventSource', 'Valid values: K8S, EciService.');
      }
      const from = since === undefined ? undefined : ctx.now - since * 1000;
      const q = groupQuery(ctx);
      const page = paginate(
        q.source,
        and(q.filter, (g) => g.events.some((e) => from === undefined || e.last >= from)),
        after,
        limit,
      );
      return {
        TotalCount: page.total,
        NextToken: page.nextToken,
        Data: page.items.map((g) => eventsShape(g, from)),
      };
    },
  },
};
