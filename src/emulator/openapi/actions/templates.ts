import { cloudErrors } from '../../engine/cloud-errors.ts';
import type { ContainerSpec, GroupRecord, Probe } from '../../engine/model.ts';
import { Params } from '../params.ts';
import { type ActionDef, COMMON_ACTION_PARAMS } from './context.ts';
import { createFromParams, updateFromParams } from './groups.ts';

/**
 * Templates: a container group described as one JSON document (the ExportContainerGroupTemplate
 * response's `Template`, whose structure the older ECI SDKs model: RegionId, ZoneId, SecurityGroupId,
 * VSwitchId, ContainerGroupName, Tags, Resources, Spec{Containers, InitContainers, Volumes, DnsConfig,
 * SecurityContext, RestartPolicy, DnsPolicy}). *FromTemplate / *ByTemplate take it back as a JSON string;
 * the emulator turns it into CreateContainerGroup / UpdateContainerGroup parameters. The exported
 * template also carries `ContainerGroupId`, which UpdateContainerGroupByTemplate needs.
 */

type Json = Record<string, unknown>;

function compact<T extends Json>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function probeTemplate(p: Probe | undefined): Json | undefined {
  if (p === undefined) return undefined;
  return compact({
    InitialDelaySeconds: p.initialDelaySeconds,
    PeriodSeconds: p.periodSeconds,
    SuccessThreshold: p.successThreshold,
    FailureThreshold: p.failureThreshold,
    TimeoutSeconds: p.timeoutSeconds,
    Exec: p.exec && { Command: p.exec },
    TcpSocket: p.tcpSocket && compact({ Port: p.tcpSocket.port }),
    HttpGet: p.httpGet && compact({ Scheme: p.httpGet.scheme, Path: p.httpGet.path, Port: p.httpGet.port }),
  });
}

function containerTemplate(c: ContainerSpec, init: boolean): Json {
  return compact({
    Name: c.name,
    Image: c.image,
    ImagePullPolicy: c.imagePullPolicy,
    Stdin: c.stdin,
    StdinOnce: c.stdinOnce,
    Tty: c.tty,
    WorkingDir: c.workingDir,
    Env: c.env.map((e) =>
      compact({
        Name: e.key,
        Value: e.value,
        ValueFrom: e.fieldPath && { FieldRef: { FieldPath: e.fieldPath } },
      }),
    ),
    Ports: c.ports.map((p) => compact({ Protocol: p.protocol, ContainerPort: p.port })),
    VolumeMounts: c.volumeMounts.map((m) =>
      compact({ Name: m.name, SubPath: m.subPath, MountPath: m.mountPath, ReadOnly: m.readOnly }),
    ),
    Resources: compact({ Cpu: c.cpu, Memory: c.memory }),
    ReadinessProbe: init ? undefined : probeTemplate(c.readinessProbe),
    LivenessProbe: init ? undefined : probeTemplate(c.livenessProbe),
    Command: c.command,
    Args: c.args,
  });
}

export function groupToTemplate(g: GroupRecord): Json {
  const s = g.spec;
  return compact({
    ContainerGroupId: g.id,
    RegionId: g.regionId,
    ZoneId: g.zoneId,
    SecurityGroupId: g.securityGroupId,
    VSwitchId: g.vSwitchId,
    ResourceGroupId: s.resourceGroupId,
    ContainerGroupName: g.name,
    InstanceType: s.instanceType,
    SpotStrategy: s.spotStrategy,
    SpotPriceLimit: s.spotPriceLimit,
    RamRoleName: s.ramRoleName,
    AutoCreateEip: s.autoCreateEip,
    EipBandwidth: s.eipBandwidth,
    EipInstanceId: s.eipInstanceId,
    EphemeralStorage: s.ephemeralStorage,
    AutoMatchImageCache: s.autoMatchImageCache,
    ImageSnapshotId: s.imageSnapshotId,
    Tags: g.tags.map((t) => ({ Key: t.key, Value: t.value })),
    Resources: { Cpu: s.cpu, Memory: s.memory },
    Spec: compact({
      RestartPolicy: s.restartPolicy,
      DnsPolicy: s.dnsPolicy,
      Volumes: s.volumes.map((v) =>
        compact({
          Name: v.name,
          ConfigFile: v.configFiles && {
            Items: v.configFiles.map((f) => compact({ Mode: f.mode, Path: f.path, Content: f.content })),
          },
          EmptyDir: v.emptyDir && compact({ SizeLimit: v.emptyDir.sizeLimit }),
          Nfs: v.nfs && compact({ Server: v.nfs.server, Path: v.nfs.path, ReadOnly: v.nfs.readOnly }),
        }),
      ),
      InitContainers: s.initContainers.map((c) => containerTemplate(c, true)),
      Containers: s.containers.map((c) => containerTemplate(c, false)),
      DnsConfig: s.dnsConfig && {
        Options: s.dnsConfig.options.map((o) => compact({ Name: o.name, Value: o.value })),
        NameServers: s.dnsConfig.nameServers,
        Searches: s.dnsConfig.searches,
      },
      SecurityContext: { Sysctls: s.sysctls.map((x) => ({ Name: x.name, Value: x.value })) },
    }),
  });
}

/** Writes `value` into `out` under RPC flat keys (`a.1.b`). */
function flattenInto(out: Map<string, string>, prefix: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => flattenInto(out, `${prefix}.${i + 1}`, v));
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Json))
      flattenInto(out, prefix === '' ? k : `${prefix}.${k}`, v);
  } else {
    out.set(prefix, String(value));
  }
}

function asObject(v: unknown, path: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw cloudErrors.invalidParameter('Template', `${path} must be an object.`);
  return v as Json;
}

function asArray(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw cloudErrors.invalidParameter('Template', `${path} must be an array.`);
  return v;
}

function probeParams(p: unknown, path: string): Json | undefined {
  if (p === undefined || p === null) return undefined;
  const o = asObject(p, path);
  const exec = asObject(o.Exec, `${path}.Exec`);
  return {
    InitialDelaySeconds: o.InitialDelaySeconds,
    PeriodSeconds: o.PeriodSeconds,
    SuccessThreshold: o.SuccessThreshold,
    FailureThreshold: o.FailureThreshold,
    TimeoutSeconds: o.TimeoutSeconds,
    Exec: o.Exec === undefined ? undefined : { Command: exec.Command },
    TcpSocket: o.TcpSocket,
    HttpGet: o.HttpGet,
  };
}

function containerParams(v: unknown, path: string, init: boolean): Json {
  const c = asObject(v, path);
  const res = asObject(c.Resources, `${path}.Resources`);
  return {
    Name: c.Name,
    Image: c.Image,
    ImagePullPolicy: c.ImagePullPolicy,
    Stdin: init ? undefined : c.Stdin,
    StdinOnce: init ? undefined : c.StdinOnce,
    Tty: init ? undefined : c.Tty,
    WorkingDir: c.WorkingDir,
    Cpu: res.Cpu,
    Memory: res.Memory,
    Command: c.Command,
    Arg: c.Args,
    EnvironmentVar: asArray(c.Env, `${path}.Env`).map((e, i) => {
      const o = asObject(e, `${path}.Env[${i}]`);
      const from = asObject(asObject(o.ValueFrom, 'ValueFrom').FieldRef, 'FieldRef');
      return {
        Key: o.Name,
        Value: o.Value,
        FieldRef: from.FieldPath === undefined ? undefined : { FieldPath: from.FieldPath },
      };
    }),
    Port: asArray(c.Ports, `${path}.Ports`).map((x, i) => {
      const o = asObject(x, `${path}.Ports[${i}]`);
      return { Port: o.ContainerPort, Protocol: o.Protocol };
    }),
    VolumeMount: asArray(c.VolumeMounts, `${path}.VolumeMounts`).map((x, i) => {
      const o = asObject(x, `${path}.VolumeMounts[${i}]`);
      return { Name: o.Name, MountPath: o.MountPath, SubPath: o.SubPath, ReadOnly: o.ReadOnly };
    }),
    ReadinessProbe: init ? undefined : probeParams(c.ReadinessProbe, `${path}.ReadinessProbe`),
    LivenessProbe: init ? undefined : probeParams(c.LivenessProbe, `${path}.LivenessProbe`),
  };
}

/** A template document → CreateContainerGroup / UpdateContainerGroup flat parameters. */
export function templateToParams(text: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw cloudErrors.invalidParameter('Template', 'It must be a JSON document.');
  }
  const t = asObject(doc, 'Template');
  const spec = asObject(t.Spec, 'Spec');
  const res = asObject(t.Resources, 'Resources');
  const dns = t.Spec === undefined ? {} : asObject(spec.DnsConfig, 'Spec.DnsConfig');
  const sc = asObject(spec.SecurityContext, 'Spec.SecurityContext');
  const request: Json = {
    ContainerGroupId: t.ContainerGroupId,
    RegionId: t.RegionId,
    ZoneId: t.ZoneId,
    SecurityGroupId: t.SecurityGroupId,
    VSwitchId: t.VSwitchId,
    ResourceGroupId: t.ResourceGroupId,
    EipInstanceId: t.EipInstanceId,
    ContainerGroupName: t.ContainerGroupName,
    InstanceType: t.InstanceType,
    SpotStrategy: t.SpotStrategy,
    SpotPriceLimit: t.SpotPriceLimit,
    RamRoleName: t.RamRoleName,
    AutoCreateEip: t.AutoCreateEip,
    EipBandwidth: t.EipBandwidth,
    EphemeralStorage: t.EphemeralStorage,
    AutoMatchImageCache: t.AutoMatchImageCache,
    ImageSnapshotId: t.ImageSnapshotId,
    Cpu: res.Cpu,
    Memory: res.Memory,
    Tag: asArray(t.Tags, 'Tags'),
    RestartPolicy: spec.RestartPolicy,
    DnsPolicy: spec.DnsPolicy,
    Container:
      spec.Containers === undefined
        ? undefined
        : asArray(spec.Containers, 'Spec.Containers').map((c, i) =>
            containerParams(c, `Spec.Containers[${i}]`, false),
          ),
    InitContainer:
      spec.InitContainers === undefined
        ? undefined
        : asArray(spec.InitContainers, 'Spec.InitContainers').map((c, i) =>
            containerParams(c, `Spec.InitContainers[${i}]`, true),
          ),
    Volume:
      spec.Volumes === undefined
        ? undefined
        : asArray(spec.Volumes, 'Spec.Volumes').map((v, i) => {
            const o = asObject(v, `Spec.Volumes[${i}]`);
            const cfg = asObject(o.ConfigFile, 'ConfigFile');
            return {
              Name: o.Name,
              Type:
                o.ConfigFile !== undefined
                  ? 'ConfigFileVolume'
                  : o.Nfs !== undefined
                    ? 'NFSVolume'
                    : 'EmptyDirVolume',
              ConfigFileVolume: o.ConfigFile === undefined ? undefined : { ConfigFileToPath: cfg.Items },
              EmptyDirVolume: o.EmptyDir,
              NFSVolume: o.Nfs,
            };
          }),
    DnsConfig:
      spec.DnsConfig === undefined
        ? undefined
        : { NameServer: dns.NameServers, Search: dns.Searches, Option: dns.Options },
    SecurityContext: sc.Sysctls === undefined ? undefined : { Sysctl: sc.Sysctls },
  };
  const out = new Map<string, string>();
  flattenInto(out, '', request);
  return out;
}

export const templateActions: Record<string, ActionDef> = {
  ExportContainerGroupTemplate: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId'],
    handle(ctx) {
      const g = ctx.core.getGroup(ctx.params.requiredString('ContainerGroupId'));
      return { Template: groupToTemplate(g) };
    },
  },

  CreateContainerGroupFromTemplate: {
    params: [...COMMON_ACTION_PARAMS, 'Template'],
    regionRequired: true,
    async handle(ctx) {
      const flat = templateToParams(ctx.params.requiredString('Template'));
      flat.delete('ContainerGroupId');
      flat.set('RegionId', ctx.params.string('RegionId') ?? ctx.core.config.region.id);
      const token = ctx.params.string('ClientToken');
      if (token !== undefined) flat.set('ClientToken', token);
      const g = await createFromParams(ctx, flat);
      return { ContainerGroupId: g.id };
    },
  },

  UpdateContainerGroupByTemplate: {
    params: [...COMMON_ACTION_PARAMS, 'Template'],
    regionRequired: true,
    async handle(ctx) {
      const flat = templateToParams(ctx.params.requiredString('Template'));
      if (!flat.has('ContainerGroupId')) throw cloudErrors.missingParameter('Template.ContainerGroupId');
      await updateFromParams(ctx, Params.fromFlat(flat));
      return {};
    },
  },
};
