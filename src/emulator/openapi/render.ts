import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStatusSnapshot,
  GroupEvent,
  GroupRecord,
  ImageCacheRecord,
  Probe,
} from '../engine/model.ts';

/**
 * Records → the response structures of the 2018-08-08 API, field names as the SDK's models read them
 * (`@alicloud/eci20180808` names()). Pure functions.
 */

type Json = Record<string, unknown>;

/** The cloud's timestamp format: ISO 8601 UTC without fractions. */
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function compact<T extends Json>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function probe(p: Probe | undefined): Json | undefined {
  if (p === undefined) return undefined;
  return compact({
    Execs: p.exec,
    HttpGet: p.httpGet && compact({ Path: p.httpGet.path, Port: p.httpGet.port, Scheme: p.httpGet.scheme }),
    TcpSocket: p.tcpSocket && compact({ Host: p.tcpSocket.host, Port: p.tcpSocket.port }),
    InitialDelaySeconds: p.initialDelaySeconds,
    PeriodSeconds: p.periodSeconds,
    SuccessThreshold: p.successThreshold,
    FailureThreshold: p.failureThreshold,
    TimeoutSeconds: p.timeoutSeconds,
  });
}

function state(s: ContainerStatusSnapshot | undefined): Json {
  if (s === undefined) return {};
  return compact({
    State: s.state,
    DetailStatus: s.reason,
    Reason: s.reason,
    Message: s.message,
    ExitCode: s.exitCode,
    Signal: s.signal,
    StartTime: iso(s.startTime),
    FinishTime: iso(s.finishTime),
  });
}

function containerShape(spec: ContainerSpec, rt: ContainerRuntime | undefined, init: boolean): Json {
  return compact({
    Name: spec.name,
    Image: spec.image,
    ImagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
    // The SDK reads init containers' command as `Command`, app containers' as `Commands`.
    [init ? 'Command' : 'Commands']: spec.command,
    Args: spec.args,
    Cpu: spec.cpu ?? 0,
    Memory: spec.memory ?? 0,
    Gpu: spec.gpu ?? 0,
    WorkingDir: spec.workingDir,
    EnvironmentVars: spec.env.map((e) =>
      compact({
        Key: e.key,
        Value: e.value,
        ValueFrom: e.fieldPath === undefined ? undefined : { FieldRef: { FieldPath: e.fieldPath } },
      }),
    ),
    Ports: spec.ports.map((p) => compact({ Port: p.port, Protocol: p.protocol ?? 'TCP' })),
    VolumeMounts: spec.volumeMounts.map((m) =>
      compact({
        Name: m.name,
        MountPath: m.mountPath,
        SubPath: m.subPath,
        ReadOnly: m.readOnly ?? false,
        MountPropagation: m.mountPropagation,
      }),
    ),
    CurrentState: state(rt),
    PreviousState: state(rt?.previous),
    Ready: rt?.ready ?? false,
    RestartCount: rt?.restartCount ?? 0,
    LivenessProbe: init ? undefined : probe(spec.livenessProbe),
    ReadinessProbe: init ? undefined : probe(spec.readinessProbe),
    SecurityContext:
      spec.securityContext &&
      compact({
        Capability: spec.securityContext.capabilityAdd && { Adds: spec.securityContext.capabilityAdd },
        ReadOnlyRootFilesystem: spec.securityContext.readOnlyRootFilesystem,
        RunAsUser: spec.securityContext.runAsUser,
      }),
    Stdin: init ? undefined : (spec.stdin ?? false),
    StdinOnce: init ? undefined : (spec.stdinOnce ?? false),
    Tty: init ? undefined : (spec.tty ?? false),
  });
}

export function eventShape(e: GroupEvent): Json {
  return {
    Count: e.count,
    Type: e.type,
    Name: e.name,
    Message: e.message,
    FirstTimestamp: iso(e.first),
    LastTimestamp: iso(e.last),
    Reason: e.reason,
  };
}

/** One element of DescribeContainerGroups' `ContainerGroups`. */
export function groupShape(g: GroupRecord, withEvents: boolean): Json {
  const s = g.spec;
  return compact({
    ContainerGroupId: g.id,
    ContainerGroupName: g.name,
    RegionId: g.regionId,
    ZoneId: g.zoneId,
    VpcId: g.vpcId,
    VSwitchId: g.vSwitchId,
    SecurityGroupId: g.securityGroupId,
    Status: g.status,
    IntranetIp: g.ip,
    InternetIp: g.internetIp,
    EniInstanceId: `eni-${g.id.slice(4)}`,
    Cpu: s.cpu,
    Memory: s.memory,
    InstanceType:
      s.instanceType ?? `eci.c${Math.max(1, Math.round(s.cpu))}m${Math.max(1, Math.round(s.memory))}`,
    EphemeralStorage: s.ephemeralStorage,
    CreationTime: iso(g.createdAt),
    SucceededTime: iso(g.succeededAt),
    FailedTime: iso(g.failedAt),
    ExpiredTime: iso(g.expiredAt),
    RestartPolicy: s.restartPolicy,
    ResourceGroupId: s.resourceGroupId ?? 'rg-emulator-default',
    RamRoleName: s.ramRoleName,
    SpotStrategy: s.spotStrategy ?? 'NoSpot',
    SpotPriceLimit: s.spotPriceLimit,
    Discount: s.spotStrategy !== undefined && s.spotStrategy !== 'NoSpot' ? 3 : 10,
    Tags: g.tags.map((t) => ({ Key: t.key, Value: t.value })),
    Containers: s.containers.map((c, i) => containerShape(c, g.containers[i], false)),
    InitContainers: s.initContainers.map((c, i) => containerShape(c, g.initContainers[i], true)),
    Volumes: s.volumes.map((v) =>
      compact({
        Name: v.name,
        Type: v.type,
        NFSVolumeServer: v.nfs?.server,
        NFSVolumePath: v.nfs?.path,
        NFSVolumeReadOnly: v.nfs?.readOnly,
        EmptyDirVolumeMedium: v.emptyDir?.medium,
        EmptyDirVolumeSizeLimit: v.emptyDir?.sizeLimit,
        ConfigFileVolumeConfigFileToPaths: v.configFiles?.map((f) =>
          compact({ Path: f.path, Content: f.content }),
        ),
        DiskVolumeDiskId: v.disk?.diskId,
        DiskVolumeFsType: v.disk?.fsType,
        FlexVolumeDriver: v.flex?.driver,
        FlexVolumeFsType: v.flex?.fsType,
        FlexVolumeOptions: v.flex?.options,
      }),
    ),
    DnsConfig: s.dnsConfig && {
      NameServers: s.dnsConfig.nameServers,
      Searches: s.dnsConfig.searches,
      Options: s.dnsConfig.options.map((o) => compact({ Name: o.name, Value: o.value })),
    },
    HostAliases: s.hostAliases.map((h) => ({ Ip: h.ip, Hostnames: h.hostnames })),
    EciSecurityContext: { Sysctls: s.sysctls.map((x) => ({ Name: x.name, Value: x.value })) },
    Events: withEvents ? g.events.map(eventShape) : undefined,
  });
}

/** Kubernetes-style phase of an ECI status. */
export function phaseOf(g: GroupRecord): string {
  switch (g.status) {
    case 'Running':
    case 'Terminating':
      return 'Running';
    case 'Succeeded':
      return 'Succeeded';
    case 'Failed':
    case 'Expired':
    case 'ScheduleFailed':
      return 'Failed';
    default:
      return 'Pending';
  }
}

/** A stable 64-hex-digit stand-in for a digest (FNV-1a, cheap: status pages render hundreds). */
export function fakeDigest(s: string): string {
  let out = '';
  for (let seed = 0; seed < 8; seed++) {
    let h = 0x811c9dc5 ^ seed;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    out += (h >>> 0).toString(16).padStart(8, '0');
  }
  return out;
}

/** `repo[:tag][@digest]` → `repo@sha256:<digest>`, a stable digest standing in for the pulled one. */
function imageId(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > slash ? noDigest.slice(0, colon) : noDigest;
  return `${repo}@sha256:${fakeDigest(image)}`;
}

function k8sState(s: ContainerStatusSnapshot | undefined, containerId: string): Json {
  if (s === undefined) return {};
  switch (s.state) {
    case 'Running':
      // The SDK model spells this field `StartedAtstartedAt`; the API reference says `StartedAt`. Send both.
      return { Running: { StartedAt: iso(s.startTime), StartedAtstartedAt: iso(s.startTime) } };
    case 'Terminated':
      return {
        Terminated: compact({
          ContainerID: containerId,
          ExitCode: s.exitCode ?? 0,
          Reason: s.reason,
          Message: s.message,
          Signal: s.signal,
          StartedAt: iso(s.startTime),
          FinishedAt: iso(s.finishTime),
        }),
      };
    case 'Waiting':
      return { Waiting: compact({ Reason: s.reason, Message: s.message }) };
  }
}

function annotations(g: GroupRecord): string {
  return JSON.stringify(Object.fromEntries(g.tags.map((t) => [t.key, t.value])));
}

function namespaceOf(g: GroupRecord): string {
  const t = g.tags.find((x) => x.key === 'k8s.aliyun.com/namespace' || x.key === 'namespace');
  return t?.value ?? 'default';
}

/** One element of DescribeContainerGroupStatus' `Data`. */
export function statusShape(g: GroupRecord): Json {
  const containers = g.spec.containers.map((spec, i) => ({ spec, rt: g.containers[i] }));
  const allReady = containers.length > 0 && containers.every((c) => c.rt?.ready === true);
  const scheduled = g.status !== 'Scheduling' && g.status !== 'ScheduleFailed';
  const initialized = g.startedAt !== undefined;
  const cond = (type: string, ok: boolean) => ({
    type,
    status: ok ? 'True' : 'False',
    lastTransitionTime: iso(g.statusSince),
  });
  return {
    ContainerGroupId: g.id,
    Name: g.name,
    Namespace: namespaceOf(g),
    uuid: g.uuid,
    Annotations: annotations(g),
    Status: g.status,
    PodStatus: compact({
      Phase: phaseOf(g),
      Conditions: [
        cond('PodScheduled', scheduled),
        cond('Initialized', initialized),
        cond('ContainersReady', allReady),
        cond('Ready', allReady),
      ],
      ContainerStatuses: containers.map(({ spec, rt }, i) => {
        const cid = `containerd://${fakeDigest(`${g.id}/${spec.name}/${rt?.restartCount ?? 0}/${i}`)}`;
        return compact({
          Name: spec.name,
          Image: spec.image,
          ImageID: imageId(spec.image),
          Ready: rt?.ready ?? false,
          RestartCount: rt?.restartCount ?? 0,
          Started: rt?.state === 'Running',
          State: k8sState(rt, cid),
          LastState: k8sState(rt?.previous, cid),
        });
      }),
      HostIp: g.ip,
      PodIp: g.ip,
      PodIps: [{ Ip: g.ip }],
      QosClass: 'Guaranteed',
      StartTime: iso(g.startedAt),
    }),
  };
}

/** One element of DescribeContainerGroupEvents' `Data`, with events last seen at or after `since`. */
export function eventsShape(g: GroupRecord, since: number | undefined): Json {
  const ns = namespaceOf(g);
  return {
    ContainerGroupId: g.id,
    Name: g.name,
    Namespace: ns,
    uuid: g.uuid,
    Annotations: annotations(g),
    Events: g.events
      .filter((e) => since === undefined || e.last >= since)
      .map((e) => ({
        Count: e.count,
        Type: e.type,
        Reason: e.reason,
        Message: e.message,
        FirstTimestamp: iso(e.first),
        LastTimestamp: iso(e.last),
        Metadata: { Name: e.name, Namespace: ns },
        involvedObject: compact({
          Kind: 'Pod',
          ApiVersion: 'v1',
          Name: g.name,
          Namespace: ns,
          Uid: g.uuid,
          FieldPath: e.container === undefined ? undefined : `spec.containers{${e.container}}`,
        }),
        Source: { Component: 'eci', Host: g.zoneId },
        ReportingComponent: 'eci',
        ReportingInstance: g.zoneId,
      })),
  };
}

export function imageCacheShape(r: ImageCacheRecord, regionId: string): Json {
  const expire =
    r.expireAt ?? (r.retentionDays === undefined ? undefined : r.createdAt + r.retentionDays * 86_400_000);
  return compact({
    ImageCacheId: r.id,
    ImageCacheName: r.name,
    ContainerGroupId: r.containerGroupId,
    RegionId: regionId,
    Status: r.status,
    Progress: r.progress,
    Images: r.images,
    ImageCacheSize: r.size,
    SnapshotId: r.snapshotId,
    CreationTime: iso(r.createdAt),
    ExpireDateTime: iso(expire),
    LastMatchedTime: iso(r.lastMatchedAt),
    EliminationStrategy: r.eliminationStrategy ?? 'LRU',
    ResourceGroupId: r.resourceGroupId ?? 'rg-emulator-default',
    Tags: r.tags.map((t) => ({ Key: t.key, Value: t.value })),
    Events: r.events.map(eventShape),
  });
}
