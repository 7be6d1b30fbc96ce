import os from 'node:os';
import { z } from 'zod';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import type { NodeSpecConfig } from '../node/node-spec.ts';

const quantity = z
  .string()
  .regex(
    /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$/,
    'must be a Kubernetes quantity like 2000, 500m or 8Ti',
  );

/** Node settings from flags and environment, validated once at start. */
export const NodeOptionsSchema = z.object({
  nodeName: z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
      'must be a DNS subdomain (lowercase letters, digits, - and .)',
    ),
  nodeIp: z.ipv4().or(z.ipv6()),
  // 0: any free port; the Node then advertises the one bound.
  kubeletPort: z.coerce.number().int().min(0).max(65535),
  cpu: quantity,
  memory: quantity,
  pods: z.string().regex(/^[0-9]+$/, 'must be a whole number'),
  ephemeralStorage: quantity,
  zone: z.string().optional(),
});

export type NodeOptions = z.infer<typeof NodeOptionsSchema>;

/** Where each setting came from, so an error can name it the way the user wrote it. */
const SOURCES: Record<keyof NodeOptions, string> = {
  nodeName: '--node-name (or env VKUBELET_NODE_NAME)',
  nodeIp: '--node-ip (or env VKUBELET_POD_IP)',
  kubeletPort: '--kubelet-port (or env KUBELET_PORT)',
  cpu: '--cpu',
  memory: '--memory',
  pods: '--pods',
  ephemeralStorage: '--ephemeral-storage',
  zone: '--zone',
};

export function parseNodeOptions(raw: Record<string, unknown>): NodeOptions {
  const r = NodeOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const key = String(i.path[0]) as keyof NodeOptions;
    return `${SOURCES[key] ?? key}: ${i.message} (got ${JSON.stringify(raw[key])})`;
  });
  throw new ProductError(ErrorCodes.CONFIG_INVALID, `invalid node settings:\n  ${lines.join('\n  ')}`);
}

/** The first non-internal IPv4 address of this host: what the API server can reach our kubelet API on. */
export function defaultNodeIp(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function toNodeSpec(o: NodeOptions, kubeletVersion: string): NodeSpecConfig {
  return {
    name: o.nodeName,
    internalIP: o.nodeIp,
    kubeletPort: o.kubeletPort,
    capacity: { cpu: o.cpu, memory: o.memory, pods: o.pods, 'ephemeral-storage': o.ephemeralStorage },
    kubeletVersion,
    operatingSystem: 'linux',
    architecture: 'amd64',
    extraLabels: o.zone ? { 'topology.kubernetes.io/zone': o.zone } : undefined,
  };
}
