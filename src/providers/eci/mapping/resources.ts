import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ceilTo, GIB, parseQuantity } from './quantity.ts';

/** A container's size as ECI takes it: cores and GiB, rounded up to three decimals. */
export interface EciContainerSize {
  cpu?: number;
  memory?: number;
  gpu?: number;
}

export const GPU_RESOURCE = 'nvidia.com/gpu';

/**
 * ECI enforces a container's Cpu/Memory as its allocation, so the Kubernetes limit is what must fit:
 * sizing by request would cap a container below its limit and OOM-kill it there. A container with
 * only requests gets its request (Kubernetes defaults nothing else for it on a virtual node).
 */
export function containerSize(c: V1Container): EciContainerSize {
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const cores = parseQuantity(limits.cpu ?? requests.cpu);
  const bytes = parseQuantity(limits.memory ?? requests.memory);
  const gpus = parseQuantity(limits[GPU_RESOURCE] ?? requests[GPU_RESOURCE]);
  const out: EciContainerSize = {};
  if (cores !== undefined && cores > 0) out.cpu = ceilTo(cores, 3);
  if (bytes !== undefined && bytes > 0) out.memory = ceilTo(bytes / GIB, 3);
  if (gpus !== undefined && gpus > 0) out.gpu = Math.ceil(gpus);
  return out;
}

/**
 * vCPU → memory sizes (GiB) that ECI offers in every region ("Specify vCPU and memory to create an
 * instance"). ECI rounds an unsupported request up to one of these; doing it here means the group size
 * we send is one ECI accepts, and the one it bills.
 */
export const ECI_SPECS: readonly { cpu: number; memory: readonly number[] }[] = [
  { cpu: 0.25, memory: [0.5, 1] },
  { cpu: 0.5, memory: [1, 2] },
  { cpu: 1, memory: [2, 4, 8] },
  { cpu: 2, memory: [1, 2, 4, 8, 16] },
  { cpu: 4, memory: [2, 4, 8, 16, 32] },
  { cpu: 8, memory: [4, 8, 16, 32, 64] },
  { cpu: 12, memory: [12, 24, 48, 96] },
  { cpu: 16, memory: [16, 32, 64, 128] },
  { cpu: 24, memory: [24, 48, 96, 192] },
  { cpu: 32, memory: [32, 64, 128, 256] },
  { cpu: 52, memory: [96, 192, 384] },
  { cpu: 64, memory: [128, 256, 512] },
];

/** ECI's documented per-instance ceiling. */
export const MAX_GROUP_CPU = 64;
export const MAX_GROUP_MEMORY_GIB = 512;

/** The smallest supported spec at least as large as the need (fewest vCPUs first), or null. */
export function roundUpToSpec(cpu: number, memory: number): { cpu: number; memory: number } | null {
  for (const s of ECI_SPECS) {
    if (s.cpu + 1e-9 < cpu) continue;
    const m = s.memory.find((x) => x + 1e-9 >= memory);
    if (m !== undefined) return { cpu: s.cpu, memory: m };
  }
  return null;
}

export type GroupSize =
  | { kind: 'unset' }
  | { kind: 'spec'; cpu: number; memory: number; needCpu: number; needMemory: number }
  | { kind: 'too-large'; needCpu: number; needMemory: number };

/**
 * The group's Cpu/Memory from its containers, the way Kubernetes sizes a pod: the sum over app
 * containers, or the largest init container if that is bigger (init containers run one at a time,
 * before the app containers). Pod-level `spec.resources` wins when set.
 *
 * 'unset' when any app container leaves cpu or memory open: a fixed group size would then cap a
 * container Kubernetes lets use the whole node, so ECI's own default (2 vCPU, 4 GiB, adjusted up to
 * the container sum) is the honest choice.
 */
export function groupSize(pod: V1Pod): GroupSize {
  const podLimits = pod.spec?.resources?.limits ?? pod.spec?.resources?.requests;
  let needCpu: number;
  let needMemory: number;
  const podCpu = parseQuantity(podLimits?.cpu);
  const podMem = parseQuantity(podLimits?.memory);
  if (podCpu !== undefined && podMem !== undefined) {
    needCpu = podCpu;
    needMemory = podMem / GIB;
  } else {
    const app = (pod.spec?.containers ?? []).map(containerSize);
    if (app.length === 0 || app.some((s) => s.cpu === undefined || s.memory === undefined))
      return { kind: 'unset' };
    needCpu = app.reduce((a, s) => a + (s.cpu ?? 0), 0);
    needMemory = app.reduce((a, s) => a + (s.memory ?? 0), 0);
    for (const s of (pod.spec?.initContainers ?? []).map(containerSize)) {
      needCpu = Math.max(needCpu, s.cpu ?? 0);
      needMemory = Math.max(needMemory, s.memory ?? 0);
    }
  }
  needCpu = ceilTo(needCpu, 3);
  needMemory = ceilTo(needMemory, 3);
  const spec = roundUpToSpec(needCpu, needMemory);
  if (!spec) return { kind: 'too-large', needCpu, needMemory };
  return { kind: 'spec', cpu: spec.cpu, memory: spec.memory, needCpu, needMemory };
}

/** ECI's defaults when the request names no size: 2 vCPU, 4 GiB, 30 GiB temporary storage. */
export const ECI_DEFAULT_CPU = 2;
export const ECI_DEFAULT_MEMORY_GIB = 4;
export const ECI_DEFAULT_EPHEMERAL_GIB = 30;

/**
 * The value of a downward-API `resourceFieldRef`, as the kubelet formats it: ceil(value / divisor) as
 * an integer string. An unset limit falls back to what the container can actually use — the group's
 * size (the kubelet uses node allocatable, and the group is this pod's node); an unset request falls
 * back to the limit, as Kubernetes defaults it.
 */
export function resourceFieldValue(
  container: V1Container,
  resource: string,
  divisor: string | undefined,
  group: { cpu: number; memory: number; ephemeralGiB: number },
): string | undefined {
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || name === undefined) return undefined;
  const fallback: Record<string, number> = {
    cpu: group.cpu,
    memory: group.memory * GIB,
    'ephemeral-storage': group.ephemeralGiB * GIB,
  };
  if (!(name in fallback)) return undefined;
  const limit = parseQuantity(limits[name]);
  const request = parseQuantity(requests[name]);
  const value = kind === 'limits' ? (limit ?? fallback[name] ?? 0) : (request ?? limit ?? 0);
  const d = parseQuantity(divisor ?? '1') ?? 1;
  return String(Math.ceil(value / (d > 0 ? d : 1) - 1e-9));
}
