import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { hasInstanceTypeAnnotation, parseEciAnnotations } from './annotations.ts';
import { resolvePort } from './probes.ts';
import { containerSize, groupSize, GPU_RESOURCE, MAX_GROUP_CPU, MAX_GROUP_MEMORY_GIB } from './resources.ts';
import { podShapeRefusal } from './shape.ts';
import { refusal, RefusalReasons, type Refusal } from './types.ts';

/** ECI's documented per-instance limits ("Limits": containers per instance, volumes per instance). */
export const MAX_CONTAINERS = 20;
export const MAX_VOLUMES = 20;

/**
 * Capabilities a container may add. ECI documents NET_ADMIN as addable; the rest are Docker's default
 * set, which every container already holds, so adding them changes nothing and they are not sent.
 * Anything else (SYS_ADMIN, SYS_PTRACE, ...) is refused rather than sent and rejected by the cloud.
 */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
export const ADDABLE_CAPABILITIES: ReadonlySet<string> = new Set(['NET_ADMIN']);

/** `CAP_NET_ADMIN` and `net_admin` both mean NET_ADMIN. */
export function normalizeCapability(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, '');
}

/**
 * Sysctls ECI lets a pod set ("Configure a security context"): safe ones through
 * `SecurityContext.Sysctl`, namespaced unsafe ones through `HostSecurityContext.Sysctl`.
 */
export const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
]);
const UNSAFE_SYSCTL =
  /^(kernel\.shm[a-z_]*|kernel\.msg[a-z_]*|kernel\.sem|fs\.mqueue\..+|net\..+|vm\.min_free_kbytes)$/;

export function sysctlKind(name: string): 'safe' | 'unsafe' | null {
  if (SAFE_SYSCTLS.has(name)) return 'safe';
  return UNSAFE_SYSCTL.test(name) ? 'unsafe' : null;
}

/** The volume sources ECI can back. */
export const SUPPORTED_VOLUME_SOURCES: ReadonlySet<string> = new Set([
  'emptyDir',
  'configMap',
  'secret',
  'projected',
  'downwardAPI',
  'nfs',
]);

export function volumeSource(v: V1Volume): string | undefined {
  return Object.keys(v).find((k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] != null);
}

/** A named predicate: the first failing one is the refusal. Order is the order users fix things in. */
export interface Rule {
  readonly name: string;
  check(pod: V1Pod): Refusal | null;
}

interface Located {
  c: V1Container;
  path: string;
}

function containers(pod: V1Pod): Located[] {
  return [
    ...(pod.spec?.initContainers ?? []).map((c, i) => ({ c, path: `spec.initContainers[${i}]` })),
    ...(pod.spec?.containers ?? []).map((c, i) => ({ c, path: `spec.containers[${i}]` })),
  ];
}

function firstOf<T>(items: readonly T[], f: (x: T) => Refusal | null): Refusal | null {
  for (const x of items) {
    const r = f(x);
    if (r) return r;
  }
  return null;
}

const R = RefusalReasons;

export const RULES: readonly Rule[] = [
  // First: every later rule (and the mapping) may then read the fields it needs without guarding types.
  { name: 'shape', check: podShapeRefusal },
  {
    name: 'windows',
    check: (p) =>
      p.spec?.os?.name === 'windows'
        ? refusal(
            'spec.os.name',
            R.WINDOWS,
            'ECI runs Linux containers only; schedule Windows pods on a Windows node',
          )
        : null,
  },
  {
    name: 'daemonset',
    check: (p) => {
      const i = (p.metadata?.ownerReferences ?? []).findIndex((o) => o.kind === 'DaemonSet');
      return i < 0
        ? null
        : refusal(
            `metadata.ownerReferences[${i}]`,
            R.DAEMONSET,
            'DaemonSet pods run on every node to serve that node; a virtual node has no host for them. Add a node ' +
              'affinity excluding type=virtual-kubelet to the DaemonSet',
          );
    },
  },
  {
    name: 'host-network',
    check: (p) =>
      p.spec?.hostNetwork
        ? refusal(
            'spec.hostNetwork',
            R.HOST_NETWORK,
            'ECI has no host network to share; remove hostNetwork and expose the pod through a Service',
          )
        : null,
  },
  {
    name: 'host-pid',
    check: (p) =>
      p.spec?.hostPID
        ? refusal('spec.hostPID', R.HOST_PID, 'ECI has no host process namespace to share; remove hostPID')
        : null,
  },
  {
    name: 'host-ipc',
    check: (p) =>
      p.spec?.hostIPC
        ? refusal('spec.hostIPC', R.HOST_IPC, 'ECI has no host IPC namespace to share; remove hostIPC')
        : null,
  },
  {
    name: 'ephemeral-containers',
    check: (p) =>
      (p.spec?.ephemeralContainers?.length ?? 0) > 0
        ? refusal(
            'spec.ephemeralContainers',
            R.EPHEMERAL_CONTAINERS,
            'ECI cannot add containers to a running instance; use kubectl exec instead of kubectl debug',
          )
        : null,
  },
  {
    name: 'container-count',
    check: (p) => {
      const n = p.spec?.containers?.length ?? 0;
      const i = p.spec?.initContainers?.length ?? 0;
      if (n > MAX_CONTAINERS) {
        return refusal(
          'spec.containers',
          R.TOO_MANY_CONTAINERS,
          `the pod has ${n} containers; an ECI instance holds at most ${MAX_CONTAINERS}`,
        );
      }
      if (i > MAX_CONTAINERS) {
        return refusal(
          'spec.initContainers',
          R.TOO_MANY_CONTAINERS,
          `the pod has ${i} init containers; an ECI instance holds at most ${MAX_CONTAINERS}`,
        );
      }
      return null;
    },
  },
  {
    name: 'volume-count',
    check: (p) => {
      const n = p.spec?.volumes?.length ?? 0;
      return n > MAX_VOLUMES
        ? refusal(
            'spec.volumes',
            R.TOO_MANY_VOLUMES,
            `the pod has ${n} volumes; an ECI instance mounts at most ${MAX_VOLUMES}. Merge configMap/secret volumes into one projected volume`,
          )
        : null;
    },
  },
  {
    name: 'volume-types',
    check: (p) =>
      firstOf(
        (p.spec?.volumes ?? []).map((v, i) => ({ v, i })),
        ({ v, i }) => {
          const field = `spec.volumes[${i}]`;
          const src = volumeSource(v);
          if (src === 'hostPath') {
            return refusal(
              `${field}.hostPath`,
              R.HOST_PATH,
              `volume ${v.name}: ECI instances have no host filesystem; use emptyDir, or NFS for shared data`,
            );
          }
          if (src === 'persistentVolumeClaim' || src === 'ephemeral' || src === 'csi') {
            return refusal(
              `${field}.${src}`,
              R.VOLUME_TYPE,
              `volume ${v.name}: ${src} volumes are not supported yet on this virtual node; use nfs, emptyDir, configMap or secret`,
            );
          }
          if (src === undefined || !SUPPORTED_VOLUME_SOURCES.has(src)) {
            return refusal(
              `${field}${src ? `.${src}` : ''}`,
              R.VOLUME_TYPE,
              `volume ${v.name}: ${src ?? 'this'} volumes are not supported on ECI; use emptyDir, configMap, secret, projected, downwardAPI or nfs`,
            );
          }
          const medium = v.emptyDir?.medium;
          if (medium && medium !== 'Memory') {
            return refusal(
              `${field}.emptyDir.medium`,
              R.EMPTY_DIR_MEDIUM,
              `volume ${v.name}: ECI backs emptyDir with disk or Memory only; remove medium ${medium}`,
            );
          }
          const j = (v.projected?.sources ?? []).findIndex((s) => s.clusterTrustBundle || s.podCertificate);
          if (j >= 0) {
            return refusal(
              `${field}.projected.sources[${j}]`,
              R.PROJECTION,
              `volume ${v.name}: clusterTrustBundle and podCertificate projections are not supported on ECI`,
            );
          }
          return null;
        },
      ),
  },
  {
    name: 'resource-claims',
    check: (p) =>
      (p.spec?.resourceClaims?.length ?? 0) > 0
        ? refusal(
            'spec.resourceClaims',
            R.RESOURCE_CLAIMS,
            'dynamic resource allocation is not available on ECI; request GPUs with nvidia.com/gpu and an ECS GPU instance type',
          )
        : null,
  },
  {
    name: 'sidecar-init-containers',
    check: (p) =>
      firstOf(
        (p.spec?.initContainers ?? []).map((c, i) => ({ c, i })),
        ({ c, i }) =>
          c.restartPolicy === 'Always'
            ? refusal(
                `spec.initContainers[${i}].restartPolicy`,
                R.SIDECAR,
                `init container ${c.name} is a sidecar (restartPolicy Always), which ECI cannot run; move it to spec.containers`,
              )
            : null,
      ),
  },
  {
    name: 'privileged',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) =>
        c.securityContext?.privileged
          ? refusal(
              `${path}.securityContext.privileged`,
              R.PRIVILEGED,
              `container ${c.name} is privileged. ECI grants privileged mode only to allow-listed accounts and this ` +
                'virtual node does not request it; remove privileged and add only the capabilities it needs (NET_ADMIN)',
            )
          : null,
      ),
  },
  {
    name: 'capabilities',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) => {
        const bad = (c.securityContext?.capabilities?.add ?? [])
          .map(normalizeCapability)
          .filter((x) => !DEFAULT_CAPABILITIES.has(x) && !ADDABLE_CAPABILITIES.has(x));
        return bad.length > 0
          ? refusal(
              `${path}.securityContext.capabilities.add`,
              R.CAPABILITY,
              `container ${c.name} adds ${bad.join(', ')}; ECI lets containers add only ${[...ADDABLE_CAPABILITIES].join(', ')}`,
            )
          : null;
      }),
  },
  {
    name: 'sysctls',
    check: (p) =>
      firstOf(
        (p.spec?.securityContext?.sysctls ?? []).map((s, i) => ({ s, i })),
        ({ s, i }) =>
          sysctlKind(s.name) === null
            ? refusal(
                `spec.securityContext.sysctls[${i}]`,
                R.SYSCTL,
                `sysctl ${s.name} cannot be set on ECI; allowed are kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.* and vm.min_free_kbytes`,
              )
            : null,
      ),
  },
  {
    name: 'ports',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) =>
        firstOf(
          (c.ports ?? []).map((port, i) => ({ port, i })),
          ({ port, i }) => {
            if (port.hostPort) {
              return refusal(
                `${path}.ports[${i}].hostPort`,
                R.HOST_PORT,
                `container ${c.name} asks for hostPort ${port.hostPort}; ECI has no host ports. Remove hostPort and use a Service`,
              );
            }
            if (port.protocol && port.protocol !== 'TCP' && port.protocol !== 'UDP') {
              return refusal(
                `${path}.ports[${i}].protocol`,
                R.PROTOCOL,
                `container ${c.name} port ${port.containerPort} uses ${port.protocol}; ECI supports TCP and UDP`,
              );
            }
            return null;
          },
        ),
      ),
  },
  {
    name: 'volume-devices',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) =>
        (c.volumeDevices?.length ?? 0) > 0
          ? refusal(
              `${path}.volumeDevices`,
              R.VOLUME_DEVICE,
              `container ${c.name} uses raw block devices, which ECI cannot attach`,
            )
          : null,
      ),
  },
  {
    name: 'probes',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) => {
        for (const [k, probe] of [
          ['livenessProbe', c.livenessProbe],
          ['readinessProbe', c.readinessProbe],
          ['startupProbe', c.startupProbe],
        ] as const) {
          if (!probe) continue;
          if (probe.grpc) {
            return refusal(
              `${path}.${k}.grpc`,
              R.PROBE,
              `container ${c.name}: ECI has no gRPC probe; use an exec probe running grpc_health_probe`,
            );
          }
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (port !== undefined && resolvePort(c, port) === undefined) {
            return refusal(
              `${path}.${k}`,
              R.PORT_NAME,
              `container ${c.name}: probe port "${String(port)}" is not one of its named ports`,
            );
          }
        }
        for (const [k, h] of [
          ['postStart', c.lifecycle?.postStart],
          ['preStop', c.lifecycle?.preStop],
        ] as const) {
          const port = h?.httpGet?.port ?? h?.tcpSocket?.port;
          if (port !== undefined && resolvePort(c, port) === undefined) {
            return refusal(
              `${path}.lifecycle.${k}`,
              R.PORT_NAME,
              `container ${c.name}: hook port "${String(port)}" is not one of its named ports`,
            );
          }
        }
        return null;
      }),
  },
  {
    name: 'annotations',
    check: (p) => {
      const r = parseEciAnnotations(p.metadata?.annotations);
      return r.ok ? null : r.refusal;
    },
  },
  {
    name: 'gpu-instance-type',
    check: (p) =>
      firstOf(containers(p), ({ c, path }) =>
        containerSize(c).gpu !== undefined && !hasInstanceTypeAnnotation(p.metadata?.annotations)
          ? refusal(
              `${path}.resources.limits['${GPU_RESOURCE}']`,
              R.GPU_NEEDS_INSTANCE_TYPE,
              `container ${c.name} asks for GPUs; ECI needs a GPU instance type for that. Add annotation k8s.aliyun.com/eci-use-specs, e.g. ecs.gn6i-c4g1.xlarge`,
            )
          : null,
      ),
  },
  {
    name: 'resources',
    check: (p) => {
      const big = containers(p).find(
        ({ c }) =>
          (containerSize(c).cpu ?? 0) > MAX_GROUP_CPU ||
          (containerSize(c).memory ?? 0) > MAX_GROUP_MEMORY_GIB,
      );
      if (big) {
        return refusal(
          `${big.path}.resources`,
          R.RESOURCES_TOO_LARGE,
          `container ${big.c.name} asks for more than one ECI instance offers (${MAX_GROUP_CPU} vCPU, ${MAX_GROUP_MEMORY_GIB} GiB)`,
        );
      }
      if (hasInstanceTypeAnnotation(p.metadata?.annotations)) return null;
      const g = groupSize(p);
      return g.kind === 'too-large'
        ? refusal(
            'spec.containers',
            R.RESOURCES_TOO_LARGE,
            `the pod needs ${g.needCpu} vCPU and ${g.needMemory} GiB; one ECI instance offers at most ${MAX_GROUP_CPU} vCPU and ${MAX_GROUP_MEMORY_GIB} GiB`,
          )
        : null;
    },
  },
];

/**
 * Whether ECI can run this pod at all, judged from the pod alone (no cloud call, no referenced
 * objects). The first failing rule wins; null means go ahead.
 */
export function validatePod(pod: V1Pod, rules: readonly Rule[] = RULES): Refusal | null {
  for (const r of rules) {
    const out = r.check(pod);
    if (out) return out;
  }
  return null;
}
