import { cloudErrors } from '../engine/cloud-errors.ts';
import type { ContainerSpec, GroupSpec, Probe, VolumeSpec } from '../engine/model.ts';
import type { Params } from './params.ts';

/**
 * Request parameters → container group spec (CreateContainerGroup / UpdateContainerGroup), and the
 * template form (ExportContainerGroupTemplate / *FromTemplate / *ByTemplate) to and from a spec.
 */

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
const NAME = /^[a-z0-9]([a-z0-9-]{0,126}[a-z0-9])?$/;

function probe(p: Params | undefined): Probe | undefined {
  if (p === undefined) return undefined;
  const out: Probe = {};
  const exec = p.struct('Exec');
  if (exec !== undefined) out.exec = exec.strings('Command');
  const http = p.struct('HttpGet');
  if (http !== undefined) {
    out.httpGet = stripUndefined({
      path: http.string('Path'),
      port: http.int('Port', { min: 1, max: 65535 }),
      scheme: http.string('Scheme'),
    });
  }
  const tcp = p.struct('TcpSocket');
  if (tcp !== undefined)
    out.tcpSocket = stripUndefined({
      port: tcp.int('Port', { min: 1, max: 65535 }),
      host: tcp.string('Host'),
    });
  out.initialDelaySeconds = p.int('InitialDelaySeconds', { min: 0 });
  out.periodSeconds = p.int('PeriodSeconds', { min: 1 });
  out.successThreshold = p.int('SuccessThreshold', { min: 1 });
  out.failureThreshold = p.int('FailureThreshold', { min: 1 });
  out.timeoutSeconds = p.int('TimeoutSeconds', { min: 1 });
  return stripUndefined(out);
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function container(p: Params, partial = false): ContainerSpec {
  const name = p.requiredString('Name');
  if (!NAME.test(name))
    throw cloudErrors.invalidParameter(`${p.path}.Name`, 'Use lower-case letters, digits and hyphens.');
  const sc = p.struct('SecurityContext');
  return stripUndefined<ContainerSpec>({
    name,
    image: partial ? (p.string('Image') ?? '') : p.requiredString('Image'),
    imagePullPolicy: p.oneOf('ImagePullPolicy', ['Always', 'IfNotPresent', 'Never']),
    command: p.strings('Command'),
    args: p.strings('Arg'),
    cpu: p.number('Cpu', { min: 0 }),
    memory: p.number('Memory', { min: 0 }),
    gpu: p.int('Gpu', { min: 0 }),
    workingDir: p.string('WorkingDir'),
    env: p.list('EnvironmentVar').map((e) =>
      stripUndefined({
        key: e.requiredString('Key'),
        value: e.string('Value'),
        fieldPath: e.struct('FieldRef')?.string('FieldPath'),
      }),
    ),
    ports: p.list('Port').map((x) =>
      stripUndefined({
        port: x.int('Port', { min: 1, max: 65535 }) ?? 0,
        protocol: x.oneOf('Protocol', ['TCP', 'UDP', 'SCTP']),
      }),
    ),
    volumeMounts: p.list('VolumeMount').map((m) =>
      stripUndefined({
        name: m.string('Name'),
        mountPath: m.string('MountPath'),
        subPath: m.string('SubPath'),
        readOnly: m.bool('ReadOnly'),
        mountPropagation: m.string('MountPropagation'),
      }),
    ),
    livenessProbe: probe(p.struct('LivenessProbe')),
    readinessProbe: probe(p.struct('ReadinessProbe')),
    securityContext:
      sc === undefined
        ? undefined
        : stripUndefined({
            capabilityAdd: sc.struct('Capability')?.strings('Add'),
            readOnlyRootFilesystem: sc.bool('ReadOnlyRootFilesystem'),
            runAsUser: sc.int('RunAsUser'),
          }),
    stdin: p.bool('Stdin'),
    stdinOnce: p.bool('StdinOnce'),
    tty: p.bool('Tty'),
  });
}

function volume(p: Params): VolumeSpec {
  const nfs = p.struct('NFSVolume');
  const empty = p.struct('EmptyDirVolume');
  const cfg = p.struct('ConfigFileVolume');
  const disk = p.struct('DiskVolume');
  const flex = p.struct('FlexVolume');
  const host = p.struct('HostPathVolume');
  return stripUndefined<VolumeSpec>({
    name: p.requiredString('Name'),
    type: p.string('Type'),
    nfs:
      nfs &&
      stripUndefined({
        server: nfs.string('Server'),
        path: nfs.string('Path'),
        readOnly: nfs.bool('ReadOnly'),
      }),
    emptyDir:
      empty && stripUndefined({ medium: empty.string('Medium'), sizeLimit: empty.string('SizeLimit') }),
    configDefaultMode: cfg?.int('DefaultMode'),
    configFiles: cfg
      ?.list('ConfigFileToPath')
      .map((f) =>
        stripUndefined({ path: f.string('Path'), content: f.string('Content'), mode: f.int('Mode') }),
      ),
    disk:
      disk &&
      stripUndefined({
        diskId: disk.string('DiskId'),
        fsType: disk.string('FsType'),
        diskSize: disk.int('DiskSize'),
      }),
    flex:
      flex &&
      stripUndefined({
        driver: flex.string('Driver'),
        fsType: flex.string('FsType'),
        options: flex.string('Options'),
      }),
    hostPath: host && stripUndefined({ path: host.string('Path'), type: host.string('Type') }),
  });
}

function checkUniqueNames(items: { name: string }[], what: string): void {
  const seen = new Set<string>();
  for (const i of items) {
    if (seen.has(i.name)) throw cloudErrors.invalidParameter(what, `Duplicate name ${i.name}.`);
    seen.add(i.name);
  }
}

/** Sum of the containers' requests, or the group's own Cpu/Memory when given (the cloud rounds up to a spec). */
function groupResources(p: Params, containers: ContainerSpec[]): { cpu: number; memory: number } {
  const cpu = p.number('Cpu', { min: 0 }) ?? containers.reduce((s, c) => s + (c.cpu ?? 0), 0);
  const memory = p.number('Memory', { min: 0 }) ?? containers.reduce((s, c) => s + (c.memory ?? 0), 0);
  return { cpu: cpu > 0 ? cpu : 2, memory: memory > 0 ? memory : 4 };
}

function dnsConfig(p: Params | undefined): GroupSpec['dnsConfig'] {
  if (p === undefined) return undefined;
  return {
    nameServers: p.strings('NameServer'),
    searches: p.strings('Search'),
    options: p
      .list('Option')
      .map((o) => stripUndefined({ name: o.requiredString('Name'), value: o.string('Value') })),
  };
}

/** CreateContainerGroup parameters → spec. Throws the cloud's parameter errors. */
export function readCreateSpec(p: Params): GroupSpec {
  const containers = p.list('Container').map((c) => container(c));
  if (containers.length === 0) throw cloudErrors.missingParameter('Container.1.Image');
  const initContainers = p.list('InitContainer').map((c) => container(c));
  checkUniqueNames([...containers, ...initContainers], 'Container.N.Name');
  const volumes = p.list('Volume').map(volume);
  checkUniqueNames(volumes, 'Volume.N.Name');
  const { cpu, memory } = groupResources(p, containers);
  return stripUndefined<GroupSpec>({
    containers,
    initContainers,
    volumes,
    restartPolicy: p.oneOf('RestartPolicy', RESTART_POLICIES) ?? 'Always',
    cpu,
    memory,
    instanceType: p.string('InstanceType'),
    ephemeralStorage: p.int('EphemeralStorage', { min: 0 }),
    activeDeadlineSeconds: p.int('ActiveDeadlineSeconds', { min: 1 }),
    terminationGracePeriodSeconds: p.int('TerminationGracePeriodSeconds', { min: 0 }),
    dnsPolicy: p.string('DnsPolicy'),
    dnsConfig: dnsConfig(p.struct('DnsConfig')),
    hostAliases: p
      .list('HostAliase')
      .map((h) => ({ ip: h.requiredString('Ip'), hostnames: h.strings('Hostname') })),
    sysctls: (p.struct('SecurityContext')?.list('Sysctl') ?? []).map((s) => ({
      name: s.requiredString('Name'),
      value: s.string('Value') ?? '',
    })),
    ntpServers: p.strings('NtpServer'),
    hostName: p.string('HostName'),
    spotStrategy: p.oneOf('SpotStrategy', ['NoSpot', 'SpotWithPriceLimit', 'SpotAsPriceGo']),
    spotPriceLimit: p.number('SpotPriceLimit', { min: 0 }),
    ramRoleName: p.string('RamRoleName'),
    resourceGroupId: p.string('ResourceGroupId'),
    autoCreateEip: p.bool('AutoCreateEip'),
    eipBandwidth: p.int('EipBandwidth', { min: 1 }),
    autoMatchImageCache: p.bool('AutoMatchImageCache'),
    imageSnapshotId: p.string('ImageSnapshotId') || undefined,
    spotDuration: p.int('SpotDuration', { min: 0, max: 6 }),
    eipInstanceId: p.string('EipInstanceId') || undefined,
    eipISP: p.oneOf('EipISP', ['BGP', 'BGP_PRO']),
    eipCommonBandwidthPackage: p.string('EipCommonBandwidthPackage') || undefined,
    corePattern: p.string('CorePattern') || undefined,
    ipv6AddressCount: p.int('Ipv6AddressCount', { min: 1, max: 1 }),
    privateIpAddress: p.string('PrivateIpAddress') || undefined,
    fixedIp: p.bool('FixedIp'),
    ingressBandwidth: p.int('IngressBandwidth', { min: 1 }),
    egressBandwidth: p.int('EgressBandwidth', { min: 1 }),
  });
}

/** Parameter name → the container spec field it sets (what an IncrementalUpdate may change). */
const CONTAINER_FIELDS: Record<string, keyof ContainerSpec> = {
  Image: 'image',
  ImagePullPolicy: 'imagePullPolicy',
  Command: 'command',
  Arg: 'args',
  Cpu: 'cpu',
  Memory: 'memory',
  Gpu: 'gpu',
  WorkingDir: 'workingDir',
  EnvironmentVar: 'env',
  Port: 'ports',
  VolumeMount: 'volumeMounts',
  LivenessProbe: 'livenessProbe',
  ReadinessProbe: 'readinessProbe',
  SecurityContext: 'securityContext',
  Stdin: 'stdin',
  StdinOnce: 'stdinOnce',
  Tty: 'tty',
};

/**
 * IncrementalUpdate: each given container changes only the fields it sends; a container name not in
 * the group adds one (it must then be complete); containers not given are kept.
 */
function mergeContainers(old: ContainerSpec[], given: Params[]): ContainerSpec[] {
  const out = old.map((c) => structuredClone(c));
  for (const p of given) {
    const name = p.requiredString('Name');
    const i = out.findIndex((c) => c.name === name);
    if (i < 0) {
      out.push(container(p));
      continue;
    }
    if (p.has('Image') && (p.string('Image') ?? '') === '')
      throw cloudErrors.missingParameter(`${p.path}.Image`);
    const parsed = container(p, true);
    const target = out[i]! as unknown as Record<string, unknown>;
    for (const [param, field] of Object.entries(CONTAINER_FIELDS)) {
      if (!p.has(param)) continue;
      const v = (parsed as unknown as Record<string, unknown>)[field];
      if (v === undefined) delete target[field];
      else target[field] = v;
    }
  }
  return out;
}

/**
 * UpdateContainerGroup: the given parts replace the spec's (containers as a whole, volumes as a whole,
 * and so on); parts not given are kept.
 */
export function applyUpdate(spec: GroupSpec, p: Params): GroupSpec {
  const next: GroupSpec = structuredClone(spec);
  const incremental = p.oneOf('UpdateType', ['RenewUpdate', 'IncrementalUpdate']) === 'IncrementalUpdate';
  const read = (key: 'Container' | 'InitContainer', old: ContainerSpec[]) =>
    incremental ? mergeContainers(old, p.list(key)) : p.list(key).map((c) => container(c));
  if (p.has('Container')) next.containers = read('Container', next.containers);
  if (p.has('InitContainer')) next.initContainers = read('InitContainer', next.initContainers);
  checkUniqueNames([...next.containers, ...next.initContainers], 'Container.N.Name');
  if (p.has('Volume')) next.volumes = p.list('Volume').map(volume);
  const policy = p.oneOf('RestartPolicy', RESTART_POLICIES);
  if (policy !== undefined) next.restartPolicy = policy;
  const cpu = p.number('Cpu', { min: 0 });
  if (cpu !== undefined) next.cpu = cpu;
  const memory = p.number('Memory', { min: 0 });
  if (memory !== undefined) next.memory = memory;
  const dns = dnsConfig(p.struct('DnsConfig'));
  if (dns !== undefined) next.dnsConfig = dns;
  return next;
}

export function checkGroupName(name: string): void {
  if (name.length < 2 || name.length > 128 || !NAME.test(name)) {
    throw cloudErrors.invalidParameter(
      'ContainerGroupName',
      'It must be 2 to 128 characters of lower-case letters, digits and hyphens, starting and ending with a letter or digit.',
    );
  }
}
